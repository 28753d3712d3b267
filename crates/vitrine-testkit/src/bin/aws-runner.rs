//! `aws-runner`: `infra/template.yaml` run whole on one machine, on the AWS emulator (see
//! `vitrine_testkit::runner`). Prints one line per endpoint, then `runner: ready`; stops on
//! SIGTERM, Ctrl-C or `POST /stop` to the control address, printing the invocation table.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use vitrine_testkit::runner::run::{Options, Runner};

#[derive(Parser)]
#[command(about = "Run the SAM template on the AWS emulator: resources, functions, event sources")]
struct Args {
    /// The SAM template.
    #[arg(long, default_value = "infra/template.yaml")]
    template: PathBuf,
    /// The emulator's base URL (a moto server).
    #[arg(long)]
    emulator: String,
    /// A template parameter, NAME=VALUE (repeatable).
    #[arg(long = "parameter", value_name = "NAME=VALUE")]
    parameters: Vec<String>,
    /// Where the functions' built binaries are.
    #[arg(long, default_value = "target/debug")]
    bin_dir: PathBuf,
    /// Where logs go (`logs/{LogicalId}.log`).
    #[arg(long, default_value = "target/aws-runner")]
    work: PathBuf,
    /// Processes per function when the template reserves no concurrency.
    #[arg(long, default_value_t = 4)]
    max_concurrency: usize,
    /// The Python that has the SAM translator.
    #[arg(long, default_value = ".venv/bin/python")]
    python: PathBuf,
    /// The stack name (prefix of every name made); a fresh one by default.
    #[arg(long)]
    stack_name: Option<String>,
}

async fn signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = term => {},
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    let mut parameters = BTreeMap::new();
    for p in &args.parameters {
        let Some((k, v)) = p.split_once('=') else {
            eprintln!("runner: --parameter takes NAME=VALUE, not {p:?}");
            return std::process::ExitCode::from(2);
        };
        parameters.insert(k.to_owned(), v.to_owned());
    }
    let runner = match Runner::start(Options {
        template: args.template,
        emulator: args.emulator,
        parameters,
        bin_dir: args.bin_dir,
        work: args.work,
        max_concurrency: args.max_concurrency,
        python: args.python,
        stack_name: args.stack_name,
    })
    .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("runner: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    for line in runner.endpoint_lines() {
        println!("{line}");
    }
    println!("runner: ready");
    tokio::select! {
        () = signal() => {},
        () = runner.stopped() => {},
    }
    println!("runner: stopping");
    match runner.shutdown().await {
        Ok(table) => {
            print!("{table}");
            std::process::ExitCode::SUCCESS
        }
        Err(report) => {
            print!("{report}");
            eprintln!("runner: the template does not allow calls its functions made (above)");
            std::process::ExitCode::FAILURE
        }
    }
}
