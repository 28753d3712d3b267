//! X-Ray subsegments for the AWS calls a Lambda invocation makes, sent to the X-Ray daemon.
//!
//! Lambda traces each invocation (the template's `Tracing: Active`) and gives its trace header
//! (`Root=1-…;Parent=…;Sampled=1`); the function's own work shows in the trace only as the
//! subsegments it sends. [`XrayInterceptor`], registered on every SDK client the adapters build,
//! times each call and, inside a [`scope`] with a sampled trace, sends one subsegment document per
//! call to the daemon at `AWS_XRAY_DAEMON_ADDRESS` over UDP, in the segment document format
//! (<https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html>):
//! a `{"format":"json","version":1}` header line, then the document, with `trace_id` and
//! `parent_id` from the header, a new 16-hex `id`, `start_time`/`end_time` in epoch seconds,
//! `namespace: "aws"`, the service as `name` and the operation in `aws.operation`; `error` marks a
//! 4xx answer, `throttle` a 429, `fault` a 5xx or no answer at all.
//!
//! Outside a scope (the local shape, tests) and for unsampled traces nothing is sent. Sending is
//! best effort: UDP, never blocking, never failing the call.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::{Value, json};

/// The invocation's trace, from its `X-Amzn-Trace-Id` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    /// `1-{8 hex}-{24 hex}`.
    pub root: String,
    /// The segment the subsegments belong to (Lambda's function segment).
    pub parent: Option<String>,
    pub sampled: bool,
}

impl TraceHeader {
    /// `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`.
    pub fn parse(value: &str) -> Option<TraceHeader> {
        let mut root = None;
        let mut parent = None;
        let mut sampled = false;
        for field in value.split(';') {
            match field.trim().split_once('=') {
                Some(("Root", v)) => root = Some(v.to_owned()),
                Some(("Parent", v)) if v.len() == 16 => parent = Some(v.to_owned()),
                Some(("Sampled", v)) => sampled = v == "1",
                _ => {}
            }
        }
        let root = root.filter(|r| {
            let parts: Vec<&str> = r.split('-').collect();
            matches!(parts.as_slice(), ["1", t, id] if t.len() == 8 && id.len() == 24
                && t.bytes().chain(id.bytes()).all(|b| b.is_ascii_hexdigit()))
        })?;
        Some(TraceHeader {
            root,
            parent,
            sampled,
        })
    }
}

/// The X-Ray daemon: where documents go.
#[derive(Debug, Clone)]
pub struct Daemon {
    socket: Arc<UdpSocket>,
    addr: SocketAddr,
}

impl Daemon {
    /// The daemon at `address` (`host:port`, or Lambda's `tcp:… udp:host:port` form).
    pub fn new(address: &str) -> std::io::Result<Daemon> {
        let udp = address
            .split_whitespace()
            .find_map(|part| part.strip_prefix("udp:"))
            .unwrap_or(address);
        let addr = udp.to_socket_addrs()?.next().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "no daemon address")
        })?;
        let socket = UdpSocket::bind(if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        })?;
        socket.set_nonblocking(true)?;
        Ok(Daemon {
            socket: Arc::new(socket),
            addr,
        })
    }

    /// The daemon Lambda names in `AWS_XRAY_DAEMON_ADDRESS`, if any.
    pub fn from_env() -> Option<Daemon> {
        let address = std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok()?;
        match Daemon::new(&address) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(error = %e, "X-Ray daemon address unusable; no subsegments");
                None
            }
        }
    }

    /// Send one document (best effort).
    pub fn send(&self, document: &Value) {
        let packet = format!("{{\"format\":\"json\",\"version\":1}}\n{document}");
        if let Err(e) = self.socket.send_to(packet.as_bytes(), self.addr) {
            tracing::debug!(error = %e, "X-Ray document not sent");
        }
    }
}

tokio::task_local! {
    static CURRENT: Option<(Daemon, TraceHeader)>;
}

/// Run `f` with its AWS calls traced as subsegments of `trace` (when sampled), sent to `daemon`.
pub async fn scope<F: std::future::Future>(
    trace: Option<(Daemon, TraceHeader)>,
    f: F,
) -> F::Output {
    CURRENT.scope(trace, f).await
}

fn current() -> Option<(Daemon, TraceHeader)> {
    CURRENT
        .try_with(Clone::clone)
        .ok()
        .flatten()
        .filter(|(_, t)| t.sampled)
}

fn epoch_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// How a call ended, as X-Ray marks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An answer with this HTTP status.
    Status(u16),
    /// No answer (connection, timeout).
    NoResponse,
}

/// The subsegment document of one AWS call.
pub fn subsegment(
    trace: &TraceHeader,
    service: &str,
    operation: &str,
    start: SystemTime,
    end: SystemTime,
    outcome: Outcome,
) -> Value {
    let mut doc = json!({
        "name": service,
        "id": format!("{:016x}", rand_u64()),
        "trace_id": trace.root,
        "start_time": epoch_secs(start),
        "end_time": epoch_secs(end),
        "type": "subsegment",
        "namespace": "aws",
        "aws": { "operation": operation },
    });
    if let Some(parent) = &trace.parent {
        doc["parent_id"] = json!(parent);
    }
    match outcome {
        Outcome::Status(status) => {
            doc["http"] = json!({ "response": { "status": status } });
            if (400..500).contains(&status) {
                doc["error"] = json!(true);
            }
            if status == 429 {
                doc["throttle"] = json!(true);
            }
            if status >= 500 {
                doc["fault"] = json!(true);
            }
        }
        Outcome::NoResponse => doc["fault"] = json!(true),
    }
    doc
}

/// 64 random bits, never zero (X-Ray ids are 16 hex digits).
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() | 1
}

#[derive(Debug, Clone)]
struct Started(SystemTime);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// The SDK interceptor that sends a subsegment per call (see the module docs).
#[derive(Debug, Default, Clone, Copy)]
pub struct XrayInterceptor;

impl Intercept for XrayInterceptor {
    fn name(&self) -> &'static str {
        "XrayInterceptor"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if current().is_some() {
            cfg.interceptor_state()
                .store_put(Started(SystemTime::now()));
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (Some((daemon, trace)), Some(Started(start))) = (current(), cfg.load::<Started>())
        else {
            return Ok(());
        };
        let (service, operation) = cfg
            .load::<Metadata>()
            .map_or(("AWS", "unknown"), |m| (m.service(), m.name()));
        let outcome = match context.response() {
            Some(r) => Outcome::Status(r.status().as_u16()),
            None => Outcome::NoResponse,
        };
        daemon.send(&subsegment(
            &trace,
            service,
            operation,
            *start,
            SystemTime::now(),
            outcome,
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lambda_trace_header_is_read() {
        let t = TraceHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .unwrap();
        assert_eq!(t.root, "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(t.parent.as_deref(), Some("53995c3f42cd8ad8"));
        assert!(t.sampled);
        let unsampled =
            TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0").unwrap();
        assert!(!unsampled.sampled && unsampled.parent.is_none());
        assert_eq!(TraceHeader::parse("Root=2-xyz;Sampled=1"), None);
        assert_eq!(TraceHeader::parse("Sampled=1"), None);
    }

    #[test]
    fn statuses_are_marked_as_xray_marks_them() {
        let t = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1").unwrap();
        let at = UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600);
        let doc = |o| subsegment(&t, "DynamoDB", "GetItem", at, at, o);
        assert!(doc(Outcome::Status(200)).get("error").is_none());
        assert_eq!(doc(Outcome::Status(400))["error"], true);
        assert_eq!(doc(Outcome::Status(429))["throttle"], true);
        assert_eq!(doc(Outcome::Status(503))["fault"], true);
        assert_eq!(doc(Outcome::NoResponse)["fault"], true);
        assert!(doc(Outcome::Status(200)).get("parent_id").is_none());
    }
}
