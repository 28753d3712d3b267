//! The API fuzzed by schemathesis (PyPI) from its own OpenAPI document: examples, generated
//! requests (valid and invalid), and stateful sequences that follow the document's links (an
//! order from its creation to its payment, a product to its stock). schemathesis checks every
//! answer against the document; the server's own request counter (`/metrics`, on a separate
//! listener) says how many requests were made and how many got a 5xx.
//!
//! One check is left out: `positive_data_acceptance` expects every request the schemas admit to
//! be accepted, but the schemas cannot say everything the store checks (a CPF's check digits, a
//! CEP that exists, stock left). Those refusals are `422` problem documents, which the document
//! lists and the other checks validate.

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context as _, bail};

use crate::api;
use crate::server::{USER_NAME, client, free_port, vitrine};

#[derive(Debug, Default, Clone)]
pub struct FuzzReport {
    pub skipped: Option<String>,
    pub requests: u64,
    pub responses_5xx: u64,
    /// schemathesis's exit status was success.
    pub conformant: bool,
    /// schemathesis's last summary line.
    pub summary: String,
    pub log: String,
}

/// Requests answered so far, and those answered 5xx, from the Prometheus text.
fn counts(metrics: &str) -> (u64, u64) {
    let (mut all, mut errors) = (0, 0);
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("vitrine_http_requests_total{") else {
            continue;
        };
        let n: u64 = rest
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        all += n;
        if rest.contains("status=\"5") {
            errors += n;
        }
    }
    (all, errors)
}

pub async fn run(
    bin: &Path,
    work: &Path,
    schemathesis: &Path,
    max_examples: u32,
) -> anyhow::Result<FuzzReport> {
    let mut report = FuzzReport::default();
    if !schemathesis.exists() {
        report.skipped = Some(format!("{} is not installed", schemathesis.display()));
        return Ok(report);
    }
    // Absolute: schemathesis runs in `work`.
    let schemathesis = std::fs::canonicalize(schemathesis)?;
    let v = vitrine(bin, &work.join("fuzz-data"), &work.join("fuzz-logs"));
    v.add_user("admin@fuzz.test", USER_NAME, true)?;
    let metrics_port = free_port()?;
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let c = client();
    let mut server = v
        .start("fuzz", &["--metrics-listen", &metrics_addr])
        .await?;
    let metrics_url = format!("http://{metrics_addr}/metrics");
    let before = counts(&c.get(&metrics_url).send().await?.text().await?);
    let admin = api::access(&api::sign_in(&c, &server, "admin@fuzz.test").await?);

    let log_path = work.join("schemathesis.log");
    let log = std::fs::File::create(&log_path)?;
    let status = tokio::process::Command::new(&schemathesis)
        .arg("run")
        .arg(server.url("/api/openapi.json"))
        .args(["-H", &format!("Authorization: Bearer {admin}")])
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args(["--phases", "examples,fuzzing,stateful"])
        .args(["--max-examples", &max_examples.to_string()])
        .args(["--workers", "2", "--seed", "20261129", "--no-color"])
        .args(["--request-timeout", "30"])
        // schemathesis keeps a cache in `.schemathesis/` of its working folder.
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .env("SCHEMATHESIS_HOOKS", "")
        .status()
        .await
        .context("running schemathesis")?;
    let after = counts(&c.get(&metrics_url).send().await?.text().await?);
    server.stop().await?;

    report.log = log_path.display().to_string();
    report.requests = after.0.saturating_sub(before.0);
    report.responses_5xx = after.1.saturating_sub(before.1);
    report.conformant = status.success();
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    report.summary = text
        .lines()
        .rev()
        .find(|l| l.contains(" in ") && l.contains('='))
        .unwrap_or_default()
        .trim_matches(|c| c == '=' || c == ' ')
        .to_owned();
    if report.requests == 0 {
        bail!("schemathesis made no request; see {}", report.log);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_server_errors_are_summed_from_the_counter() {
        let text = "# TYPE vitrine_http_requests_total counter\n\
            vitrine_http_requests_total{method=\"GET\",route=\"/a\",status=\"200\"} 7\n\
            vitrine_http_requests_total{method=\"POST\",route=\"/b\",status=\"503\"} 2\n\
            vitrine_http_requests_total{method=\"POST\",route=\"/b\",status=\"422\"} 3\n\
            vitrine_http_request_duration_seconds_count{method=\"GET\",route=\"/a\"} 7\n";
        assert_eq!(counts(text), (12, 2));
    }
}
