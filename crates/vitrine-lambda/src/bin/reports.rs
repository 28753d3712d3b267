//! The `reports` Lambda, run daily by an EventBridge schedule: generates the sales reports
//! (`App::generate_report`: CSV files and an SVG chart under `reports/` in `ReportsBucket`,
//! `VITRINE_REPORTS_BUCKET`) — what `vitrine report` does locally. Reading streams page by
//! page; memory stays flat.

use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use vitrine_app::App;
use vitrine_lambda::emf::{Emf, count};

/// Per run: `ReportsWritten` (one report folder) and `ReportOrders` (the orders it covers).
const METRICS: Emf = Emf::new("reports");

// One invocation at a time per execution environment (see `api`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    vitrine_lambda::run_app_events("ready for schedules", report).await
}

async fn report(
    app: Arc<App>,
    invocation: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let trace = invocation.context.xray_trace_id.clone();
    let generated =
        vitrine_lambda::xray_scope(trace.as_deref(), app.generate_report(None, None, &|_| {}))
            .await?;
    METRICS.emit(&[
        count("ReportsWritten", 1),
        count("ReportOrders", generated.report.total.orders),
    ]);
    Ok(json!({
        "folder": generated.folder,
        "orders": generated.report.total.orders,
        "revenue_centavos": generated.report.total.revenue_centavos,
    }))
}
