//! The API Lambda: the same axum router as `vitrine serve`, behind API Gateway (REST or HTTP
//! API), on DynamoDB, S3, Cognito and SES.
//!
//! A cold start reads the environment and builds every AWS client, making no request but for the
//! secrets a configuration names (the real payment providers', the NF-e certificate); the user
//! pool's keys are downloaded by the first request that checks a token. Warm invocations reuse
//! all of it.
//! The OpenAPI document is built on its first request. A cold start that fails is reported to the
//! Runtime API and the process exits.

use std::time::{Duration, Instant};

use vitrine_http::AppState;

// One invocation at a time per execution environment: a single-threaded runtime starts faster
// and has nothing to gain from more threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    vitrine_lambda::init_tracing();
    let started = Instant::now();
    let state = match build_state().await {
        Ok(state) => state,
        Err(err) => return Err(vitrine_lambda::fail_init(err).await),
    };
    let built = Instant::now();
    let router = vitrine_http::router(state);
    // Lambda reports the whole init duration; this says where it went.
    tracing::info!(
        init.state_ms = ms(built - started),
        init.router_ms = ms(built.elapsed()),
        "cold start: ready for events"
    );
    vitrine_lambda::run_http(router)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The composition: the application every function shares (`vitrine_lambda::compose_with_fiscal`:
/// resources, settings and payment providers from the environment, and the NF-e settings and
/// certificate of `vitrine_lambda::invoices::api_fiscal`), and the router's state.
async fn build_state() -> anyhow::Result<AppState> {
    let get = |name: &str| std::env::var(name).ok();
    // The admins' NF-e operations (cancel, correct, void) use the invoices function's
    // certificate, read now when the template gives it.
    let fiscal = vitrine_lambda::invoices::api_fiscal(get).await;
    let store = vitrine_lambda::compose_with_fiscal(get, fiscal).await?;
    // The pool's keys are downloaded by the first request that needs them, not in the
    // background: Lambda freezes the process between invocations, and a download frozen half-way
    // would hold up the request that finds it.
    Ok(AppState::with_keys(store.app, store.keys, None)
        .with_emf("api")
        .with_realtime_url(std::env::var("VITRINE_WS_URL").ok())
        // API Gateway serves HTTPS only; its throttling and the WAF's rate rule limit clients.
        .with_security(vitrine_http::Security {
            hsts: true,
            // Absolute links of the pages rendered here; without it, the host CloudFront was
            // asked for (its viewer-request function passes it as `X-Forwarded-Host`).
            public_url: std::env::var(vitrine_lambda::payments::PUBLIC_URL_ENV)
                .ok()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            ..vitrine_http::Security::default()
        }))
}
