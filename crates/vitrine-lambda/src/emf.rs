//! The one CloudWatch Embedded Metric Format writer of the Lambda functions: a function names
//! itself once ([`Emf::new`], the `Service` dimension) and writes the counts of an invocation
//! as one record, one line of its own on stdout, which CloudWatch Logs turns into metrics with
//! no agent and no API call
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>).
//!
//! A record is `{"_aws": {"Timestamp": ms, "CloudWatchMetrics": [{"Namespace": "vitrine",
//! "Dimensions": [["Service"]], "Metrics": [{"Name", "Unit"}…]}]}, "Service": "…", "<Name>":
//! value…}`: values at the top level, every dimension a string member of the root.
//!
//! What each function writes (the alarms and the dashboard of `infra/template.yaml` refer to
//! these names; `tests/alarm_metrics.rs` runs the binaries and proves they do):
//!
//! | function (`Service`) | metrics |
//! |---|---|
//! | `api` | `Requests`, `Latency` by `Route`/`Status` (`vitrine_app::metrics::emf_request`) |
//! | `events_stream` | `EventsPublished`, `EventsFailed`, `EventsSkipped` |
//! | a queue consumer (`email`, `sms`, `realtime`, `admin-alerts`, `payments`, `invoices`: the subscriber's name) | `MessagesHandled`, `MessagesFailed`, `MessagesRejected` |
//! | `ws` | `Connections`, `ConnectionsRefused`, `Disconnections`, `Resumes` |
//! | `expire` | `OrdersExpired`; `PaymentsSettledByReconciliation`, `PaymentDifferences` (reconciliation jobs) |
//! | `reports` | `ReportsWritten`, `ReportOrders` |
//!
//! The queue consumers get theirs from [`crate::events::run_consumer`]; another function adds its
//! own in one line: `Emf::new("invoices").emit(&[count("InvoicesIssued", n)])`.

use serde_json::{Map, Value, json};

/// The namespace of every vitrine metric (the api's per-request records use the same).
pub const NAMESPACE: &str = vitrine_app::metrics::NAMESPACE;

/// The dimension every record carries: the function (or subscriber) that wrote it.
pub const SERVICE: &str = "Service";

/// A CloudWatch unit (the specification's list; the ones the functions use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One metric's value in a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
    pub value: f64,
}

/// A count, e.g. `count("OrdersExpired", 3)`.
pub fn count(name: &'static str, value: u64) -> Metric {
    Metric {
        name,
        unit: Unit::Count,
        value: value as f64,
    }
}

/// A duration in milliseconds.
pub fn millis(name: &'static str, value: f64) -> Metric {
    Metric {
        name,
        unit: Unit::Milliseconds,
        value,
    }
}

/// The writer of one function (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emf {
    service: &'static str,
}

impl Emf {
    /// The writer of the function (or subscriber) named `service`.
    pub const fn new(service: &'static str) -> Self {
        Self { service }
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The record of `metrics` at `timestamp_ms` (milliseconds since the epoch). Pure.
    ///
    /// # Panics
    /// Never for the names the functions use; a metric named `Service` or `_aws` would clash
    /// with the record's own members and is a programming error (debug assertion).
    pub fn record(&self, timestamp_ms: i64, metrics: &[Metric]) -> Value {
        let definitions: Vec<Value> = metrics
            .iter()
            .map(|m| json!({ "Name": m.name, "Unit": m.unit.as_str() }))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [[SERVICE]],
                    "Metrics": definitions,
                }]
            }),
        );
        root.insert(SERVICE.into(), Value::String(self.service.into()));
        for m in metrics {
            debug_assert!(m.name != SERVICE && m.name != "_aws", "{}", m.name);
            root.insert(m.name.into(), json!(m.value));
        }
        Value::Object(root)
    }

    /// Write the record of `metrics`, now, as a line of its own on stdout. Nothing when
    /// `metrics` is empty (a record must define at least one metric).
    pub fn emit(&self, metrics: &[Metric]) {
        if metrics.is_empty() {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        println!("{}", self.record(now, metrics));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_puts_values_and_the_service_at_the_top_level() {
        let record = Emf::new("expire").record(
            1_767_225_600_000,
            &[count("OrdersExpired", 3), millis("SweepTime", 12.5)],
        );
        assert_eq!(record["_aws"]["Timestamp"], 1_767_225_600_000_i64);
        let directive = &record["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "vitrine");
        assert_eq!(directive["Dimensions"], json!([["Service"]]));
        assert_eq!(
            directive["Metrics"],
            json!([
                { "Name": "OrdersExpired", "Unit": "Count" },
                { "Name": "SweepTime", "Unit": "Milliseconds" }
            ])
        );
        assert_eq!(record["Service"], "expire");
        assert_eq!(record["OrdersExpired"], 3.0);
        assert_eq!(record["SweepTime"], 12.5);
    }
}
