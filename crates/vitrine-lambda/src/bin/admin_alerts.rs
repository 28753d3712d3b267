//! The `admin-alerts` subscriber's Lambda: SQS batches from its queue (SNS notifications of the events
//! its subscription admits) handed to `vitrine_app::notify::AdminAlerts`, on the AWS adapters.
//! Failed and rejected deliveries are reported back to SQS (see `vitrine_lambda::events`).

use std::sync::Arc;

use vitrine_app::App;
use vitrine_app::events::Consumer;
use vitrine_app::notify::{AdminAlerts, SendOnce};

fn consumer(app: Arc<App>) -> Arc<dyn Consumer> {
    // Sent once per event id, whatever SQS re-delivers (`SendOnce`).
    let inner: Arc<dyn Consumer> = Arc::new(AdminAlerts::new(app.clone()));
    Arc::new(SendOnce::new(app, inner))
}

// One invocation at a time per execution environment (see `api`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    vitrine_lambda::events::run_consumer(consumer).await
}
