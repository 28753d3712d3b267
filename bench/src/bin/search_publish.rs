//! `search_publish`: the published search index at a catalog's size, for `docs/benchmarks.md`
//! ("The published search index"). Two steps, each its own process so that each one's memory
//! is its own:
//!
//! - `--publish`: what the `search_index` function does on its first run (no index stored):
//!   build the index from the catalog, store it in the data folder's blob store
//!   (`search-index/`), then once more with nothing changed (what a batch of no news costs).
//! - `--open`: what an api instance does on its first search: open the published index (read
//!   the pointer and the bytes, load them in memory) instead of reading the catalog, then
//!   `--searches` searches of varied words.
//!
//! Prints `key=value` lines: times in ms, sizes in bytes, the process's resident memory (VmRSS)
//! and peak (VmHWM) in KiB. Locally the bytes come from a file; on AWS from S3 (not measured
//! here).

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use vitrine_app::App;
use vitrine_app::catalog::{ProductQuery, ProductSort};

#[path = "gen/data_folder.rs"]
mod data_folder;
#[path = "gen/words.rs"]
mod words;

#[derive(Debug, Parser)]
struct Args {
    /// The data folder (a catalog made by `catalog_gen`).
    #[arg(long)]
    data_dir: PathBuf,
    /// Build and store the index.
    #[arg(long, conflicts_with = "open", required_unless_present = "open")]
    publish: bool,
    /// Open the stored index as a new process's first search would, then search.
    #[arg(long)]
    open: bool,
    /// Searches after opening (`--open`).
    #[arg(long, default_value_t = 500)]
    searches: usize,
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn ms(started: Instant) -> String {
    format!("{:.1}", started.elapsed().as_secs_f64() * 1000.0)
}

fn search(text: String) -> ProductQuery {
    ProductQuery {
        text: Some(text),
        sort: ProductSort::Relevance,
        limit: 20,
        ..Default::default()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let app = data_folder::open(&args.data_dir)?;
    if args.publish {
        let started = Instant::now();
        let first = app.publish_search_index().await?;
        println!("publish_ms={}", ms(started));
        anyhow::ensure!(
            first.built && first.stored,
            "expected a first build: {first:?}"
        );
        println!("products={}\nbytes={}", first.products, first.bytes);
        println!(
            "publish_rss_kib={}\npublish_hwm_kib={}",
            status_kib("VmRSS:"),
            status_kib("VmHWM:")
        );
        let started = Instant::now();
        let again = app.publish_search_index().await?;
        println!("unchanged_publish_ms={}", ms(started));
        anyhow::ensure!(!again.stored, "nothing changed, yet stored: {again:?}");
        return Ok(());
    }
    app.open_published_search_index();
    run_open(&app, args.searches).await
}

async fn run_open(app: &App, searches: usize) -> anyhow::Result<()> {
    let rss_before = status_kib("VmRSS:");
    let started = Instant::now();
    // Words no product has: the time is the opening, not the reading of results.
    let first = app.search_products(&search("xilogravura".into())).await?;
    println!("first_search_ms={}", ms(started));
    anyhow::ensure!(first.total == 0, "xilogravura found {}", first.total);
    println!(
        "rss_before_kib={rss_before}\nrss_opened_kib={}",
        status_kib("VmRSS:")
    );
    let mut took = Vec::with_capacity(searches);
    let mut found = 0;
    for i in 0..searches {
        // A noun and a second word of each kind the generator names products with.
        let noun = words::NOUNS[i % words::NOUNS.len()];
        let k = i / words::NOUNS.len();
        let second = match i % 3 {
            0 => words::ADJECTIVES[k % words::ADJECTIVES.len()],
            1 => words::MATERIALS[k % words::MATERIALS.len()].trim_start_matches("de "),
            _ => words::COLOURS[k % words::COLOURS.len()],
        };
        let started = Instant::now();
        found += app
            .search_products(&search(format!("{noun} {second}")))
            .await?
            .total;
        took.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    took.sort_by(f64::total_cmp);
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    println!(
        "searches={searches}\nfound_total={found}\nsearch_p50_ms={:.2}\nsearch_p99_ms={:.2}",
        at(0.5),
        at(0.99)
    );
    println!(
        "rss_after_kib={}\nhwm_kib={}",
        status_kib("VmRSS:"),
        status_kib("VmHWM:")
    );
    Ok(())
}
