//! LGPD on the real server: a customer downloads everything the store keeps of them (profile with
//! the date of their marketing consent, addresses, cart, orders, payments without card data, the
//! e-mails sent to them) and erases their account; afterwards the database files and the blob
//! store are searched byte for byte for their e-mail, name, CPF and phone, and nothing is found.
//! The order stays, as a sale with the buyer erased. An admin exports and erases on request.

mod common;

use std::path::Path;

use common::{TestApp, address, buy_now, problem};
use reqwest::Method;
use serde_json::{Value, json};

const EMAIL: &str = "zulmira.quintanilha@cliente.test";
const NAME: &str = "Zulmira Quintanilha";
const CPF: &str = "11144477735";
const PHONE: &str = "976543210";

/// Every file at or under `path` that holds one of `needles`, with the needle: `(file, needle)`.
fn files_holding(path: &Path, needles: &[&str]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(next) = stack.pop() {
        let listing: Vec<_> = if next.is_dir() {
            std::fs::read_dir(&next)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect()
        } else {
            vec![next]
        };
        for path in listing {
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            for needle in needles {
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push((path.display().to_string(), (*needle).to_owned()));
                }
            }
        }
    }
    found
}

async fn send(
    t: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Value,
) -> reqwest::Response {
    t.req(method, path, Some(token))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_customer_takes_a_copy_of_their_data_then_erases_it_and_nothing_of_them_is_left() {
    let t = TestApp::spawn().await;
    let admin = t.admin("dona@loja.test").await;
    let token = t.customer(EMAIL).await;
    let res = send(&t, Method::PUT, "/api/v1/me", &token, json!({
        "name": NAME, "tax_id": "111.444.777-35", "phone": "(11) 97654-3210", "marketing_emails": true
    }))
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["marketing_emails"]["granted"], true);
    assert!(
        me["marketing_emails"]["at"].as_str().is_some(),
        "the consent's date: {me}"
    );
    let mut saved = address();
    saved["recipient"] = json!(NAME);
    let res = send(&t, Method::POST, "/api/v1/me/addresses", &token, saved).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    t.product(&admin, "caneca-lgpd", &[("CANECA-LGPD", 10)])
        .await;
    let mut body = buy_now("CANECA-LGPD", 1);
    body["tax_id"] = json!(CPF);
    body["shipping_address"]["recipient"] = json!(NAME);
    let order = t.place(&token, &body).await;
    let id = order["id"].as_str().unwrap().to_owned();

    // While the order waits for payment the account stays.
    let res = send(
        &t,
        Method::DELETE,
        "/api/v1/me",
        &token,
        json!({ "confirm": true }),
    )
    .await;
    let p = problem(res, 409).await;
    assert!(p["detail"].as_str().unwrap().contains(&id), "{p}");
    let res = send(
        &t,
        Method::POST,
        &format!("/api/v1/orders/{id}/cancel"),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // The copy: every record, the e-mails sent (once the dispatcher sent them).
    let mut data = Value::Null;
    for _ in 0..100 {
        let res = t.get("/api/v1/me/data", Some(&token)).await;
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("meus-dados.json")
        );
        data = res.json().await.unwrap();
        if data["emails_sent"].as_array().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(data["profile"]["email"], EMAIL);
    assert_eq!(data["profile"]["tax_id"], CPF);
    assert_eq!(data["profile"]["marketing_emails"]["granted"], true);
    assert_eq!(data["addresses"][0]["recipient"], NAME);
    assert_eq!(data["orders"][0]["id"], id.as_str());
    assert_eq!(data["orders"][0]["buyer"]["tax_id"], CPF);
    let kinds: Vec<&str> = data["emails_sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"order.placed") && kinds.contains(&"order.cancelled"),
        "{kinds:?}"
    );
    // The admin's copy is the same person's.
    let theirs = t
        .get_json(
            &format!(
                "/api/v1/admin/customers/{}/data",
                data["profile"]["sub"].as_str().unwrap()
            ),
            Some(&admin),
        )
        .await;
    assert_eq!(theirs["profile"]["email"], EMAIL);

    // The search below sees them while they are there (in the database's file or its log).
    for needle in [EMAIL, NAME, CPF, PHONE] {
        assert!(
            !files_holding(&t.data_dir, &[needle]).is_empty(),
            "{needle} is found before the erasure"
        );
    }

    // Erasure needs an explicit yes.
    let res = send(
        &t,
        Method::DELETE,
        "/api/v1/me",
        &token,
        json!({ "confirm": false }),
    )
    .await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "confirm");
    let res = send(
        &t,
        Method::DELETE,
        "/api/v1/me",
        &token,
        json!({ "confirm": true }),
    )
    .await;
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());

    // No sign-in, no profile, not found by the admin; the order stays as a sale.
    let res = t
        .post(
            "/api/v1/auth/sign-in",
            None,
            json!({ "email": EMAIL, "password": "senha-forte-123" }),
        )
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(t.get("/api/v1/me/data", Some(&token)).await.status(), 404);
    let found = t
        .get_json("/api/v1/admin/customers?q=zulmira", Some(&admin))
        .await;
    assert!(found["items"].as_array().unwrap().is_empty(), "{found}");
    let found = t
        .get_json(&format!("/api/v1/admin/orders?tax_id={CPF}"), Some(&admin))
        .await;
    assert!(found["items"].as_array().unwrap().is_empty(), "{found}");
    let kept = t
        .get_json(&format!("/api/v1/admin/orders/{id}"), Some(&admin))
        .await;
    assert_eq!(kept["total_centavos"], order["total_centavos"]);
    assert_eq!(kept["status"], "cancelled");
    assert_ne!(kept["buyer"]["email"], EMAIL);

    // Nothing of them in the database's files or the blob store. (The mail folder is the demo's
    // stand-in for the mail server: what it holds was delivered to them.)
    let data_dir = t.data_dir.clone();
    let _kept = t.stop_keeping_data().await;
    let mut looked = 0;
    for entry in std::fs::read_dir(&data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "mail") {
            continue;
        }
        looked += 1;
        let held = files_holding(&path, &[EMAIL, NAME, CPF, PHONE]);
        assert!(
            held.is_empty(),
            "personal data left after the erasure: {held:?}"
        );
    }
    assert!(looked >= 2, "the database and the blobs were searched");
}

#[tokio::test]
async fn an_admin_erases_a_customer_on_request_and_the_erasure_is_recorded() {
    let t = TestApp::spawn().await;
    let admin = t.admin("dona@loja.test").await;
    let token = t.customer("pedido@cliente.test").await;
    let sub = t.get_json("/api/v1/me", Some(&token)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = send(
        &t,
        Method::POST,
        &format!("/api/v1/admin/customers/{sub}/erase"),
        &admin,
        json!({ "confirm": true }),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let record: Value = res.json().await.unwrap();
    assert_eq!(record["orders"], 0);
    assert_ne!(record["by"], "self");
    let res = send(
        &t,
        Method::POST,
        &format!("/api/v1/admin/customers/{sub}/erase"),
        &admin,
        json!({ "confirm": true }),
    )
    .await;
    assert_eq!(problem(res, 404).await["status"], 404, "erased once");
    // A customer may not erase someone else.
    let res = send(
        &t,
        Method::POST,
        &format!("/api/v1/admin/customers/{sub}/erase"),
        &token,
        json!({ "confirm": true }),
    )
    .await;
    assert_eq!(res.status(), 403);
    t.stop().await;
}
