//! Cold start of Lambda binaries, measured locally: for each binary, `--runs` times, start the
//! process against a fresh local Runtime API with one event queued and time from spawn to the
//! runtime posting that event's response (process start, init, first invocation). Prints the
//! median and p90 per binary, and the medians of its two parts: init (spawn to the runtime's
//! first `GET .../next`) and the first invocation (from there to the response). Used by
//! `bench/lambda-init.sh`.
//!
//! ```text
//! cargo run --release -p vitrine-lambda --example lambda_init -- \
//!     [--runs 20] [--event infra/events/apigw-rest-get-products.json] [--path /health] \
//!     [--aws] NAME=BINARY [NAME=BINARY ...]
//! ```
//!
//! `--aws` creates a table, bucket, user pool and sender on the local AWS emulator
//! (`VITRINE_TEST_MOTO_URL`, or one started from `.venv/`), seeds the product the recorded
//! events ask for, and gives every binary the environment the `api` function gets. `--path`
//! sends the event to another path (e.g. `/health`, to time init without a first query).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use vitrine_testkit::lambda_runtime::{LambdaProcess, Outcome, RuntimeApi};

struct Args {
    runs: usize,
    event: String,
    path: Option<String>,
    aws: bool,
    binaries: Vec<(String, String)>,
}

fn args() -> anyhow::Result<Args> {
    let mut out = Args {
        runs: 20,
        event: common::events_dir()
            .join("apigw-rest-get-products.json")
            .display()
            .to_string(),
        path: None,
        aws: false,
        binaries: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runs" => out.runs = it.next().context("--runs N")?.parse()?,
            "--event" => out.event = it.next().context("--event FILE")?,
            "--path" => out.path = Some(it.next().context("--path /PATH")?),
            "--aws" => out.aws = true,
            other => match other.split_once('=') {
                Some((name, bin)) => out.binaries.push((name.to_owned(), bin.to_owned())),
                None => bail!("expected NAME=BINARY, got {other:?}"),
            },
        }
    }
    if out.binaries.is_empty() || out.runs == 0 {
        bail!("usage: lambda_init [--runs N] [--event FILE] [--path /P] [--aws] NAME=BINARY...");
    }
    Ok(out)
}

/// The event with its path replaced (REST: `path`; HTTP API: `rawPath`, after the stage).
fn with_path(event: &str, path: &str) -> anyhow::Result<String> {
    let mut v: Value = serde_json::from_str(event)?;
    if v["version"] == "2.0" {
        let stage = v["requestContext"]["stage"].as_str().unwrap_or("$default");
        let raw = if stage == "$default" {
            path.to_owned()
        } else {
            format!("/{stage}{path}")
        };
        v["rawPath"] = Value::String(raw.clone());
        v["requestContext"]["http"]["path"] = Value::String(raw);
        v["rawQueryString"] = Value::String(String::new());
    } else {
        v["path"] = Value::String(path.to_owned());
        v["queryStringParameters"] = Value::Null;
        v["multiValueQueryStringParameters"] = Value::Null;
    }
    Ok(v.to_string())
}

/// Nearest-rank percentile of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let mut event =
        std::fs::read_to_string(&args.event).with_context(|| format!("reading {}", args.event))?;
    if let Some(path) = &args.path {
        event = with_path(&event, path)?;
    }
    let env = if args.aws {
        let fixture = common::AwsFixture::create().await;
        common::seed_recorded_catalog(&fixture.state().await.app).await;
        fixture.api_env()
    } else {
        Vec::new()
    };

    println!(
        "| binary | runs | median ms | p90 ms | min ms | max ms | init median ms | first invocation median ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut breakdowns = Vec::new();
    for (name, binary) in &args.binaries {
        let mut parts: Vec<(Duration, Duration)> = Vec::new();
        let mut times = Vec::with_capacity(args.runs);
        let mut inits = Vec::with_capacity(args.runs);
        let mut invocations = Vec::with_capacity(args.runs);
        for run in 0..args.runs {
            // A fresh Runtime API per run: nothing left over from the previous process.
            let runtime = RuntimeApi::start().await?;
            let started = Instant::now();
            let mut process = LambdaProcess::spawn(binary, &runtime, &env);
            let outcome = process.invoke(&runtime, event.clone()).await;
            let answered = Instant::now();
            let elapsed = answered - started;
            let polled = runtime.first_poll().unwrap_or(answered);
            let output = process.stop().await;
            let status = match &outcome {
                Outcome::Response(_) => outcome.json()["statusCode"].as_u64(),
                _ => None,
            };
            if status != Some(200) {
                bail!(
                    "{name} run {run}: expected a 200 response, got {outcome:?}\n{}",
                    output.stderr
                );
            }
            parts.extend(init_parts(&output.stdout));
            times.push(elapsed);
            inits.push(polled.saturating_duration_since(started));
            invocations.push(answered.saturating_duration_since(polled));
        }
        times.sort();
        inits.sort();
        invocations.sort();
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} |",
            times.len(),
            ms(percentile(&times, 50.0)),
            ms(percentile(&times, 90.0)),
            ms(times[0]),
            ms(times[times.len() - 1]),
            ms(percentile(&inits, 50.0)),
            ms(percentile(&invocations, 50.0)),
        );
        if !parts.is_empty() {
            let (mut state, mut router): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
            state.sort();
            router.sort();
            breakdowns.push(format!(
                "{name}: init spent a median {} ms building its state and {} ms building its router",
                ms(percentile(&state, 50.0)),
                ms(percentile(&router, 50.0)),
            ));
        }
    }
    if !breakdowns.is_empty() {
        println!();
        for line in breakdowns {
            println!("{line}");
        }
    }
    Ok(())
}

/// The `init.state_ms` and `init.router_ms` the api logs once its cold start is done.
fn init_parts(stdout: &str) -> Option<(Duration, Duration)> {
    stdout.lines().find_map(|line| {
        let v: Value = serde_json::from_str(line).ok()?;
        let field = |name: &str| {
            v["fields"][name]
                .as_f64()
                .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        };
        Some((field("init.state_ms")?, field("init.router_ms")?))
    })
}
