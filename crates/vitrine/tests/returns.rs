//! Withdrawal and returns over HTTP (CDC art. 49), on the real server: a delivered order is
//! returned within 7 days, received (stock back once, whatever the concurrent clicks),
//! approved (refunded once through the provider, as a partial refund of its payment), or
//! refused with a reason; after 7 days the API answers 422.
//!
//! Runs on both engines (`VITRINE_TEST_BACKEND=aws`: DynamoDB on the emulator). On AWS, `serve`
//! dispatches no events (the consumers are Lambda functions), so the order is invoiced through
//! the app's own move and the provider's refund is not awaited: what is checked there is the
//! table's side — the conditions that make each step happen once.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, buy_now, problem};
use serde_json::{Value, json};
use vitrine_app::orders::OrderMove;
use vitrine_app::ports::{Clock, ManualClock, SystemClock};

const DAY: i64 = 24 * 3600;

/// A store on a clock the test moves, an admin, a product `sku` with 10 units, and a buyer
/// whose order of 2 units is paid, invoiced (by the invoices consumer), shipped and delivered
/// `delivered_ago` seconds before the store's now. (The clock goes back for the delivery rather
/// than forward after it: access tokens, Cognito's included, stay valid.)
async fn delivered_order(sku: &str, delivered_ago: i64) -> (TestApp, String, String, Value) {
    let now = SystemClock.now();
    let clock = Arc::new(ManualClock::new(now));
    let t = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let admin = t.admin("admin@loja.test").await;
    t.product(&admin, &sku.to_lowercase(), &[(sku, 10)]).await;
    let buyer = t.customer("ana@example.com").await;
    let order = t.place(&buyer, &buy_now(sku, 2)).await;
    let id = order["id"].as_str().unwrap().to_owned();
    t.pay_by_pix(&buyer, &order).await;
    if common::backend() == "aws" {
        // No invoices consumer runs beside `serve` on AWS: record an NF-e key as it would.
        t.app
            .move_order(
                &id,
                None,
                OrderMove::Invoice {
                    access_key: "35261212345678000195550010000000011000000010".into(),
                },
            )
            .await
            .expect("invoice");
    }
    let order = t.settled_within(&buyer, &id, 30).await;
    assert_eq!(order["status"], "invoiced", "{order}");
    let res = t
        .post(
            &format!("/api/v1/admin/orders/{id}/ship"),
            Some(&admin),
            json!({ "tracking_code": "BR123456789BR" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    clock.set(now.plus_secs(-delivered_ago));
    let res = t
        .post(
            &format!("/api/v1/admin/orders/{id}/deliver"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    clock.set(now);
    let order = t.order(&buyer, &id).await;
    assert!(order["withdrawal_until"].is_string(), "{order}");
    assert_eq!(t.stock(&admin, sku).await, 8);
    (t, admin, buyer, order)
}

async fn request(t: &TestApp, buyer: &str, id: &str, sku: &str, qty: u32) -> reqwest::Response {
    t.post(
        &format!("/api/v1/orders/{id}/returns"),
        Some(buyer),
        json!({ "lines": [{ "sku": sku, "quantity": qty }], "reason": "não serviu" }),
    )
    .await
}

/// Two clicks at once on the same step: the statuses they got, sorted.
async fn twice(t: &TestApp, admin: &str, path: &str) -> Vec<u16> {
    let (a, b) = tokio::join!(
        t.post(path, Some(admin), json!({})),
        t.post(path, Some(admin), json!({}))
    );
    let mut statuses = vec![a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    statuses
}

#[tokio::test]
async fn a_buyer_withdraws_within_seven_days_and_concurrent_clicks_restock_and_refund_once() {
    let (t, admin, buyer, order) = delivered_order("RET-A", 6 * DAY).await;
    let id = order["id"].as_str().unwrap();

    // Someone else's order does not exist for them.
    let other = t.customer("bia@example.com").await;
    problem(request(&t, &other, id, "RET-A", 1).await, 404).await;
    // More than was bought: refused by field.
    let body = problem(request(&t, &buyer, id, "RET-A", 3).await, 422).await;
    assert!(body.to_string().contains("lines[0].quantity"), "{body}");

    let res = request(&t, &buyer, id, "RET-A", 1).await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.unwrap();
    let ret = &order["returns"][0];
    let rid = ret["id"].as_str().unwrap().to_owned();
    assert_eq!(ret["status"], "requested");
    assert_eq!(ret["amount_centavos"], 5000, "one unit, no shipping: {ret}");
    assert_eq!(ret["whole_order"], false);
    // The fiscal record for the entry NF-e: the original key, NCM and CFOP of the sale.
    assert_eq!(ret["fiscal"]["original_invoice_key"], order["invoice_key"]);
    assert_eq!(ret["fiscal"]["lines"][0]["sku"], "RET-A");
    assert_eq!(ret["fiscal"]["lines"][0]["quantity"], 1);
    assert!(ret["fiscal"]["lines"][0]["ncm"].as_str().unwrap().len() == 8);
    assert!(ret["fiscal"]["lines"][0]["cfop"].as_str().unwrap().len() == 4);
    assert!(ret["fiscal"]["received_at"].is_null());

    // The orders staff see it first in the list.
    let list = t.get_json("/api/v1/admin/returns", Some(&admin)).await;
    assert_eq!(list["items"][0]["order_id"], id, "{list}");
    assert_eq!(list["items"][0]["return"]["status"], "requested");
    // Not approved before the goods arrive.
    let base = format!("/api/v1/admin/orders/{id}/returns/{rid}");
    problem(
        t.post(&format!("{base}/approve"), Some(&admin), json!({}))
            .await,
        422,
    )
    .await;

    // Two clicks on "received": one wins, stock comes back once.
    assert_eq!(
        twice(&t, &admin, &format!("{base}/receive")).await,
        [200, 422]
    );
    assert_eq!(t.stock(&admin, "RET-A").await, 9);
    // Two clicks on "approve": one refund.
    assert_eq!(
        twice(&t, &admin, &format!("{base}/approve")).await,
        [200, 422]
    );
    let order = t.order(&buyer, id).await;
    let ret = &order["returns"][0];
    assert_eq!(ret["status"], "approved", "{ret}");
    assert!(ret["fiscal"]["received_at"].is_string());
    let refund_id = ret["refund_id"].as_str().unwrap();
    // The payments consumer makes the refund through the provider (not beside `serve` on AWS).
    let wait = if common::backend() == "aws" { 0 } else { 100 };
    let mut payment = t
        .get_json(&format!("/api/v1/orders/{id}/payment"), Some(&buyer))
        .await;
    for _ in 0..wait {
        payment = t
            .get_json(&format!("/api/v1/orders/{id}/payment"), Some(&buyer))
            .await;
        if payment["partial_refunds"][0]["reference"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refunds = payment["partial_refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "{payment}");
    assert_eq!(refunds[0]["id"], refund_id);
    assert_eq!(refunds[0]["amount_centavos"], 5000);
    if common::backend() == "local" {
        assert!(refunds[0]["reference"].is_string(), "{payment}");
    }
    let list = t.get_json("/api/v1/admin/returns", Some(&admin)).await;
    assert_eq!(list["items"][0]["return"]["status"], "approved");

    // The last unit: the return completes the order, so the shipping comes back too; the shop
    // refuses it (it never arrived), and stock does not move.
    let res = request(&t, &buyer, id, "RET-A", 1).await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.unwrap();
    let ret = &order["returns"][1];
    assert_eq!(ret["whole_order"], true);
    assert_eq!(
        ret["amount_centavos"].as_i64().unwrap(),
        order["total_centavos"].as_i64().unwrap() - 5000
    );
    let rid2 = ret["id"].as_str().unwrap();
    let list = t.get_json("/api/v1/admin/returns", Some(&admin)).await;
    assert_eq!(
        list["items"][0]["return"]["id"], rid2,
        "open ones first: {list}"
    );
    let refuse = format!("/api/v1/admin/orders/{id}/returns/{rid2}/refuse");
    problem(
        t.post(&refuse, Some(&admin), json!({ "reason": " " }))
            .await,
        422,
    )
    .await;
    let res = t
        .post(
            &refuse,
            Some(&admin),
            json!({ "reason": "produto com sinais de uso" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let order = t.order(&buyer, id).await;
    assert_eq!(order["returns"][1]["status"], "refused");
    assert_eq!(order["returns"][1]["refusal"], "produto com sinais de uso");
    assert_eq!(t.stock(&admin, "RET-A").await, 9);
    // A buyer cannot take a staff step.
    problem(
        t.post(&format!("{base}/receive"), Some(&buyer), json!({}))
            .await,
        403,
    )
    .await;
    t.stop().await;
}

#[tokio::test]
async fn after_seven_days_from_delivery_the_api_refuses_a_return_with_a_clear_422() {
    let (t, _, buyer, order) = delivered_order("RET-B", 7 * DAY + 1).await;
    let id = order["id"].as_str().unwrap();
    let body = problem(request(&t, &buyer, id, "RET-B", 1).await, 422).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("7-day withdrawal period"), "{detail}");
    assert_eq!(t.order(&buyer, id).await["returns"], json!([]));
    t.stop().await;
}
