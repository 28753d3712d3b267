//! The `payments` subscriber's Lambda: refunds of cancelled paid orders and of late payments
//! (`vitrine_app::payments::Refunds`), through the provider that took the money (see
//! `vitrine_lambda::payments` for the providers' settings). Failed and rejected deliveries are
//! reported back to SQS (see `vitrine_lambda::events`).

use std::sync::Arc;

use vitrine_app::App;
use vitrine_app::events::Consumer;
use vitrine_app::payments::Refunds;

fn consumer(app: Arc<App>) -> Arc<dyn Consumer> {
    Arc::new(Refunds::new(app))
}

// One invocation at a time per execution environment (see `api`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    vitrine_lambda::events::run_consumer(consumer).await
}
