//! The admin dashboard over HTTP (`GET /api/v1/admin/dashboard`): today's orders and revenue,
//! 30 days of revenue, orders per status and low stock — with days in São Paulo time.

mod common;

use std::sync::Arc;

use common::{TestApp, buy_now, problem};
use reqwest::Method;
use serde_json::{Value, json};
use vitrine_app::ports::{Clock, ManualClock, SystemClock};
use vitrine_domain::Timestamp;

const DAY_MS: i64 = 86_400_000;
/// São Paulo is UTC−3 all year.
const SP_OFFSET_MS: i64 = 3 * 3_600_000;

async fn place(t: &TestApp, token: &str, key: &str, sku: &str) -> Value {
    let res = t
        .req(Method::POST, "/api/v1/orders", Some(token))
        .header("Idempotency-Key", key)
        .json(&buy_now(sku, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn mark_paid(t: &TestApp, admin: &str, id: &str) {
    let res = t
        .post(
            &format!("/api/v1/admin/orders/{id}/mark-paid"),
            Some(admin),
            json!({ "reference": "transferência 123" }),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

async fn dashboard(t: &TestApp, admin: &str) -> Value {
    let res = t.get("/api/v1/admin/dashboard", Some(admin)).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn count(d: &Value, status: &str) -> i64 {
    d["orders_by_status"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == status)
        .unwrap()["count"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn the_dashboard_counts_todays_orders_revenue_statuses_and_low_stock() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let ana = t.customer("ana@example.com").await;
    let paid = place(&t, &ana, "d-1", "CAM-BAS-M").await;
    let pending = place(&t, &ana, "d-2", "VEL-CAF-UNICO").await;
    let cancelled = place(&t, &ana, "d-3", "BON-SAR-PRETO").await;
    mark_paid(&t, &admin, paid["id"].as_str().unwrap()).await;
    let res = t
        .post(
            &format!(
                "/api/v1/orders/{}/cancel",
                cancelled["id"].as_str().unwrap()
            ),
            Some(&ana),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let d = dashboard(&t, &admin).await;
    assert_eq!(d["timezone"], "America/Sao_Paulo");
    assert_eq!(d["currency"], "BRL");
    assert_eq!(d["today"]["orders"], 3);
    assert_eq!(d["today"]["paid_orders"], 1);
    assert_eq!(d["today"]["revenue_centavos"], paid["total_centavos"]);
    let days = d["revenue_by_day"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days[29], d["today"]);
    assert!(days[..29].iter().all(|day| day["orders"] == 0));
    assert!(
        days.windows(2)
            .all(|w| w[0]["date"].as_str() < w[1]["date"].as_str())
    );
    assert_eq!(count(&d, "paid"), 1);
    assert_eq!(count(&d, "pending_payment"), 1);
    assert_eq!(count(&d, "cancelled"), 1);
    assert_eq!(count(&d, "delivered"), 0);
    assert_eq!(d["orders_by_status"].as_array().unwrap().len(), 8);
    assert_eq!(d["orders_by_status"][0]["status"], "pending_payment");
    // The seed has two SKUs at 4 units; the threshold is 5.
    assert_eq!(d["low_stock_threshold"], 5);
    let low = d["low_stock"].as_array().unwrap();
    assert!(
        low.iter().any(|l| l["sku"] == "JOG-AME-CRU"
            && l["available"] == 4
            && l["product_name"] == "Jogo Americano de Algodão (4 peças)"),
        "{low:?}"
    );
    assert!(pending["id"].is_string());
    t.stop().await;
}

#[tokio::test]
async fn days_turn_at_midnight_in_sao_paulo_and_revenue_counts_on_the_day_of_payment() {
    // Put the clock 20 minutes before the next midnight in São Paulo.
    let now = SystemClock.now().millis();
    let next_midnight = ((now - SP_OFFSET_MS).div_euclid(DAY_MS) + 1) * DAY_MS + SP_OFFSET_MS;
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(
        next_midnight - 20 * 60_000,
    )));
    let t = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let admin = t.admin("admin@loja.test").await;
    let ana = t.customer("ana@example.com").await;
    let order = place(&t, &ana, "late-night", "CAM-BAS-M").await;
    let before = dashboard(&t, &admin).await;
    assert_eq!(before["today"]["orders"], 1);
    assert_eq!(before["today"]["revenue_centavos"], 0);

    // Paid 40 minutes later: already the next day in São Paulo (in UTC it turned 3 hours ago,
    // so a dashboard counting UTC days would put both on the same day).
    clock.advance_secs(40 * 60);
    mark_paid(&t, &admin, order["id"].as_str().unwrap()).await;
    let after = dashboard(&t, &admin).await;
    let days = after["revenue_by_day"].as_array().unwrap();
    assert_eq!(days[28]["date"], before["today"]["date"]);
    assert_ne!(after["today"]["date"], before["today"]["date"]);
    assert_eq!(days[28]["orders"], 1, "placed yesterday");
    assert_eq!(days[28]["revenue_centavos"], 0);
    assert_eq!(after["today"]["orders"], 0);
    assert_eq!(after["today"]["paid_orders"], 1, "paid today");
    assert_eq!(after["today"]["revenue_centavos"], order["total_centavos"]);

    // The date is São Paulo's calendar date of the clock.
    let sp_day = (clock.now().millis() - SP_OFFSET_MS).div_euclid(DAY_MS);
    assert_eq!(
        after["today"]["date"],
        vitrine_app::dashboard::date_of_day(sp_day)
    );
    t.stop().await;
}

#[tokio::test]
async fn the_dashboard_is_for_admins_only() {
    let t = TestApp::spawn().await;
    let ana = t.customer("ana@example.com").await;
    problem(t.get("/api/v1/admin/dashboard", Some(&ana)).await, 403).await;
    problem(t.get("/api/v1/admin/dashboard", None).await, 401).await;
    t.stop().await;
}
