//! The BUILT `invoices` binary, run as Lambda runs it (`vitrine_testkit::lambda_runtime`), on
//! the emulator, with the environment the template gives it: the emitter in `VITRINE_FISCAL`,
//! its A1 certificate (made at test time, never committed) in a Secrets Manager secret. It gets
//! the SQS events of real paid orders — orders placed and paid through the API's router, their
//! `order.paid` outbox items read back from the table's stream, wrapped as SNS delivers them —
//! and must invoice each order exactly as `vitrine serve` does: the order `invoiced`, a
//! schema-valid signed XML in the bucket, nothing issued twice on redelivery, and gapless numbers
//! when several processes issue at once. A certificate that cannot be opened fails the
//! invocation with a clear log line and writes nothing; once the secret is fixed the same
//! process issues. With the store's A1 and SEFAZ's address (the testkit's fake authoriser), the
//! function gets each NF-e authorised, and the BUILT `api` binary, given the same environment as
//! the template gives it, cancels one for an admin (the event registered by SEFAZ, the order
//! cancelled, the archive in the bucket).
//!
//! The processes reach the emulator through [`serialized_proxy`]: moto applies concurrent
//! requests without isolation (see `vitrine_aws::emulator`), which within one process the
//! adapters' `OneAtATime` client restores; across processes, the proxy does the same.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use vitrine_domain::Event;
use vitrine_http::AppState;
use vitrine_lambda::events::outbox_event;
use vitrine_lambda::invoices::{FISCAL_ENV, SECRET_ENV};
use vitrine_nfe::{Cnpj, SchemaDocument, SchemaValidator, Xmllint};
use vitrine_testkit::lambda_runtime::{LambdaProcess, Outcome, RuntimeApi};
use vitrine_testkit::moto;

use common::{
    AwsFixture, RECORDED_SKU, customer_token, seed_recorded_catalog_with, stream_event,
    stream_records,
};

const INVOICES: &str = env!("CARGO_BIN_EXE_invoices");
const API: &str = env!("CARGO_BIN_EXE_api");
const STORE_CNPJ: &str = "11444777000161";

/// The emitter as the template's `FiscalSettings` parameter holds it: a store of its own,
/// signing and storing without sending (this file is about the function's certificate, numbers
/// and storage; sending to SEFAZ is `crates/vitrine/tests/sefaz.rs`'s, through the same use case).
fn emitter() -> String {
    json!({
        "cnpj": STORE_CNPJ, "ie": "110042490114", "name": "LOJA EXEMPLO LTDA",
        "street": "Rua Augusta", "number": "500", "district": "Consolação",
        "city": "São Paulo", "uf": "SP", "cep": "01305-000", "series": 2,
        "transmit": false
    })
    .to_string()
}

/// The store's A1, made now: the secret's JSON and the password.
fn a1_secret(password: &str) -> String {
    let cnpj = Cnpj::parse(STORE_CNPJ).unwrap();
    let from = time::OffsetDateTime::from_unix_timestamp(1_577_836_800).unwrap();
    let der =
        vitrine_nfe::demo::demo_pkcs12(&cnpj, "LOJA EXEMPLO LTDA", from, 20 * 365, "a1-senha")
            .unwrap();
    use base64::Engine as _;
    json!({
        "pkcs12_base64": base64::engine::general_purpose::STANDARD.encode(der),
        "password": password,
    })
    .to_string()
}

async fn secrets(fixture: &AwsFixture) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&vitrine_aws::sdk_config(&fixture.aws).await)
}

async fn create_secret(fixture: &AwsFixture, value: &str) -> String {
    secrets(fixture)
        .await
        .create_secret()
        .name(moto::unique("vitrine-nfe-a1"))
        .secret_string(value)
        .send()
        .await
        .expect("CreateSecret")
        .arn()
        .expect("the secret's ARN")
        .to_owned()
}

/// A proxy in front of the emulator that lets one request at a time through (module docs).
async fn serialized_proxy() -> String {
    let target = moto::endpoint().trim_end_matches('/').to_owned();
    let client = reqwest::Client::new();
    let turn = Arc::new(tokio::sync::Mutex::new(()));
    let app = Router::new().fallback(move |req: Request<Body>| {
        let (client, turn, target) = (client.clone(), turn.clone(), target.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let mut forward = client.request(parts.method, format!("{target}{pq}"));
            for (name, value) in &parts.headers {
                if name != "host" && name != "content-length" {
                    forward = forward.header(name, value);
                }
            }
            let _turn = turn.lock().await;
            let res = forward
                .body(body)
                .send()
                .await
                .expect("the emulator answers");
            let mut out = axum::response::Response::builder().status(res.status().as_u16());
            for (name, value) in res.headers() {
                if name != "transfer-encoding" && name != "content-length" {
                    out = out.header(name.as_str(), value.as_bytes());
                }
            }
            out.body(Body::from(res.bytes().await.unwrap())).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A shop on the emulator, and a signed-in buyer.
struct Shop {
    fixture: AwsFixture,
    state: AppState,
    token: String,
}

impl Shop {
    async fn open(stock: i64) -> Self {
        let fixture = AwsFixture::create().await;
        let state = fixture.state().await;
        seed_recorded_catalog_with(&state.app, stock).await;
        let buyer = format!("{}@example.com", moto::unique("nfe"));
        let token = customer_token(&state.app, &buyer).await;
        Self {
            fixture,
            state,
            token,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .header("idempotency-key", moto::unique("checkout"));
        req = req.header("accept", "application/json");
        let req = req
            .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
            .unwrap();
        let res = vitrine_http::router(self.state.clone())
            .oneshot(req)
            .await
            .unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert!(
            status == StatusCode::OK || status == StatusCode::CREATED,
            "{method} {path}: {status} {value}"
        );
        value
    }

    /// An order placed and paid by card (settled at once): its id.
    async fn paid_order(&self) -> String {
        let order = self
            .call(
                "POST",
                "/api/v1/orders",
                Some(json!({
                    "items": [{ "sku": RECORDED_SKU, "quantity": 1 }],
                    "shipping_address": {
                        "recipient": "Maria Exemplo", "street": "Avenida Paulista",
                        "number": "1000", "district": "Bela Vista", "city": "São Paulo",
                        "uf": "SP", "cep": "01310-100"
                    },
                    "shipping_method": "pac", "payment_method": "card",
                    "tax_id": "529.982.247-25"
                })),
            )
            .await;
        let id = order["id"].as_str().expect("an order id").to_owned();
        self.call(
            "POST",
            &format!("/api/v1/orders/{id}/payment"),
            Some(json!({ "method": "card", "installments": 1,
                "card": { "number": "4111 1111 1111 1111", "holder": "MARIA EXEMPLO" } })),
        )
        .await;
        id
    }

    async fn order(&self, id: &str) -> Value {
        self.call("GET", &format!("/api/v1/orders/{id}"), None)
            .await
    }

    async fn invoice_number(&self, id: &str) -> u64 {
        self.call("GET", &format!("/api/v1/orders/{id}/invoice/info"), None)
            .await["number"]
            .as_u64()
            .expect("a number")
    }

    async fn files(&self) -> Vec<String> {
        self.state
            .app
            .ports
            .blobs
            .list("invoices/")
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.key)
            .collect()
    }

    /// The `order.paid` events in the outbox (read from the table's stream).
    async fn paid_events(&self) -> Vec<(String, Event)> {
        stream_event(stream_records(&self.fixture).await)
            .records
            .iter()
            .filter_map(|r| outbox_event(r).expect("outbox items hold events"))
            .filter(|(_, e)| e.event_type == "order.paid")
            .collect()
    }

    /// The environment the template gives the function, reaching the emulator through `proxy`.
    fn env(&self, proxy: &str, secret: &str) -> Vec<(String, String)> {
        let mut env = self.fixture.api_env();
        for (name, value) in &mut env {
            if name == "AWS_ENDPOINT_URL" {
                *value = proxy.to_owned();
            }
        }
        env.push((FISCAL_ENV.into(), emitter()));
        env.push((SECRET_ENV.into(), secret.to_owned()));
        env
    }
}

/// The SQS event of these deliveries, as the queue hands SNS notifications to the function.
fn sqs_event(events: &[(String, Event)]) -> String {
    let records: Vec<Value> = events
        .iter()
        .map(|(id, event)| {
            let envelope = json!({
                "Type": "Notification", "MessageId": format!("sns-{id}"),
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:events",
                "Message": vitrine_aws::sns_bus::message_body(id, event).unwrap(),
            });
            json!({
                "messageId": format!("m-{id}"), "receiptHandle": format!("rh-{id}"),
                "body": envelope.to_string(),
                "attributes": { "ApproximateReceiveCount": "1" },
                "messageAttributes": {}, "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:invoices",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records }).to_string()
}

fn failures(response: &Value) -> &Vec<Value> {
    response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("an SQS batch response: {response}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_is_invoiced_by_the_function_with_a_valid_signed_xml_and_a_redelivery_issues_nothing_twice()
 {
    let shop = Shop::open(5).await;
    let id = shop.paid_order().await;
    let events = shop.paid_events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let secret = create_secret(&shop.fixture, &a1_secret("a1-senha")).await;
    let proxy = serialized_proxy().await;
    let runtime = RuntimeApi::start().await.unwrap();
    let mut function = LambdaProcess::spawn(INVOICES, &runtime, &shop.env(&proxy, &secret));

    let first = function.invoke(&runtime, sqs_event(&events)).await.json();
    let again = function.invoke(&runtime, sqs_event(&events)).await.json();
    let output = function.stop().await;

    assert!(failures(&first).is_empty(), "{first}\n{}", output.stdout);
    assert!(failures(&again).is_empty(), "{again}");
    let order = shop.order(&id).await;
    assert_eq!(order["status"], "invoiced", "{order}");
    let key = order["invoice_key"].as_str().unwrap();
    assert_eq!(shop.invoice_number(&id).await, 1);
    let mut files = shop.files().await;
    files.sort();
    assert_eq!(
        files.len(),
        2,
        "the NF-e and its DANFE; the redelivery stored nothing more: {files:?}"
    );
    assert!(files[0].ends_with(&format!("{key}-danfe.pdf")), "{files:?}");
    assert!(files[1].ends_with(&format!("{key}-nfe.xml")), "{files:?}");
    let blob = shop
        .state
        .app
        .ports
        .blobs
        .get(&files[1])
        .await
        .unwrap()
        .unwrap();
    let xml = String::from_utf8(blob.bytes.to_vec()).unwrap();
    let verified = vitrine_nfe::verify(&xml).expect("the signature verifies");
    assert_eq!(verified.reference_id, format!("NFe{key}"));
    assert!(
        verified.certificate.subject.contains(STORE_CNPJ),
        "signed with the secret's A1"
    );
    assert!(
        xml.contains(&format!("<CNPJ>{STORE_CNPJ}</CNPJ>")),
        "the emitter of VITRINE_FISCAL"
    );
    assert!(xml.contains("<serie>2</serie>") && xml.contains("<tpAmb>2</tpAmb>"));
    Xmllint::new()
        .expect("xmllint is installed (scripts/test.sh)")
        .validate(SchemaDocument::Nfe, &xml)
        .expect("schema-valid");
    assert!(
        !output.stdout.contains("a1-senha"),
        "the password reached the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_paid_at_once_and_issued_by_three_processes_get_gapless_numbers_without_repeats() {
    const ORDERS: usize = 9;
    let shop = Shop::open(ORDERS as i64).await;
    let paid = futures_join(&shop, ORDERS).await;
    let events = shop.paid_events().await;
    assert_eq!(events.len(), ORDERS);
    let secret = create_secret(&shop.fixture, &a1_secret("a1-senha")).await;
    let proxy = serialized_proxy().await;
    // Three instances, each with its share of the queue, and the first message of each share
    // also delivered to the next instance (SQS delivers at least once).
    let mut runs = Vec::new();
    for i in 0..3 {
        let mut batch: Vec<(String, Event)> = events.iter().skip(i).step_by(3).cloned().collect();
        batch.push(events[(i + 1) % 3].clone());
        let runtime = RuntimeApi::start().await.unwrap();
        let function = LambdaProcess::spawn(INVOICES, &runtime, &shop.env(&proxy, &secret));
        runs.push((runtime, function, batch));
    }
    let outcomes = futures::future::join_all(runs.iter_mut().map(|(runtime, function, batch)| {
        let event = sqs_event(batch);
        async move { function.invoke(runtime, event).await }
    }))
    .await;
    for (outcome, (_, function, _)) in outcomes.iter().zip(runs) {
        let output = function.stop().await;
        assert!(
            failures(&outcome.json()).is_empty(),
            "{outcome:?}\n{}",
            output.stdout
        );
    }

    let mut numbers = Vec::new();
    let mut keys = std::collections::BTreeSet::new();
    for id in &paid {
        let order = shop.order(id).await;
        assert_eq!(order["status"], "invoiced", "{order}");
        keys.insert(order["invoice_key"].as_str().unwrap().to_owned());
        numbers.push(shop.invoice_number(id).await);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=ORDERS as u64).collect::<Vec<_>>());
    assert_eq!(keys.len(), ORDERS);
    let files = shop.files().await;
    let nfe = files.iter().filter(|f| f.ends_with("-nfe.xml")).count();
    let danfe = files.iter().filter(|f| f.ends_with("-danfe.pdf")).count();
    assert_eq!(
        (nfe, danfe),
        (ORDERS, ORDERS),
        "an NF-e and its DANFE per order"
    );
}

async fn futures_join(shop: &Shop, n: usize) -> Vec<String> {
    futures::future::join_all((0..n).map(|_| shop.paid_order())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_that_cannot_be_opened_fails_the_batch_writes_nothing_and_a_fixed_secret_issues()
 {
    let shop = Shop::open(5).await;
    let id = shop.paid_order().await;
    let events = shop.paid_events().await;
    let secret = create_secret(&shop.fixture, &a1_secret("not-the-password")).await;
    let proxy = serialized_proxy().await;
    let runtime = RuntimeApi::start().await.unwrap();
    let mut function = LambdaProcess::spawn(INVOICES, &runtime, &shop.env(&proxy, &secret));

    let refused = function.invoke(&runtime, sqs_event(&events)).await;
    let Outcome::Error(error) = &refused else {
        panic!("expected the invocation to fail, got {refused:?}");
    };
    let message = error.body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains(&secret) && message.contains("PKCS#12"),
        "{message}"
    );
    assert_eq!(shop.order(&id).await["status"], "paid");
    assert!(shop.files().await.is_empty());

    // The owner fixes the secret: the next delivery reads it again and issues.
    secrets(&shop.fixture)
        .await
        .put_secret_value()
        .secret_id(&secret)
        .secret_string(a1_secret("a1-senha"))
        .send()
        .await
        .expect("PutSecretValue");
    let issued = function.invoke(&runtime, sqs_event(&events)).await.json();
    let output = function.stop().await;

    assert!(failures(&issued).is_empty(), "{issued}");
    assert_eq!(shop.order(&id).await["status"], "invoiced");
    assert_eq!(
        shop.invoice_number(&id).await,
        1,
        "the failure used up no number"
    );
    let logged = output
        .stdout
        .lines()
        .find(|l| l.contains("NF-e issuing unavailable"))
        .unwrap_or_else(|| panic!("a clear log line:\n{}", output.stdout));
    assert!(
        logged.contains(&secret) && logged.contains("\"level\":\"ERROR\""),
        "{logged}"
    );
    assert!(!output.stdout.contains("a1-senha") && !output.stdout.contains("not-the-password"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_stack_without_a_certificate_issues_homologation_nfe_as_the_demo_emitter() {
    let shop = Shop::open(5).await;
    let id = shop.paid_order().await;
    let events = shop.paid_events().await;
    // As the template creates them: `{}` in the secret and in FiscalSettings.
    let secret = create_secret(&shop.fixture, "{}").await;
    let proxy = serialized_proxy().await;
    let mut env = shop.env(&proxy, &secret);
    env.retain(|(name, _)| name != FISCAL_ENV);
    env.push((FISCAL_ENV.into(), "{}".into()));
    let runtime = RuntimeApi::start().await.unwrap();
    let mut function = LambdaProcess::spawn(INVOICES, &runtime, &env);

    let response = function.invoke(&runtime, sqs_event(&events)).await.json();
    let output = function.stop().await;

    assert!(
        failures(&response).is_empty(),
        "{response}\n{}",
        output.stdout
    );
    assert_eq!(shop.order(&id).await["status"], "invoiced");
    let files = shop.files().await;
    let nfe = files
        .iter()
        .find(|f| f.ends_with("-nfe.xml"))
        .expect("the NF-e stored");
    let blob = shop.state.app.ports.blobs.get(nfe).await.unwrap().unwrap();
    let xml = String::from_utf8(blob.bytes.to_vec()).unwrap();
    let demo = vitrine_app::fiscal::DEMO_CNPJ;
    assert!(xml.contains(&format!("<CNPJ>{demo}</CNPJ>")) && xml.contains("<tpAmb>2</tpAmb>"));
    assert!(
        vitrine_nfe::verify(&xml)
            .unwrap()
            .certificate
            .subject
            .contains(demo)
    );
    assert!(
        output
            .stdout
            .lines()
            .any(|l| l.contains("demo emitter") && l.contains("WARN")),
        "the log says the documents have no legal value:\n{}",
        output.stdout
    );
}

/// PEM blocks' DER contents, in order.
fn pem_blocks(pem: &str) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let mut blocks = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        if line.starts_with("-----BEGIN") {
            body = Some(String::new());
        } else if line.starts_with("-----END") {
            let b64 = body.take().expect("a BEGIN before each END");
            blocks.push(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("PEM base64"),
            );
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    blocks
}

/// The store as a shop that goes live has it: its own CNPJ sending to SEFAZ (here the fake
/// authoriser of SP: its address and its CA as the roots), its A1 (issued by the fake's CA) as
/// PKCS#12 in the secret.
async fn live_shop(
    sefaz: &vitrine_testkit::fakes::sefaz::FakeSefaz,
) -> (Shop, Vec<(String, String)>) {
    let shop = Shop::open(5).await;
    let a1 = sefaz.issue_shop_certificate("LOJA EXEMPLO LTDA").unwrap();
    let key = pem_blocks(&a1.key_pem).remove(0);
    let p12 =
        vitrine_nfe::demo::pkcs12(&key, &pem_blocks(&a1.cert_pem), b"a1", "a1-senha").unwrap();
    use base64::Engine as _;
    let secret = create_secret(
        &shop.fixture,
        &json!({
            "pkcs12_base64": base64::engine::general_purpose::STANDARD.encode(p12),
            "password": "a1-senha",
        })
        .to_string(),
    )
    .await;
    let status = sefaz.url(vitrine_nfe::sefaz::Service::Status);
    let mut settings: Value = serde_json::from_str(&emitter()).unwrap();
    settings["transmit"] = json!(true);
    settings["sefaz_url"] = json!(status.rsplit_once('/').unwrap().0);
    settings["sefaz_roots_pem"] = json!(sefaz.ca_pem());
    settings["sefaz_timeout_secs"] = json!(10);
    let proxy = serialized_proxy().await;
    let mut env = shop.env(&proxy, &secret);
    for (name, value) in &mut env {
        if name == FISCAL_ENV {
            *value = settings.to_string();
        }
    }
    (shop, env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_store_s_a1_the_function_gets_sefaz_s_authorisation_and_the_api_cancels_it() {
    let uf = vitrine_nfe::Uf::parse("SP").unwrap();
    let sefaz =
        vitrine_testkit::fakes::sefaz::FakeSefaz::start(uf, vitrine_nfe::Environment::Homologation)
            .await
            .unwrap();
    let (shop, env) = live_shop(&sefaz).await;
    let id = shop.paid_order().await;
    let events = shop.paid_events().await;
    let runtime = RuntimeApi::start().await.unwrap();
    let mut function = LambdaProcess::spawn(INVOICES, &runtime, &env);
    let batch = function.invoke(&runtime, sqs_event(&events)).await.json();
    let output = function.stop().await;
    assert!(failures(&batch).is_empty(), "{batch}\n{}", output.stdout);
    let info = shop
        .call("GET", &format!("/api/v1/orders/{id}/invoice/info"), None)
        .await;
    assert_eq!(info["transmission"], "authorized", "{info}");
    let key = info["access_key"].as_str().unwrap();
    assert!(sefaz.authorised(key).is_some(), "SEFAZ authorised {key}");

    // The api function, built and run as Lambda runs it with the same environment: the admin
    // cancels the NF-e.
    let admin = format!("{}@example.com", moto::unique("admin"));
    let app = &shop.state.app;
    app.create_user(&admin, "senha-forte-123", "Admin", true)
        .await
        .unwrap();
    let token = app
        .sign_in(
            &admin,
            "senha-forte-123",
            &vitrine_app::ports::ClientInfo::default(),
            None,
        )
        .await
        .unwrap()
        .access_token;
    let path = format!("/api/v1/admin/orders/{id}/invoice/cancel");
    let request = common::edited_event("apigw-http-post-order", |v| {
        v["rawPath"] = json!(path);
        v["requestContext"]["http"]["path"] = json!(path);
        v["body"] =
            json!(json!({ "justification": "Pedido cancelado a pedido do cliente" }).to_string());
        let headers = v["headers"].as_object_mut().unwrap();
        headers.remove("content-length");
        headers.remove("idempotency-key");
        headers.insert("authorization".into(), json!(format!("Bearer {token}")));
    });
    let mut api = LambdaProcess::spawn(API, &runtime, &env);
    let answer = api.invoke(&runtime, request).await.json();
    let output = api.stop().await;
    let status = answer["statusCode"].as_u64().unwrap_or_default();
    let body: Value =
        serde_json::from_str(answer["body"].as_str().unwrap_or_default()).unwrap_or(Value::Null);
    assert_eq!(status, 200, "{answer}\n{}", output.stdout);
    assert_eq!(body["cancelled"], true, "{body}");
    assert!(
        body["cancellation"]["protocol"]
            .as_str()
            .is_some_and(|p| p.len() == 15),
        "{body}"
    );
    assert!(
        sefaz.authorised(key).unwrap().cancelled,
        "SEFAZ has the cancellation"
    );
    assert_eq!(shop.order(&id).await["status"], "cancelled");
    let files = shop.files().await;
    let archive = files
        .iter()
        .find(|f| f.ends_with(&format!("{key}-cancel-procEventoNFe.xml")))
        .unwrap_or_else(|| panic!("the cancellation's archive in the bucket: {files:?}"));
    let xml = shop
        .state
        .app
        .ports
        .blobs
        .get(archive)
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&xml.bytes).contains("<tpEvento>110111</tpEvento>"));
    assert_eq!(sefaz.violations(), Vec::<String>::new());
}
