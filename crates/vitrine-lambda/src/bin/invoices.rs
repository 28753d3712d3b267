//! The `invoices` subscriber's Lambda: the NF-e of each paid order, issued by
//! `vitrine_app::invoices::Invoices` with the A1 certificate from Secrets Manager (see
//! `vitrine_lambda::invoices`). Failed and rejected deliveries are reported back to SQS.

// One invocation at a time per execution environment (see `api`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    vitrine_lambda::invoices::run().await
}
