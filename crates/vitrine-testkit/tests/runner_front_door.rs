//! The runner's front door against `infra/template.yaml` as the SAM translator turns it: the REST
//! API (routing, the Cognito authorizer on a real pool of the emulator, the proxy event, binary
//! media types, gateway responses, throttling), the WebSocket API with its Management API, and
//! the CloudFront distribution (behaviours in order, the site bucket on the emulator, the real
//! CloudFront Function of the template, headers policies).
//!
//! The template's intrinsics are resolved by a small resolver here (the runner's own lives in
//! `runner::template`): ids chosen by the test, the user pool and the site bucket real ones on the
//! emulator. Functions are answered by a recording [`Invoke`] double: the real functions run in the
//! end-to-end journey.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use vitrine_testkit::moto;
use vitrine_testkit::runner::apigw::RestApi;
use vitrine_testkit::runner::cloudfront::{Distribution, Origins};
use vitrine_testkit::runner::websocket::WebSocketApi;
use vitrine_testkit::runner::{ACCOUNT, Invoke, InvokeError, REGION, Resolved, Resource, Source};

const API_ID: &str = "a1b2c3d4e5";
const WS_API_ID: &str = "w1s2a3p4i5";

// --- the template, resolved ----------------------------------------------------------------

fn transformed_template() -> Value {
    static TEMPLATE: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
            let out = std::process::Command::new(format!("{root}/.venv/bin/python"))
                .arg(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/runner_front_door/sam_transform.py"
                ))
                .arg(format!("{root}/infra/template.yaml"))
                .env("AWS_DEFAULT_REGION", REGION)
                .output()
                .expect("running the SAM translator from .venv (bash scripts/test.sh installs it)");
            assert!(
                out.status.success(),
                "the SAM transform failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).expect("the transform prints JSON")
        })
        .clone()
}

struct Ids {
    user_pool: String,
    bucket: String,
}

impl Ids {
    fn physical(&self, logical: &str, kind: &str) -> String {
        match (logical, kind) {
            ("Api", _) => API_ID.into(),
            ("WsApi", _) => WS_API_ID.into(),
            ("UserPool", _) => self.user_pool.clone(),
            ("SiteBucket", _) => self.bucket.clone(),
            (_, "AWS::CloudFront::Distribution") => "E2QWRUHEXAMPLE".into(),
            (l, _) => format!("{}-id", l.to_ascii_lowercase()),
        }
    }

    fn attribute(&self, logical: &str, kind: &str, attribute: &str) -> String {
        match (kind, attribute) {
            ("AWS::Cognito::UserPool", "Arn") => format!(
                "arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{}",
                self.user_pool
            ),
            ("AWS::S3::Bucket", "RegionalDomainName") => {
                format!("{}.s3.{REGION}.amazonaws.com", self.physical(logical, kind))
            }
            ("AWS::S3::Bucket", "DomainName") => {
                format!("{}.s3.amazonaws.com", self.physical(logical, kind))
            }
            ("AWS::Lambda::Function", "Arn") => {
                format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical}")
            }
            ("AWS::CloudFront::Function", "FunctionARN") => {
                format!("arn:aws:cloudfront::{ACCOUNT}:function/{logical}")
            }
            (_, a) => format!("arn:aws:test:{REGION}:{ACCOUNT}:{logical}/{a}"),
        }
    }
}

/// The value of an intrinsic-bearing property; `None` for `AWS::NoValue`. Every condition is
/// false (the template's defaults: no domain, no WAF, Cognito's own mail).
fn resolve(v: &Value, t: &Value, ids: &Ids) -> Option<Value> {
    let kind_of = |logical: &str| {
        t["Resources"][logical]["Type"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let reference = |name: &str| -> Option<String> {
        Some(match name {
            "AWS::NoValue" => return None,
            "AWS::Region" => REGION.into(),
            "AWS::AccountId" => ACCOUNT.into(),
            "AWS::StackName" => "vitrine-test".into(),
            "AWS::Partition" => "aws".into(),
            "AWS::URLSuffix" => "amazonaws.com".into(),
            n if t["Parameters"].get(n).is_some() => match &t["Parameters"][n]["Default"] {
                Value::String(s) => s.clone(),
                Value::Null => "example.com".into(),
                other => other.to_string(),
            },
            n => ids.physical(n, &kind_of(n)),
        })
    };
    let get_att =
        |logical: &str, attribute: &str| ids.attribute(logical, &kind_of(logical), attribute);
    match v {
        Value::Object(o) if o.len() == 1 => {
            let (k, arg) = o.iter().next().expect("one entry");
            match k.as_str() {
                "Ref" => reference(arg.as_str()?).map(Value::String),
                "Fn::GetAtt" => {
                    let a = arg.as_array()?;
                    Some(Value::String(get_att(a[0].as_str()?, a[1].as_str()?)))
                }
                "Fn::If" => {
                    let a = arg.as_array()?;
                    resolve(&a[2], t, ids)
                }
                "Fn::Join" => {
                    let a = arg.as_array()?;
                    let parts: Vec<String> = resolve(&a[1], t, ids)?
                        .as_array()?
                        .iter()
                        .map(|p| p.as_str().unwrap_or_default().to_owned())
                        .collect();
                    Some(Value::String(parts.join(a[0].as_str()?)))
                }
                "Fn::Sub" => {
                    let (text, vars) = match arg {
                        Value::String(s) => (s.clone(), serde_json::Map::new()),
                        Value::Array(a) => (
                            a[0].as_str()?.to_owned(),
                            a[1].as_object().cloned().unwrap_or_default(),
                        ),
                        _ => return None,
                    };
                    let mut out = String::new();
                    let mut rest = text.as_str();
                    while let Some(start) = rest.find("${") {
                        out.push_str(&rest[..start]);
                        let end = rest[start..].find('}')? + start;
                        let name = &rest[start + 2..end];
                        if let Some(literal) = name.strip_prefix('!') {
                            out.push_str(&format!("${{{literal}}}"));
                        } else if let Some(value) = vars.get(name) {
                            out.push_str(resolve(value, t, ids)?.as_str()?);
                        } else if let Some((logical, attribute)) = name.split_once('.') {
                            out.push_str(&get_att(logical, attribute));
                        } else {
                            out.push_str(&reference(name)?);
                        }
                        rest = &rest[end + 1..];
                    }
                    out.push_str(rest);
                    Some(Value::String(out))
                }
                _ => Some(Value::Object(
                    o.iter()
                        .filter_map(|(k, v)| Some((k.clone(), resolve(v, t, ids)?)))
                        .collect(),
                )),
            }
        }
        Value::Object(o) => Some(Value::Object(
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), resolve(v, t, ids)?)))
                .collect(),
        )),
        Value::Array(a) => Some(Value::Array(
            a.iter().filter_map(|v| resolve(v, t, ids)).collect(),
        )),
        other => Some(other.clone()),
    }
}

fn resolved(ids: &Ids, emulator: &str) -> Resolved {
    let t = transformed_template();
    let mut resources = BTreeMap::new();
    for (logical, r) in t["Resources"].as_object().expect("Resources") {
        let kind = r["Type"].as_str().unwrap_or_default().to_owned();
        let mut attributes = BTreeMap::new();
        for a in ["Arn", "RegionalDomainName", "FunctionARN", "Id"] {
            attributes.insert(a.to_owned(), ids.attribute(logical, &kind, a));
        }
        if kind == "AWS::CloudFront::ResponseHeadersPolicy" {
            attributes.insert("Id".into(), ids.physical(logical, &kind));
        }
        resources.insert(
            logical.clone(),
            Resource {
                properties: resolve(&r["Properties"], &t, ids).unwrap_or(Value::Null),
                physical_id: ids.physical(logical, &kind),
                kind,
                attributes,
            },
        );
    }
    Resolved {
        stack_name: "vitrine-test".into(),
        emulator: emulator.trim_end_matches('/').into(),
        order: resources.keys().cloned().collect(),
        resources,
        outputs: BTreeMap::new(),
        ..Resolved::default()
    }
}

// --- a recording function double ------------------------------------------------------------

type Answer = Box<dyn Fn(&Value) -> Result<Value, InvokeError> + Send + Sync>;

struct Functions {
    events: Mutex<Vec<(String, Source, Value)>>,
    answer: Answer,
}

impl Functions {
    fn new(
        answer: impl Fn(&Value) -> Result<Value, InvokeError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            events: Mutex::new(Vec::new()),
            answer: Box::new(answer),
        })
    }

    fn events(&self) -> Vec<(String, Source, Value)> {
        self.events.lock().unwrap().clone()
    }

    fn last(&self) -> Value {
        self.events().last().expect("an invocation").2.clone()
    }
}

#[async_trait]
impl Invoke for Functions {
    async fn invoke(
        &self,
        function: &str,
        source: Source,
        event: Value,
    ) -> Result<Value, InvokeError> {
        self.events
            .lock()
            .unwrap()
            .push((function.to_owned(), source, event.clone()));
        (self.answer)(&event)
    }
}

fn ok_json(body: Value) -> Result<Value, InvokeError> {
    Ok(json!({
        "statusCode": 200,
        "headers": { "content-type": "application/json" },
        "body": body.to_string(),
        "isBase64Encoded": false,
    }))
}

async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

// --- the emulator: a user pool with a confirmed user, a site bucket -------------------------

struct Pool {
    id: String,
    access: String,
    id_token: String,
}

async fn cognito() -> aws_sdk_cognitoidentityprovider::Client {
    let conf = aws_sdk_cognitoidentityprovider::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(moto::endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .build();
    aws_sdk_cognitoidentityprovider::Client::from_conf(conf)
}

async fn pool_with_user() -> Pool {
    let c = cognito().await;
    let pool = c
        .create_user_pool()
        .pool_name(moto::unique("front-door"))
        .send()
        .await
        .unwrap();
    let pool_id = pool.user_pool().unwrap().id().unwrap().to_owned();
    let client = c
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("web")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();
    let client_id = client
        .user_pool_client()
        .unwrap()
        .client_id()
        .unwrap()
        .to_owned();
    c.sign_up()
        .client_id(&client_id)
        .username("ana@example.com")
        .password("Senha-Forte-123")
        .send()
        .await
        .unwrap();
    c.admin_confirm_sign_up()
        .user_pool_id(&pool_id)
        .username("ana@example.com")
        .send()
        .await
        .unwrap();
    let auth = c
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "ana@example.com")
        .auth_parameters("PASSWORD", "Senha-Forte-123")
        .send()
        .await
        .unwrap();
    let result = auth.authentication_result().unwrap();
    Pool {
        id: pool_id,
        access: result.access_token().unwrap().to_owned(),
        id_token: result.id_token().unwrap().to_owned(),
    }
}

async fn bucket_with(objects: &[(&str, &str, &str)]) -> String {
    let bucket = moto::unique("site").to_ascii_lowercase();
    let http = reqwest::Client::new();
    let base = format!("{}/{bucket}", moto::endpoint());
    http.put(&base)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    for (key, content_type, body) in objects {
        http.put(format!("{base}/{key}"))
            .header("content-type", *content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }
    bucket
}

fn payload_of(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

// --- REST API --------------------------------------------------------------------------------

#[tokio::test]
async fn the_rest_api_routes_by_precedence_and_builds_the_proxy_event() {
    let ids = Ids {
        user_pool: "us-east-1_none".into(),
        bucket: "none".into(),
    };
    let resolved = Arc::new(resolved(&ids, moto::endpoint()));
    let functions = Functions::new(|_| ok_json(json!({"ok": true})));
    let api = RestApi::start(listener().await, resolved, functions.clone())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("{}/prod", api.url());

    let r = http
        .get(format!("{base}/api/v1/products/caneca?q=a&q=b&page=2"))
        .header("user-agent", "front-door-test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (function, source, event) = functions.events().pop().unwrap();
    assert_eq!(
        function,
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:ApiFunction")
    );
    assert_eq!(source, Source::RestApi);
    assert_eq!(event["resource"], "/api/{proxy+}");
    assert_eq!(event["path"], "/api/v1/products/caneca");
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(
        event["pathParameters"],
        json!({"proxy": "v1/products/caneca"})
    );
    assert_eq!(
        event["queryStringParameters"],
        json!({"q": "b", "page": "2"})
    );
    assert_eq!(
        event["multiValueQueryStringParameters"]["q"],
        json!(["a", "b"])
    );
    assert_eq!(
        event["headers"]["host"],
        format!("{API_ID}.execute-api.{REGION}.amazonaws.com")
    );
    assert_eq!(event["body"], Value::Null);
    assert_eq!(event["isBase64Encoded"], false);
    let context = &event["requestContext"];
    assert_eq!(context["stage"], "prod");
    assert_eq!(context["path"], "/prod/api/v1/products/caneca");
    assert_eq!(context["resourcePath"], "/api/{proxy+}");
    assert_eq!(context["apiId"], API_ID);
    assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["identity"]["userAgent"], "front-door-test");
    // The field set of a REST proxy event (payload format 1.0), as AWS documents it.
    let keys: Vec<&str> = event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "resource",
        "path",
        "httpMethod",
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "requestContext",
        "body",
        "isBase64Encoded",
    ] {
        assert!(keys.contains(&k), "the event lacks {k}");
    }
    for k in [
        "accountId",
        "apiId",
        "domainName",
        "domainPrefix",
        "extendedRequestId",
        "httpMethod",
        "identity",
        "path",
        "protocol",
        "requestId",
        "requestTime",
        "requestTimeEpoch",
        "resourceId",
        "resourcePath",
        "stage",
    ] {
        assert!(context.get(k).is_some(), "requestContext lacks {k}");
    }

    // The API function (lambda_http) reads it as a REST API (payload 1.0) request.
    let parsed: lambda_http::request::LambdaRequest =
        serde_json::from_value(event.clone()).expect("lambda_http reads the event");
    assert!(matches!(
        parsed,
        lambda_http::request::LambdaRequest::ApiGatewayV1(_)
    ));

    // A literal path beats the greedy one.
    http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(functions.last()["resource"], "/health");
    // A resource without the method is a missing route, rendered by the template's response.
    let r = http.post(format!("{base}/health")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("urn:vitrine:problem:not-found")
    );
    let r = http.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // Outside the stage nothing is routed.
    let r = http
        .get(format!("{}/api/v1/products", api.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A body is passed as text.
    http.post(format!("{base}/api/v1/checkout"))
        .header("content-type", "application/json")
        .body(r#"{"a":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(functions.last()["body"], r#"{"a":1}"#);
    assert_eq!(functions.last()["isBase64Encoded"], false);
    assert!(api.requests() >= 6);
}

#[tokio::test]
async fn function_failures_and_oversized_payloads_get_api_gateways_answers() {
    let ids = Ids {
        user_pool: "us-east-1_none".into(),
        bucket: "none".into(),
    };
    let resolved = Arc::new(resolved(&ids, moto::endpoint()));
    let functions = Functions::new(|event| match event["path"].as_str() {
        Some("/api/fails") => Err(InvokeError::Function {
            error_type: "Panic".into(),
            message: "boom".into(),
        }),
        Some("/api/malformed") => Ok(json!({"statusCode": 200, "unexpected": true})),
        Some("/api/slow") => Err(InvokeError::Timeout),
        _ => ok_json(json!({})),
    });
    let api = RestApi::start(listener().await, resolved, functions.clone())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("{}/prod", api.url());
    for path in ["fails", "malformed"] {
        let r = http.get(format!("{base}/api/{path}")).send().await.unwrap();
        assert_eq!(r.status(), 502, "{path}");
        // DEFAULT_5XX of the template renders it (it sets no status: the 502 stays).
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("urn:vitrine:problem:internal")
        );
    }
    let r = http.get(format!("{base}/api/slow")).send().await.unwrap();
    assert_eq!(r.status(), 504);
    let r = http
        .post(format!("{base}/api/upload"))
        .body(vec![b'x'; 10 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        functions.events().len(),
        3,
        "the oversized request reached no function"
    );
}

#[tokio::test]
async fn binary_media_types_pass_bodies_as_base64_both_ways() {
    let ids = Ids {
        user_pool: "us-east-1_none".into(),
        bucket: "none".into(),
    };
    let mut r = resolved(&ids, moto::endpoint());
    let api = r.resources.get_mut("Api").unwrap();
    api.properties["BinaryMediaTypes"] = json!(["image~1*", "multipart~1form-data"]);
    let functions = Functions::new(|event| {
        Ok(json!({
            "statusCode": 200,
            "headers": {"content-type": "image/png"},
            "body": event["body"].clone(),
            "isBase64Encoded": event["isBase64Encoded"].clone(),
        }))
    });
    let api = RestApi::start(listener().await, Arc::new(r), functions.clone())
        .await
        .unwrap();
    let png = vec![0x89, b'P', b'N', b'G', 0, 0xff, 0xfe];
    let r = reqwest::Client::new()
        .put(format!("{}/prod/api/v1/admin/media", api.url()))
        .header("content-type", "image/png")
        .header("accept", "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap();
    // The admin route needs a token: the authorizer answers first.
    assert_eq!(r.status(), 401);
    let r = reqwest::Client::new()
        .put(format!("{}/prod/api/v1/media", api.url()))
        .header("content-type", "image/png")
        .header("accept", "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().to_vec(),
        png,
        "decoded back to bytes"
    );
    let event = functions.last();
    assert_eq!(event["isBase64Encoded"], true);
    use base64::Engine;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(event["body"].as_str().unwrap())
            .unwrap(),
        png
    );
    // The first Accept type decides: a client asking for HTML gets the base64 text.
    let r = reqwest::Client::new()
        .put(format!("{}/prod/api/v1/media", api.url()))
        .header("content-type", "image/png")
        .header("accept", "text/html, image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.text().await.unwrap(),
        base64::engine::general_purpose::STANDARD.encode(&png)
    );
}

#[tokio::test]
async fn the_cognito_authorizer_takes_access_tokens_with_the_scope_of_a_real_pool() {
    let pool = pool_with_user().await;
    let ids = Ids {
        user_pool: pool.id.clone(),
        bucket: "none".into(),
    };
    let resolved = Arc::new(resolved(&ids, moto::endpoint()));
    let functions = Functions::new(|_| ok_json(json!({"me": true})));
    let api = RestApi::start(listener().await, resolved, functions.clone())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let me = format!("{}/prod/api/v1/me", api.url());

    let r = http
        .get(&me)
        .bearer_auth(&pool.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let claims = &functions.last()["requestContext"]["authorizer"]["claims"];
    assert_eq!(claims["sub"], payload_of(&pool.access)["sub"]);
    assert_eq!(claims["token_use"], "access");
    let parsed: lambda_http::request::LambdaRequest =
        serde_json::from_value(functions.last()).expect("lambda_http reads the authorized event");
    assert!(matches!(
        parsed,
        lambda_http::request::LambdaRequest::ApiGatewayV1(_)
    ));
    // The bare token is taken too.
    let r = http
        .get(&me)
        .header("authorization", &pool.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let calls = functions.events().len();
    for (what, header) in [
        ("no token", None),
        (
            "the ID token (the route has scopes)",
            Some(format!("Bearer {}", pool.id_token)),
        ),
        (
            "a token with a changed payload",
            Some(format!("Bearer {}", tamper(&pool.access))),
        ),
        ("not a JWT", Some("Bearer abc".to_owned())),
    ] {
        let mut request = http.get(&me);
        if let Some(h) = header {
            request = request.header("authorization", h);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 401, "{what}");
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("urn:vitrine:problem:unauthenticated"),
            "{what}"
        );
    }
    assert_eq!(
        functions.events().len(),
        calls,
        "no refused request reached the function"
    );
    // A public route needs no token.
    let r = http
        .get(format!("{}/prod/api/v1/products", api.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// The token with one claim changed and its signature kept.
fn tamper(token: &str) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload = payload_of(token);
    payload["sub"] = json!("someone-else");
    parts[1] = engine.encode(payload.to_string());
    parts.join(".")
}

#[tokio::test]
async fn without_scopes_the_authorizer_takes_unexpired_id_tokens_only() {
    use vitrine_app::auth::{Claims, TokenSigner, TokenUse};
    // A pool's JWKS served where the emulator serves it, for a key this test signs with.
    let signer = TokenSigner::generate().unwrap();
    let jwks = serde_json::to_value(signer.jwks()).unwrap();
    let pool = "us-east-1_Signer01";
    let app = axum::Router::new().route(
        &format!("/{pool}/.well-known/jwks.json"),
        axum::routing::get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let keys = listener().await;
    let keys_url = format!("http://{}", keys.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(keys, app).await });

    let ids = Ids {
        user_pool: pool.into(),
        bucket: "none".into(),
    };
    let mut r = resolved(&ids, &keys_url);
    let body = &mut r.resources.get_mut("Api").unwrap().properties["Body"];
    body["paths"]["/api/v1/me"]["x-amazon-apigateway-any-method"]["security"] =
        json!([{ "CognitoAuth": [] }]);
    let functions = Functions::new(|_| ok_json(json!({})));
    let api = RestApi::start(listener().await, Arc::new(r), functions)
        .await
        .unwrap();

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token = |token_use: TokenUse, exp: i64| {
        signer.sign(&Claims {
            sub: "u-1".into(),
            iss: format!("https://cognito-idp.{REGION}.amazonaws.com/{pool}"),
            token_use,
            groups: vec!["customer".into()],
            client_id: None,
            aud: Some("client".into()),
            exp,
            iat: now - 10,
            auth_time: now - 10,
            jti: "j".into(),
            username: None,
            email: Some("ana@example.com".into()),
            name: None,
            origin_jti: None,
            nbf: None,
        })
    };
    let http = reqwest::Client::new();
    let me = format!("{}/prod/api/v1/me", api.url());
    let status = |t: String| {
        let request = http.get(&me).bearer_auth(t);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(token(TokenUse::Id, now + 600)).await, 200);
    assert_eq!(status(token(TokenUse::Id, now - 1)).await, 401, "expired");
    assert_eq!(
        status(token(TokenUse::Access, now + 600)).await,
        401,
        "an access token"
    );
}

#[tokio::test]
async fn the_stage_throttles_past_its_burst() {
    let ids = Ids {
        user_pool: "us-east-1_none".into(),
        bucket: "none".into(),
    };
    let mut r = resolved(&ids, moto::endpoint());
    let stage = r.resources.get_mut("ApiStage").unwrap();
    stage.properties["MethodSettings"][0]["ThrottlingRateLimit"] = json!(0.001);
    stage.properties["MethodSettings"][0]["ThrottlingBurstLimit"] = json!(2);
    let functions = Functions::new(|_| ok_json(json!({})));
    let api = RestApi::start(listener().await, Arc::new(r), functions)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = http
            .get(format!("{}/prod/health", api.url()))
            .send()
            .await
            .unwrap();
        statuses.push((r.status().as_u16(), r.headers().get("retry-after").cloned()));
    }
    assert_eq!(statuses[0].0, 200);
    assert_eq!(statuses[1].0, 200);
    assert_eq!(statuses[2].0, 429);
    assert_eq!(statuses[2].1.as_ref().unwrap(), "1");
}

// --- WebSocket API ---------------------------------------------------------------------------

#[tokio::test]
async fn websocket_connect_message_post_and_disconnect() {
    let ids = Ids {
        user_pool: "us-east-1_none".into(),
        bucket: "none".into(),
    };
    let resolved = Arc::new(resolved(&ids, moto::endpoint()));
    let functions = Functions::new(|event| {
        let context = &event["requestContext"];
        match context["routeKey"].as_str() {
            Some("$connect") if event["queryStringParameters"]["deny"] == "1" => {
                Ok(json!({"statusCode": 401, "body": "no"}))
            }
            Some("$connect") => {
                Ok(json!({"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "bearer"}}))
            }
            _ => Ok(json!({"statusCode": 200})),
        }
    });
    let ws = WebSocketApi::start(listener().await, resolved, functions.clone())
        .await
        .unwrap();
    assert!(ws.url().ends_with("/prod"));

    // A refused $connect refuses the handshake.
    let refused = tokio_tungstenite::connect_async(format!("{}?deny=1", ws.url())).await;
    assert!(refused.is_err());

    let mut request = format!("{}?access_token=t0k", ws.url())
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "bearer, the.token".parse().unwrap(),
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "bearer");
    let connect = functions.last();
    let context = &connect["requestContext"];
    assert_eq!(context["eventType"], "CONNECT");
    assert_eq!(context["routeKey"], "$connect");
    assert_eq!(context["stage"], "prod");
    assert_eq!(context["apiId"], WS_API_ID);
    assert_eq!(
        context["domainName"],
        format!("{WS_API_ID}.execute-api.{REGION}.amazonaws.com")
    );
    assert_eq!(connect["queryStringParameters"]["access_token"], "t0k");
    assert_eq!(
        connect["headers"]["sec-websocket-protocol"],
        "bearer, the.token"
    );
    let connection_id = context["connectionId"].as_str().unwrap().to_owned();
    // The field set of the recorded CONNECT event of the functions' tests.
    let recorded: Value = serde_json::from_str(include_str!(
        "../../vitrine-lambda/tests/data/ws-connect.json"
    ))
    .unwrap();
    for k in recorded["requestContext"].as_object().unwrap().keys() {
        assert!(
            context.get(k).is_some(),
            "the CONNECT requestContext lacks {k}"
        );
    }
    for k in recorded.as_object().unwrap().keys() {
        assert!(connect.get(k).is_some(), "the CONNECT event lacks {k}");
    }

    // The WebSocket function reads the event with aws_lambda_events' type.
    let typed: lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest =
        serde_json::from_value(connect.clone()).expect("the CONNECT event reads");
    assert_eq!(
        typed.request_context.connection_id.as_deref(),
        Some(connection_id.as_str())
    );

    socket
        .send(Message::text(r#"{"action":"resume","since":"x"}"#))
        .await
        .unwrap();
    // The Management API: a post reaches the socket (SigV4 headers are accepted unverified).
    let http = reqwest::Client::new();
    let connection_url = format!(
        "{}/@connections/{}",
        ws.management_url(),
        utf8_percent(&connection_id)
    );
    let r = http
        .post(&connection_url)
        .header("authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00")
        .body(r#"{"type":"order.status","status":"paid"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let received = socket.next().await.unwrap().unwrap();
    assert_eq!(
        received.into_text().unwrap().as_str(),
        r#"{"type":"order.status","status":"paid"}"#
    );
    wait_for(|| {
        functions
            .events()
            .iter()
            .any(|e| e.2["requestContext"]["eventType"] == "MESSAGE")
    })
    .await;
    let message = functions
        .events()
        .into_iter()
        .map(|e| e.2)
        .find(|e| e["requestContext"]["eventType"] == "MESSAGE")
        .expect("the message reached $default");
    let recorded: Value = serde_json::from_str(include_str!(
        "../../vitrine-lambda/tests/data/ws-resume.json"
    ))
    .unwrap();
    for k in recorded["requestContext"].as_object().unwrap().keys() {
        assert!(
            message["requestContext"].get(k).is_some(),
            "the MESSAGE requestContext lacks {k}"
        );
    }
    let _: lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest =
        serde_json::from_value(message.clone()).expect("the MESSAGE event reads");
    assert_eq!(message["requestContext"]["routeKey"], "$default");
    assert_eq!(
        message["requestContext"]["connectionId"],
        connection_id.as_str()
    );
    assert_eq!(message["body"], r#"{"action":"resume","since":"x"}"#);

    let info: Value = http
        .get(&connection_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(info["connectedAt"].is_string());
    assert_eq!(info["identity"]["sourceIp"], "127.0.0.1");

    // DELETE closes the socket; $disconnect follows; the id is gone.
    let r = http.delete(&connection_url).send().await.unwrap();
    assert_eq!(r.status(), 204);
    loop {
        match socket.next().await {
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
    let r = http
        .post(&connection_url)
        .body("late")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert_eq!(r.headers()["x-amzn-errortype"], "GoneException");
    let r = http
        .post(format!(
            "{}/@connections/Unknown0000000=",
            ws.management_url()
        ))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    // $disconnect is invoked once the socket task ends; wait for it through the invoker.
    wait_for(|| {
        functions
            .events()
            .iter()
            .any(|e| e.2["requestContext"]["eventType"] == "DISCONNECT")
    })
    .await;
    assert_eq!(ws.connections(), 0);
}

#[tokio::test]
async fn a_client_close_invokes_disconnect() {
    let ids = Ids {
        user_pool: "us-east-1_none".into(),
        bucket: "none".into(),
    };
    let resolved = Arc::new(resolved(&ids, moto::endpoint()));
    let functions = Functions::new(|_| Ok(json!({"statusCode": 200})));
    let ws = WebSocketApi::start(listener().await, resolved, functions.clone())
        .await
        .unwrap();
    let (mut socket, _) = tokio_tungstenite::connect_async(ws.url()).await.unwrap();
    socket.close(None).await.unwrap();
    while socket.next().await.is_some() {}
    wait_for(|| {
        functions
            .events()
            .iter()
            .any(|e| e.2["requestContext"]["routeKey"] == "$disconnect")
    })
    .await;
    let disconnect = functions.last();
    assert_eq!(disconnect["requestContext"]["eventType"], "DISCONNECT");
    let recorded: Value = serde_json::from_str(include_str!(
        "../../vitrine-lambda/tests/data/ws-disconnect.json"
    ))
    .unwrap();
    for k in recorded["requestContext"].as_object().unwrap().keys() {
        assert!(
            disconnect["requestContext"].get(k).is_some(),
            "the DISCONNECT requestContext lacks {k}"
        );
    }
    let _: lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest =
        serde_json::from_value(disconnect.clone()).expect("the DISCONNECT event reads");

    assert!(disconnect["requestContext"]["disconnectStatusCode"].is_number());
}

/// Waits (without a deadline of its own: the test harness's is the limit) for `done`.
async fn wait_for(done: impl Fn() -> bool) {
    while !done() {
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

fn utf8_percent(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

// --- CloudFront ------------------------------------------------------------------------------

#[tokio::test]
async fn the_distribution_serves_the_site_and_the_api_in_behaviour_order() {
    let bucket = bucket_with(&[
        ("index.html", "text/html", "<h1>home</h1>"),
        ("ajuda/frete/index.html", "text/html", "<h1>frete</h1>"),
        ("app.js", "text/javascript", "console.log(1)"),
    ])
    .await;
    let ids = Ids {
        user_pool: "us-east-1_none".into(),
        bucket,
    };
    let resolved = Arc::new(resolved(&ids, moto::endpoint()));
    let functions = Functions::new(|_| {
        Ok(json!({
            "statusCode": 200,
            "headers": {"content-type": "application/json", "referrer-policy": "same-origin"},
            "body": "{\"products\":[]}",
        }))
    });
    let api = RestApi::start(listener().await, resolved.clone(), functions.clone())
        .await
        .unwrap();
    let cdn = Distribution::start(
        listener().await,
        resolved,
        Origins {
            rest_api: api.url(),
        },
    )
    .await
    .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // The site index function (the template's code) rewrites a directory path.
    let r = http
        .get(format!("{}/ajuda/frete", cdn.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    assert_eq!(r.text().await.unwrap(), "<h1>frete</h1>");
    assert_eq!(headers["content-type"], "text/html");
    // The site's headers policy.
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["strict-transport-security"], "max-age=63072000");
    assert_eq!(
        headers["referrer-policy"],
        "strict-origin-when-cross-origin"
    );
    assert_eq!(
        headers["permissions-policy"],
        "camera=(), microphone=(), geolocation=(), payment=()"
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains(&format!(
                "connect-src 'self' wss://{WS_API_ID}.execute-api.{REGION}.amazonaws.com"
            ))
    );

    let r = http
        .get(format!("{}/ajuda/frete/", cdn.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "<h1>frete</h1>");
    let r = http.get(format!("{}/", cdn.url())).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "<h1>home</h1>");
    let r = http
        .get(format!("{}/app.js", cdn.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "console.log(1)");
    // A missing key: S3 behind OAC answers 403.
    let r = http
        .get(format!("{}/nada.css", cdn.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The default behaviour allows GET, HEAD and OPTIONS only.
    let r = http
        .post(format!("{}/index.html", cdn.url()))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        functions.events().len(),
        0,
        "no site request reached the API"
    );

    // /api/* goes to the API origin with its OriginPath (the stage), every viewer header but Host.
    let r = http
        .post(format!("{}/api/v1/products?page=2", cdn.url()))
        .header("x-custom", "kept")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    assert_eq!(r.text().await.unwrap(), "{\"products\":[]}");
    // The API's headers policy: the origin's Referrer-Policy stays (Override false), HSTS set.
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["strict-transport-security"], "max-age=63072000");
    assert!(headers.get("content-security-policy").is_none());
    let event = functions.last();
    assert_eq!(event["path"], "/api/v1/products");
    assert_eq!(event["requestContext"]["path"], "/prod/api/v1/products");
    assert_eq!(event["queryStringParameters"]["page"], "2");
    assert_eq!(event["headers"]["x-custom"], "kept");
    assert_eq!(
        event["headers"]["host"],
        format!("{API_ID}.execute-api.{REGION}.amazonaws.com")
    );
    assert_eq!(event["body"], "{}");

    // A page the api function renders (/produto/*): to the API, with the viewer's host as
    // X-Forwarded-Host (the pages' function), and the site's headers policy.
    let r = http
        .get(format!("{}/produto/caneca", cdn.url()))
        .header("x-forwarded-host", "forjado.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert_eq!(r.text().await.unwrap(), "{\"products\":[]}");
    let event = functions.last();
    assert_eq!(event["path"], "/produto/caneca");
    let viewer_host = cdn.url().trim_start_matches("http://").to_owned();
    assert_eq!(event["headers"]["x-forwarded-host"], viewer_host.as_str());
    assert_eq!(cdn.requests(), 8);
}

#[tokio::test]
async fn a_function_answering_a_response_is_sent_to_the_viewer() {
    let bucket = bucket_with(&[]).await;
    let ids = Ids {
        user_pool: "us-east-1_none".into(),
        bucket,
    };
    let mut r = resolved(&ids, moto::endpoint());
    r.resources.get_mut("SiteIndexFunction").unwrap().properties["FunctionCode"] = json!(
        "function handler(event) {\n  var h = event.request.headers;\n  if (h['x-go']) { return { statusCode: 302, statusDescription: 'Found', headers: { location: { value: 'https://example.com' + event.request.uri + '?c=' + event.request.cookies.c.value } } }; }\n  throw new Error('refused');\n}\n"
    );
    let functions = Functions::new(|_| ok_json(json!({})));
    let api = RestApi::start(listener().await, Arc::new(r.clone()), functions)
        .await
        .unwrap();
    let cdn = Distribution::start(
        listener().await,
        Arc::new(r),
        Origins {
            rest_api: api.url(),
        },
    )
    .await
    .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .get(format!("{}/old", cdn.url()))
        .header("x-go", "1")
        .header("cookie", "c=3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "https://example.com/old?c=3");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    // A function that throws: CloudFront answers 503.
    let r = http.get(format!("{}/old", cdn.url())).send().await.unwrap();
    assert_eq!(r.status(), 503);
}

#[tokio::test]
async fn the_websocket_stage_throttles_connects_past_its_burst() {
    let ids = Ids {
        user_pool: "us-east-1_none".into(),
        bucket: "none".into(),
    };
    let mut r = resolved(&ids, moto::endpoint());
    let stage = r.resources.get_mut("WsStage").unwrap();
    stage.properties["DefaultRouteSettings"]["ThrottlingRateLimit"] = json!(0.001);
    stage.properties["DefaultRouteSettings"]["ThrottlingBurstLimit"] = json!(1);
    let functions = Functions::new(|_| Ok(json!({"statusCode": 200})));
    let ws = WebSocketApi::start(listener().await, Arc::new(r), functions.clone())
        .await
        .unwrap();
    let (mut socket, _) = tokio_tungstenite::connect_async(ws.url()).await.unwrap();
    let refused = tokio_tungstenite::connect_async(ws.url()).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429)
        }
        other => panic!("expected a 429 handshake, got {other:?}"),
    }
    // The bucket is empty: a message is answered on the socket, reaching no function.
    socket.send(Message::text("{}")).await.unwrap();
    let answer = socket.next().await.unwrap().unwrap();
    let answer: Value = serde_json::from_str(answer.to_text().unwrap()).unwrap();
    assert_eq!(answer["message"], "Too Many Requests");
    assert_eq!(
        functions.events().len(),
        1,
        "only the first $connect was invoked"
    );
}

#[tokio::test]
async fn a_stopped_rest_api_no_longer_accepts_connections() {
    let ids = Ids {
        user_pool: "us-east-1_none".into(),
        bucket: "none".into(),
    };
    let functions = Functions::new(|_| ok_json(json!({})));
    let api = RestApi::start(
        listener().await,
        Arc::new(resolved(&ids, moto::endpoint())),
        functions,
    )
    .await
    .unwrap();
    let health = format!("{}/prod/health", api.url());
    assert_eq!(reqwest::get(&health).await.unwrap().status(), 200);
    api.stop();
    // The listener closes once the server has wound down.
    loop {
        let fresh = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        if fresh.get(&health).send().await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
