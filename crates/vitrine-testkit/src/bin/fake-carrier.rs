//! `fake-carrier`: the fake Melhor Envio (`vitrine_testkit::fakes::melhor_envio`, which checks
//! every request against the published API) on `127.0.0.1`, for browser tests. Prints
//! `fake-carrier: url URL` and `fake-carrier: token TOKEN`, then `fake-carrier: ready`; stops on
//! SIGTERM, Ctrl-C or its standard input closing, printing how many requests it refused
//! (`fake-carrier: violations N`, each on its own line before).

use vitrine_testkit::fakes::melhor_envio::{FakeMelhorEnvio, FakeOptions};

#[tokio::main]
async fn main() {
    let fake = FakeMelhorEnvio::start(FakeOptions::default()).await;
    println!("fake-carrier: url {}", fake.url());
    println!("fake-carrier: token {}", fake.token());
    println!("fake-carrier: ready");
    vitrine_testkit::fakes::asked_to_stop().await;
    let violations = fake.violations();
    for v in &violations {
        println!("fake-carrier: violation {v}");
    }
    println!("fake-carrier: violations {}", violations.len());
    std::process::exit(0)
}
