//! The `realtime` subscriber's Lambda: SQS batches from its queue (SNS notifications of order
//! events) handed to `vitrine_lambda::ws::RealtimeConsumer`, which records each event for resumes
//! and pushes it to the connected browsers of the order's owner and of every admin through the
//! WebSocket API (`ApiGatewayPush`). Failed and rejected deliveries are reported back to SQS (see
//! `vitrine_lambda::events`).

use std::sync::{Arc, OnceLock};

use vitrine_app::App;
use vitrine_app::events::Consumer;
use vitrine_aws::ws_push::ManagementClient;
use vitrine_lambda::ws::{RealtimeConsumer, management_client_from_env};

/// The Management API client, built by `main` before the consumer loop starts: `run_consumer`
/// builds the consumer with a plain `fn`, which cannot capture it.
static MANAGEMENT: OnceLock<ManagementClient> = OnceLock::new();

fn consumer(app: Arc<App>) -> Arc<dyn Consumer> {
    let client = MANAGEMENT
        .get()
        .expect("main builds the Management API client before run_consumer")
        .clone();
    Arc::new(RealtimeConsumer::new(app, client))
}

// One invocation at a time per execution environment (see `api`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    vitrine_lambda::init_tracing();
    match management_client_from_env().await {
        Ok(client) => {
            let _ = MANAGEMENT.set(client);
        }
        Err(err) => return Err(vitrine_lambda::fail_init(err).await),
    }
    vitrine_lambda::events::run_consumer(consumer).await
}
