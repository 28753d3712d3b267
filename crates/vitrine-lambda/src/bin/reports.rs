//! The `reports` Lambda, run daily by an EventBridge schedule: generates the sales reports
//! (`App::generate_report`: CSV files and an SVG chart under `reports/` in `ReportsBucket`,
//! `VITRINE_REPORTS_BUCKET`) — what `vitrine report` does locally. Reading streams page by
//! page; memory stays flat.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use vitrine_lambda::emf::{Emf, count};

/// Per run: `ReportsWritten` (one report folder) and `ReportOrders` (the orders it covers).
const METRICS: Emf = Emf::new("reports");

// One invocation at a time per execution environment (see `api`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    vitrine_lambda::init_tracing();
    let app = match vitrine_lambda::compose_from_env().await {
        Ok(composed) => composed.app,
        Err(err) => return Err(vitrine_lambda::fail_init(err).await),
    };
    tracing::info!("cold start: ready for schedules");
    lambda_runtime::run(service_fn(move |invocation: LambdaEvent<Value>| {
        let app = Arc::clone(&app);
        async move {
            let trace = invocation.context.xray_trace_id.clone();
            let generated = vitrine_lambda::xray_scope(
                trace.as_deref(),
                app.generate_report(None, None, &|_| {}),
            )
            .await?;
            METRICS.emit(&[
                count("ReportsWritten", 1),
                count("ReportOrders", generated.report.total.orders),
            ]);
            Ok::<_, lambda_runtime::Error>(json!({
                "folder": generated.folder,
                "orders": generated.report.total.orders,
                "revenue_centavos": generated.report.total.revenue_centavos,
            }))
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
