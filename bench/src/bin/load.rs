//! `load`: a closed-loop HTTP/1.1 load generator for vitrine's performance acceptance.
//!
//! N connections each keep exactly one request in flight (send, read the whole response, send
//! the next) for a warm-up and then a measured period. Throughput is the responses completed
//! inside the measured period divided by its length; latencies are those of the same responses,
//! from just before the request is written to the last byte of the body. Every response that is
//! not the expected status (or, for `get`, not the expected length), and every connection error,
//! counts as an error in any phase; the program exits non-zero if there was any.
//!
//! Scenarios:
//! - `get URL`: the same GET over and over.
//! - `edits URL`: an admin saves a product while one client lists URL; the listing right after
//!   each save beside the others (`load/edits.rs`).
//! - `checkout BASE`: sets up its own data (an admin and customers created with the `vitrine
//!   user create` command, signed in over HTTP; one product with a large stock), then places
//!   "buy now" orders of one unit, spread over the customers, each with a fresh
//!   `Idempotency-Key`. Afterwards it checks that the stock went down, and the number of
//!   pending orders went up, by exactly the number of `201 Created` answers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

#[path = "load/common.rs"]
mod common;
#[path = "load/edits.rs"]
mod edits;
#[path = "load/journey.rs"]
mod journey;
#[path = "gen/words.rs"]
mod words;

use common::{ADMIN_EMAIL, RunArgs, create_users, customer_email, sign_in, write_summary};

#[derive(Debug, Parser)]
#[command(about = "Closed-loop HTTP/1.1 load generator for vitrine's benchmarks")]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// GET one URL over and over; expects 200 and the same body length every time.
    Get { url: String },
    /// Browse a listing deep: follow its `next` cursors from URL for up to `pages` pages first,
    /// then request those pages round-robin over the connections (every answer must be 200).
    Pages {
        url: String,
        #[arg(long, default_value_t = 5_000)]
        pages: usize,
    },
    /// Search with words: `queries` different searches of a generated catalog's words (one or
    /// two words; some plural, some with a typo) added as `q` to URL, asked round-robin over the
    /// connections (every answer must be 200).
    Search {
        url: String,
        #[arg(long, default_value_t = 2_000)]
        queries: usize,
    },
    /// Place "buy now" orders on a running vitrine (does its own setup, see the module docs).
    Checkout {
        /// The server's base URL, e.g. http://127.0.0.1:8080
        base: String,
        /// The `vitrine` binary, to create the users.
        #[arg(long)]
        vitrine: PathBuf,
        /// The server's data folder (the users are created in it).
        #[arg(long)]
        data_dir: PathBuf,
        /// Customers to spread the orders over.
        #[arg(long, default_value_t = 64)]
        customers: usize,
        /// The users already exist (from an earlier run on this data folder).
        #[arg(long)]
        no_create_users: bool,
        /// SKU of the benchmark product (created if missing).
        #[arg(long, default_value = "BENCH-1")]
        sku: String,
        /// Stock of the benchmark product when it is created.
        #[arg(long, default_value_t = 1_000_000)]
        stock: i64,
    },
    /// A shop owner saving a product while one shopper lists URL: the listing right after each
    /// save beside the others (see `load/edits.rs`).
    Edits {
        /// The listing, e.g. http://127.0.0.1:8080/api/v1/products?limit=20 (its first product
        /// is the one edited).
        url: String,
        /// The `vitrine` binary, to create the admin.
        #[arg(long)]
        vitrine: PathBuf,
        /// The server's data folder (the admin is created in it).
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 200)]
        rounds: usize,
        /// Listings asked for between two saves.
        #[arg(long, default_value_t = 20)]
        between: usize,
    },
    /// Shoppers each browsing, searching, signing in, adding to the cart, checking out and
    /// paying by Pix, over and over; per-step figures (see `load/journey.rs`).
    Journey {
        /// The server's base URL, e.g. http://127.0.0.1:8080
        base: String,
        /// The `vitrine` binary, to create the users.
        #[arg(long)]
        vitrine: PathBuf,
        /// The server's data folder (users are created in it; the webhook secret is read from it).
        #[arg(long)]
        data_dir: PathBuf,
        /// The users already exist (from an earlier run on this data folder).
        #[arg(long)]
        no_create_users: bool,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.run.threads.max(1))
        .enable_all()
        .build()
        .expect("building the runtime");
    match rt.block_on(run(cli)) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// `Ok(false)`: the run completed but had errors or failed its checks.
async fn run(cli: Cli) -> anyhow::Result<bool> {
    ensure!(cli.run.connections > 0, "at least one connection");
    ensure!(cli.run.duration > 0.0, "the duration must be positive");
    match cli.scenario {
        Scenario::Get { url } => {
            let target = Target::parse(&url)?;
            // One probe: the body length every later answer must have.
            let mut probe = target.connect().await?;
            let (status, body) = send(&mut probe, target.get()).await?;
            ensure!(status == StatusCode::OK, "probe of {url}: status {status}");
            let expect_len = body.len();
            drop(probe);
            println!(
                "scenario get {url} ({expect_len} bytes)\n{}",
                cli.run.describe()
            );
            let t = target.clone();
            let report = drive(
                &cli.run,
                &target,
                StatusCode::OK,
                Some(expect_len),
                Arc::new(move |_, _| t.get()),
            )
            .await;
            let mut summary = report.summary();
            writeln!(summary, "body_bytes={expect_len}")?;
            report.print();
            write_summary(&cli.run, &summary)?;
            Ok(report.errors == 0)
        }
        Scenario::Pages { url, pages } => {
            let target = Target::parse(&url)?;
            let paths = Arc::new(walk(&target, pages).await?);
            println!(
                "scenario pages {url} ({} pages walked)\n{}",
                paths.len(),
                cli.run.describe()
            );
            round_robin(&cli.run, &target, paths, "pages").await
        }
        Scenario::Search { url, queries } => {
            let target = Target::parse(&url)?;
            let separator = if target.path.contains('?') { '&' } else { '?' };
            let paths: Arc<Vec<String>> = Arc::new(
                (0..queries.max(1))
                    .map(|i| format!("{}{separator}q={}", target.path, search_words(i)))
                    .collect(),
            );
            println!(
                "scenario search {url} ({} different queries)\n{}",
                paths.len(),
                cli.run.describe()
            );
            round_robin(&cli.run, &target, paths, "queries").await
        }
        Scenario::Journey {
            base,
            vitrine,
            data_dir,
            no_create_users,
        } => journey::run(&cli.run, &base, &vitrine, &data_dir, no_create_users).await,
        Scenario::Edits {
            url,
            vitrine,
            data_dir,
            rounds,
            between,
        } => {
            let summary = edits::edits(edits::EditsArgs {
                url: &url,
                vitrine: &vitrine,
                data_dir: &data_dir,
                rounds,
                between,
            })
            .await?;
            write_summary(&cli.run, &summary)?;
            Ok(true)
        }
        Scenario::Checkout {
            base,
            vitrine,
            data_dir,
            customers,
            no_create_users,
            sku,
            stock,
        } => {
            checkout(
                &cli.run,
                &base,
                &vitrine,
                &data_dir,
                customers,
                no_create_users,
                &sku,
                stock,
            )
            .await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The closed loop

#[derive(Clone)]
struct Target {
    addr: SocketAddr,
    host: HeaderValue,
    /// Path and query of the `get` scenario's URL.
    path: String,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Target> {
        let u = reqwest::Url::parse(url).with_context(|| format!("parsing {url}"))?;
        ensure!(u.scheme() == "http", "only http:// URLs");
        let host = u.host_str().ok_or_else(|| anyhow!("{url} has no host"))?;
        let port = u.port_or_known_default().unwrap_or(80);
        let addr = (host, port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| anyhow!("{host} does not resolve"))?;
        let mut path = u.path().to_owned();
        if let Some(q) = u.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(Target {
            addr,
            host: HeaderValue::from_str(&format!("{host}:{port}"))?,
            path,
        })
    }

    async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    fn get(&self) -> Request<Full<Bytes>> {
        self.get_path(&self.path)
    }

    fn get_path(&self, path: &str) -> Request<Full<Bytes>> {
        Request::get(path)
            .header(header::HOST, self.host.clone())
            .body(Full::new(Bytes::new()))
            .expect("a valid request")
    }
}

/// GET `paths` of `target` round-robin over the connections, expecting 200 from each; print
/// and write the report, with the number of paths as `counted`. Whether no request failed.
async fn round_robin(
    run: &RunArgs,
    target: &Target,
    paths: Arc<Vec<String>>,
    counted: &str,
) -> anyhow::Result<bool> {
    let (t, n, connections) = (target.clone(), paths.len(), run.connections as u64);
    let report = drive(
        run,
        target,
        StatusCode::OK,
        None,
        Arc::new(move |conn, seq| {
            let i = (conn as u64 + seq * connections) as usize % n;
            t.get_path(&paths[i])
        }),
    )
    .await;
    let mut summary = report.summary();
    writeln!(summary, "{counted}={n}")?;
    report.print();
    write_summary(run, &summary)?;
    Ok(report.errors == 0)
}

/// Search number `i`, URL-encoded: a noun of the generated catalogs, alone or with a material,
/// an adjective or a colour; every fifth in the plural, every seventh with two letters swapped
/// (a typo the search forgives), lowercase and without accents as shoppers type.
fn search_words(i: usize) -> String {
    let mix = |k: usize| i.wrapping_mul(2_654_435_761).rotate_left(k as u32 * 7) >> 3;
    let plain = |w: &str| -> String {
        w.to_lowercase()
            .chars()
            .map(|c| match c {
                'á' | 'â' | 'ã' => 'a',
                'é' | 'ê' => 'e',
                'í' => 'i',
                'ó' | 'ô' | 'õ' => 'o',
                'ú' => 'u',
                'ç' => 'c',
                c => c,
            })
            .collect()
    };
    let mut noun = plain(words::NOUNS[mix(1) % words::NOUNS.len()]);
    if i.is_multiple_of(5) && !noun.ends_with('s') {
        noun.push('s');
    }
    if i.is_multiple_of(7) && noun.len() >= 6 {
        let mut b = noun.into_bytes();
        b.swap(2, 3);
        noun = String::from_utf8(b).unwrap_or_default();
    }
    let second = match mix(2) % 4 {
        0 => String::new(),
        1 => plain(words::MATERIALS[mix(3) % words::MATERIALS.len()].trim_start_matches("de ")),
        2 => plain(words::ADJECTIVES[mix(3) % words::ADJECTIVES.len()]),
        _ => plain(words::COLOURS[mix(3) % words::COLOURS.len()]),
    };
    let q = if second.is_empty() {
        noun
    } else {
        format!("{noun} {second}")
    };
    q.replace(' ', "+")
}

/// The paths of up to `pages` pages of the listing at `target`, following `next` cursors.
async fn walk(target: &Target, pages: usize) -> anyhow::Result<Vec<String>> {
    let mut conn = target.connect().await?;
    let mut paths = vec![target.path.clone()];
    let separator = if target.path.contains('?') { '&' } else { '?' };
    while paths.len() < pages {
        let last = paths.last().expect("one path at least");
        let (status, body) = send(&mut conn, target.get_path(last)).await?;
        ensure!(status == StatusCode::OK, "walking {last}: status {status}");
        let page: Value = serde_json::from_slice(&body).context("a listing page")?;
        let Some(next) = page["next"].as_str() else {
            break;
        };
        paths.push(format!("{}{separator}after={next}", target.path));
    }
    Ok(paths)
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    sender.ready().await?;
    let res = sender.send_request(req).await?;
    let status = res.status();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// Builds the request number `seq` of connection `conn`.
type MakeRequest = Arc<dyn Fn(usize, u64) -> Request<Full<Bytes>> + Send + Sync>;

#[derive(Default)]
struct ConnStats {
    /// Latencies of the measured responses, in microseconds.
    latencies_us: Vec<u32>,
    /// Expected responses completed inside the measured period.
    measured: u64,
    /// Expected responses in every phase (warm-up, measured, and the tail after the end).
    ok_total: u64,
    errors: u64,
    error_samples: Vec<String>,
}

impl ConnStats {
    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.error_samples.len() < 3 {
            self.error_samples.push(what);
        }
    }
}

struct Report {
    connections: usize,
    seconds: f64,
    measured: u64,
    ok_total: u64,
    errors: u64,
    error_samples: Vec<String>,
    /// Sorted, microseconds.
    latencies_us: Vec<u32>,
    cpu: Option<CpuUse>,
}

impl Report {
    fn rps(&self) -> f64 {
        self.measured as f64 / self.seconds
    }

    /// Nearest-rank percentile, in milliseconds.
    fn pct_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let i = rank.clamp(1, self.latencies_us.len()) - 1;
        f64::from(self.latencies_us[i]) / 1000.0
    }

    fn print(&self) {
        println!(
            "measured {:.1} s: {} responses, {:.0} req/s",
            self.seconds,
            self.measured,
            self.rps()
        );
        println!(
            "latency ms: p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}",
            self.pct_ms(50.0),
            self.pct_ms(95.0),
            self.pct_ms(99.0),
            self.pct_ms(100.0)
        );
        if let Some(c) = &self.cpu {
            let server = c.server.map_or("?".into(), |s| format!("{s:.2}"));
            println!(
                "cpu (cores of {}): server {server}, client {:.2}, other {:.2}, idle {:.2}, steal {:.2}",
                c.cpus, c.client, c.other, c.idle, c.steal
            );
            if !c.server_threads.is_empty() {
                println!("server threads (cores): {}", c.threads());
            }
        }
        println!("errors: {}", self.errors);
        for e in &self.error_samples {
            println!("  e.g. {e}");
        }
    }

    fn summary(&self) -> String {
        let mut s = self.figures();
        if let Some(c) = &self.cpu {
            let server = c.server.map_or("?".into(), |s| format!("{s:.2}"));
            let _ = write!(
                s,
                "cpus={}\ncpu_server={server}\ncpu_client={:.2}\ncpu_other={:.2}\ncpu_idle={:.2}\ncpu_steal={:.2}\ncpu_server_threads={}\n",
                c.cpus,
                c.client,
                c.other,
                c.idle,
                c.steal,
                c.threads()
            );
        }
        s
    }

    fn figures(&self) -> String {
        format!(
            "connections={}\nseconds={:.1}\nmeasured={}\nok_total={}\nrps={:.0}\np50_ms={:.2}\np95_ms={:.2}\np99_ms={:.2}\nmax_ms={:.2}\nerrors={}\n",
            self.connections,
            self.seconds,
            self.measured,
            self.ok_total,
            self.rps(),
            self.pct_ms(50.0),
            self.pct_ms(95.0),
            self.pct_ms(99.0),
            self.pct_ms(100.0),
            self.errors
        )
    }
}

async fn drive(
    run: &RunArgs,
    target: &Target,
    expect: StatusCode,
    expect_len: Option<usize>,
    make: MakeRequest,
) -> Report {
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(run.warmup.max(0.0));
    let end = measure_from + Duration::from_secs_f64(run.duration);
    let server_pid = run.server_pid;
    let cpu = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        let before = CpuSample::take(server_pid);
        tokio::time::sleep_until(end.into()).await;
        CpuSample::take(server_pid)?.since(&before, end - measure_from)
    });
    let tasks: Vec<_> = (0..run.connections)
        .map(|conn| {
            let target = target.clone();
            let make = make.clone();
            tokio::spawn(async move {
                let mut stats = ConnStats {
                    latencies_us: Vec::with_capacity(4096),
                    ..ConnStats::default()
                };
                let mut sender: Option<SendRequest<Full<Bytes>>> = None;
                let mut seq = 0u64;
                while Instant::now() < end {
                    let s = match sender.as_mut() {
                        Some(s) => s,
                        None => match target.connect().await {
                            Ok(s) => sender.insert(s),
                            Err(e) => {
                                stats.error(format!("{e:#}"));
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                continue;
                            }
                        },
                    };
                    let req = make(conn, seq);
                    seq += 1;
                    let t0 = Instant::now();
                    let result = send(s, req).await;
                    let t1 = Instant::now();
                    match result {
                        Ok((status, body))
                            if status == expect && expect_len.is_none_or(|n| n == body.len()) =>
                        {
                            stats.ok_total += 1;
                            if t1 >= measure_from && t1 < end {
                                stats.measured += 1;
                                let us = (t1 - t0).as_micros().min(u128::from(u32::MAX));
                                stats.latencies_us.push(us as u32);
                            }
                        }
                        Ok((status, body)) => {
                            let text =
                                String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
                            stats.error(format!("status {status}, {} bytes: {text}", body.len()));
                        }
                        Err(e) => {
                            stats.error(format!("{e:#}"));
                            sender = None;
                        }
                    }
                }
                stats
            })
        })
        .collect();
    let mut report = Report {
        connections: run.connections,
        seconds: run.duration,
        measured: 0,
        ok_total: 0,
        errors: 0,
        error_samples: Vec::new(),
        latencies_us: Vec::new(),
        cpu: None,
    };
    for task in tasks {
        match task.await {
            Ok(s) => {
                report.measured += s.measured;
                report.ok_total += s.ok_total;
                report.errors += s.errors;
                for e in s.error_samples {
                    if report.error_samples.len() < 5 {
                        report.error_samples.push(e);
                    }
                }
                report.latencies_us.extend(s.latencies_us);
            }
            Err(e) => {
                report.errors += 1;
                report
                    .error_samples
                    .push(format!("a connection task failed: {e}"));
            }
        }
    }
    report.latencies_us.sort_unstable();
    report.cpu = cpu.await.ok().flatten();
    report
}

// ---------------------------------------------------------------------------------------------
// CPU accounting over the measured period (Linux /proc; clock ticks of 1/100 s)

const TICKS_PER_SEC: f64 = 100.0;

impl CpuUse {
    fn threads(&self) -> String {
        self.server_threads
            .iter()
            .map(|(name, c)| format!("{name} {c:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

struct CpuSample {
    /// Machine-wide, summed over CPUs: user+nice+system+irq+softirq, idle+iowait, steal.
    busy: u64,
    idle: u64,
    steal: u64,
    /// This process (user+system).
    client: u64,
    server: Option<u64>,
    /// The server's threads, by name (tokio workers, the SQLite writer, ...).
    server_threads: BTreeMap<String, u64>,
}

/// CPU used during the measured period, in cores (CPU-seconds per second).
#[derive(Clone)]
struct CpuUse {
    cpus: usize,
    server: Option<f64>,
    client: f64,
    /// Everything else that kept a CPU busy: other processes, and kernel work (such as the
    /// loopback network's softirqs) not charged to a process.
    other: f64,
    idle: f64,
    steal: f64,
    server_threads: Vec<(String, f64)>,
}

fn proc_ticks(pid: &str) -> Option<u64> {
    stat_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU ticks of each thread of a process, summed by thread name.
fn thread_ticks(pid: u32) -> BTreeMap<String, u64> {
    let mut by_name = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let (Ok(stat), Ok(name)) = (
            std::fs::read_to_string(path.join("stat")),
            std::fs::read_to_string(path.join("comm")),
        ) else {
            continue;
        };
        if let Some(t) = stat_ticks(&stat) {
            *by_name.entry(name.trim().to_owned()).or_default() += t;
        }
    }
    by_name
}

fn stat_ticks(stat: &str) -> Option<u64> {
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

impl CpuSample {
    fn take(server_pid: Option<u32>) -> Option<CpuSample> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().next()?;
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        Some(CpuSample {
            busy: at(0) + at(1) + at(2) + at(5) + at(6),
            idle: at(3) + at(4),
            steal: at(7),
            client: proc_ticks("self")?,
            server: server_pid.and_then(|p| proc_ticks(&p.to_string())),
            server_threads: server_pid.map(thread_ticks).unwrap_or_default(),
        })
    }

    fn since(self, before: &Option<CpuSample>, elapsed: Duration) -> Option<CpuUse> {
        let (after, before) = (self, before.as_ref()?);
        let secs = elapsed.as_secs_f64() * TICKS_PER_SEC;
        let cores = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
        let server = match (after.server, before.server) {
            (Some(a), Some(b)) => Some(cores(a, b)),
            _ => None,
        };
        let client = cores(after.client, before.client);
        Some(CpuUse {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            server,
            client,
            other: (cores(after.busy, before.busy) - client - server.unwrap_or(0.0)).max(0.0),
            idle: cores(after.idle, before.idle),
            steal: cores(after.steal, before.steal),
            // Threads that ended during the period drop out; ones that started count from zero.
            server_threads: after
                .server_threads
                .iter()
                .map(|(name, &t)| {
                    let b = before.server_threads.get(name).copied().unwrap_or(0);
                    (name.clone(), cores(t, b))
                })
                .filter(|(_, c)| *c >= 0.005)
                .collect(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The checkout scenario

#[allow(clippy::too_many_arguments)]
async fn checkout(
    run: &RunArgs,
    base: &str,
    vitrine: &PathBuf,
    data_dir: &PathBuf,
    customers: usize,
    no_create_users: bool,
    sku: &str,
    stock: i64,
) -> anyhow::Result<bool> {
    ensure!(customers > 0, "at least one customer");
    let base = base.trim_end_matches('/').to_owned();
    let target = Target::parse(&base)?;
    let http = reqwest::Client::new();

    // Users, through the command line (a confirmed account needs no e-mail round trip).
    let setup = Instant::now();
    if !no_create_users {
        create_users(vitrine, data_dir, customers).await?;
    }
    // Tokens, a few sign-ins at a time (the per-address limit counts attempts in flight).
    let admin = sign_in(&http, &base, ADMIN_EMAIL).await?;
    let mut tokens = Vec::with_capacity(customers);
    for chunk in (0..customers).collect::<Vec<_>>().chunks(4) {
        let running = chunk
            .iter()
            .map(|&i| {
                let http = http.clone();
                let base = base.clone();
                tokio::spawn(async move { sign_in(&http, &base, &customer_email(i)).await })
            })
            .collect::<Vec<_>>();
        for r in running {
            tokens.push(r.await??);
        }
    }

    // The product, unless an earlier run made it.
    let res = http
        .post(format!("{base}/api/v1/admin/products"))
        .bearer_auth(&admin)
        .json(&json!({
            "slug": format!("bench-{}", sku.to_lowercase()),
            "name": "Bench",
            "variants": [{ "sku": sku, "price_centavos": 5000, "weight_g": 300, "stock": stock }],
        }))
        .send()
        .await?;
    let created_product = res.status() == reqwest::StatusCode::CREATED;
    if !created_product {
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        // Fine when the SKU exists already; `stock_of` fails otherwise.
        eprintln!("note: creating the product answered {status} ({text}); using the existing SKU");
    }
    let stock_before = stock_of(&http, &base, &admin, sku).await?;
    let orders_before = pending_orders(&http, &base, &admin).await?;
    println!(
        "setup: {} customers signed in, product {sku} with stock {stock_before}, {orders_before} pending orders before ({:.1} s)",
        tokens.len(),
        setup.elapsed().as_secs_f64()
    );
    println!("scenario checkout {base}/api/v1/orders\n{}", run.describe());

    // One body for every request; one bearer header per customer; a fresh key per request.
    let body = Bytes::from(serde_json::to_vec(&json!({
        "items": [{ "sku": sku, "quantity": 1 }],
        "shipping_address": {
            "recipient": "Ana", "street": "Av Paulista", "number": "1000",
            "district": "Bela Vista", "city": "São Paulo", "uf": "SP", "cep": "01310-100"
        },
        "shipping_method": "pac",
        "payment_method": "pix",
        "tax_id": "529.982.247-25"
    }))?);
    let bearers: Vec<HeaderValue> = tokens
        .iter()
        .map(|t| HeaderValue::from_str(&format!("Bearer {t}")))
        .collect::<Result<_, _>>()?;
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let host = target.host.clone();
    let connections = run.connections;
    let make: MakeRequest = Arc::new(move |conn, seq| {
        // Each connection walks through the customers (its n-th request as customer
        // conn + n × connections): every customer gets an even share of the orders, which all
        // stay unpaid, so the store's cap on unpaid orders per customer is reached only after
        // customers × cap orders.
        let customer = (conn as u64 + seq * connections as u64) % bearers.len() as u64;
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/orders")
            .header(header::HOST, host.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, bearers[customer as usize].clone())
            .header("idempotency-key", format!("bench-{run_id}-{conn}-{seq}"))
            .body(Full::new(body.clone()))
            .expect("a valid request")
    });
    let report = drive(run, &target, StatusCode::CREATED, None, make).await;
    report.print();

    // Every 201 must be one order and one unit of stock, no more, no less.
    let stock_after = stock_of(&http, &base, &admin, sku).await?;
    let orders_after = pending_orders(&http, &base, &admin).await?;
    let stock_moved = stock_before - stock_after;
    let new_orders = orders_after - orders_before;
    let created = report.ok_total as i64;
    let consistent = stock_moved == created && new_orders == created;
    println!(
        "check: {created} orders created (201, all phases); stock {stock_before} -> {stock_after} (moved {stock_moved}); pending orders +{new_orders}: {}",
        if consistent { "consistent" } else { "MISMATCH" }
    );
    let mut summary = report.summary();
    write!(
        summary,
        "customers={}\ncreated={created}\nstock_before={stock_before}\nstock_after={stock_after}\nstock_moved={stock_moved}\nnew_orders={new_orders}\nconsistent={consistent}\n",
        tokens.len()
    )?;
    write_summary(run, &summary)?;
    Ok(report.errors == 0 && consistent)
}

async fn stock_of(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    sku: &str,
) -> anyhow::Result<i64> {
    let res = http
        .get(format!("{base}/api/v1/admin/stock/{sku}"))
        .bearer_auth(admin)
        .send()
        .await?;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    ensure!(status.is_success(), "stock of {sku}: {status} {body}");
    body["available"]
        .as_i64()
        .ok_or_else(|| anyhow!("stock of {sku}: no `available` in {body}"))
}

/// Orders awaiting payment, counted through the admin API (every page).
async fn pending_orders(http: &reqwest::Client, base: &str, admin: &str) -> anyhow::Result<i64> {
    let mut count = 0i64;
    let mut after: Option<String> = None;
    loop {
        let mut query = vec![("status", "pending_payment"), ("limit", "100")];
        if let Some(a) = &after {
            query.push(("after", a));
        }
        let res = http
            .get(format!("{base}/api/v1/admin/orders"))
            .query(&query)
            .bearer_auth(admin)
            .send()
            .await?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        ensure!(status.is_success(), "listing orders: {status} {body}");
        count += body["items"].as_array().map_or(0, Vec::len) as i64;
        match body["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => return Ok(count),
        }
    }
}
