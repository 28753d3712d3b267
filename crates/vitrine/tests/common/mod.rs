//! `TestApp`: the real server on a random 127.0.0.1 port over a fresh data folder, and helpers
//! to act as customers and admins over HTTP.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::path::PathBuf;
use std::sync::Arc;

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use vitrine::compose::{self, Store};
use vitrine::config::{Config, Flags};
use vitrine_app::App;
use vitrine_app::ports::{Clock, SystemClock};

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub app: Arc<App>,
    pub data_dir: PathBuf,
    /// The DynamoDB table on the emulator, on the AWS backend.
    pub aws_table: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

pub fn test_config(data_dir: PathBuf) -> Config {
    // An explicit (empty) settings file, so a stray ./vitrine.toml never changes a test.
    test_config_with(data_dir, "")
}

/// What every test server's settings file starts with, unless the test asks for the settings as
/// shipped: the cap on unpaid orders lifted, since many tests have one customer place dozens of
/// orders to test something else. tests/checkout.rs tests the cap at its shipped defaults.
const UNPAID_CAP_LIFTED: &str = "max_unpaid_orders = 1000\nmax_unpaid_units = 1000000\n";

/// [`test_config`] with `toml` as the settings file (after [`UNPAID_CAP_LIFTED`]).
pub fn test_config_with(data_dir: PathBuf, toml: &str) -> Config {
    as_shipped_with(data_dir, &format!("{UNPAID_CAP_LIFTED}{toml}"))
}

/// A test server's configuration with `toml` as the whole settings file: every setting it does
/// not name at its shipped default (the unpaid-orders cap included).
pub fn as_shipped_with(data_dir: PathBuf, toml: &str) -> Config {
    std::fs::create_dir_all(&data_dir).unwrap();
    let settings = data_dir.join("vitrine.toml");
    std::fs::write(&settings, toml).unwrap();
    let flags = Flags {
        config: Some(settings),
        data_dir: Some(data_dir),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        // Cheap hashes: tests sign in hundreds of customers. Production uses OWASP's minimum.
        argon2_memory_kib: Some(64),
        // Tests send hundreds of requests from 127.0.0.1 at once; tests/security.rs turns the
        // per-client limit on.
        rate_limit_per_minute: Some(0),
        ..Flags::default()
    };
    Config::resolve(&flags).expect("test config")
}

/// The backend under test: the embedded one, or AWS on the emulator when
/// `VITRINE_TEST_BACKEND=aws` (scripts/test.sh runs the API tests both ways).
pub fn backend() -> &'static str {
    match std::env::var("VITRINE_TEST_BACKEND").as_deref() {
        Ok("aws") => "aws",
        _ => "local",
    }
}

#[cfg(feature = "aws")]
async fn build_store(config: &Config, clock: Arc<dyn Clock>) -> (Store, Option<String>) {
    if backend() != "aws" {
        return (compose::build(config, clock).expect("build store"), None);
    }
    let mut config = config.clone();
    config.aws.endpoint = Some(vitrine_testkit::moto::endpoint().to_owned());
    config.aws.table = vitrine_testkit::moto::unique("vitrine-t");
    config.aws.bucket = vitrine_testkit::moto::unique("vitrine-b");
    config.aws.user_pool_id = Some(vitrine_testkit::moto::unique("vitrine-p"));
    config.aws.create_resources = true;
    config.aws.emulator = true;
    let credentials = Some(("testing".to_owned(), "testing".to_owned()));
    let store = compose::build_aws_with(&config, clock, credentials)
        .await
        .expect("build store on the emulator");
    (store, Some(config.aws.table))
}

#[cfg(not(feature = "aws"))]
async fn build_store(config: &Config, clock: Arc<dyn Clock>) -> (Store, Option<String>) {
    assert_eq!(
        backend(),
        "local",
        "VITRINE_TEST_BACKEND=aws needs the tests built with --features aws"
    );
    (compose::build(config, clock).expect("build store"), None)
}

impl TestApp {
    /// A seeded store on a random port.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// [`TestApp::spawn`], with `configure` applied to the built store before it is served
    /// (e.g. to run the event dispatcher in the test instead of the server).
    pub async fn spawn_with(configure: impl FnOnce(&mut Store)) -> TestApp {
        Self::spawn_with_clock(Arc::new(SystemClock), configure).await
    }

    /// A seeded store whose settings are all as shipped (the unpaid-orders cap included), on
    /// `clock`.
    pub async fn spawn_as_shipped(clock: Arc<dyn Clock>) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let config = as_shipped_with(dir.path().join("data"), "");
        Self::spawn_on(dir, config, clock, |_| {}).await
    }

    /// [`TestApp::spawn_with`] on `clock` (a `ManualClock` lets a test move time).
    pub async fn spawn_with_clock(
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut Store),
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let config = test_config(data_dir.clone());
        Self::spawn_on(dir, config, clock, configure).await
    }

    /// A seeded store on `config` (whose data folder is inside `dir`), on a random port.
    pub async fn spawn_on(
        dir: tempfile::TempDir,
        config: Config,
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut Store),
    ) -> TestApp {
        let data_dir = config.data_dir.clone();
        let (mut store, aws_table) = build_store(&config, clock).await;
        configure(&mut store);
        // Without the demo's pictures (e2e/ sees them, through `vitrine serve`): tests here count
        // the images they upload.
        vitrine::seed::seed_with(&store.app, false)
            .await
            .expect("seed");
        let app = store.app.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(vitrine::serve::run(listener, store, async move {
            let _ = rx.await;
        }));
        let client = Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        TestApp {
            base,
            client,
            app,
            data_dir,
            aws_table,
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let r = self.client.request(method, self.url(path));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.req(Method::GET, path, token).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.req(Method::POST, path, token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A confirmed customer, signed in: returns the access token.
    pub async fn customer(&self, email: &str) -> String {
        self.user(email, false).await
    }

    /// Many customers, signed in a few at a time (the per-address sign-in limit counts attempts
    /// in flight).
    pub async fn customers(&self, prefix: &str, n: usize) -> Vec<String> {
        use futures::StreamExt;
        futures::stream::iter(0..n)
            .map(|i| async move { self.customer(&format!("{prefix}{i}@example.com")).await })
            .buffered(8)
            .collect()
            .await
    }

    pub async fn admin(&self, email: &str) -> String {
        self.user(email, true).await
    }

    /// A member of staff in `role`, signed in: returns the access token.
    pub async fn staff(&self, email: &str, role: vitrine_app::auth::StaffRole) -> String {
        self.app
            .create_user_as(email, "senha-forte-123", "Equipe Teste", Some(role))
            .await
            .expect("create staff");
        self.sign_in(email, "senha-forte-123").await
    }

    async fn user(&self, email: &str, admin: bool) -> String {
        self.app
            .create_user(email, "senha-forte-123", "Cliente Teste", admin)
            .await
            .expect("create user");
        self.sign_in(email, "senha-forte-123").await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let res = self
            .post(
                "/api/v1/auth/sign-in",
                None,
                json!({ "email": email, "password": password }),
            )
            .await;
        let status = res.status();
        if status != 200 {
            panic!(
                "sign-in of {email}: {status} {}",
                res.text().await.unwrap_or_default()
            );
        }
        let body: Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Create a product with one variant per (sku, stock) through the admin API.
    pub async fn product(&self, admin: &str, slug: &str, variants: &[(&str, i64)]) -> Value {
        let variants: Vec<Value> = variants
            .iter()
            .map(|(sku, stock)| json!({ "sku": sku, "options": { "tamanho": sku }, "price_centavos": 5000, "weight_g": 300, "stock": stock }))
            .collect();
        let res = self
            .post(
                "/api/v1/admin/products",
                Some(admin),
                json!({ "slug": slug, "name": format!("Produto {slug}"), "variants": variants }),
            )
            .await;
        assert_eq!(
            res.status(),
            201,
            "create product: {}",
            res.text().await.unwrap()
        );
        res.json().await.unwrap()
    }

    pub async fn stock(&self, admin: &str, sku: &str) -> i64 {
        let res = self
            .get(&format!("/api/v1/admin/stock/{sku}"), Some(admin))
            .await;
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["available"]
            .as_i64()
            .unwrap()
    }

    /// Place an order (`POST /api/v1/orders` with `body` and a fresh idempotency key); asserts 201
    /// and returns the order.
    pub async fn place(&self, token: &str, body: &Value) -> Value {
        let res = self
            .req(Method::POST, "/api/v1/orders", Some(token))
            .header("Idempotency-Key", format!("order-{}", ulid::Ulid::new()))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        res.json().await.unwrap()
    }

    /// The order `id` as its customer (`token`) sees it.
    pub async fn order(&self, token: &str, id: &str) -> Value {
        self.get(&format!("/api/v1/orders/{id}"), Some(token))
            .await
            .json()
            .await
            .unwrap()
    }

    /// Every order in a status, through the admin API (all pages).
    pub async fn orders_in(&self, admin: &str, status: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/admin/orders?status={status}&limit=100");
            if let Some(a) = &after {
                path.push_str(&format!("&after={a}"));
            }
            let body: Value = self.get(&path, Some(admin)).await.json().await.unwrap();
            out.extend(body["items"].as_array().unwrap().iter().cloned());
            match body["next"].as_str() {
                Some(n) => after = Some(n.to_owned()),
                None => return out,
            }
        }
    }

    /// `GET path` as JSON (any status).
    pub async fn get_json(&self, path: &str, token: Option<&str>) -> Value {
        self.get(path, token).await.json().await.unwrap()
    }

    /// The dead letter of `subscriber` once there is one (bounded: 30 s), from the admin's
    /// events page; `Null` when none came.
    pub async fn dead_letter(&self, admin: &str, subscriber: &str) -> Value {
        for _ in 0..300 {
            let events = self.get_json("/api/v1/admin/events", Some(admin)).await;
            if let Some(d) = events["dead_letters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["subscriber"] == subscriber)
            {
                return d.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Value::Null
    }

    /// The sandbox's webhook signer of this store (its secret in the data folder).
    pub fn webhook_signer(&self) -> vitrine_app::payments::sandbox::WebhookSigner {
        let secret =
            std::fs::read_to_string(self.data_dir.join("keys").join("payments-webhook.secret"))
                .unwrap();
        vitrine_app::payments::sandbox::WebhookSigner::new(secret.trim().as_bytes().to_vec())
            .unwrap()
    }

    /// Charge `order` by Pix (sandbox) and confirm it with a signed webhook.
    pub async fn pay_by_pix(&self, token: &str, order: &Value) {
        let id = order["id"].as_str().unwrap();
        let res = self
            .post(
                &format!("/api/v1/orders/{id}/payment"),
                Some(token),
                json!({ "method": "pix" }),
            )
            .await;
        assert_eq!(res.status(), 200);
        let payment: Value = res.json().await.unwrap();
        let body = json!({
            "id": format!("N{id}"), "type": "pix.paid",
            "txid": payment["pix"]["txid"], "amount_centavos": order["total_centavos"],
            "end_to_end_id": format!("E{id}")
        })
        .to_string();
        let res = self
            .client
            .post(self.url("/api/v1/payments/webhooks/pix"))
            .header("content-type", "application/json")
            .header(
                vitrine_app::payments::sandbox::SIGNATURE_HEADER,
                self.webhook_signer()
                    .sign(SystemClock.now().secs(), body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }

    /// Order `id` once it is neither pending nor paid any more (bounded: `secs` seconds).
    pub async fn settled_within(&self, token: &str, id: &str, secs: u64) -> Value {
        for _ in 0..secs * 10 {
            let order = self.order(token, id).await;
            if order["status"] != "paid" && order["status"] != "pending_payment" {
                return order;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("order {id} was not invoiced within {secs} s");
    }

    pub async fn stop(self) {
        self.stop_keeping_data().await;
    }

    /// Stop the server and close the store; the data folder ([`TestApp::data_dir`]) lives as
    /// long as the returned guard.
    pub async fn stop_keeping_data(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        let TestApp { app, _dir, .. } = self;
        drop(app);
        _dir
    }
}

pub fn address() -> Value {
    json!({
        "recipient": "Ana Souza",
        "street": "Avenida Paulista",
        "number": "1000",
        "complement": "ap 12",
        "district": "Bela Vista",
        "city": "São Paulo",
        "uf": "SP",
        "cep": "01310-100"
    })
}

/// A checkout body buying `qty` of `sku` now, paying by Pix.
pub fn buy_now(sku: &str, qty: i64) -> Value {
    json!({
        "items": [{ "sku": sku, "quantity": qty }],
        "shipping_address": address(),
        "shipping_method": "pac",
        "payment_method": "pix",
        "tax_id": "529.982.247-25"
    })
}

/// Run an external checker on `xml` (written to a file); `Err` with its output when it fails.
pub fn external_check(program: &str, args: &[&str], xml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nfe.xml");
    std::fs::write(&file, xml).unwrap();
    let out = std::process::Command::new(program)
        .args(args)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs (installed by scripts/test.sh): {e}"));
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// How many times an order's history says it was paid (the in-process dispatcher may have
/// invoiced it already: status alone is a race).
pub fn times_paid(order: &Value) -> usize {
    order["history"]
        .as_array()
        .map_or(0, |h| h.iter().filter(|c| c["status"] == "paid").count())
}

/// Assert a problem+json response with this status; returns the body.
pub async fn problem(res: Response, status: u16) -> Value {
    assert_eq!(res.status(), status, "unexpected status");
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:vitrine:problem:"),
        "{body}"
    );
    assert_eq!(body["status"], status);
    body
}

/// The code (six digits) of the last mail to `to` whose subject contains `subject`, waiting
/// for one to arrive (code mails are sent by a worker after the request is answered).
pub async fn last_code(t: &TestApp, to: &str, subject: &str) -> String {
    nth_code(t, to, subject, 0).await
}

/// The code of the `nth` (from 0, in sending order) mail to `to` whose subject contains
/// `subject`, waiting for it; `nth` 0 is the last one, once there is one.
pub async fn nth_code(t: &TestApp, to: &str, subject: &str, nth: usize) -> String {
    let codes = vitrine_testkit::mail::codes_once_mailed(
        &t.data_dir.join("mail"),
        |m| m.to.contains(to) && m.subject.contains(subject),
        nth + 1,
    )
    .await;
    if nth == 0 {
        codes[codes.len() - 1].clone()
    } else {
        codes[nth].clone()
    }
}
