//! `hardening`: run every hardening part against a built `vitrine` and print the summary.
//!
//! ```text
//! cargo run -p vitrine-hardening -- --vitrine target/debug/vitrine \
//!     --schemathesis .venv/bin/schemathesis
//! ```
//!
//! Exit status 0 only when nothing was lost, nothing forged was accepted, no abuse attack
//! succeeded, no 5xx was seen and the minimum counts (fault rounds, fuzzed requests) were reached.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vitrine_hardening::{abuse, attacks, disk, faults, fuzz};

#[derive(Debug, Parser)]
#[command(about = "Faults, hostile input and attacks against vitrine, summed up in one table")]
struct Args {
    /// The vitrine binary to test.
    #[arg(long, default_value = "target/debug/vitrine")]
    vitrine: PathBuf,
    /// The schemathesis command (PyPI).
    #[arg(long, default_value = ".venv/bin/schemathesis")]
    schemathesis: PathBuf,
    /// SIGKILL rounds under mixed load.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// schemathesis examples per operation and phase.
    #[arg(long, default_value_t = 120)]
    max_examples: u32,
    /// Fewest fuzzed requests for a pass.
    #[arg(long, default_value_t = 5_000)]
    min_requests: u64,
    /// Fail when a part cannot run here (no root for the disk faults, no schemathesis).
    #[arg(long)]
    require_all: bool,
    /// Where the parts keep their data folders and logs (default: a temporary folder, removed
    /// after a pass).
    #[arg(long)]
    work: Option<PathBuf>,
}

struct Row {
    part: &'static str,
    what: String,
    outcome: String,
    ok: bool,
}

fn row(
    rows: &mut Vec<Row>,
    part: &'static str,
    what: impl Into<String>,
    outcome: impl Into<String>,
    ok: bool,
) {
    rows.push(Row {
        part,
        what: what.into(),
        outcome: outcome.into(),
        ok,
    });
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    if !args.vitrine.is_file() {
        anyhow::bail!(
            "no vitrine binary at {}: build it (cargo build -p vitrine --all-features) or pass --vitrine",
            args.vitrine.display()
        );
    }
    let vitrine = std::fs::canonicalize(&args.vitrine)?;
    let temp = tempfile::tempdir()?;
    let work = match &args.work {
        Some(w) => {
            std::fs::create_dir_all(w)?;
            std::fs::canonicalize(w)?
        }
        None => temp.path().to_path_buf(),
    };
    let mut rows = Vec::new();

    eprintln!(
        "hardening: {} SIGKILL rounds under mixed load…",
        args.rounds
    );
    let f = faults::run(&vitrine, &work, args.rounds).await?;
    row(
        &mut rows,
        "faults",
        "SIGKILL rounds under mixed load",
        f.rounds.to_string(),
        f.rounds >= 10,
    );
    row(
        &mut rows,
        "faults",
        "orders acknowledged / lost",
        format!("{} / {}", f.orders_acked, f.orders_lost),
        f.orders_lost == 0,
    );
    row(
        &mut rows,
        "faults",
        "payments acknowledged / lost",
        format!("{} / {}", f.payments_acked, f.payments_lost),
        f.payments_lost == 0,
    );
    row(
        &mut rows,
        "faults",
        "admin edits acknowledged / lost",
        format!("{} / {}", f.edits_acked, f.edits_lost),
        f.edits_lost == 0,
    );
    row(
        &mut rows,
        "faults",
        "stock checks / mismatches",
        format!("{} / {}", f.stock_checks, f.stock_mismatches),
        f.stock_mismatches == 0,
    );
    row(
        &mut rows,
        "faults",
        "invoices issued / numbering gaps",
        format!("{} / {}", f.invoices, f.invoice_gaps),
        f.invoice_gaps == 0,
    );
    row(
        &mut rows,
        "faults",
        "events undelivered / dead letters",
        format!("{} / {}", f.events_undelivered, f.dead_letters),
        f.events_undelivered + f.dead_letters == 0,
    );
    row(
        &mut rows,
        "faults",
        "5xx answers under load",
        f.responses_5xx.to_string(),
        f.responses_5xx == 0,
    );

    eprintln!("hardening: full disk and read-only data folder…");
    let d = disk::run(&vitrine, &work).await?;
    match &d.skipped {
        Some(why) => row(
            &mut rows,
            "disk",
            "full disk, read-only folder",
            format!("not run: {why}"),
            !args.require_all,
        ),
        None => {
            for c in &d.checks {
                let outcome = if c.detail.is_empty() {
                    if c.ok { "yes".into() } else { "NO".into() }
                } else {
                    c.detail.clone()
                };
                row(&mut rows, "disk", c.what.clone(), outcome, c.ok);
            }
        }
    }

    eprintln!("hardening: forged tokens…");
    let a = attacks::run(&vitrine, &work).await?;
    for (name, sent, accepted) in &a.tried {
        row(
            &mut rows,
            "attacks",
            format!("forged token: {name}"),
            format!("{sent} requests, {accepted} accepted"),
            *accepted == 0,
        );
    }
    row(
        &mut rows,
        "attacks",
        "forged tokens accepted",
        format!("{} of {}", a.accepted(), a.sent()),
        a.accepted() == 0,
    );

    eprintln!("hardening: the store's own features turned on someone (abuse)…");
    let b = abuse::run(&vitrine, &work).await?;
    for a in &b.attacks {
        let detail = if a.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", a.detail)
        };
        row(
            &mut rows,
            "abuse",
            format!("finding {}: {}", a.finding, a.what),
            format!("{} attempts, {} succeeded{detail}", a.attempts, a.successes),
            a.successes == 0,
        );
    }

    eprintln!("hardening: schemathesis against /api/openapi.json…");
    let z = fuzz::run(&vitrine, &work, &args.schemathesis, args.max_examples).await?;
    match &z.skipped {
        Some(why) => row(
            &mut rows,
            "fuzz",
            "schemathesis",
            format!("not run: {why}"),
            !args.require_all,
        ),
        None => {
            row(
                &mut rows,
                "fuzz",
                "requests fuzzed",
                z.requests.to_string(),
                z.requests >= args.min_requests,
            );
            row(
                &mut rows,
                "fuzz",
                "5xx answers",
                z.responses_5xx.to_string(),
                z.responses_5xx == 0,
            );
            row(
                &mut rows,
                "fuzz",
                "every answer matches the document",
                format!(
                    "{} ({})",
                    if z.conformant { "yes" } else { "NO" },
                    z.summary
                ),
                z.conformant,
            );
        }
    }

    let unexpected_5xx = f.responses_5xx + z.responses_5xx + d.unclear_errors as u64;
    row(
        &mut rows,
        "total",
        "orders lost",
        (f.orders_lost).to_string(),
        f.orders_lost == 0,
    );
    row(
        &mut rows,
        "total",
        "unexpected 5xx",
        unexpected_5xx.to_string(),
        unexpected_5xx == 0,
    );
    row(
        &mut rows,
        "total",
        "forged tokens accepted",
        a.accepted().to_string(),
        a.accepted() == 0,
    );
    row(
        &mut rows,
        "total",
        "abuse attacks that succeeded",
        format!("{} of {} attacks", b.successes(), b.attacks.len()),
        b.successes() == 0,
    );

    let wpart = rows.iter().map(|r| r.part.len()).max().unwrap_or(4).max(4);
    let wwhat = rows
        .iter()
        .map(|r| r.what.chars().count())
        .max()
        .unwrap_or(4);
    println!();
    println!(
        "{:<wpart$}  {:<wwhat$}  {:<4}  outcome",
        "part", "tried", "ok"
    );
    println!("{}", "-".repeat(wpart + wwhat + 20));
    for r in &rows {
        println!(
            "{:<wpart$}  {:<wwhat$}  {:<4}  {}",
            r.part,
            r.what,
            if r.ok { "ok" } else { "FAIL" },
            r.outcome
        );
    }
    let pass = rows.iter().all(|r| r.ok);
    if !f.problems.is_empty() {
        println!("\nfault findings:");
        for p in &f.problems {
            println!("  - {p}");
        }
    }
    if !pass {
        let kept = temp.keep();
        println!(
            "\nFAILED. Data folders and logs kept in {}",
            if args.work.is_some() {
                work.display().to_string()
            } else {
                kept.display().to_string()
            }
        );
        if z.skipped.is_none() {
            println!("schemathesis log: {}", z.log);
        }
    } else {
        println!("\nall hardening checks passed");
    }
    Ok(pass)
}
