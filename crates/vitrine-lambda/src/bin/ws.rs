//! The WebSocket API's function: `$connect` (verify the access token, register the connection),
//! `$disconnect` (remove it) and `$default` (`{"action": "resume", "after": "<event id>"}`: post
//! the missed order events, then `ready`), on the AWS adapters. See `vitrine_lambda::ws`.

// One invocation at a time per execution environment (see `api`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    vitrine_lambda::ws::run_ws().await
}
