//! Fake providers (payments, SEFAZ, a carrier) for contract tests: each serves its provider's published API on
//! `127.0.0.1`, holds every request and answer to the provider's OpenAPI spec
//! ([`crate::openapi`]), applies the provider's business rules, and lets a test play the payer,
//! the network's faults and the provider's webhooks.
//!
//! - [`bcb_pix::FakeBank`]: a bank's standard Pix API (BCB v2.9.0) over HTTPS with mutual TLS and
//!   OAuth2 client credentials.
//! - [`mercadopago::FakeMercadoPago`]: Mercado Pago's payments API (cards, boleto, Pix, refunds,
//!   installments, signed webhooks) and a stand-in of its browser tokenisation script.
//! - [`sefaz::FakeSefaz`]: a SEFAZ NF-e 4.00 authoriser (SOAP 1.2 over mutual TLS: status,
//!   authorisation sync/async, receipts, protocol query, events, voiding) with its schemas,
//!   signature checks and business rules.
//! - [`melhor_envio::FakeMelhorEnvio`]: Melhor Envio's shipping API v2 (quotes, cart, checkout,
//!   label generation and printing, tracking), every request checked against the published API.
//! - [`psp::Psp`]: both, with their notice inboxes passed on to a store, for tests that drive
//!   the store from outside its process (binary `fake-psp`).

pub mod bcb_pix;
pub mod melhor_envio;
pub mod mercadopago;
pub mod psp;
pub mod sefaz;
pub mod tls;

/// Resolves when a fake's binary (`fake-psp`, `fake-carrier`) is asked to stop: SIGTERM, Ctrl-C,
/// or its standard input closing (the browser test that started it went away).
pub async fn asked_to_stop() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    // A plain thread: it never holds the process up when it ends.
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
