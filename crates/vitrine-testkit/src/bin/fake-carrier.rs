//! `fake-carrier`: the fake Melhor Envio (`vitrine_testkit::fakes::melhor_envio`, which checks
//! every request against the published API) on `127.0.0.1`, for browser tests. Prints
//! `fake-carrier: url URL` and `fake-carrier: token TOKEN`, then `fake-carrier: ready`; stops on
//! SIGTERM, Ctrl-C or its standard input closing, printing how many requests it refused
//! (`fake-carrier: violations N`, each on its own line before).

use vitrine_testkit::fakes::melhor_envio::{FakeMelhorEnvio, FakeOptions};

/// Resolves when a signal asks to stop or standard input closes.
async fn asked_to_stop() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    let (closed_tx, closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed_tx.send(());
    });
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = term => {},
        _ = closed => {},
    }
}

#[tokio::main]
async fn main() {
    let fake = FakeMelhorEnvio::start(FakeOptions::default()).await;
    println!("fake-carrier: url {}", fake.url());
    println!("fake-carrier: token {}", fake.token());
    println!("fake-carrier: ready");
    asked_to_stop().await;
    let violations = fake.violations();
    for v in &violations {
        println!("fake-carrier: violation {v}");
    }
    println!("fake-carrier: violations {}", violations.len());
    std::process::exit(0)
}
