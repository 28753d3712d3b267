//! Prometheus metrics over HTTP: requests by route template and status with latency buckets,
//! orders placed, revenue, checkout failures by reason, outbox lag and dead letters — for admins
//! only, and with no id or personal data in any label.

mod common;

use common::{TestApp, buy_now};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn admins_read_request_and_business_metrics_without_ids_in_labels() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "medida", &[("MED-1", 1)]).await;
    let ana = t.customer("ana.metricas@example.com").await;
    assert_eq!(t.get("/api/v1/products/medida", None).await.status(), 200);
    assert_eq!(
        t.get("/api/v1/products/nao-existe", None).await.status(),
        404
    );

    let order = |qty: i64, key: &'static str| {
        t.req(Method::POST, "/api/v1/orders", Some(&ana))
            .header("Idempotency-Key", key)
            .json(&buy_now("MED-1", qty))
            .send()
    };
    assert_eq!(order(5, "m-1").await.unwrap().status(), 409, "out of stock");
    let placed = order(1, "m-2").await.unwrap();
    assert_eq!(placed.status(), 201);
    let placed: serde_json::Value = placed.json().await.unwrap();
    // The same key again is the same order: counted once.
    assert!(order(1, "m-2").await.unwrap().status().is_success());
    let id = placed["id"].as_str().unwrap();
    let res = t
        .post(
            &format!("/api/v1/orders/{id}/payment"),
            Some(&ana),
            json!({ "method": "pix" }),
        )
        .await;
    assert_eq!(res.status(), 200);

    assert_eq!(t.get("/api/v1/admin/metrics", None).await.status(), 401);
    assert_eq!(
        t.get("/api/v1/admin/metrics", Some(&ana)).await.status(),
        403
    );
    let res = t.get("/api/v1/admin/metrics", Some(&admin)).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    for line in [
        "vitrine_http_requests_total{method=\"GET\",route=\"/api/v1/products/{id_or_slug}\",status=\"200\"} 1",
        "vitrine_http_requests_total{method=\"GET\",route=\"/api/v1/products/{id_or_slug}\",status=\"404\"} 1",
        "vitrine_http_requests_total{method=\"POST\",route=\"/api/v1/orders\",status=\"201\"} 1",
        "vitrine_http_requests_total{method=\"POST\",route=\"/api/v1/orders\",status=\"200\"} 1",
        "vitrine_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/orders\"} 3",
        "vitrine_orders_placed_total 1",
        "vitrine_checkout_failures_total{reason=\"out_of_stock\"} 1",
        "# TYPE vitrine_outbox_lag_seconds gauge",
        "vitrine_dead_letters 0",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
    assert!(
        text.contains("route=\"/api/v1/orders/{id}/payment\""),
        "{text}"
    );
    // The buyer's CPF in any form (a bare "529" would also match digits of a latency sum).
    for private in [
        id,
        "medida\"",
        "nao-existe",
        "ana.metricas",
        "529.982.247",
        "52998224725",
    ] {
        assert!(
            !text.contains(private),
            "{private:?} in the metrics:\n{text}"
        );
    }
}
