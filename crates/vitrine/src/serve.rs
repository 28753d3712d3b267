//! `vitrine serve`: the store as one process.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use vitrine_app::App;
use vitrine_app::events::dispatch::Dispatcher;
use vitrine_app::notify;
use vitrine_app::workers::{STOP_GRACE, StopSignal};
use vitrine_http::AppState;

use vitrine_app::payment_choice::{self, PaymentChoice, PaymentChoices};

use crate::compose::Store;
use crate::config::Config;

/// Serve `store` on `listener` until `shutdown` completes; in-flight requests finish first.
pub async fn run(
    listener: TcpListener,
    store: Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with_metrics(listener, None, store, shutdown).await
}

/// [`run`], and Prometheus metrics at `/metrics` on `metrics` when given.
pub async fn run_with_metrics(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    store: Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = store.app.clone();
    if app.reconciles_payments() {
        app.spawn_worker("payments-reconciler", {
            let app = Arc::clone(&app);
            move |stop| payments_reconciler(app, stop)
        });
    }
    app.start_code_mail_worker();
    // The search index, built now rather than by the first shopper's search (which would wait
    // for it; on a large catalog that takes a while).
    app.spawn_worker("search-index-first-build", {
        let app = app.clone();
        move |stop| async move {
            tokio::select! {
                _ = stop.requested() => {}
                built = app.search_index() => if let Err(e) = built {
                    tracing::warn!(error = %e, "the search index could not be built; the first search will try again");
                },
            }
        }
    });
    app.spawn_worker("expiry-sweeper", {
        let app = app.clone();
        move |stop| expiry_sweeper(app, stop)
    });
    if app.settings.abandoned_cart_secs > 0 {
        app.spawn_worker("cart-reminders", {
            let app = app.clone();
            let store_url = store.public_url.clone();
            move |stop| cart_reminder_sweeper(app, store_url, stop)
        });
    }
    // Labels bought from the carrier: their tracking into the orders (none on the rate table).
    if app.ports.shipping.is_some() {
        app.spawn_worker("label-tracker", {
            let app = app.clone();
            move |stop| label_tracker(app, stop)
        });
    }
    let state =
        AppState::with_keys(store.app, store.keys, store.jwks).with_security(store.security);
    let hub = Arc::clone(state.realtime());
    // The in-process event dispatcher (local backend; on AWS the stream handler does this). The
    // realtime pusher pushes through this server's WebSocket hub.
    if store.dispatch_events {
        let mut consumers = notify::consumers(&app);
        consumers.push(Arc::new(notify::RealtimePusher::new(hub.clone())));
        consumers.push(Arc::new(vitrine_app::payments::Refunds::new(app.clone())));
        consumers.push(Arc::new(vitrine_app::invoices::Invoices::new(app.clone())));
        let dispatcher = Arc::new(Dispatcher::new(app.clone(), consumers));
        // A pass in hand finishes before the dispatcher stops; a delivery cut short past the
        // grace is delivered again on the next start.
        app.spawn_worker("event-dispatcher", move |stop| {
            dispatcher.run(stop.requested())
        });
    }
    if let Some(listener) = metrics {
        let router = vitrine_http::metrics_router(state.clone());
        app.spawn_worker("metrics-server", move |stop| async move {
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(stop.requested())
                .await
            {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
    }
    let router = vitrine_http::router_with_site(state);
    let result = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        // WebSocket connections are upgraded out of the HTTP server's hands: close them (1001,
        // "going away") so their clients reconnect, with `after`, to a running server.
        hub.close_all();
    })
    .await;
    // The orderly stop: no background work is left running (or writing) once this returns.
    app.stop_workers(STOP_GRACE).await;
    tracing::info!("stopped");
    result.context("serving HTTP")
}

/// Whether the store may start with its payment choices at its public URL: a public `https://`
/// URL with a method on the sandbox needs `--allow-sandbox` (a shop that forgot to choose its
/// providers would otherwise give goods away). `Ok(true)`: allowed, and to be warned of.
pub fn sandbox_guard(config: &Config, choices: &PaymentChoices) -> anyhow::Result<bool> {
    let on_sandbox: Vec<&str> = payment_choice::METHODS
        .iter()
        .filter(|m| choices.get(**m) == PaymentChoice::Sandbox)
        .map(|m| m.as_str())
        .collect();
    if on_sandbox.is_empty() || !config.public_url.starts_with("https://") {
        return Ok(false);
    }
    if !config.payments.allow_sandbox {
        anyhow::bail!(
            "refusing to serve {} with the payment sandbox for {}: no money would be charged and \
             orders would still be paid. Choose real providers ([payments] pix/card/boleto in \
             vitrine.toml, VITRINE_PAYMENTS_PIX/CARD/BOLETO; docs/payments.md, \"Choosing \
             providers\"), or, for a public demo, start with --allow-sandbox \
             (VITRINE_ALLOW_SANDBOX=true).",
            config.public_url,
            on_sandbox.join(" and ")
        );
    }
    Ok(true)
}

/// Log, now and every hour, that the public store takes payments in the sandbox.
pub fn warn_of_the_sandbox_hourly(app: &Arc<App>, public_url: &str) {
    let public_url = public_url.to_owned();
    app.spawn_worker("sandbox-warning", move |stop| async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        let stop = stop.requested();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                _ = tick.tick() => tracing::warn!(
                    public_url = %public_url,
                    "demo mode (--allow-sandbox): payments go to the sandbox, no money is charged"
                ),
            }
        }
    });
}

/// Register the real payment providers' webhooks where that is done by API (the bank's Pix
/// webhook, `PUT /webhook/{chave}`), in the background; a failure is logged
/// (`App::register_payment_webhooks`) and the store serves on, its reconciliation finding the
/// payments whose notices never come.
pub fn register_payment_webhooks(app: &Arc<App>) {
    if !app.reconciles_payments() {
        return;
    }
    let worker = app.clone();
    app.spawn_worker("payment-webhook-registration", move |stop| async move {
        tokio::select! {
            () = stop.requested() => {}
            failed = worker.register_payment_webhooks() => if failed == 0 {
                tracing::info!("registered the payment providers' webhooks");
            },
        }
    });
}

/// Run `work` now and then every `period`, until the stop signal (a run in hand finishes
/// first).
async fn every<F, Fut>(period: Duration, stop: StopSignal, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(period);
    let stop = stop.requested();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {}
        }
        work().await;
    }
}

/// Expire unpaid orders past their deadline, once a minute.
async fn expiry_sweeper(app: Arc<App>, stop: StopSignal) {
    every(Duration::from_secs(60), stop, || async {
        match app.expire_overdue().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(orders = n, "expired unpaid orders"),
            Err(e) => tracing::warn!(error = %e, "expiry sweep failed; will retry"),
        }
    })
    .await;
}

/// E-mail the customers whose carts were left untouched (`App::remind_abandoned_carts`, links to
/// `store_url`), every 5 minutes.
async fn cart_reminder_sweeper(app: Arc<App>, store_url: String, stop: StopSignal) {
    every(Duration::from_secs(300), stop, || async {
        let now = app.ports.clock.now();
        if let Err(e) = app.remind_abandoned_carts(now, &store_url).await {
            tracing::warn!(error = %e, "cart reminder sweep failed; will retry");
        }
    })
    .await;
}

/// Ask the carrier where the open labels are and move their orders (`App::track_labels`), at
/// start and every 30 minutes (Melhor Envio caches tracking for an hour).
async fn label_tracker(app: Arc<App>, stop: StopSignal) {
    every(Duration::from_secs(1800), stop, || async {
        match app.track_labels().await {
            Ok(run) if run.asked > 0 => tracing::info!(
                labels = run.asked,
                shipped = run.shipped,
                delivered = run.delivered,
                failed = run.failed,
                "tracked shipping labels"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "label tracking failed; will retry"),
        }
    })
    .await;
}

/// With a real payment provider: every 10 minutes, settle what the providers received in the
/// last 24 hours and no webhook told (`App::reconcile_payments`); once a day, after 06:30 in São
/// Paulo, the reconciliation report and its alert (`App::daily_reconciliation`; kept in memory,
/// so a restart the same day runs it again).
async fn payments_reconciler(app: Arc<App>, stop: StopSignal) {
    use vitrine_app::dashboard::local_day;
    use vitrine_app::payments::reconcile::SWEEP_WINDOW_MS;
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    let stop = stop.requested();
    tokio::pin!(stop);
    let mut reported_day = None;
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {}
        }
        let now = app.ports.clock.now();
        let today = local_day(now);
        let local_minutes = (now.millis() - 3 * 3_600_000).rem_euclid(86_400_000) / 60_000;
        if reported_day != Some(today) && local_minutes >= 6 * 60 + 30 {
            match app.daily_reconciliation().await {
                Ok(_) => reported_day = Some(today),
                Err(e) => {
                    tracing::warn!(error = %e, "daily payments reconciliation failed; will retry")
                }
            }
            continue;
        }
        let from = vitrine_domain::Timestamp::from_millis(now.millis() - SWEEP_WINDOW_MS);
        match app.reconcile_payments(from, now).await {
            Ok(run) if run.settled + run.late > 0 => {
                tracing::info!(
                    settled = run.settled,
                    late = run.late,
                    "payments settled by reconciliation"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "payments reconciliation failed; will retry"),
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
