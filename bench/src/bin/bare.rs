//! `bare`: the baseline for the catalog benchmark. An axum server (same HTTP stack and runtime
//! as `vitrine serve`: axum 0.8 on hyper, `#[tokio::main]`) whose `GET /api/v1/products` answers,
//! from memory, bytes taken once from a running vitrine (or from a file), with
//! `content-type: application/json`. Whatever vitrine spends beyond this is the cost of its
//! routing, middleware, extraction and cache lookup.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::get;
use bytes::Bytes;
use clap::Parser;

/// Serve fixed bytes as `GET /api/v1/products` until Ctrl-C or SIGTERM.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on (127.0.0.1 only is sensible).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Fetch the body once from this URL at start-up (e.g. a running vitrine's
    /// http://127.0.0.1:PORT/api/v1/products?limit=20).
    #[arg(long, conflicts_with = "file")]
    from: Option<String>,
    /// Or read the body from this file.
    #[arg(long)]
    file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let body: Bytes = match (&args.from, &args.file) {
        (Some(url), None) => {
            let res = reqwest::get(url)
                .await
                .with_context(|| format!("fetching {url}"))?;
            if !res.status().is_success() {
                bail!("fetching {url}: status {}", res.status());
            }
            res.bytes().await.context("reading the body")?
        }
        (None, Some(path)) => std::fs::read(path)
            .with_context(|| format!("reading {}", path.display()))?
            .into(),
        _ => bail!("give --from URL or --file PATH"),
    };
    let len = body.len();
    let router = Router::new().route(
        "/api/v1/products",
        get(move || {
            let body = body.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    println!(
        "bare is serving {len} bytes at http://{}/api/v1/products",
        listener.local_addr()?
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing the SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
        })
        .await
        .context("serving")
}
