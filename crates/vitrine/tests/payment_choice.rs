//! Which provider takes each payment method (`[payments] pix/card/boleto`), on the real server:
//! a new data folder chooses the sandbox and says so; a method that is off is refused at
//! checkout; with the real providers configured no sandbox card and no sandbox Pix webhook is
//! ever taken; the card provider's script reaches the client config and the page policy only
//! when there is one; and `vitrine serve` at a public https:// URL with the sandbox needs
//! `--allow-sandbox` (the compiled binary, as a user runs it).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};
use vitrine_app::App;
use vitrine_app::Ports;
use vitrine_app::payment_choice::Chosen;
use vitrine_app::payments::sandbox::{SIGNATURE_HEADER, WebhookSigner};
use vitrine_app::ports::SystemClock;
use vitrine_app::ports::payments::{
    BrowserTokenisation, Charge, ChargeRequest, NoticeItem, PaymentError, PaymentProvider,
    ProviderPayment, Refunded, WebhookError, WebhookRequest,
};
use vitrine_domain::order::PaymentMethod;
use vitrine_domain::{Money, Timestamp};
use vitrine_testkit::process::{self, Vitrine};

use common::{TestApp, buy_now, test_config_with};

const BIN: &str = env!("CARGO_BIN_EXE_vitrine");

/// Place an order buying one `sku`, to be paid by `method`: the raw answer.
async fn checkout(t: &TestApp, token: &str, sku: &str, method: &str) -> reqwest::Response {
    let mut body = buy_now(sku, 1);
    body["payment_method"] = json!(method);
    t.req(Method::POST, "/api/v1/orders", Some(token))
        .header("Idempotency-Key", format!("order-{}", ulid::Ulid::new()))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn place(t: &TestApp, token: &str, sku: &str, method: &str) -> Value {
    let res = checkout(t, token, sku, method).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn json_of(t: &TestApp, path: &str, token: Option<&str>) -> Value {
    let res = t.get(path, token).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

/// The storefront page's Content-Security-Policy.
async fn page_policy(t: &TestApp) -> String {
    let res = t.get("/", None).await;
    assert_eq!(res.status(), 200);
    res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_new_data_folder_chooses_the_sandbox_records_it_and_says_so() {
    let t = TestApp::spawn().await;
    let record = std::fs::read_to_string(t.data_dir.join("payments.toml")).unwrap();
    assert!(
        record.contains("pix = \"sandbox\"") && record.contains("card = \"sandbox\""),
        "{record}"
    );

    let config = json_of(&t, "/api/v1/config", None).await;
    let payments = &config["payments"];
    assert_eq!(payments["sandbox"], true, "{config}");
    assert_eq!(payments["methods"], json!(["pix", "card"]), "{config}");
    assert_eq!(
        payments["providers"],
        json!({ "pix": "sandbox", "card": "sandbox" })
    );
    assert_eq!(payments["card_tokenisation"], Value::Null);
    assert_eq!(
        page_policy(&t).await,
        vitrine_http::web::CONTENT_SECURITY_POLICY,
        "no provider script: the pages' own policy"
    );

    let admin = t.admin("dona@example.com").await;
    t.product(&admin, "camisa", &[("CAM-1", 5)]).await;
    let ana = t.customer("ana@example.com").await;
    let order = place(&t, &ana, "CAM-1", "card").await;
    assert_eq!(order["payment_provider"], "sandbox", "{order}");
    let seen = json_of(
        &t,
        &format!("/api/v1/admin/orders/{}", order["id"].as_str().unwrap()),
        Some(&admin),
    )
    .await;
    assert_eq!(seen["payment_provider"], "sandbox", "{seen}");
    t.stop().await;
}

#[tokio::test]
async fn a_method_that_is_off_is_refused_at_checkout_naming_the_method() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config_with(
        dir.path().join("data"),
        "[payments]\npix = \"sandbox\"\ncard = \"off\"\n",
    );
    let t = TestApp::spawn_on(dir, config, Arc::new(SystemClock), |_| {}).await;
    assert!(
        !t.data_dir.join("payments.toml").exists(),
        "a configured choice is not recorded over"
    );
    let config = json_of(&t, "/api/v1/config", None).await;
    assert_eq!(config["payments"]["methods"], json!(["pix"]), "{config}");

    let admin = t.admin("dona@example.com").await;
    t.product(&admin, "camisa", &[("CAM-1", 5)]).await;
    let ana = t.customer("ana@example.com").await;
    for method in ["card", "boleto"] {
        let res = checkout(&t, &ana, "CAM-1", method).await;
        assert_eq!(res.status(), 422, "{method}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{method}"
        );
        let body: Value = res.json().await.unwrap();
        assert!(
            body.to_string()
                .contains(&format!("does not take {method} payments")),
            "{body}"
        );
    }
    assert_eq!(t.stock(&admin, "CAM-1").await, 5, "nothing reserved");
    place(&t, &ana, "CAM-1", "pix").await;
    t.stop().await;
}

/// A self-signed client certificate and its key, made now with openssl (PEM files in `dir`).
fn certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("bank.crt"), dir.join("bank.key"));
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=loja.example"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "{out:?}");
    (cert, key)
}

#[tokio::test]
async fn with_the_real_providers_no_sandbox_card_or_pix_notice_is_ever_taken() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    // Ports nobody listens on: whatever the adapters try fails, and must fail closed.
    let closed = process::free_port().unwrap();
    let toml = format!(
        "[payments]\npix = \"bcb\"\ncard = \"mercadopago\"\nboleto = \"mercadopago\"\n\
         pix_key = \"loja@example.com\"\n\
         [payments.bcb]\napi_url = \"https://127.0.0.1:{closed}/api/v2/\"\n\
         token_url = \"https://127.0.0.1:{closed}/oauth/token\"\nclient_id = \"loja\"\n\
         client_secret = \"segredo-do-banco\"\ncertificate_file = {cert:?}\nkey_file = {key:?}\n\
         [payments.mercadopago]\napi_url = \"https://127.0.0.1:{closed}\"\n\
         access_token = \"APP_USR-test\"\npublic_key = \"APP_USR-public\"\n\
         webhook_secret = \"segredo-do-webhook\"\n"
    );
    let config = test_config_with(dir.path().join("data"), &toml);
    let t = TestApp::spawn_on(dir, config, Arc::new(SystemClock), |_| {}).await;
    assert!(!t.data_dir.join("payments.toml").exists());
    assert!(
        t.app.ports.payments.iter().all(|p| !p.is_sandbox()),
        "a sandbox was built"
    );

    let config = json_of(&t, "/api/v1/config", None).await;
    let payments = &config["payments"];
    assert_eq!(payments["sandbox"], false, "{config}");
    assert_eq!(
        payments["providers"],
        json!({ "pix": "bcb", "card": "mercadopago", "boleto": "mercadopago" })
    );

    let admin = t.admin("dona@example.com").await;
    t.product(&admin, "camisa", &[("CAM-1", 50)]).await;
    let ana = t.customer("ana@example.com").await;
    for (number, outcome) in vitrine_domain::card::SANDBOX_CARDS {
        let order = place(&t, &ana, "CAM-1", "card").await;
        assert_eq!(order["payment_provider"], "mercadopago");
        let id = order["id"].as_str().unwrap();
        let res = t
            .post(
                &format!("/api/v1/orders/{id}/payment"),
                Some(&ana),
                json!({ "method": "card", "installments": 1,
                        "card": { "number": number, "holder": "ANA SOUZA" } }),
            )
            .await;
        let status = res.status().as_u16();
        assert!(
            [422, 404, 503].contains(&status),
            "test card {number} ({outcome:?}): {status} {}",
            res.text().await.unwrap()
        );
        let after = json_of(&t, &format!("/api/v1/orders/{id}"), Some(&ana)).await;
        assert_eq!(after["status"], "pending_payment", "{number}: {after}");
    }

    // A notice signed the sandbox's way, for a Pix order: no sandbox is listening.
    let order = place(&t, &ana, "CAM-1", "pix").await;
    assert_eq!(order["payment_provider"], "bcb");
    let signer = WebhookSigner::new(b"0123456789abcdef0123".to_vec()).unwrap();
    let body = json!({ "id": "ntf_1", "type": "pix.paid", "txid": "1JD6X1Z9Q4W8E2R7T5Y3U6I0P",
        "amount_centavos": order["total_centavos"], "end_to_end_id": "E1" })
    .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for sandbox in ["pix", "card"] {
        let res = t
            .req(
                Method::POST,
                &format!("/api/v1/payments/webhooks/{sandbox}"),
                None,
            )
            .header(SIGNATURE_HEADER, signer.sign(now, body.as_bytes()))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "the sandbox's {sandbox} webhook");
    }
    let id = order["id"].as_str().unwrap();
    let after = json_of(&t, &format!("/api/v1/orders/{id}"), Some(&ana)).await;
    assert_eq!(after["status"], "pending_payment", "{after}");
    t.stop().await;
}

/// A card provider that tokenises in the browser with a script from `https://js.psp.example`.
struct ScriptedCards;

#[async_trait]
impl PaymentProvider for ScriptedCards {
    fn name(&self) -> &'static str {
        "scripted"
    }
    fn methods(&self) -> &'static [PaymentMethod] {
        &[PaymentMethod::Card, PaymentMethod::Boleto]
    }
    fn browser(&self) -> Option<BrowserTokenisation> {
        Some(BrowserTokenisation {
            provider: "scripted".into(),
            script_url: "https://js.psp.example/v2".into(),
            origins: vec![
                "https://js.psp.example".into(),
                "https://api.psp.example".into(),
            ],
            public_key: "PUB-123".into(),
        })
    }
    async fn charge(&self, _: &ChargeRequest) -> Result<Charge, PaymentError> {
        Err(PaymentError::Invalid("not in this test".into()))
    }
    async fn refund(&self, _: &str, _: Money, _: &str) -> Result<Refunded, PaymentError> {
        Err(PaymentError::Invalid("not in this test".into()))
    }
    async fn cancel(&self, _: &str) -> Result<(), PaymentError> {
        Ok(())
    }
    async fn webhook(&self, _: &WebhookRequest<'_>) -> Result<Vec<NoticeItem>, WebhookError> {
        Err(WebhookError::BadSignature)
    }
    async fn lookup(&self, _: &str) -> Result<Option<ProviderPayment>, PaymentError> {
        Ok(None)
    }
    async fn received(
        &self,
        _: Timestamp,
        _: Timestamp,
    ) -> Result<Vec<ProviderPayment>, PaymentError> {
        Ok(Vec::new())
    }
}

/// The store with `ScriptedCards` chosen for `methods` only.
async fn with_scripted_cards(methods: &'static [PaymentMethod]) -> TestApp {
    TestApp::spawn_with(move |store| {
        let chosen: Arc<dyn PaymentProvider> =
            Arc::new(Chosen::new(Arc::new(ScriptedCards), methods));
        store.app = App::new(
            Ports {
                payments: vec![chosen],
                ..store.app.ports.clone()
            },
            store.app.settings.clone(),
        );
    })
    .await
}

#[tokio::test]
async fn the_card_provider_s_script_reaches_the_config_and_the_page_policy_only_when_it_takes_cards()
 {
    let t = with_scripted_cards(&[PaymentMethod::Card]).await;
    let config = json_of(&t, "/api/v1/config", None).await;
    assert_eq!(
        config["payments"]["card_tokenisation"],
        json!({ "provider": "scripted", "script_url": "https://js.psp.example/v2",
                "public_key": "PUB-123" }),
        "{config}"
    );
    assert_eq!(config["payments"]["sandbox"], false);
    let policy = page_policy(&t).await;
    for directive in ["script-src", "connect-src", "frame-src"] {
        let part = policy
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with(directive))
            .unwrap_or_else(|| panic!("no {directive}: {policy}"));
        assert!(
            part.contains("https://js.psp.example") && part.contains("https://api.psp.example"),
            "{part}"
        );
    }
    // API answers keep their own, closed policy.
    let res = t.get("/api/v1/config", None).await;
    assert!(
        !res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("psp.example")
    );
    t.stop().await;

    // The same provider chosen for boletos only: no script, no origin.
    let t = with_scripted_cards(&[PaymentMethod::Boleto]).await;
    let config = json_of(&t, "/api/v1/config", None).await;
    assert_eq!(config["payments"]["card_tokenisation"], Value::Null);
    assert_eq!(config["payments"]["methods"], json!(["boleto"]));
    assert_eq!(
        page_policy(&t).await,
        vitrine_http::web::CONTENT_SECURITY_POLICY
    );
    t.stop().await;
}

/// Run `vitrine … serve` until it exits by itself (at most a minute; killed past that).
fn run_to_exit(cmd: &mut Command) -> (Option<i32>, String) {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..600 {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return (out.status.code(), text);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("vitrine serve did not stop by itself within a minute");
}

#[tokio::test]
async fn serving_a_public_https_url_with_the_sandbox_needs_allow_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = Vitrine::new(BIN)
        .current_dir(dir.path())
        .data_dir(&data)
        .args(["--argon2-memory-kib", "64", "--no-seed"])
        .args(["--public-url", "https://loja.example.com"]);

    let (code, out) = run_to_exit(v.command().args(["--listen", "127.0.0.1:0", "serve"]));
    assert_ne!(code, Some(0), "{out}");
    assert!(!out.contains("panicked"), "{out}");
    for words in [
        "refusing to serve https://loja.example.com",
        "sandbox for pix and card",
        "--allow-sandbox",
        "VITRINE_PAYMENTS_PIX",
    ] {
        assert!(
            out.contains(words),
            "the message does not say {words:?}:\n{out}"
        );
    }

    let mut server = v
        .clone()
        .logs(dir.path())
        .start("allowed", &["--allow-sandbox"])
        .await
        .unwrap();
    let config: Value = process::client()
        .get(server.url("/api/v1/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["payments"]["sandbox"], true);
    let log = server.log();
    assert!(log.contains("no money is charged"), "no warning:\n{log}");
    server.stop().await.unwrap();

    // The real providers chosen instead: no flag needed (and no sandbox).
    let v = v
        .env("VITRINE_PAYMENTS_PIX", "off")
        .env("VITRINE_PAYMENTS_CARD", "off");
    let mut server = v.logs(dir.path()).start("off", &[]).await.unwrap();
    server.stop().await.unwrap();
}
