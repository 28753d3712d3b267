//! `vitrine`: run the store on one machine, and manage it.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use vitrine::config::{Config, Flags, LogFormat};
use vitrine::{backup, compose, import, log_writer, publish, report, seed, serve};
use vitrine_app::auth::StaffRole;

/// jemalloc instead of the system allocator. glibc keeps what each thread freed in that thread's
/// arena: after the search index build at 100,000 products the process stayed at 226 MB, of
/// which `malloc_trim` could give back 148 (docs/benchmarks.md). jemalloc's background threads
/// return freed pages after its decay time (10 s).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// vitrine — an online store on embedded defaults (SQLite, a data folder, a built-in identity
/// provider). Every flag can also be set by its VITRINE_* variable or in vitrine.toml.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    flags: Flags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the store (API, docs) until Ctrl-C or SIGTERM. Seeds the demo catalog into an empty
    /// database unless --no-seed.
    Serve,
    /// Add the demo catalog (categories, products, a coupon); keeps what already exists.
    Seed,
    /// Import products from a CSV file (one row per variant; see docs/import.md).
    Import {
        file: PathBuf,
        /// Write rejected rows (line, slug, reason) to this CSV file.
        #[arg(long)]
        rejected: Option<PathBuf>,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Generate the sales reports now (CSV files and an SVG chart under reports/ in the blob
    /// store; see docs/reports.md).
    Report {
        /// First day (YYYY-MM-DD, São Paulo) of sales to include; default: the first sale.
        #[arg(long)]
        from: Option<String>,
        /// Last day (YYYY-MM-DD, São Paulo) of sales to include; default: the last sale.
        #[arg(long)]
        to: Option<String>,
    },
    /// Back up the whole store (database, files, keys) into one archive while it runs: a file,
    /// or s3://bucket/key (see docs/operations.md).
    Backup {
        /// Where to write the archive: a file path or s3://bucket/key.
        to: String,
    },
    /// Restore a backup into a new, empty data folder (--data-dir); never overwrites.
    Restore {
        /// The archive: a file path or s3://bucket/key.
        from: String,
    },
    /// Inspect event delivery: queues, dead letters, replay.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// The AWS shape's deployment steps after the stack (see docs/deploy.md).
    Aws {
        #[command(subcommand)]
        command: AwsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AwsCommand {
    /// Upload web/ to the site bucket, make sure the first admin exists, print the store's
    /// URLs. Idempotent: a second run changes nothing and says so.
    Publish {
        /// The stack's SiteBucketName output.
        #[arg(long)]
        site_bucket: String,
        /// The storefront and admin files.
        #[arg(long, default_value = "web")]
        web_dir: PathBuf,
        /// The stack's UserPoolId output.
        #[arg(long)]
        user_pool_id: String,
        /// The first admin's e-mail (the username).
        #[arg(long)]
        admin_email: String,
        /// The first admin's name.
        #[arg(long, default_value = "Admin")]
        admin_name: String,
        /// Read the admin's password from the first line of standard input (used only when the
        /// admin does not exist yet).
        #[arg(long)]
        admin_password_stdin: bool,
        /// The stack's SiteUrl output.
        #[arg(long)]
        site_url: String,
    },
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Events waiting in the outbox, and pending and dead deliveries per subscriber.
    Status,
    /// List the deliveries that failed for good.
    Dead {
        /// Only this subscriber's (email, sms, realtime, admin-alerts, invoices, payments).
        #[arg(long)]
        subscriber: Option<String>,
    },
    /// Put dead letters back in their queue; the running server delivers them again.
    Replay {
        /// Only this subscriber's.
        #[arg(long)]
        subscriber: Option<String>,
        /// Only this event (needs --subscriber).
        #[arg(long, requires = "subscriber")]
        event: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a confirmed user; asks for the password (or reads it from stdin).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Put the user in the admin group: the store's owner (the same as --role owner).
        #[arg(long, conflicts_with = "role")]
        admin: bool,
        /// Make the user a member of staff: owner (every part of the admin), orders (orders,
        /// invoices, refunds) or catalog (products, categories, stock, coupons).
        #[arg(long, value_parser = ["owner", "orders", "catalog"])]
        role: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Logs go to standard error in batches ([`log_writer`]): a request's log line costs the worker
/// that served it a copy into a buffer, not a write call. The returned guard writes what is left
/// when it is dropped, at the end of `main`. Colours only on a terminal.
fn init_logging(format: LogFormat) -> anyhow::Result<log_writer::Guard<std::io::Stderr>> {
    let on_terminal = std::io::stderr().is_terminal();
    let (writer, guard) = log_writer::stderr().context("starting the log writer")?;
    let filter = EnvFilter::try_from_env("VITRINE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(on_terminal)
        .with_writer(writer);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.compact().init(),
    }
    Ok(guard)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::resolve(&cli.flags)?;
    let _log_writer = init_logging(config.log_format)?;
    match cli.command {
        Command::Serve => {
            let choices = compose::payment_choices(&config)?;
            let sandbox_in_public = serve::sandbox_guard(&config, &choices)?;
            let store = compose::build_for(&config).await?;
            if sandbox_in_public {
                serve::warn_of_the_sandbox_hourly(&store.app, &config.public_url);
            }
            serve::register_payment_webhooks(&store.app);
            if config.seed && seed::is_empty(&store.app).await? {
                let s = seed::seed(&store.app).await?;
                println!(
                    "Seeded the demo catalog: {} categories, {} products.",
                    s.categories, s.products
                );
            }
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("listening on {}", config.listen))?;
            let addr = listener.local_addr()?;
            println!("vitrine is running at http://{addr}/");
            println!("  API:      http://{addr}/api/v1/products");
            println!("  API docs: http://{addr}/api/docs");
            println!("  data:     {}", config.data_dir.display());
            println!(
                "Create an admin with:  vitrine user create --admin --email you@example.com --name \"Your Name\""
            );
            let metrics = match config.metrics_listen {
                Some(addr) => {
                    let l = tokio::net::TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("listening for metrics on {addr}"))?;
                    println!("  metrics:  http://{}/metrics", l.local_addr()?);
                    Some(l)
                }
                None => None,
            };
            serve::run_with_metrics(listener, metrics, store, serve::shutdown_signal()).await?;
            println!("vitrine stopped cleanly.");
        }
        Command::Seed => {
            let store = compose::build_for(&config).await?;
            let s = seed::seed(&store.app).await?;
            println!(
                "Seeded: {} categories, {} products ({} already there).",
                s.categories, s.products, s.skipped
            );
        }
        Command::Report { from, to } => {
            let store = compose::build_for(&config).await?;
            let generated = report::run(&store.app, from, to).await?;
            let total = generated.report.total;
            println!(
                "Sales report: {} orders, R$ {} (average ticket R$ {}).",
                total.orders,
                vitrine_domain::Money::from_centavos(total.revenue_centavos).format_plain(),
                vitrine_domain::Money::from_centavos(total.average_ticket_centavos())
                    .format_plain()
            );
            for file in &generated.files {
                println!("  {file}");
            }
        }
        Command::Import { file, rejected } => {
            let store = compose::build_for(&config).await?;
            let input = std::fs::File::open(&file)
                .with_context(|| format!("opening {}", file.display()))?;
            let report = import::import(&store.app, input, std::io::stderr().is_terminal()).await?;
            println!(
                "Imported {} products ({} variants).",
                report.products, report.variants
            );
            if !report.rejected.is_empty() {
                println!("Rejected {} rows:", report.rejected.len());
                for r in &report.rejected {
                    println!("  line {}: {} — {}", r.line, r.slug, r.reason);
                }
                if let Some(path) = rejected {
                    std::fs::write(&path, import::rejected_csv(&report.rejected)?)
                        .with_context(|| format!("writing {}", path.display()))?;
                    println!("Rejected rows written to {}.", path.display());
                }
                bail!(
                    "{} rows were rejected; nothing of their products was imported",
                    report.rejected.len()
                );
            }
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    name,
                    admin,
                    role,
                    password_stdin,
                },
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the password from stdin")?;
                line.trim_end_matches(['\n', '\r']).to_owned()
            } else if std::io::stdin().is_terminal() {
                let p = rpassword::prompt_password("Password: ")?;
                if rpassword::prompt_password("Again: ")? != p {
                    bail!("the passwords differ");
                }
                p
            } else {
                bail!("no terminal to ask for the password: use --password-stdin");
            };
            let role = match role.as_deref() {
                Some(r) => Some(StaffRole::parse(r).context("--role is owner, orders or catalog")?),
                None => admin.then_some(StaffRole::Owner),
            };
            let store = compose::build_for(&config).await?;
            let sub = store
                .app
                .create_user_as(&email, &password, &name, role)
                .await
                .map_err(|e| match e {
                    vitrine_app::AppError::Invalid(errors) => {
                        anyhow::anyhow!(
                            errors
                                .iter()
                                .map(|e| format!("{}: {}", e.field, e.message))
                                .collect::<Vec<_>>()
                                .join("; ")
                        )
                    }
                    other => anyhow::Error::new(other),
                })?;
            println!(
                "Created {}{} ({sub}).",
                email.trim().to_lowercase(),
                match role {
                    Some(StaffRole::Owner) => " as admin (the store's owner)",
                    Some(StaffRole::Orders) => " as orders staff",
                    Some(StaffRole::Catalog) => " as catalog staff",
                    None => "",
                }
            );
        }
        Command::Aws {
            command:
                AwsCommand::Publish {
                    site_bucket,
                    web_dir,
                    user_pool_id,
                    admin_email,
                    admin_name,
                    admin_password_stdin,
                    site_url,
                },
        } => {
            let admin_password = if admin_password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the password from stdin")?;
                Some(line.trim_end_matches(['\n', '\r']).to_owned()).filter(|p| !p.is_empty())
            } else {
                None
            };
            let p = publish::Publish {
                site_bucket,
                web_dir,
                user_pool_id,
                admin_email,
                admin_name,
                admin_password,
                site_url,
            };
            publish::run(&config, &p).await?;
        }
        Command::Backup { to } => {
            let to: backup::Location = to.parse()?;
            let m = backup::backup(&config, &to).await?;
            println!(
                "Backed up {} items and {} files of {} to {to}.",
                m.items,
                m.files,
                config.data_dir.display()
            );
            println!("The archive holds the signing key and secrets: keep it private.");
        }
        Command::Restore { from } => {
            let from: backup::Location = from.parse()?;
            let m = backup::restore(&config, &from).await?;
            println!(
                "Restored the backup of {} ({} items, {} files) into {}.",
                m.created_at,
                m.items,
                m.files,
                config.data_dir.display()
            );
        }
        Command::Events { command } => {
            let store = compose::build_for(&config).await?;
            events(&store.app, command).await?;
        }
    }
    Ok(())
}

async fn events(app: &vitrine_app::App, command: EventsCommand) -> anyhow::Result<()> {
    let known = |s: &Option<String>| -> anyhow::Result<()> {
        match s {
            Some(s) if !app.subscriber_names().contains(&s.as_str()) => bail!(
                "unknown subscriber {s:?}; the subscribers are: {}",
                app.subscriber_names().join(", ")
            ),
            _ => Ok(()),
        }
    };
    match command {
        EventsCommand::Status => {
            println!(
                "outbox: {} events not yet fanned out",
                app.outbox_len().await?
            );
            println!("{:<14} {:>8} {:>6}", "subscriber", "pending", "dead");
            for q in app.event_queues().await? {
                println!("{:<14} {:>8} {:>6}", q.subscriber, q.pending, q.dead);
            }
        }
        EventsCommand::Dead { subscriber } => {
            known(&subscriber)?;
            let dead = app.dead_letters(subscriber.as_deref()).await?;
            if dead.is_empty() {
                println!("No dead letters.");
            }
            for d in dead {
                println!(
                    "{}  {:<13} {:<16} {}  after {} attempts: {}",
                    d.event_id, d.subscriber, d.event_type, d.subject, d.attempts, d.last_error
                );
            }
        }
        EventsCommand::Replay { subscriber, event } => {
            known(&subscriber)?;
            match (subscriber, event) {
                (Some(subscriber), Some(event)) => {
                    app.replay_dead_letter(&subscriber, &event)
                        .await
                        .map_err(|e| match e {
                            vitrine_app::AppError::NotFound(_) => anyhow::anyhow!(
                                "no dead letter {event} for {subscriber}: see `vitrine events dead`"
                            ),
                            other => other.into(),
                        })?;
                    println!("Replayed {event} for {subscriber}.");
                }
                (subscriber, _) => {
                    let n = app.replay_dead_letters(subscriber.as_deref()).await?;
                    println!("Replayed {n} dead letters.");
                }
            }
        }
    }
    Ok(())
}
