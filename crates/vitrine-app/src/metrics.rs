//! The store's metrics, kept in memory by the process that records them: requests by route
//! template and status with a latency histogram, orders placed, revenue, checkout failures by
//! reason, outbox lag, dead letters.
//!
//! Two ways out:
//! - [`Metrics::prometheus`]: the Prometheus text exposition format, version 0.0.4
//!   (<https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>), for the
//!   local shape's `/metrics`;
//! - [`emf_request`]: a CloudWatch Embedded Metric Format record for one request, which a Lambda
//!   writes as a log line (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>).
//!
//! Labels are bounded: route templates (never paths), status codes, reasons from a fixed list,
//! subscriber names. No label ever holds an id or personal data.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use serde_json::{Value, json};

use crate::error::AppError;

/// Upper bounds (seconds) of the request latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The CloudWatch namespace of the store's metrics.
pub const NAMESPACE: &str = "vitrine";

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Per bucket of [`LATENCY_BUCKETS`] (not cumulative), then +Inf.
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

/// The metrics of one process.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    orders_placed: AtomicU64,
    revenue_centavos: AtomicU64,
    checkout_failures: Mutex<BTreeMap<&'static str, u64>>,
    /// Milliseconds since the oldest event still in the outbox was written; 0 when empty.
    outbox_lag_ms: AtomicI64,
    /// Deliveries in the dead-letter lists, as of the last look.
    dead_letters: AtomicI64,
}

/// Why a checkout failed, as a metric label.
pub fn failure_reason(e: &AppError) -> &'static str {
    match e {
        AppError::Invalid(_) => "invalid",
        AppError::OutOfStock { .. } => "out_of_stock",
        AppError::UnpaidLimit(_) => "unpaid_limit",
        AppError::Rule(_) => "rule",
        AppError::Conflict(_) | AppError::VersionMismatch(_) => "conflict",
        AppError::IdempotencyMismatch => "idempotency_mismatch",
        AppError::NotFound(_) => "not_found",
        AppError::Unauthenticated | AppError::Forbidden | AppError::Unauthorized(_) => "auth",
        AppError::TooManyRequests { .. } => "rate_limited",
        AppError::Unavailable(_) => "unavailable",
        _ => "internal",
    }
}

impl Metrics {
    /// One answered request: its route template (`unmatched` when none), status and time.
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((method.to_owned(), route.to_owned(), status))
            .or_default()
            .observe(seconds);
    }

    pub fn order_placed(&self) {
        self.orders_placed.fetch_add(1, Ordering::Relaxed);
    }

    /// Money received for an order (a payment settled it).
    pub fn revenue(&self, centavos: i64) {
        self.revenue_centavos
            .fetch_add(centavos.max(0) as u64, Ordering::Relaxed);
    }

    pub fn checkout_failed(&self, reason: &'static str) {
        let mut map = self
            .checkout_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *map.entry(reason).or_default() += 1;
    }

    pub fn set_outbox_lag_ms(&self, ms: i64) {
        self.outbox_lag_ms.store(ms.max(0), Ordering::Relaxed);
    }

    pub fn set_dead_letters(&self, n: i64) {
        self.dead_letters.store(n.max(0), Ordering::Relaxed);
    }

    /// Everything, in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP vitrine_http_requests_total Answered API requests.\n");
        out.push_str("# TYPE vitrine_http_requests_total counter\n");
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for ((method, route, status), h) in &requests {
            let _ = writeln!(
                out,
                "vitrine_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(method),
                escape(route),
                h.count
            );
        }
        out.push_str("# HELP vitrine_http_request_duration_seconds Time to answer API requests.\n");
        out.push_str("# TYPE vitrine_http_request_duration_seconds histogram\n");
        // Histograms by method and route (all statuses together).
        let mut by_route: BTreeMap<(&str, &str), Histogram> = BTreeMap::new();
        for ((method, route, _), h) in &requests {
            let merged = by_route.entry((method, route)).or_default();
            for (m, b) in merged.buckets.iter_mut().zip(h.buckets) {
                *m += b;
            }
            merged.sum += h.sum;
            merged.count += h.count;
        }
        for ((method, route), h) in &by_route {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            let mut cumulative = 0;
            for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "vitrine_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "vitrine_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "vitrine_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "vitrine_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, value: i64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
            );
        };
        counter(
            &mut out,
            "vitrine_orders_placed_total",
            "Orders placed (retries with the same Idempotency-Key count once).",
            self.orders_placed.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "vitrine_revenue_centavos_total",
            "Money received for orders, in centavos.",
            self.revenue_centavos.load(Ordering::Relaxed),
        );
        out.push_str("# HELP vitrine_checkout_failures_total Checkouts refused, by reason.\n");
        out.push_str("# TYPE vitrine_checkout_failures_total counter\n");
        for (reason, n) in self
            .checkout_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "vitrine_checkout_failures_total{{reason=\"{reason}\"}} {n}"
            );
        }
        gauge(
            &mut out,
            "vitrine_outbox_lag_seconds",
            "Age of the oldest event not yet fanned out to its subscribers.",
            self.outbox_lag_ms.load(Ordering::Relaxed) / 1000,
        );
        gauge(
            &mut out,
            "vitrine_dead_letters",
            "Deliveries waiting in the dead-letter lists.",
            self.dead_letters.load(Ordering::Relaxed),
        );
        out
    }
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The EMF record of one answered request: `Requests` (Count) and `Latency` (Milliseconds) by
/// `Route` and `Status`, and by `Route` alone, in [`NAMESPACE`].
pub fn emf_request(
    timestamp_ms: i64,
    service: &str,
    route: &str,
    status: u16,
    latency_ms: f64,
) -> Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Service", "Route", "Status"], ["Service", "Route"]],
                "Metrics": [
                    { "Name": "Requests", "Unit": "Count" },
                    { "Name": "Latency", "Unit": "Milliseconds" }
                ]
            }]
        },
        "Service": service,
        "Route": route,
        "Status": status.to_string(),
        "Requests": 1,
        "Latency": latency_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_has_cumulative_buckets_and_escaped_labels() {
        let m = Metrics::default();
        m.request("GET", "/api/v1/products", 200, 0.003);
        m.request("GET", "/api/v1/products", 200, 0.2);
        m.request("GET", "/api/v1/products", 404, 20.0);
        m.request("GET", "we\"ird\\route", 500, 0.01);
        m.order_placed();
        m.revenue(12_345);
        m.checkout_failed("out_of_stock");
        m.checkout_failed("out_of_stock");
        m.set_outbox_lag_ms(2_500);
        let text = m.prometheus();
        for line in [
            "vitrine_http_requests_total{method=\"GET\",route=\"/api/v1/products\",status=\"200\"} 2",
            "vitrine_http_requests_total{method=\"GET\",route=\"/api/v1/products\",status=\"404\"} 1",
            "vitrine_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/products\",le=\"0.005\"} 1",
            "vitrine_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/products\",le=\"0.25\"} 2",
            "vitrine_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/products\",le=\"10\"} 2",
            "vitrine_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/products\",le=\"+Inf\"} 3",
            "vitrine_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/products\"} 3",
            "route=\"we\\\"ird\\\\route\"",
            "vitrine_orders_placed_total 1",
            "vitrine_revenue_centavos_total 12345",
            "vitrine_checkout_failures_total{reason=\"out_of_stock\"} 2",
            "vitrine_outbox_lag_seconds 2",
            "vitrine_dead_letters 0",
        ] {
            assert!(text.contains(line), "{line} missing in:\n{text}");
        }
    }
}
