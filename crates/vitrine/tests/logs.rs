//! The logs of the real `vitrine` binary (`--log-format json`, our crates at debug level) over a
//! whole customer journey — sign-up with the mailed code, a wrong password, sign-in, profile
//! with phone, cart, checkout with a CPF, Pix payment by webhook, the e-mails, the NF-e, a
//! password reset — are one JSON object per line, every request's lines carry its request id and
//! trace id, and no line holds the customer's e-mail address, CPF, phone, password, reset code
//! or any token.

mod common;

use std::path::Path;
use std::time::Duration;

use reqwest::Client;
use serde_json::{Value, json};
use vitrine_app::payments::sandbox::{SIGNATURE_HEADER, WebhookSigner};
use vitrine_testkit::process::Vitrine;

const BIN: &str = env!("CARGO_BIN_EXE_vitrine");
const EMAIL: &str = "Maria.Sigilo@Example.com";
const PASSWORD: &str = "senha-secreta-42";
const NEW_PASSWORD: &str = "outra-senha-77";
const CPF: &str = "529.982.247-25";
const PHONE: &str = "+5511987654321";

/// The code of the `nth` code mail to the account, waiting for it (code mails are sent by a
/// worker after the request is answered).
async fn six_digit_code(data: &Path, nth: usize) -> String {
    let to = EMAIL.to_lowercase();
    vitrine_testkit::mail::codes_once_mailed(
        &data.join("mail"),
        |m| m.to.to_lowercase().contains(&to),
        nth + 1,
    )
    .await
    .swap_remove(nth)
}

async fn call(
    client: &Client,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method.parse().unwrap(), format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    if method == "POST" && path == "/api/v1/orders" {
        req = req.header("Idempotency-Key", "logs-order-1");
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn a_whole_journey_logs_json_lines_with_ids_and_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Vitrine::new(BIN)
        .env(
            "VITRINE_LOG",
            "info,vitrine=debug,vitrine_app=debug,vitrine_http=debug,vitrine_local=debug,vitrine_nfe=debug",
        )
        .data_dir(&data)
        .args(["--argon2-memory-kib", "64", "--log-format", "json"])
        .logs(dir.path())
        .start("serve", &[])
        .await
        .unwrap();
    let base = server.base.clone();
    let client = Client::new();

    // Sign up, confirm with the mailed code, a wrong password, then sign in.
    let (s, _) = call(
        &client,
        &base,
        "POST",
        "/api/v1/auth/sign-up",
        None,
        Some(json!({ "email": EMAIL, "password": PASSWORD, "name": "Maria Sigilo" })),
    )
    .await;
    assert!(s < 300, "sign-up {s}");
    let code = six_digit_code(&data, 0).await;
    let (s, _) = call(
        &client,
        &base,
        "POST",
        "/api/v1/auth/confirm",
        None,
        Some(json!({ "email": EMAIL, "code": code })),
    )
    .await;
    assert!(s < 300, "confirm {s}");
    let (s, _) = call(
        &client,
        &base,
        "POST",
        "/api/v1/auth/sign-in",
        None,
        Some(json!({ "email": EMAIL, "password": "not-her-password" })),
    )
    .await;
    assert_eq!(s, 401);
    let (s, tokens) = call(
        &client,
        &base,
        "POST",
        "/api/v1/auth/sign-in",
        None,
        Some(json!({ "email": EMAIL, "password": PASSWORD })),
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token = Some(access.as_str());

    // Profile with a phone and text messages, cart, checkout with a CPF.
    let (s, p) = call(
        &client,
        &base,
        "PUT",
        "/api/v1/me",
        token,
        Some(json!({ "name": "Maria Sigilo", "tax_id": CPF, "phone": PHONE, "sms_opt_in": true })),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    let (s, c) = call(
        &client,
        &base,
        "POST",
        "/api/v1/cart/items",
        token,
        Some(json!({ "sku": "CAM-BAS-M", "quantity": 1 })),
    )
    .await;
    assert!(s < 300, "{c}");
    let mut body = common::buy_now("CAM-BAS-M", 1);
    body.as_object_mut().unwrap().remove("items");
    body["tax_id"] = json!(CPF);
    let (s, order) = call(&client, &base, "POST", "/api/v1/orders", token, Some(body)).await;
    assert_eq!(s, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();

    // Pix: the charge, then the provider's signed webhook.
    let (s, payment) = call(
        &client,
        &base,
        "POST",
        &format!("/api/v1/orders/{id}/payment"),
        token,
        Some(json!({ "method": "pix" })),
    )
    .await;
    assert_eq!(s, 200, "{payment}");
    let secret = std::fs::read_to_string(data.join("keys/payments-webhook.secret")).unwrap();
    let signer = WebhookSigner::new(secret.trim().as_bytes().to_vec()).unwrap();
    let notice = json!({
        "id": "N-logs-1", "type": "pix.paid", "txid": payment["pix"]["txid"],
        "amount_centavos": order["total_centavos"], "end_to_end_id": "E-logs-1"
    })
    .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let res = client
        .post(format!("{base}/api/v1/payments/webhooks/pix"))
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, signer.sign(now, notice.as_bytes()))
        .body(notice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Wait until the order is invoiced and its e-mails and text messages are out.
    let mut status = Value::Null;
    for _ in 0..300 {
        let (_, o) = call(
            &client,
            &base,
            "GET",
            &format!("/api/v1/orders/{id}"),
            token,
            None,
        )
        .await;
        status = o["status"].clone();
        let mails = vitrine_testkit::mail::read_mail_folder(&data.join("mail"));
        if status == "invoiced" && mails.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "invoiced");

    // A password reset with its mailed code, and a refresh.
    let (s, _) = call(
        &client,
        &base,
        "POST",
        "/api/v1/auth/forgot-password",
        None,
        Some(json!({ "email": EMAIL })),
    )
    .await;
    assert!(s < 300);
    let reset_code = six_digit_code(&data, 1).await;
    let (s, r) = call(
        &client,
        &base,
        "POST",
        "/api/v1/auth/reset-password",
        None,
        Some(json!({ "email": EMAIL, "code": reset_code, "new_password": NEW_PASSWORD })),
    )
    .await;
    assert!(s < 300, "{r}");
    if !refresh.is_empty() {
        call(
            &client,
            &base,
            "POST",
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh })),
        )
        .await;
    }

    // Stop (SIGTERM), then read every line.
    let _ = server.stop().await;
    let logs = server.log();
    drop(server);
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 20, "{} lines:\n{logs}", lines.len());

    let cpf_digits: String = CPF.chars().filter(char::is_ascii_digit).collect();
    let phone_local = &PHONE[3..];
    let forbidden: Vec<(&str, String)> = vec![
        ("e-mail address", EMAIL.to_lowercase()),
        ("e-mail local part", "maria.sigilo".into()),
        ("CPF", CPF.into()),
        ("CPF digits", cpf_digits),
        ("phone", PHONE.into()),
        ("phone digits", phone_local.into()),
        ("password", PASSWORD.into()),
        ("new password", NEW_PASSWORD.into()),
        ("confirmation code", code.clone()),
        ("reset code", reset_code.clone()),
        ("access token", access.clone()),
        (
            "access token signature",
            access.rsplit('.').next().unwrap().to_owned(),
        ),
        ("refresh token", refresh.clone()),
        ("webhook secret", secret.trim().to_owned()),
    ];
    let mut requests = 0;
    for line in &lines {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        let lower = line.to_lowercase();
        for (what, secret) in &forbidden {
            if secret.len() < 6 {
                continue;
            }
            // A six-digit code is looked for as a value of its own: as a substring it would
            // also match the microseconds of a line's timestamp, or digits of a duration, by
            // chance (about one run in a few hundred).
            let leaked = if secret.len() < 8 && secret.bytes().all(|b| b.is_ascii_digit()) {
                holds_number(&value, secret)
            } else {
                lower.contains(&secret.to_lowercase())
            };
            assert!(!leaked, "a log line holds the customer's {what}: {line}");
        }
        if value["fields"]["message"] == "request" || value["message"] == "request" {
            requests += 1;
            let span = &value["span"];
            let request_id = span["request_id"].as_str().unwrap_or_default();
            let trace_id = span["trace_id"].as_str().unwrap_or_default();
            assert_eq!(request_id.len(), 26, "request id in {line}");
            assert_eq!(trace_id.len(), 32, "trace id in {line}");
        }
    }
    assert!(requests >= 15, "{requests} request lines");
}

/// Whether `digits` stands on its own (not inside a word, a longer number or an id) in any
/// string of `value` other than its `timestamp`, or is any number of it.
fn holds_number(value: &Value, digits: &str) -> bool {
    match value {
        Value::Number(n) => n.to_string() == digits,
        Value::String(s) => s.match_indices(digits).any(|(i, _)| {
            let before = s[..i].chars().next_back();
            let after = s[i + digits.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_alphanumeric())
                && !after.is_some_and(|c| c.is_ascii_alphanumeric())
        }),
        Value::Array(items) => items.iter().any(|v| holds_number(v, digits)),
        Value::Object(fields) => fields
            .iter()
            .any(|(k, v)| k != "timestamp" && holds_number(v, digits)),
        _ => false,
    }
}

#[test]
fn a_code_is_found_as_a_value_not_as_digits_of_a_time() {
    let line: Value = serde_json::from_str(
        r#"{"timestamp":"2026-12-05T02:23:12.123456Z","fields":{"message":"code 123456 sent","ms":0.1234567}}"#,
    )
    .unwrap();
    assert!(holds_number(&line, "123456"));
    let line: Value = serde_json::from_str(
        r#"{"timestamp":"2026-12-05T02:23:12.123456Z","fields":{"message":"sent","ms":0.1234567,"id":"01J123456X"}}"#,
    )
    .unwrap();
    assert!(!holds_number(&line, "123456"));
    assert!(holds_number(
        &serde_json::json!({ "code": 123456 }),
        "123456"
    ));
}
