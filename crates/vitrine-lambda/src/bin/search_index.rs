//! The `search_index` Lambda, run by the table's stream on each batch of catalog changes (the
//! change feed's items; the mapping's filter lets no other record through): brings the
//! published search index up to the feed and stores it in the bucket
//! (`App::publish_search_index`), for the api's instances to open on their first search instead
//! of each reading the whole catalog (`vitrine_app::search_published`).
//!
//! An hourly schedule runs it too (its event is not read): with nothing changed it stores no
//! bytes, and moves the pointer's feed position on once it is an hour old.
//!
//! The records only say that something changed: what changed is read from the feed, so a batch
//! retried, or one that arrives after a later one, does no harm. The template gives the function
//! one concurrent execution, so that one instance holds the index between batches and two never
//! publish at once. The first batch after a deploy (or after the index fell further behind than
//! the feed keeps) builds the index from the catalog.

use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use vitrine_app::App;
use vitrine_lambda::emf::{Emf, count};

/// Per run: `SearchIndexProductsChanged`, `SearchIndexProducts`, `SearchIndexBytes`.
const METRICS: Emf = Emf::new("search_index");

// One invocation at a time per execution environment (see `api`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    vitrine_lambda::run_app_events("ready for catalog changes", publish).await
}

async fn publish(app: Arc<App>, event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    let records = event
        .payload
        .get("Records")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let published = app.publish_search_index().await?;
    METRICS.emit(&[
        count("SearchIndexProductsChanged", published.changed as u64),
        count("SearchIndexProducts", published.products),
        count("SearchIndexBytes", published.bytes),
    ]);
    Ok(json!({
        "records": records,
        "version": published.version,
        "products": published.products,
        "bytes": published.bytes,
        "changed": published.changed,
        "built": published.built,
        "stored": published.stored,
    }))
}
