//! Extractors that turn a request into typed input or a problem document: JSON bodies (strict:
//! unknown fields rejected, errors name the field), query strings, the bearer token, `If-Match`
//! and `Idempotency-Key`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use vitrine_app::auth::Principal;
use vitrine_domain::FieldError;

use crate::problem::Problem;
use crate::state::AppState;

/// A JSON body. Content type must be JSON; errors say which field is wrong and why.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !is_json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    "Body too large",
                    "the request body is larger than this endpoint accepts",
                )
            } else {
                Problem::bad_request("unreadable-body", "the request body could not be read")
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parse JSON strictly, reporting the path of the offending field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(Problem::bad_request(
                    "malformed-json",
                    format!("the body is not valid JSON: {inner}"),
                ));
            }
            // serde's messages carry the position; keep only the reason.
            let message = inner.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            Err(Problem::validation(vec![FieldError::new(
                field_of(&path, &message),
                message,
            )]))
        }
    }
}

/// The field a serde error is about: its path, completed with the name of a missing field
/// (serde reports those at the parent's path).
fn field_of(path: &str, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next());
    match (path, missing) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => "body".to_owned(),
        (p, Some(name)) => format!("{p}.{name}"),
        (p, None) => p.to_owned(),
    }
}

/// A query string, with the same strictness as bodies.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|err| {
                let path = err.path().to_string();
                let message = err.into_inner().to_string();
                Problem::validation(vec![FieldError::new(field_of(&path, &message), message)])
            })
    }
}

/// The signed-in caller (a valid access token is required).
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        match bearer(parts) {
            None => Err(Problem::unauthenticated(
                "send an access token: Authorization: Bearer <token>",
            )),
            Some(token) => state.verify(token).await.map(Auth),
        }
    }
}

/// The caller if signed in; an invalid token is still an error (never silently anonymous).
pub struct MaybeAuth(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        match bearer(parts) {
            None => Ok(MaybeAuth(None)),
            Some(token) => state.verify(token).await.map(|p| MaybeAuth(Some(p))),
        }
    }
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// `If-Match: "N"` → the version N the caller last saw.
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let s = v.to_str().unwrap_or("").trim();
        let s = s.strip_prefix("W/").unwrap_or(s);
        s.trim_matches('"')
            .parse()
            .map(|n| IfMatch(Some(n)))
            .map_err(|_| {
                Problem::bad_request(
                    "bad-if-match",
                    "If-Match must be an ETag this API returned, like \"3\"",
                )
            })
    }
}

impl IfMatch {
    /// The version, for an update that needs one (428 without it).
    pub fn required(self) -> Result<u64, Problem> {
        self.0
            .ok_or_else(|| vitrine_app::AppError::PreconditionRequired.into())
    }
}

pub fn etag(version: u64) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{version}\""))
}

/// The `Idempotency-Key` header (required where used), parsed by
/// [`vitrine_app::checkout::IdempotencyKey::parse`], the one place its rules live.
pub struct IdempotencyKey(pub vitrine_app::checkout::IdempotencyKey);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let v = parts.headers.get("idempotency-key").ok_or_else(|| {
            Problem::validation(vec![FieldError::new(
                "Idempotency-Key",
                "this request needs an Idempotency-Key header",
            )])
        })?;
        Ok(IdempotencyKey(
            vitrine_app::checkout::IdempotencyKey::parse(v.as_bytes())?,
        ))
    }
}

/// The anonymous cart token (`X-Cart-Token`), when sent.
pub struct CartToken(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for CartToken {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        Ok(CartToken(
            parts
                .headers
                .get("x-cart-token")
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
        ))
    }
}

/// The client's address as limits count it, when the server knows it (the local server's socket
/// peer, or the client a trusted proxy names: `security::client_address`; an IPv6 address by its
/// /64, written `2001:db8:1:2::/64`), and the device cookie an earlier sign-in set.
pub struct ClientAddr {
    pub address: Option<String>,
    pub device: Option<String>,
}

/// The cookie that names a device an account signed in from (`vitrine_app::ports::Tokens::device`).
pub const DEVICE_COOKIE: &str = "vitrine_device";

impl ClientAddr {
    /// What the identity provider is told of the client; `device` (e.g. from a request body)
    /// wins over the cookie.
    pub fn info(&self, device: Option<&str>) -> vitrine_app::ports::ClientInfo {
        vitrine_app::ports::ClientInfo {
            address: self.address.clone(),
            device: device.map(str::to_owned).or_else(|| self.device.clone()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let ip = parts
            .extensions
            .get::<crate::security::ClientIp>()
            .map(|c| c.0)
            .or_else(|| {
                parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|c| c.0.ip())
            });
        let address = ip.map(|ip| match crate::security::group(ip) {
            std::net::IpAddr::V6(block) => format!("{block}/64"),
            v4 => v4.to_string(),
        });
        let device = parts
            .headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == DEVICE_COOKIE)
            .map(|(_, value)| value.trim().to_owned())
            .filter(|v| !v.is_empty() && v.len() <= 200);
        Ok(ClientAddr { address, device })
    }
}
