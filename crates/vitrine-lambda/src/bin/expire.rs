//! The `expire` Lambda, run every minute by an EventBridge schedule: expires the unpaid orders
//! past their payment deadline and returns their stock (`App::expire_overdue`, safe to run
//! concurrently with itself and with payments: each order moves at most once) — what the
//! sweeper of `vitrine serve` does locally.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use vitrine_lambda::emf::{Emf, count};

/// Per sweep: `OrdersExpired`.
const METRICS: Emf = Emf::new("expire");

// One invocation at a time per execution environment (see `api`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    vitrine_lambda::init_tracing();
    let app = match vitrine_lambda::compose_from_env().await {
        Ok(composed) => composed.app,
        Err(err) => return Err(vitrine_lambda::fail_init(err).await),
    };
    tracing::info!("cold start: ready for schedules");
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let app = Arc::clone(&app);
        async move {
            let expired = app.expire_overdue().await?;
            METRICS.emit(&[count("OrdersExpired", expired as u64)]);
            if expired > 0 {
                tracing::info!(orders = expired, "expired unpaid orders");
            }
            Ok::<_, lambda_runtime::Error>(json!({ "expired": expired }))
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
