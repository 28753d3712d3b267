//! `fake-psp`: the fake bank (BCB Pix API, mutual TLS) and the fake Mercado Pago on `127.0.0.1`,
//! each with the inbox its notices reach, passed on to the store a test names (see
//! `vitrine_testkit::fakes::psp`). Writes the bank's client certificate, key and CA into `--dir`,
//! prints one `fake-psp: NAME VALUE` line per fact, then `fake-psp: ready`; stops on SIGTERM,
//! Ctrl-C, its standard input closing, or `POST /stop` to the control address.

use std::path::PathBuf;

use clap::Parser;
use vitrine_testkit::fakes::psp::Psp;

#[derive(Parser)]
#[command(about = "Fake payment providers (a bank's Pix API, Mercado Pago) for browser tests")]
struct Args {
    /// Where the bank's client certificate, key and CA are written (PEM).
    #[arg(long)]
    dir: PathBuf,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let psp = match Psp::start(&args.dir).await {
        Ok(psp) => psp,
        Err(e) => {
            eprintln!("fake-psp: could not start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    for (name, value) in psp.facts(&args.dir) {
        println!("fake-psp: {name} {value}");
    }
    println!("fake-psp: ready");
    tokio::select! {
        () = vitrine_testkit::fakes::asked_to_stop() => {},
        () = psp.stop_requested() => {},
    }
    let report = psp.report();
    println!("fake-psp: stopping {report}");
    drop(psp);
    // No wait for anything still in flight (a notice being passed on): bounded by design.
    std::process::exit(0)
}
