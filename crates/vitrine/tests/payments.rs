//! Payments over HTTP: Pix charges and their signed webhooks (bad signature, replay, unknown
//! charge, stale), card test numbers and installments, late payments refunded, expiry racing
//! payments and itself.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, buy_now, problem, times_paid};
use reqwest::Response;
use serde_json::{Value, json};
use vitrine_app::payments::sandbox::{SIGNATURE_HEADER, WebhookSigner};
use vitrine_app::ports::{Clock, ManualClock, SystemClock};

/// A store on a clock the test moves.
async fn spawn_at_now() -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let t = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    (t, clock)
}

/// The webhook secret the store generated into its data folder.
fn signer(t: &TestApp) -> WebhookSigner {
    let secret =
        std::fs::read_to_string(t.data_dir.join("keys").join("payments-webhook.secret")).unwrap();
    WebhookSigner::new(secret.trim().as_bytes().to_vec()).unwrap()
}

async fn place(t: &TestApp, token: &str, sku: &str, qty: i64, method: &str) -> Value {
    let mut body = buy_now(sku, qty);
    body["payment_method"] = json!(method);
    t.place(token, &body).await
}

async fn pay_pix(t: &TestApp, token: &str, order_id: &str) -> Value {
    let res = t
        .post(
            &format!("/api/v1/orders/{order_id}/payment"),
            Some(token),
            json!({ "method": "pix" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Post a Pix notice signed at `at` (unix seconds) with `signer`, for the payment whose
/// end-to-end id is `E{notice_id}`.
async fn notify(
    t: &TestApp,
    signer: &WebhookSigner,
    at: i64,
    notice_id: &str,
    txid: &str,
    amount: i64,
) -> Response {
    notify_payment(
        t,
        signer,
        at,
        notice_id,
        &format!("E{notice_id}"),
        txid,
        amount,
    )
    .await
}

/// [`notify`] for the payment `end_to_end_id`.
async fn notify_payment(
    t: &TestApp,
    signer: &WebhookSigner,
    at: i64,
    notice_id: &str,
    end_to_end_id: &str,
    txid: &str,
    amount: i64,
) -> Response {
    let body = json!({
        "id": notice_id, "type": "pix.paid", "txid": txid,
        "amount_centavos": amount, "end_to_end_id": end_to_end_id
    })
    .to_string();
    t.client
        .post(t.url("/api/v1/payments/webhooks/pix"))
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, signer.sign(at, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap()
}

fn now_secs(clock: &ManualClock) -> i64 {
    clock.now().secs()
}

#[tokio::test]
async fn a_pix_charge_is_paid_by_a_signed_webhook_once() {
    let (t, clock) = spawn_at_now().await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "pix-one", &[("PIX-1", 5)]).await;
    let ana = t.customer("ana@example.com").await;
    let placed = place(&t, &ana, "PIX-1", 1, "pix").await;
    let id = placed["id"].as_str().unwrap();
    let total = placed["total_centavos"].as_i64().unwrap();

    let payment = pay_pix(&t, &ana, id).await;
    assert_eq!(payment["status"], "pending");
    assert_eq!(payment["amount_centavos"], total);
    let br_code = payment["pix"]["br_code"].as_str().unwrap();
    let txid = payment["pix"]["txid"].as_str().unwrap().to_owned();
    assert!(vitrine_domain::pix::crc_matches(br_code), "{br_code}");
    assert!(br_code.contains(&txid));
    // Asking again gives the same charge.
    assert_eq!(pay_pix(&t, &ana, id).await["pix"]["br_code"], br_code);
    // The QR image.
    let qr = t
        .get(&format!("/api/v1/orders/{id}/payment/qr.svg"), Some(&ana))
        .await;
    assert_eq!(qr.status(), 200);
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    assert!(qr.text().await.unwrap().contains("<svg"));
    // Someone else's order's payment is a 404.
    let bia = t.customer("bia@example.com").await;
    problem(
        t.get(&format!("/api/v1/orders/{id}/payment"), Some(&bia))
            .await,
        404,
    )
    .await;

    let signer = signer(&t);
    let res = notify(&t, &signer, now_secs(&clock), "n-1", &txid, total).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["result"], "paid");
    // Paid once (the in-process dispatcher may already have invoiced it: that is the next move).
    assert_eq!(times_paid(&t.order(&ana, id).await), 1);

    // The same notice again: 409, nothing changes.
    problem(
        notify(&t, &signer, now_secs(&clock), "n-1", &txid, total).await,
        409,
    )
    .await;
    // A provider's duplicate of the same payment under another notice id: nothing changes.
    let res = notify_payment(
        &t,
        &signer,
        now_secs(&clock),
        "n-1-dup",
        "En-1",
        &txid,
        total,
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["result"], "already_paid");
    assert_eq!(times_paid(&t.order(&ana, id).await), 1);
    // A second payment of the same charge (the buyer paid twice): not accepted, refunded.
    let res = notify(&t, &signer, now_secs(&clock), "n-9", &txid, total).await;
    assert_eq!(res.json::<Value>().await.unwrap()["result"], "refund");
    assert_eq!(times_paid(&t.order(&ana, id).await), 1);
    let payment: Value = t
        .get(&format!("/api/v1/orders/{id}/payment"), Some(&ana))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(payment["status"], "confirmed");
    assert_eq!(payment["reference"], "En-1");
    assert_eq!(payment["late_payments"][0]["reason"], "already_paid");
    assert_eq!(payment["late_payments"][0]["reference"], "En-9");
    t.stop().await;
}

#[tokio::test]
async fn bad_signature_stale_unknown_and_malformed_webhooks_change_nothing() {
    let (t, clock) = spawn_at_now().await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "pix-two", &[("PIX-2", 5)]).await;
    let ana = t.customer("ana@example.com").await;
    let placed = place(&t, &ana, "PIX-2", 1, "pix").await;
    let id = placed["id"].as_str().unwrap();
    let total = placed["total_centavos"].as_i64().unwrap();
    let txid = pay_pix(&t, &ana, id).await["pix"]["txid"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = now_secs(&clock);

    let forged = WebhookSigner::new(b"not-the-store-secret".to_vec()).unwrap();
    let p = problem(notify(&t, &forged, now, "n-2", &txid, total).await, 401).await;
    assert!(p["detail"].as_str().unwrap().contains("signature"), "{p}");
    // Unsigned.
    let res = t
        .client
        .post(t.url("/api/v1/payments/webhooks/pix"))
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(res, 401).await;
    // Signed, but ten minutes old.
    let signer = signer(&t);
    problem(
        notify(&t, &signer, now - 600, "n-3", &txid, total).await,
        401,
    )
    .await;
    // Signed, for a charge the store never made.
    problem(
        notify(&t, &signer, now, "n-4", "UNKNOWNTXID123", total).await,
        404,
    )
    .await;
    // An unknown provider.
    let res = t
        .client
        .post(t.url("/api/v1/payments/webhooks/nobody"))
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    // Signed, but not a notice.
    let body = r#"{"id":"n-5","type":"pix.paid"}"#;
    let res = t
        .client
        .post(t.url("/api/v1/payments/webhooks/pix"))
        .header(SIGNATURE_HEADER, signer.sign(now, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    problem(res, 422).await;

    let after = t.order(&ana, id).await;
    assert_eq!(after["status"], "pending_payment");
    assert_eq!(after["version"], placed["version"]);
    // The rejected notice ids were not remembered: the real notice n-2 still goes through.
    let res = notify(&t, &signer, now, "n-2", &txid, total).await;
    assert_eq!(res.status(), 200);
    t.stop().await;
}

#[tokio::test]
async fn test_cards_decline_then_approve_in_installments() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "card-one", &[("CARD-1", 5)]).await;
    let ana = t.customer("ana@example.com").await;
    let placed = place(&t, &ana, "CARD-1", 1, "card").await;
    let id = placed["id"].as_str().unwrap();
    let total = placed["total_centavos"].as_i64().unwrap();
    let path = format!("/api/v1/orders/{id}/payment");
    let pay = |number: &str, installments: u32| {
        t.post(
            &path,
            Some(&ana),
            json!({ "method": "card", "card": { "number": number, "holder": "ANA SOUZA" }, "installments": installments }),
        )
    };

    let p = problem(pay("4000 0000 0000 0002", 1).await, 402).await;
    assert!(p["detail"].as_str().unwrap().contains("declined"), "{p}");
    assert_eq!(t.order(&ana, id).await["status"], "payment_failed");
    let p = problem(pay("4000000000009995", 1).await, 402).await;
    assert!(p["detail"].as_str().unwrap().contains("limit"), "{p}");
    problem(pay("4000000000000119", 1).await, 503).await;
    // Not a card number, and more installments than offered.
    problem(pay("4111111111111112", 1).await, 422).await;
    problem(pay("4111111111111111", 13).await, 422).await;
    // Paying a card order by Pix is refused.
    problem(
        t.post(
            &format!("/api/v1/orders/{id}/payment"),
            Some(&ana),
            json!({ "method": "pix" }),
        )
        .await,
        422,
    )
    .await;

    let plans: Value = t
        .get(
            &format!("/api/v1/payments/installments?total_centavos={total}"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let three = plans["plans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["count"] == 3)
        .expect("3 installments offered")
        .clone();
    let res = pay("4111111111111111", 3).await;
    assert_eq!(res.status(), 200);
    let payment: Value = res.json().await.unwrap();
    assert_eq!(payment["status"], "confirmed");
    assert_eq!(payment["card"], json!({ "brand": "visa", "last4": "1111" }));
    assert_eq!(payment["installments"]["count"], 3);
    assert_eq!(
        payment["installments"]["total_centavos"],
        three["total_centavos"]
    );
    let sum: i64 = payment["installments"]["installments_centavos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_i64().unwrap())
        .sum();
    assert_eq!(sum, payment["amount_centavos"].as_i64().unwrap());
    // Declined, no limit, approved: the acquirer that did not answer made no attempt.
    assert_eq!(payment["attempts"], 3);
    assert_eq!(times_paid(&t.order(&ana, id).await), 1);
    // Paid: no second charge.
    problem(pay("4111111111111111", 1).await, 422).await;
    // The card number is nowhere in the answer: only the last four digits.
    let stored = serde_json::to_string(&payment).unwrap();
    assert!(!stored.contains("4111111111111111"));

    // The shop cancels the paid order: the card is refunded through the provider, once.
    let res = t
        .post(
            &format!("/api/v1/admin/orders/{id}/cancel"),
            Some(&admin),
            json!({ "reason": "sem estoque no depósito" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut refunded = Value::Null;
    for _ in 0..200 {
        let payment: Value = t
            .get(&format!("/api/v1/orders/{id}/payment"), Some(&ana))
            .await
            .json()
            .await
            .unwrap();
        if payment["status"] == "refunded" {
            refunded = payment;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(refunded["status"], "refunded", "never refunded");
    assert!(
        refunded["refund_reference"]
            .as_str()
            .unwrap()
            .starts_with("reversal-")
    );
    t.stop().await;
}

#[tokio::test]
async fn a_payment_after_expiry_is_refunded_and_the_customer_told() {
    let (t, clock) = spawn_at_now().await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "late-one", &[("LATE-1", 5)]).await;
    let ana = t.customer("ana@example.com").await;
    let placed = place(&t, &ana, "LATE-1", 2, "pix").await;
    let id = placed["id"].as_str().unwrap().to_owned();
    let total = placed["total_centavos"].as_i64().unwrap();
    let txid = pay_pix(&t, &ana, &id).await["pix"]["txid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(t.stock(&admin, "LATE-1").await, 3);

    clock.advance_secs(31 * 60);
    assert_eq!(t.app.expire_overdue().await.unwrap(), 1);
    assert_eq!(t.order(&ana, &id).await["status"], "expired");
    assert_eq!(t.stock(&admin, "LATE-1").await, 5);

    let signer = signer(&t);
    let res = notify(&t, &signer, now_secs(&clock), "late-1", &txid, total).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["result"], "refund");
    assert_eq!(t.order(&ana, &id).await["status"], "expired");
    assert_eq!(t.stock(&admin, "LATE-1").await, 5);

    // The server's dispatcher refunds it and e-mails the customer twice: money not accepted,
    // then refund made.
    let mut refunded = Value::Null;
    for _ in 0..200 {
        let payment: Value = t
            .get(&format!("/api/v1/orders/{id}/payment"), Some(&ana))
            .await
            .json()
            .await
            .unwrap();
        if !payment["late_payments"][0]["refund"].is_null() {
            refunded = payment;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(refunded["late_payments"][0]["reason"], "order_expired");
    assert_eq!(refunded["late_payments"][0]["amount_centavos"], total);
    let mut subjects = Vec::new();
    for _ in 0..200 {
        subjects = vitrine_testkit::mail::read_mail_folder(&t.data_dir.join("mail"))
            .into_iter()
            .filter(|m| m.subject.contains(&id))
            .map(|m| m.subject)
            .collect();
        if subjects.iter().any(|s| s.starts_with("Devolução")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        subjects
            .iter()
            .any(|s| s == &format!("Pagamento do pedido {id} será devolvido")),
        "{subjects:?}"
    );
    assert!(
        subjects
            .iter()
            .any(|s| s == &format!("Devolução do pedido {id} feita")),
        "{subjects:?}"
    );
    t.stop().await;
}

#[tokio::test]
async fn expiry_sweeps_and_a_payment_racing_them_return_stock_once() {
    let (t, clock) = spawn_at_now().await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "race-one", &[("RACE-1", 40)]).await;
    let buyers = t.customers("racer", 8).await;
    let mut orders = Vec::new();
    for token in &buyers {
        let placed = place(&t, token, "RACE-1", 2, "pix").await;
        let id = placed["id"].as_str().unwrap().to_owned();
        let txid = pay_pix(&t, token, &id).await["pix"]["txid"]
            .as_str()
            .unwrap()
            .to_owned();
        orders.push((id, txid, placed["total_centavos"].as_i64().unwrap()));
    }
    assert_eq!(t.stock(&admin, "RACE-1").await, 40 - 16);
    clock.advance_secs(31 * 60);
    let signer = signer(&t);
    let at = now_secs(&clock);
    // Two sweeps at once, and a payment for every order at the same moment.
    let sweeps = futures::future::join(t.app.expire_overdue(), t.app.expire_overdue());
    let notice_ids: Vec<String> = orders
        .iter()
        .map(|(id, _, _)| format!("race-{id}"))
        .collect();
    let payments = futures::future::join_all(
        orders
            .iter()
            .zip(&notice_ids)
            .map(|((_, txid, total), notice)| notify(&t, &signer, at, notice, txid, *total)),
    );
    let ((a, b), answers) = futures::future::join(sweeps, payments).await;
    let expired = a.unwrap() + b.unwrap();
    let mut paid = 0;
    for res in answers {
        assert_eq!(res.status(), 200);
        match res.json::<Value>().await.unwrap()["result"]
            .as_str()
            .unwrap()
        {
            "paid" => paid += 1,
            "refund" => {}
            other => panic!("unexpected result {other}"),
        }
    }
    // Each order either expired (stock back, payment refunded) or was paid — never both.
    assert_eq!(expired + paid, orders.len());
    let mut statuses = Vec::new();
    for ((id, _, _), token) in orders.iter().zip(&buyers) {
        statuses.push(
            t.order(token, id).await["status"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let expired_now = statuses.iter().filter(|s| *s == "expired").count();
    assert_eq!(expired_now, expired);
    // A paid order may already be invoiced by the in-process dispatcher.
    assert_eq!(
        statuses
            .iter()
            .filter(|s| *s == "paid" || *s == "invoiced")
            .count(),
        paid
    );
    assert_eq!(
        t.stock(&admin, "RACE-1").await,
        40 - 2 * i64::try_from(paid).unwrap()
    );
    // A third sweep finds nothing.
    assert_eq!(t.app.expire_overdue().await.unwrap(), 0);
    t.stop().await;
}
