//! The real `vitrine` binary issues a schema-valid NF-e on a machine without `xmllint`: the
//! server runs with a `PATH` of one empty folder (so no external program at all can be found),
//! an order is paid by a signed Pix webhook, and the downloaded document is then checked by
//! `xmllint` (the independent oracle, with the test's own `PATH`).

mod common;

use std::time::Duration;

use reqwest::Client;
use serde_json::{Value, json};
use vitrine_app::payments::sandbox::{SIGNATURE_HEADER, WebhookSigner};
use vitrine_nfe::{SchemaDocument, SchemaValidator, Xmllint};
use vitrine_testkit::process::Vitrine;

const BIN: &str = env!("CARGO_BIN_EXE_vitrine");

#[tokio::test]
async fn a_store_without_xmllint_issues_a_valid_nfe_for_a_paid_order() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let empty_path = dir.path().join("bin");
    std::fs::create_dir(&empty_path).unwrap();
    // The child's PATH finds no xmllint (nor anything else).
    let found = std::process::Command::new("/bin/sh")
        .args(["-c", "command -v xmllint"])
        .env("PATH", &empty_path)
        .output()
        .unwrap();
    assert!(
        !found.status.success(),
        "xmllint is reachable through the test PATH"
    );

    let v = Vitrine::new(BIN)
        .env("PATH", &empty_path)
        .data_dir(&data)
        .args(["--argon2-memory-kib", "64"])
        .logs(dir.path());
    v.add_user("ana@loja.test", "Ana Souza", false).unwrap();
    let mut server = v.start("serve", &[]).await.unwrap();
    let client = Client::new();
    let token = server.sign_in(&client, "ana@loja.test").await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let res = client
        .post(server.url("/api/v1/orders"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "no-xmllint-order-1")
        .json(&common::buy_now("CAM-BAS-M", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let order: Value = res.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_owned();

    // Pix: the charge, then the provider's signed webhook.
    let res = client
        .post(server.url(&format!("/api/v1/orders/{id}/payment")))
        .bearer_auth(&token)
        .json(&json!({ "method": "pix" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let payment: Value = res.json().await.unwrap();
    let secret = std::fs::read_to_string(data.join("keys/payments-webhook.secret")).unwrap();
    let signer = WebhookSigner::new(secret.trim().as_bytes().to_vec()).unwrap();
    let notice = json!({
        "id": "N-no-xmllint-1", "type": "pix.paid", "txid": payment["pix"]["txid"],
        "amount_centavos": order["total_centavos"], "end_to_end_id": "E-no-xmllint-1"
    })
    .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let res = client
        .post(server.url("/api/v1/payments/webhooks/pix"))
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, signer.sign(now, notice.as_bytes()))
        .body(notice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Bounded wait until the invoices consumer has issued the document.
    let mut status = Value::Null;
    for _ in 0..600 {
        let o: Value = client
            .get(server.url(&format!("/api/v1/orders/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        status = o["status"].clone();
        if status != "paid" && status != "pending_payment" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "invoiced", "server log:\n{}", server.log());

    let res = client
        .get(server.url(&format!("/api/v1/orders/{id}/invoice")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let xml = res.text().await.unwrap();
    server.stop().await.unwrap();
    assert!(
        !server.log().contains("xmllint"),
        "the server never speaks of xmllint:\n{}",
        server.log()
    );

    vitrine_nfe::verify(&xml).expect("the signature verifies");
    Xmllint::new()
        .expect("xmllint is installed for the tests (scripts/test.sh)")
        // The authorised file: the NF-e with the protocol of the built-in SEFAZ simulator.
        .validate(SchemaDocument::NfeProc, &xml)
        .expect("xmllint finds the document schema-valid");
}
