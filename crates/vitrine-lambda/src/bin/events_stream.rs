//! The stream handler: the table's DynamoDB stream in, every new outbox event published to the
//! events topic (SNS) with its message attributes, for the subscriptions to filter. Reports
//! partial batch failures so Lambda retries the shard from the first event it could not publish
//! (see `vitrine_lambda::events`).

// One invocation at a time per execution environment (see `api`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    vitrine_lambda::events::run_stream_handler().await
}
