//! Web security of the router: which other origins may call the API (CORS), how many requests
//! one client may make, and the response headers every answer carries.
//!
//! - **CORS**: off unless origins are listed. The web apps are served from the API's own origin
//!   (locally by `vitrine serve`, on AWS by CloudFront in front of both), so a browser needs no
//!   CORS for them; a shop's other front end is allowed by listing its exact origin
//!   (`https://loja.example.com`). Tokens travel in the `Authorization` header, never in
//!   cookies, so credentials are never allowed.
//! - **The client's address** ([`note_client_address`]): the TCP peer's, unless the peer is one of
//!   the `trusted_proxies` the operator listed (a reverse proxy in front of `vitrine serve`):
//!   then the `X-Forwarded-For` chain is read from the right, skipping trusted proxies, and the
//!   first address that is not one is the client (what a client writes itself on the left of
//!   the chain is never believed). Limits group IPv6 addresses by their /64, the block one
//!   subscriber usually holds ([`group`]). On Lambda there is no peer, and API Gateway's
//!   throttling and the WAF's rate rule (template) limit clients.
//! - **Rate limit**: a token bucket per client address over `/api/` and `/media/` paths: `per_minute` tokens a
//!   minute, up to `burst` at once. A client over it gets `429` with `Retry-After`.
//! - **Headers**: `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
//!   `X-Frame-Options: DENY`, and on answers that are not pages a `Content-Security-Policy` of
//!   `default-src 'none'; frame-ancestors 'none'` (pages carry their own, `web.rs`).
//!   `Strict-Transport-Security` when the store's public URL is `https://`.
//! - **A card provider's script**: when the provider that takes cards tokenises them with its
//!   own script (`PaymentProvider::browser`), the pages' policy allows that provider's origins in
//!   `script-src`, `connect-src` and `frame-src` ([`page_policy`]), and nothing else; with no such
//!   provider the pages keep `web::CONTENT_SECURITY_POLICY` unchanged.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};
use vitrine_app::AppError;

use crate::problem::Problem;

/// The security settings of a router.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// Exact origins (`scheme://host[:port]`) allowed to call the API from a browser.
    pub cors_origins: Vec<String>,
    /// Requests per client address; `None`: no limit here.
    pub rate_limit: Option<RateLimit>,
    /// Send `Strict-Transport-Security` (the store is served over TLS).
    pub hsts: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The store's public address (`https://loja.example`), for absolute links in the pages
    /// rendered on the server and the sitemap; `None`: the address each request came to.
    pub public_url: Option<String>,
}

/// The client's address as [`note_client_address`] found it (a request extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// A trusted proxy setting: an address (`10.0.0.2`, `::1`) or a CIDR range (`10.0.0.0/8`).
pub fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<ipnet::IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| format!("{text:?} is not an IP address or a CIDR range (10.0.0.0/8)"))
}

/// The client behind `peer`: `peer` itself unless it is a trusted proxy; then the right-most
/// address of `forwarded_for` that is not a trusted proxy (an unreadable entry stops the walk
/// at the last address known good).
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut client = peer;
    if !is_trusted(&client) {
        return client;
    }
    for entry in forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .rev()
        .map(str::trim)
    {
        let Some(ip) = parse_forwarded(entry) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, maybe with a port (`1.2.3.4:5678`, `[::1]:80`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    entry
        .parse::<SocketAddr>()
        .ok()
        .map(|s| s.ip())
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse().ok())
        })
}

/// The address limits count under: IPv4 as is, IPv6 by its /64 (one subscriber's block, which
/// a client can walk through freely), an IPv4-mapped IPv6 address as its IPv4.
pub fn group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(bits))
            }
        },
    }
}

/// The middleware that finds the client's address once per request ([`client_ip`]) and puts
/// it in the request's extensions as [`ClientIp`].
pub(crate) fn note_client_address(req: &mut Request, trusted: &[ipnet::IpNet]) {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let ip = client_ip(peer, &forwarded, trusted);
        req.extensions_mut().insert(ClientIp(ip));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

impl RateLimit {
    /// The local default: 600 requests a minute per address, 120 at once — far above what a
    /// person's browser sends, far below what a script hammering the API would.
    pub const DEFAULT: RateLimit = RateLimit {
        per_minute: 600,
        burst: 120,
    };
}

/// Check an origin for the CORS list: `scheme://host[:port]`, nothing after it.
pub fn check_origin(origin: &str) -> Result<(), String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("{origin:?} must start with https:// or http://"))?;
    let host_ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !host_ok {
        return Err(format!(
            "{origin:?} is not an origin: write scheme://host[:port], with no path or slash"
        ));
    }
    HeaderValue::from_str(origin).map_err(|_| format!("{origin:?} is not a valid header value"))?;
    Ok(())
}

/// The CORS layer for `origins` (checked with [`check_origin`]); `None` for an empty list.
pub(crate) fn cors(origins: &[String]) -> Option<CorsLayer> {
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter(|o| check_origin(o).is_ok())
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if list.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(list))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                header::IF_NONE_MATCH,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("x-cart-token"),
            ])
            .expose_headers([
                header::ETAG,
                header::LOCATION,
                header::RETRY_AFTER,
                HeaderName::from_static("x-request-id"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// Token buckets by client address.
#[derive(Debug)]
pub struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Past this many addresses, full buckets are forgotten (they are the same as new ones).
const PRUNE_ABOVE: usize = 10_000;

impl Limiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::default(),
        }
    }

    fn rate(&self) -> f64 {
        f64::from(self.limit.per_minute.max(1)) / 60.0
    }

    /// Take one token for `ip` at `now`: `Ok`, or `Err(seconds until one is free)`.
    pub fn take(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let burst = f64::from(self.limit.burst.max(1));
        let rate = self.rate();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
            });
        }
        let b = buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * rate;
        b.tokens = (b.tokens + refill).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

/// The rate-limit middleware: `/api/` requests of a client over its limit get `429`.
pub(crate) async fn limit(
    State(limiter): State<Arc<Limiter>>,
    req: Request,
    next: Next,
) -> Response {
    let client = req.extensions().get::<ClientIp>().map(|c| c.0);
    if let Some(ip) = client
        && limited(req.uri().path())
        && let Err(retry_after_secs) = limiter.take(group(ip), Instant::now())
    {
        tracing::warn!(retry_after_secs, "client over its request rate limit");
        return Problem::from(AppError::TooManyRequests { retry_after_secs }).into_response();
    }
    next.run(req).await
}

/// The paths the per-client limit counts: the API and product images (each image is read from
/// the blob store; the web apps' own files are compiled in and cost nothing to serve).
fn limited(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/media/")
}

/// The origins the card provider's browser script needs, checked like CORS origins (an origin
/// that is not `scheme://host[:port]` is left out, and logged).
pub fn payment_origins(app: &vitrine_app::App) -> Vec<String> {
    let mut origins: Vec<String> = app
        .ports
        .payments
        .iter()
        .filter(|p| p.methods().contains(&vitrine_domain::order::PaymentMethod::Card))
        .filter_map(|p| p.browser())
        .flat_map(|b| b.origins)
        .filter(|o| match check_origin(o) {
            Ok(()) => true,
            Err(why) => {
                tracing::error!(origin = %o, why, "a payment provider's origin left out of the page policy");
                false
            }
        })
        .collect();
    origins.sort();
    origins.dedup();
    origins
}

/// The pages' Content-Security-Policy with `origins` allowed to serve scripts, answer
/// connections and show frames (a card provider's tokenisation and 3-D Secure).
pub fn page_policy(origins: &[String]) -> String {
    let list = origins.join(" ");
    crate::web::CONTENT_SECURITY_POLICY
        .replace("script-src 'self'", &format!("script-src 'self' {list}"))
        .replace("connect-src 'self'", &format!("connect-src 'self' {list}"))
        .replace(
            "frame-ancestors",
            &format!("frame-src 'self' {list}; frame-ancestors"),
        )
}

/// Put `policy` (from [`page_policy`]) on the pages, in place of their own.
pub(crate) async fn widen_pages(
    State(policy): State<Arc<HeaderValue>>,
    req: Request,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if h.get(header::CONTENT_SECURITY_POLICY)
        .is_some_and(|v| v.as_bytes() == crate::web::CONTENT_SECURITY_POLICY.as_bytes())
    {
        h.insert(header::CONTENT_SECURITY_POLICY, (*policy).clone());
    }
    res
}

/// The headers every answer carries (see the module docs), where the answer has not set them.
pub(crate) fn add_headers(hsts: bool, h: &mut axum::http::HeaderMap) {
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    );
    if hsts {
        set(
            h,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_names_it() {
        let trusted = vec![
            parse_proxy("10.0.0.0/8").unwrap(),
            parse_proxy("::1").unwrap(),
        ];
        // An untrusted peer's header is never believed.
        assert_eq!(
            client_ip(ip("203.0.113.9"), &["1.2.3.4"], &trusted),
            ip("203.0.113.9")
        );
        // Behind the proxy: the right-most address that is not a proxy; what the client wrote
        // on the left is ignored.
        assert_eq!(
            client_ip(
                ip("10.0.0.2"),
                &["6.6.6.6, 198.51.100.7, 10.0.0.5"],
                &trusted
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(ip("::1"), &["6.6.6.6", "198.51.100.7:4431"], &trusted),
            ip("198.51.100.7")
        );
        // No header, or garbage at the end of the chain: the proxy (never a guess).
        assert_eq!(client_ip(ip("10.0.0.2"), &[], &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["6.6.6.6, not-an-ip"], &trusted),
            ip("10.0.0.2")
        );
        assert!(parse_proxy("10.0.0.0/33").is_err());
        assert!(parse_proxy("proxy.local").is_err());
    }

    #[test]
    fn limits_group_ipv6_by_its_64() {
        assert_eq!(group(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            group(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            ip("2001:db8:1:2::")
        );
        assert_ne!(group(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(group(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(group(ip("192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn the_page_policy_allows_the_provider_s_origins_for_scripts_connections_and_frames_only() {
        let policy = page_policy(&["https://sdk.mercadopago.com".into()]);
        for directive in ["script-src", "connect-src", "frame-src"] {
            let part = policy
                .split(';')
                .map(str::trim)
                .find(|d| d.starts_with(directive))
                .unwrap_or_else(|| panic!("{directive} in {policy}"));
            assert!(part.contains("https://sdk.mercadopago.com"), "{part}");
        }
        for directive in ["style-src", "img-src", "default-src", "form-action"] {
            let part = policy
                .split(';')
                .map(str::trim)
                .find(|d| d.starts_with(directive))
                .unwrap();
            assert!(!part.contains("mercadopago"), "{part}");
        }
    }

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        for ok in [
            "https://loja.example.com",
            "http://localhost:5173",
            "https://[::1]:8443",
        ] {
            assert!(check_origin(ok).is_ok(), "{ok}");
        }
        for bad in [
            "loja.example.com",
            "https://loja.example.com/",
            "https://loja.example.com/app",
            "https://",
            "*",
            "ftp://x",
            "https://a b",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let l = Limiter::new(RateLimit {
            per_minute: 60,
            burst: 3,
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.take(ip, t0), Ok(()));
        }
        assert_eq!(l.take(ip, t0), Err(1));
        assert_eq!(
            l.take(other, t0),
            Ok(()),
            "addresses have their own buckets"
        );
        assert_eq!(l.take(ip, t0 + Duration::from_millis(1000)), Ok(()));
        assert!(l.take(ip, t0 + Duration::from_millis(1000)).is_err());
        // Idle for long: back to the burst, never above it.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(l.take(ip, later), Ok(()));
        }
        assert!(l.take(ip, later).is_err());
    }

    #[test]
    fn the_retry_after_is_when_the_next_token_comes() {
        let l = Limiter::new(RateLimit {
            per_minute: 6,
            burst: 1,
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(l.take(ip, t0), Ok(()));
        assert_eq!(l.take(ip, t0), Err(10));
        assert!(matches!(
            l.take(ip, t0 + Duration::from_secs(4)),
            Err(6..=7)
        ));
    }
}
