//! The `expire` Lambda, run by EventBridge schedules:
//! - every minute (no `job`): expires the unpaid orders past their payment deadline and returns
//!   their stock (`App::expire_overdue`, safe to run concurrently with itself and with payments:
//!   each order moves at most once) — what the sweeper of `vitrine serve` does locally;
//! - every 10 minutes (`{"job": "reconcile"}`): settles the payments the real providers received
//!   in the last day that no webhook told (`App::reconcile_payments`), after registering the
//!   providers' webhooks once per cold start (`App::register_payment_webhooks`: the bank's);
//! - daily (`{"job": "reconcile-daily"}`): the reconciliation report and its alert
//!   (`App::daily_reconciliation`);
//! - every 5 minutes (`{"job": "abandoned-carts"}`): the abandoned cart reminders
//!   (`App::remind_abandoned_carts`, safe to run concurrently with itself: each cart is claimed
//!   once), their links to the storefront at `VITRINE_SITE_URL`.
//! - every 30 minutes (`{"job": "track-labels"}`): the shipping labels bought from the carrier,
//!   their orders shipped and delivered as the carrier moves the parcels (`App::track_labels`,
//!   bounded per run, safe to run concurrently with itself and with the admin's moves).
//!
//! The reconciliation jobs do nothing when every provider is a sandbox; the reminders, when
//! `VITRINE_ABANDONED_CART_HOURS` is 0.

use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use vitrine_app::App;
use vitrine_app::payments::reconcile::SWEEP_WINDOW_MS;
use vitrine_domain::Timestamp;
use vitrine_lambda::emf::{Emf, count};

/// Per sweep: `OrdersExpired`; per reconciliation: `PaymentsSettledByReconciliation`,
/// `PaymentDifferences`; per reminder run: `CartRemindersSent`; per tracking run:
/// `LabelsTracked`, `OrdersShippedByCarrier`, `OrdersDeliveredByCarrier`, `LabelsFailed`.
const METRICS: Emf = Emf::new("expire");

// One invocation at a time per execution environment (see `api`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    vitrine_lambda::run_app_events("ready for schedules", run).await
}

async fn run(app: Arc<App>, event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    let job = event.payload.get("job").and_then(Value::as_str);
    match job {
        None => expire(&app).await,
        Some("reconcile") => reconcile(&app).await,
        Some("reconcile-daily") => reconcile_daily(&app).await,
        Some("abandoned-carts") => abandoned_carts(&app).await,
        Some("track-labels") => track_labels(&app).await,
        Some(other) => Err(format!(
            "unknown job {other:?}: expected reconcile, reconcile-daily, abandoned-carts or track-labels"
        )
        .into()),
    }
}

async fn expire(app: &App) -> Result<Value, lambda_runtime::Error> {
    let expired = app.expire_overdue().await?;
    METRICS.emit(&[count("OrdersExpired", expired as u64)]);
    if expired > 0 {
        tracing::info!(orders = expired, "expired unpaid orders");
    }
    Ok(json!({ "expired": expired }))
}

/// Whether this execution environment registered the providers' webhooks yet: once per cold
/// start of the reconciliation (idempotent at the provider), so a deployed stack registers its
/// bank webhook within ten minutes and keeps it registered.
static WEBHOOKS_REGISTERED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

async fn reconcile(app: &App) -> Result<Value, lambda_runtime::Error> {
    if !WEBHOOKS_REGISTERED.load(std::sync::atomic::Ordering::Relaxed)
        && app.register_payment_webhooks().await == 0
    {
        WEBHOOKS_REGISTERED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let now = app.ports.clock.now();
    let from = Timestamp::from_millis(now.millis() - SWEEP_WINDOW_MS);
    let run = app.reconcile_payments(from, now).await?;
    METRICS.emit(&[count("PaymentsSettledByReconciliation", run.settled as u64)]);
    Ok(json!({ "checked": run.checked, "settled": run.settled, "late": run.late }))
}

async fn reconcile_daily(app: &App) -> Result<Value, lambda_runtime::Error> {
    let Some((run, report)) = app.daily_reconciliation().await? else {
        return Ok(json!({ "skipped": "no real payment provider" }));
    };
    METRICS.emit(&[
        count("PaymentsSettledByReconciliation", run.settled as u64),
        count("PaymentDifferences", run.differences.len() as u64),
    ]);
    Ok(json!({
        "checked": run.checked,
        "settled": run.settled,
        "differences": run.differences.len(),
        "report": report,
    }))
}

/// The variable naming the storefront the reminders link to (the template's `SiteUrl`).
const SITE_URL_ENV: &str = "VITRINE_SITE_URL";

/// The storefront's address, read once per cold start.
static SITE_URL: std::sync::LazyLock<Option<String>> = std::sync::LazyLock::new(|| {
    std::env::var(SITE_URL_ENV)
        .ok()
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
});

async fn abandoned_carts(app: &App) -> Result<Value, lambda_runtime::Error> {
    let Some(site) = SITE_URL.as_deref() else {
        return Err(format!(
            "{SITE_URL_ENV} is not set: the cart reminders' links need the storefront"
        )
        .into());
    };
    let run = app
        .remind_abandoned_carts(app.ports.clock.now(), site)
        .await?;
    METRICS.emit(&[count("CartRemindersSent", run.sent as u64)]);
    Ok(json!({ "sent": run.sent, "skipped": run.skipped, "taken": run.taken }))
}

async fn track_labels(app: &App) -> Result<Value, lambda_runtime::Error> {
    let run = app.track_labels().await?;
    METRICS.emit(&[
        count("LabelsTracked", run.asked as u64),
        count("OrdersShippedByCarrier", run.shipped as u64),
        count("OrdersDeliveredByCarrier", run.delivered as u64),
        count("LabelsFailed", run.failed as u64),
    ]);
    Ok(json!({
        "asked": run.asked,
        "shipped": run.shipped,
        "delivered": run.delivered,
        "failed": run.failed,
        "unanswered": run.unanswered,
    }))
}
