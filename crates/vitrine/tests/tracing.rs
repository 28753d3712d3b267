//! One checkout is one trace: the request's span, the table writes it makes (the one that puts
//! the event into the outbox among them), the outbox fan-out of its event, and the e-mail
//! consumer that handles it all carry the trace id the request came with (`traceparent`), even
//! though the consumer runs later, in the dispatcher. Spans are collected by a tracing layer
//! installed for this test binary; every wait is bounded.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::{TestApp, buy_now};
use reqwest::Method;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Subscriber, span};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// A closed span: its name, its own fields, and the trace id found on it or an ancestor.
#[derive(Debug, Clone)]
struct Collected {
    name: String,
    fields: BTreeMap<String, String>,
    trace_id: Option<String>,
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

struct Collector(Arc<Mutex<Vec<Collected>>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Collector {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(fields);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let own = span
            .extensions()
            .get::<Fields>()
            .map(|f| f.0.clone())
            .unwrap_or_default();
        let trace_id = span.scope().find_map(|s| {
            s.extensions()
                .get::<Fields>()
                .and_then(|f| f.0.get("trace_id").cloned())
                .filter(|t| !t.is_empty())
        });
        self.0.lock().unwrap().push(Collected {
            name: span.name().to_owned(),
            fields: own,
            trace_id,
        });
    }
}

fn collected() -> &'static Arc<Mutex<Vec<Collected>>> {
    static SPANS: OnceLock<Arc<Mutex<Vec<Collected>>>> = OnceLock::new();
    SPANS.get_or_init(|| {
        let spans = Arc::new(Mutex::new(Vec::new()));
        tracing_subscriber::registry()
            .with(
                Collector(spans.clone()).with_filter(
                    tracing_subscriber::filter::Targets::new()
                        .with_target("vitrine_http", tracing::Level::DEBUG)
                        .with_target("vitrine_app", tracing::Level::DEBUG),
                ),
            )
            .init();
        spans
    })
}

#[tokio::test]
async fn one_checkout_is_one_trace_from_the_request_to_the_email_consumer() {
    let spans = collected().clone();
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "rastro", &[("RASTRO-1", 5)]).await;
    let ana = t.customer("ana@example.com").await;

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let res = t
        .req(Method::POST, "/api/v1/orders", Some(&ana))
        .header("Idempotency-Key", "trace-1")
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .json(&buy_now("RASTRO-1", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let in_trace = || -> Vec<Collected> {
        spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id.as_deref() == Some(trace))
            .cloned()
            .collect()
    };
    let mut seen = Vec::new();
    for _ in 0..200 {
        seen = in_trace();
        if seen.iter().any(|s| {
            s.name == "consume" && s.fields.get("subscriber").map(String::as_str) == Some("email")
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let has = |name: &str, field: &str, value: &str| {
        seen.iter()
            .any(|s| s.name == name && s.fields.get(field).map(String::as_str) == Some(value))
    };
    assert!(has("request", "http.route", "/api/v1/orders"), "{seen:#?}");
    assert!(
        has("table.write", "outbox", "true"),
        "the outbox write: {seen:#?}"
    );
    assert!(
        has("outbox.fan_out", "event.type", "order.placed"),
        "{seen:#?}"
    );
    assert!(has("consume", "subscriber", "email"), "{seen:#?}");
    assert!(has("consume", "event.type", "order.placed"), "{seen:#?}");
    // Other requests are other traces.
    let others = spans
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.name == "request" && s.trace_id.as_deref() != Some(trace))
        .count();
    assert!(others > 0, "the setup's requests have traces of their own");
}
