//! The AWS endpoint the functions call: every request forwarded to the emulator unchanged,
//! after the calling function's role allows it.
//!
//! Each function gets `AWS_ENDPOINT_URL` = [`Proxy::url`] and its own access key
//! ([`Proxy::credentials_for`]). For each request the proxy:
//!
//! 1. finds the principal from the SigV4 credential (`Authorization` header or presigned
//!    `X-Amz-Credential`) and the operation, IAM actions and resource ARNs from the protocol
//!    ([`request`]);
//! 2. evaluates the function's role as IAM evaluates identity policies ([`iam`]); a call the
//!    template does not grant is answered as AWS answers it for that protocol, logged and listed
//!    in [`Proxy::denials`];
//! 3. forwards the request to the emulator and returns its answer unchanged; unsigned requests
//!    (the pool's JWKS, Cognito's public operations) and keys that are no function's are
//!    forwarded without a check;
//! 4. sends Cognito's verification mails and checks their codes ([`cognito`]);
//! 5. counts requests and the capacity they would use on AWS ([`counts`]).
//!
//! For the fault tests only, [`Proxy::hold`] holds the requests of one operation until the test
//! releases them ([`Hold`]): a kill then lands while that call is in flight. Nothing holds
//! requests unless a test asks.

pub mod cognito;
pub mod counts;
pub mod iam;
pub mod request;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context as _;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};

use self::cognito::CognitoMail;
pub use self::counts::{Counts, Tally};
use self::iam::{Decision, Role};
use self::request::{Incoming, Names, Operation, Protocol};
use super::{ACCOUNT, REGION, Resolved, RunnerError};

/// The largest request body forwarded (S3 uploads of tens of MB).
pub const MAX_BODY: usize = 256 * 1024 * 1024;

/// An access key pair a function signs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// A call refused because the template does not grant it.
#[derive(Debug, Clone, PartialEq)]
pub struct Denial {
    /// The function's logical id.
    pub function: String,
    /// The IAM action (`dynamodb:DeleteItem`), or the request when the proxy could not tell it.
    pub action: String,
    pub resource: String,
    pub when: SystemTime,
    /// The message the function received.
    pub message: String,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} may not {} on {}: {}",
            self.function, self.action, self.resource, self.message
        )
    }
}

/// A function as the proxy knows it.
struct Principal {
    function: String,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION-NAME`, as AWS names it in errors.
    session_arn: String,
    role: Role,
}

struct Inner {
    emulator: String,
    client: reqwest::Client,
    /// By access key id.
    principals: HashMap<String, Principal>,
    /// By function logical id.
    credentials: BTreeMap<String, Credentials>,
    secret_arns: BTreeMap<String, String>,
    cognito: CognitoMail,
    denials: Mutex<Vec<Denial>>,
    counts: Mutex<(Counts, counts::Sizes)>,
    holds: Mutex<Vec<Arc<Hold>>>,
}

/// What becomes of the requests a [`Hold`] held, once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Forwarded to the emulator, as if the network had only been slow.
    Forward,
    /// Never forwarded: answered `503` (the caller is usually dead by then), as a connection
    /// that broke before the request reached AWS.
    Drop,
}

/// A test-only fault ([`Proxy::hold`]): the requests of one operation, after the first `pass`
/// ones, wait until [`Hold::release`].
#[derive(Debug)]
pub struct Hold {
    operation: String,
    /// Only requests whose body holds this text (`None`: every request of the operation).
    containing: Option<String>,
    pass: std::sync::atomic::AtomicUsize,
    held: std::sync::atomic::AtomicUsize,
    release: tokio::sync::watch::Sender<Option<Release>>,
}

impl Hold {
    /// How many requests it has held so far (released or not).
    pub fn held(&self) -> usize {
        self.held.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Let every request held go (and every later one: the hold is over).
    pub fn release(&self, how: Release) {
        self.release.send_replace(Some(how));
    }

    fn released(&self) -> bool {
        self.release.borrow().is_some()
    }
}

/// The runner's AWS endpoint (see the [module](self)).
pub struct Proxy {
    url: String,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A key pair derived from the function's logical id (the emulator accepts any).
fn derive_credentials(function: &str) -> Credentials {
    let hex = |salt: &str| -> String {
        Sha256::digest(format!("{salt}:{function}").as_bytes())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    };
    Credentials {
        access_key_id: format!("AKIA{}", &hex("access")[..16]),
        secret_access_key: hex("secret")[..40].to_owned(),
    }
}

/// An SDK configuration for the proxy's own calls to the emulator (Cognito's mails).
async fn emulator_config(emulator: &str) -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
    let no_roots = tls::TlsContext::builder()
        .with_trust_store(tls::TrustStore::empty())
        .build()
        .expect("a TLS context with an empty trust store is valid");
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(no_roots)
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(emulator)
        .http_client(http)
        .credentials_provider(aws_sdk_sesv2::config::Credentials::new(
            "runner-proxy",
            "runner-proxy",
            None,
            None,
            "runner-proxy",
        ))
        .load()
        .await
}

impl Proxy {
    /// Serves on 127.0.0.1:0, forwarding to `resolved.emulator`. Fails, naming it, when a
    /// function's role or policy cannot be read.
    pub async fn start(resolved: Arc<Resolved>) -> anyhow::Result<Proxy> {
        let roles = iam::function_roles(&resolved)?;
        let mut principals = HashMap::new();
        let mut credentials = BTreeMap::new();
        for (function, role) in roles {
            for condition in role.ignored_conditions() {
                tracing::info!(function = %function, condition = %condition, "the proxy does not evaluate this condition: the statement applies as if it held");
            }
            let name = resolved
                .resources
                .get(&function)
                .map(|r| r.physical_id.clone())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| function.clone());
            let creds = derive_credentials(&function);
            principals.insert(
                creds.access_key_id.clone(),
                Principal {
                    function: function.clone(),
                    session_arn: format!(
                        "arn:aws:sts::{ACCOUNT}:assumed-role/{}/{}",
                        role.name,
                        name.rsplit(':').next().unwrap_or(&name)
                    ),
                    role,
                },
            );
            credentials.insert(function, creds);
        }
        let secret_arns = resolved
            .of_kind("AWS::SecretsManager::Secret")
            .filter_map(|(_, r)| {
                let name = r.properties.get("Name")?.as_str()?;
                Some((name.to_owned(), r.physical_id.clone()))
            })
            .collect();
        let key_schemas = resolved
            .of_kind("AWS::DynamoDB::Table")
            .map(|(_, r)| {
                let keys = r
                    .properties
                    .get("KeySchema")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k.get("AttributeName")?.as_str().map(str::to_owned))
                    .collect();
                (r.physical_id.clone(), keys)
            })
            .collect();
        let emulator = resolved.emulator.trim_end_matches('/').to_owned();
        if emulator.is_empty() {
            return Err(RunnerError("the resolved template names no emulator".into()).into());
        }
        let config = emulator_config(&emulator).await;
        let inner = Arc::new(Inner {
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .context("the proxy's HTTP client")?,
            cognito: CognitoMail::new(&resolved, &config),
            emulator,
            principals,
            credentials,
            secret_arns,
            denials: Mutex::new(Vec::new()),
            counts: Mutex::new((Counts::default(), counts::Sizes::new(key_schemas))),
            holds: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the proxy's port")?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the AWS proxy stopped");
            }
        });
        tracing::info!(url = %url, "the AWS proxy serves");
        Ok(Proxy { url, inner, server })
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The access key pair a function (by logical id, e.g. `ApiFunction`) signs with; its
    /// calls are checked against that function's role.
    ///
    /// # Panics
    /// When the template has no function of that logical id (a fault of the runner).
    pub fn credentials_for(&self, function: &str) -> Credentials {
        match self.inner.credentials.get(function) {
            Some(c) => c.clone(),
            None => panic!(
                "the AWS proxy knows no function {function}; the template's functions are {:?}",
                self.inner.credentials.keys().collect::<Vec<_>>()
            ),
        }
    }

    /// The policy conditions the proxy does not evaluate, per function (`policy/Sid: condition`):
    /// each such statement applies as if its condition held.
    pub fn ignored_conditions(&self) -> BTreeMap<String, Vec<String>> {
        self.inner
            .principals
            .values()
            .map(|p| (p.function.clone(), p.role.ignored_conditions()))
            .filter(|(_, c)| !c.is_empty())
            .collect()
    }

    /// Every call refused because the template does not grant it.
    pub fn denials(&self) -> Vec<Denial> {
        self.inner.denials.lock().expect("never poisoned").clone()
    }

    /// Test-only fault: hold the requests of `operation` (as counted: `ses:SendEmail`,
    /// `sns:Publish`), any caller's, after letting the first `pass` through, until the hold is
    /// released. The first hold not yet released that names the operation applies.
    pub fn hold(&self, operation: &str, pass: usize) -> Arc<Hold> {
        self.add_hold(operation, None, pass)
    }

    /// Test-only fault: [`Proxy::hold`] for the requests of `operation` whose body holds
    /// `text` (an order id, an address) only.
    pub fn hold_containing(&self, operation: &str, text: &str) -> Arc<Hold> {
        self.add_hold(operation, Some(text.to_owned()), 0)
    }

    fn add_hold(&self, operation: &str, containing: Option<String>, pass: usize) -> Arc<Hold> {
        let hold = Arc::new(Hold {
            operation: operation.to_owned(),
            containing,
            pass: std::sync::atomic::AtomicUsize::new(pass),
            held: std::sync::atomic::AtomicUsize::new(0),
            release: tokio::sync::watch::channel(None).0,
        });
        self.inner
            .holds
            .lock()
            .expect("never poisoned")
            .push(hold.clone());
        hold
    }

    /// Requests and estimated capacity per principal and operation.
    pub fn counts(&self) -> Counts {
        self.inner.counts.lock().expect("never poisoned").0.clone()
    }
}

/// Headers that belong to one connection, not to the request (`expect`: the proxy has read the
/// whole body before it forwards it).
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "expect"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The answer AWS gives a request its policies do not allow, in the protocol's error format.
fn access_denied(protocol: Protocol, service: &str, message: &str) -> Response {
    let request_id = ulid::Ulid::new().to_string();
    match protocol {
        Protocol::Json => {
            let content_type = if service == "dynamodb" {
                "application/x-amz-json-1.0"
            } else {
                "application/x-amz-json-1.1"
            };
            let body = serde_json::json!({ "__type": "AccessDeniedException", "message": message });
            (
                StatusCode::BAD_REQUEST,
                [
                    (header::CONTENT_TYPE, content_type.to_owned()),
                    (HeaderName::from_static("x-amzn-requestid"), request_id),
                ],
                body.to_string(),
            )
                .into_response()
        }
        Protocol::Query => {
            let code = if service == "sns" {
                "AuthorizationError"
            } else {
                "AccessDenied"
            };
            let body = format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                xml_escape(message)
            );
            (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/xml")],
                body,
            )
                .into_response()
        }
        Protocol::RestXml => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>{}</Message><RequestId>{request_id}</RequestId></Error>",
                xml_escape(message)
            );
            (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "application/xml")],
                body,
            )
                .into_response()
        }
        Protocol::RestJson => (
            StatusCode::FORBIDDEN,
            [
                (header::CONTENT_TYPE, "application/json"),
                (
                    HeaderName::from_static("x-amzn-errortype"),
                    "AccessDeniedException",
                ),
            ],
            serde_json::json!({ "message": message }).to_string(),
        )
            .into_response(),
    }
}

/// The protocol a request the proxy could not read most likely speaks, for its error.
fn guess_protocol(headers: &HeaderMap, service: &str, path: &str) -> Protocol {
    if headers.contains_key("x-amz-target") {
        Protocol::Json
    } else if service == "s3" {
        Protocol::RestXml
    } else if path.starts_with("/v2/") {
        Protocol::RestJson
    } else {
        Protocol::Query
    }
}

impl Inner {
    /// Wait while a [`Hold`] holds `operation`; what to do with the request then (`None`: it
    /// was not held).
    async fn held(&self, operation: &str, body: &[u8]) -> Option<Release> {
        use std::sync::atomic::Ordering;
        let hold = self
            .holds
            .lock()
            .expect("never poisoned")
            .iter()
            .find(|h| {
                h.operation == operation
                    && !h.released()
                    && h.containing.as_ref().is_none_or(|text| {
                        body.windows(text.len().max(1))
                            .any(|w| w == text.as_bytes())
                    })
            })
            .cloned()?;
        let passed = hold
            .pass
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if passed {
            return None;
        }
        let mut release = hold.release.subscribe();
        hold.held.fetch_add(1, Ordering::SeqCst);
        tracing::info!(operation, "a test fault holds this request");
        let how = release
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|r| *r);
        Some(how.unwrap_or(Release::Drop))
    }

    fn deny(&self, principal: &Principal, action: &str, resource: &str, message: String) {
        tracing::warn!(
            function = %principal.function,
            action = %action,
            resource = %resource,
            "the template does not grant this call: {message}"
        );
        self.denials.lock().expect("never poisoned").push(Denial {
            function: principal.function.clone(),
            action: action.to_owned(),
            resource: resource.to_owned(),
            when: SystemTime::now(),
            message,
        });
    }

    fn count_denied(&self, principal: &str, operation: &str) {
        let tally = Tally {
            requests: 1,
            denied: 1,
            ..Tally::default()
        };
        self.counts
            .lock()
            .expect("never poisoned")
            .0
            .record(principal, operation, &tally);
    }

    /// The first authorisation of `op` the principal's role does not give, as a refusal.
    fn authorise(&self, principal: &Principal, op: &Operation) -> Result<(), Box<Response>> {
        for check in &op.checks {
            let mut refusal = None;
            for resource in &check.resources {
                match iam::evaluate(&principal.role.statements, &check.action, resource) {
                    Decision::Allow(_) => {
                        refusal = None;
                        break;
                    }
                    Decision::ExplicitDeny(by) => {
                        refusal.get_or_insert((
                            resource,
                            format!("with an explicit deny in an identity-based policy ({by})"),
                        ));
                    }
                    Decision::ImplicitDeny => {
                        refusal.get_or_insert((
                            resource,
                            format!(
                                "because no identity-based policy allows the {} action",
                                check.action
                            ),
                        ));
                    }
                }
            }
            if let Some((resource, why)) = refusal {
                let message = format!(
                    "User: {} is not authorized to perform: {} on resource: {resource} {why}",
                    principal.session_arn, check.action
                );
                self.deny(principal, &check.action, resource, message.clone());
                return Err(Box::new(access_denied(op.protocol, &op.service, &message)));
            }
        }
        Ok(())
    }
}

async fn handle(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the AWS proxy could not read the request body (at most {MAX_BODY} bytes): {e}"
                ),
            )
                .into_response();
        }
    };
    let query = request::form_pairs(parts.uri.query().unwrap_or("").as_bytes());
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("")
        .to_owned();
    // A CORS preflight (`OPTIONS` before a browser's PUT to a presigned URL) carries the
    // presigned query but is never authenticated: S3 answers it from the bucket's CORS rules.
    let signer = if parts.method == axum::http::Method::OPTIONS {
        None
    } else {
        request::signer(&parts.headers, &query)
    };
    let names = Names {
        region: signer
            .as_ref()
            .map_or_else(|| REGION.to_owned(), |s| s.region.clone()),
        account: ACCOUNT.to_owned(),
        secret_arns: inner.secret_arns.clone(),
    };
    let incoming = Incoming {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        host: &host,
        headers: &parts.headers,
        query: &query,
        body: &body,
    };
    let operation = request::operation(&incoming, signer.as_ref(), &names);
    let principal = signer
        .as_ref()
        .and_then(|s| inner.principals.get(&s.access_key_id));
    let principal_name = match (&signer, principal) {
        (_, Some(p)) => p.function.clone(),
        (Some(s), None) => format!("unknown key {}", s.access_key_id),
        (None, None) => "unsigned".to_owned(),
    };

    if let Ok(op) = &operation {
        tracing::debug!(principal = %principal_name, operation = %op.key(), "AWS call");
    }
    if let Some(principal) = principal {
        match &operation {
            Ok(op) => {
                if let Err(refusal) = inner.authorise(principal, op) {
                    inner.count_denied(&principal_name, &op.key());
                    return *refusal;
                }
            }
            Err(why) => {
                let service = signer.as_ref().map_or("", |s| s.service.as_str());
                let action = format!("{service}: {} {}", parts.method, parts.uri.path());
                let message = format!(
                    "User: {} is not authorized to perform this request: {why}",
                    principal.session_arn
                );
                inner.deny(principal, &action, "*", message.clone());
                inner.count_denied(&principal_name, &format!("{service}:unknown"));
                return access_denied(
                    guess_protocol(&parts.headers, service, parts.uri.path()),
                    service,
                    &message,
                );
            }
        }
    }

    // Cognito's codes: a confirmation with the wrong code never reaches the emulator.
    let cognito_body = match &operation {
        Ok(op) if op.service == "cognito-idp" => serde_json::from_slice::<Value>(&body).ok(),
        _ => None,
    };
    if let (Ok(op), Some(b)) = (&operation, &cognito_body)
        && inner.cognito.check(&op.name, b).is_err()
    {
        let mut count = inner.counts.lock().expect("never poisoned");
        count.0.record(
            &principal_name,
            &op.key(),
            &Tally {
                requests: 1,
                failed: 1,
                ..Tally::default()
            },
        );
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
            serde_json::json!({
                "__type": "CodeMismatchException",
                "message": "Invalid verification code provided, please try again."
            })
            .to_string(),
        )
            .into_response();
    }

    if let Ok(op) = &operation
        && inner.held(&op.key(), &body).await == Some(Release::Drop)
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the request was held by a test fault and dropped",
        )
            .into_response();
    }

    // Forward, unchanged.
    let url = format!(
        "{}{}",
        inner.emulator,
        parts.uri.path_and_query().map_or("/", |pq| pq.as_str())
    );
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) && name != header::CONTENT_LENGTH {
            headers.append(name.clone(), value.clone());
        }
    }
    let forwarded = inner
        .client
        .request(parts.method.clone(), &url)
        .headers(headers)
        .body(body.clone())
        .send()
        .await;
    let answer = match forwarded {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, url = %url, "the emulator did not answer the proxy");
            return (
                StatusCode::BAD_GATEWAY,
                format!("the AWS proxy could not reach the emulator: {e}"),
            )
                .into_response();
        }
    };
    let status = answer.status();
    let mut answer_headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if !hop_by_hop(name) {
            answer_headers.append(name.clone(), value.clone());
        }
    }
    let answer_body = match answer.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_GATEWAY,
                format!("the AWS proxy could not read the emulator's answer: {e}"),
            )
                .into_response();
        }
    };

    if let Ok(op) = &operation {
        let form = if op.protocol == Protocol::Query {
            let mut pairs = query.clone();
            pairs.extend(request::form_pairs(&body));
            pairs
        } else {
            Vec::new()
        };
        {
            let mut guard = inner.counts.lock().expect("never poisoned");
            let (counts, sizes) = &mut *guard;
            let tally = counts::usage(op, &form, &body, status.as_u16(), &answer_body, sizes);
            counts.record(&principal_name, &op.key(), &tally);
        }
        if let Some(b) = &cognito_body
            && status.is_success()
        {
            match inner.cognito.after(&op.name, b).await {
                Ok(Some(pool)) => {
                    let tally = Tally {
                        requests: 1,
                        emails: 1,
                        ..Tally::default()
                    };
                    inner.counts.lock().expect("never poisoned").0.record(
                        &pool,
                        "ses:SendEmail",
                        &tally,
                    );
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %format!("{e:#}"), "Cognito's mail was not sent"),
            }
        }
    } else {
        let mut guard = inner.counts.lock().expect("never poisoned");
        let tally = Tally {
            requests: 1,
            failed: u64::from(status.as_u16() >= 400),
            ..Tally::default()
        };
        guard.0.record(&principal_name, "other", &tally);
    }

    let mut response = Response::new(Body::from(answer_body));
    *response.status_mut() = status;
    *response.headers_mut() = answer_headers;
    response
}
