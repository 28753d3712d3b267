//! `vitrine report`: generate the sales reports now, with a progress bar, and say where the
//! files went.

use std::io::IsTerminal as _;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use vitrine_app::App;
use vitrine_app::reports::Generated;

/// Check a `YYYY-MM-DD` argument.
pub fn check_date(name: &str, value: &Option<String>) -> anyhow::Result<()> {
    if let Some(v) = value {
        let b = v.as_bytes();
        let ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
            && (1..=12).contains(&v[5..7].parse::<u8>().unwrap_or(0))
            && (1..=31).contains(&v[8..10].parse::<u8>().unwrap_or(0));
        if !ok {
            bail!("--{name} must be a date like 2026-11-28, not {v:?}");
        }
    }
    Ok(())
}

pub async fn run(app: &App, from: Option<String>, to: Option<String>) -> anyhow::Result<Generated> {
    check_date("from", &from)?;
    check_date("to", &to)?;
    if let (Some(f), Some(t)) = (&from, &to)
        && f > t
    {
        bail!("--from {f} is after --to {t}");
    }
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos} orders read ({per_sec}) {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let generated = app
        .generate_report(from.as_deref(), to.as_deref(), &|read| {
            bar.set_position(read)
        })
        .await?;
    bar.finish_and_clear();
    Ok(generated)
}
