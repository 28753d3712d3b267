//! Request and trace ids for the logs: every log line of a request carries both (see
//! `log_requests` in the crate root), and the answer names the request id so a customer's
//! complaint can be matched to its lines.
//!
//! - The request id is the caller's `x-request-id` when it is a plain token of 1–64 characters
//!   (`[A-Za-z0-9._-]`: a proxy's or API Gateway's id), otherwise a new ULID. Anything else a
//!   client sends is not echoed into the logs.
//! - The trace id is the W3C `traceparent` trace id, else the root of an X-Ray
//!   `X-Amzn-Trace-Id` header (`Root=1-5759e988-bd862e3fe1be46a994272793`, written as the
//!   32 hex digits X-Ray and W3C share), else a new random one.

use axum::http::HeaderMap;
use axum::http::header::HeaderName;

/// The response header that names the request.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIds {
    pub request_id: String,
    /// 32 lowercase hex digits.
    pub trace_id: String,
}

impl RequestIds {
    pub fn of(headers: &HeaderMap) -> RequestIds {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let request_id = header("x-request-id")
            .filter(|v| {
                (1..=64).contains(&v.len())
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            })
            .map(str::to_owned)
            .unwrap_or_else(|| ulid::Ulid::new().to_string());
        let trace_id = header("traceparent")
            .and_then(w3c_trace_id)
            .or_else(|| header("x-amzn-trace-id").and_then(xray_trace_id))
            .unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()));
        RequestIds {
            request_id,
            trace_id,
        }
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `00-{trace id, 32 hex}-{parent id, 16 hex}-{flags, 2 hex}`; an all-zero id is invalid
/// (W3C Trace Context, "trace-id").
fn w3c_trace_id(value: &str) -> Option<String> {
    let parts: Vec<&str> = value.trim().split('-').collect();
    match parts.as_slice() {
        [version, trace, parent, flags]
            if is_hex(version, 2)
                && *version != "ff"
                && is_hex(trace, 32)
                && is_hex(parent, 16)
                && is_hex(flags, 2)
                && trace.bytes().any(|b| b != b'0') =>
        {
            Some(trace.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// `Root=1-{8 hex time}-{24 hex}` among `;`-separated fields (X-Ray, "Tracing header").
fn xray_trace_id(value: &str) -> Option<String> {
    value.split(';').find_map(|field| {
        let root = field.trim().strip_prefix("Root=")?;
        let parts: Vec<&str> = root.split('-').collect();
        match parts.as_slice() {
            ["1", time, id] if is_hex(time, 8) && is_hex(id, 24) => {
                Some(format!("{time}{id}").to_ascii_lowercase())
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ids(pairs: &[(&'static str, &str)]) -> RequestIds {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        RequestIds::of(&headers)
    }

    #[test]
    fn a_w3c_traceparent_gives_the_trace_id() {
        let got = ids(&[(
            "traceparent",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        )]);
        assert_eq!(got.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn an_xray_header_gives_its_root() {
        let got = ids(&[(
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )]);
        assert_eq!(got.trace_id, "5759e988bd862e3fe1be46a994272793");
    }

    #[test]
    fn malformed_or_missing_headers_get_fresh_ids() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f35-00f067aa0ba902b7-01",
            "ana@example.com",
        ] {
            let got = ids(&[("traceparent", bad), ("x-request-id", "ana@example.com")]);
            assert_eq!(got.trace_id.len(), 32, "{bad}");
            assert!(!got.trace_id.contains('@'));
            assert_eq!(got.request_id.len(), 26, "a ULID, not the header");
        }
        let a = ids(&[]);
        let b = ids(&[]);
        assert_ne!(a.trace_id, b.trace_id);
        assert_ne!(a.request_id, b.request_id);
    }

    #[test]
    fn a_plain_request_id_is_kept() {
        assert_eq!(
            ids(&[("x-request-id", "c6e1a0b2-req.7")]).request_id,
            "c6e1a0b2-req.7"
        );
    }
}
