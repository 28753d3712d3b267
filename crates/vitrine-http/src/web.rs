//! The web apps — the storefront (`web/`) and the admin (`web/admin/`) — embedded in the binary
//! at build time (`build.rs`) and served by `vitrine serve` for every path the API does not take
//! ([`crate::router_with_site`]). On AWS, CloudFront serves the same files from S3; the API
//! Lambda's router does not include them.
//!
//! - Paths map to files; `/x/` and `/x` (no extension) serve `x/index.html` when it exists, as
//!   the CloudFront function of the template does. Any other extension-less path is a page of a
//!   single-page app: `/admin/...` gets the admin's `index.html`, the rest the storefront's.
//! - Every answer has a strong `ETag` (a hash of the content) and `Cache-Control: no-cache`: the
//!   browser keeps the files and revalidates them (`304`), so a new binary never mixes old and new
//!   modules. Text files are gzip-compressed once, on first use, for clients that accept it.
//! - Pages carry a Content-Security-Policy without inline scripts or styles, the policy the web
//!   apps are written for (no inline handlers, data rendered as text).
//! - `/api/...` paths the API does not know stay problem documents (`404 route not found`).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;

include!(concat!(env!("OUT_DIR"), "/web_files.rs"));

/// The Content-Security-Policy of the pages.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

struct Asset {
    bytes: &'static [u8],
    /// The gzip encoding, when the type compresses and it is smaller.
    gzip: Option<Vec<u8>>,
    etag: HeaderValue,
    content_type: &'static str,
}

fn assets() -> &'static HashMap<&'static str, Asset> {
    static ASSETS: OnceLock<HashMap<&'static str, Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES
            .iter()
            .map(|&(path, bytes)| {
                let content_type = content_type(path);
                let gzip = compressible(content_type)
                    .then(|| gzip(bytes))
                    .flatten()
                    .filter(|z| z.len() < bytes.len());
                let mut h = std::collections::hash_map::DefaultHasher::new();
                bytes.hash(&mut h);
                let etag =
                    HeaderValue::from_str(&format!("\"{:016x}-{:x}\"", h.finish(), bytes.len()))
                        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
                (
                    path,
                    Asset {
                        bytes,
                        gzip,
                        etag,
                        content_type,
                    },
                )
            })
            .collect()
    })
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).ok()?;
    enc.finish().ok()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("avif") => "image/avif",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.starts_with("application/json")
        || content_type.starts_with("application/manifest")
        || content_type.starts_with("image/svg")
}

/// An embedded file of the web apps by its path under `web/` (`index.html`).
pub(crate) fn file(path: &str) -> Option<&'static [u8]> {
    assets().get(path).map(|a| a.bytes)
}

/// The file a request path names, with the single-page-app fallback.
fn resolve(path: &str) -> Option<(&'static str, &'static Asset)> {
    let assets = assets();
    let find = |p: &str| assets.get_key_value(p).map(|(k, v)| (*k, v));
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|seg| seg == ".." || seg == ".") {
        return None;
    }
    if rel.is_empty() || rel.ends_with('/') {
        return find(&format!("{rel}index.html"));
    }
    if let Some(found) = find(rel) {
        return Some(found);
    }
    let last = rel.rsplit('/').next().unwrap_or(rel);
    if last.contains('.') {
        return None;
    }
    find(&format!("{rel}/index.html")).or_else(|| {
        if rel == "admin" || rel.starts_with("admin/") {
            find("admin/index.html")
        } else {
            find("index.html")
        }
    })
}

/// The router's fallback when the site is served: a file of the web apps, or a problem.
pub async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return Problem::not_found("route").into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return Problem::not_found("route").into_response();
    }
    let Some((name, asset)) = resolve(path) else {
        return Problem::not_found("file").into_response();
    };
    let mut res = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == asset.etag)
        }) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let accepts_gzip = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',').any(|e| {
                    let mut parts = e.trim().split(';');
                    let coding = parts.next().unwrap_or("").trim();
                    let refused =
                        parts.any(|q| matches!(q.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
                    (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
                })
            });
        match (&asset.gzip, accepts_gzip) {
            (Some(z), true) => {
                let mut r = Body::from(z.clone()).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            _ => Body::from(asset.bytes).into_response(),
        }
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::ETAG, asset.etag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if name.ends_with(".html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_apps_are_embedded() {
        assert!(resolve("/").is_some_and(|(n, _)| n == "index.html"));
        assert!(resolve("/admin/").is_some_and(|(n, _)| n == "admin/index.html"));
        assert!(resolve("/admin").is_some_and(|(n, _)| n == "admin/index.html"));
    }

    #[test]
    fn page_paths_fall_back_to_their_app_and_missing_files_do_not() {
        assert_eq!(
            resolve("/conta/pedidos").map(|(n, _)| n),
            Some("index.html")
        );
        assert_eq!(
            resolve("/admin/produtos").map(|(n, _)| n),
            Some("admin/index.html")
        );
        assert!(resolve("/js/nope.js").is_none());
        assert!(resolve("/../Cargo.toml").is_none());
    }

    #[test]
    fn types_are_named_and_text_is_compressed() {
        assert_eq!(content_type("a/b.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("x.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("x.svg"), "image/svg+xml");
        let (_, index) = resolve("/").unwrap();
        assert!(
            index
                .gzip
                .as_ref()
                .is_some_and(|z| z.len() < index.bytes.len())
        );
    }
}
