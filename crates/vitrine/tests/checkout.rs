//! Checkout over HTTP: no overselling under concurrency, idempotency, coupons.

mod common;

use common::{TestApp, buy_now, problem};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

/// 200 buyers for 10 units on SQLite; 50 for 5 on the AWS emulator, which serialises requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_buyers_of_ten_units_make_exactly_ten_orders() {
    let (buyers, units) = if common::backend() == "aws" {
        (50, 5)
    } else {
        (200, 10)
    };
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    t.product(&admin, "ultima-peca", &[("ULTIMA-1", units)])
        .await;
    let tokens = t.customers("cliente", buyers).await;

    let results = join_all(tokens.iter().enumerate().map(|(i, token)| {
        let t = &t;
        async move {
            t.req(Method::POST, "/api/v1/orders", Some(token))
                .header("Idempotency-Key", format!("k-{i}"))
                .json(&buy_now("ULTIMA-1", 1))
                .send()
                .await
                .unwrap()
        }
    }))
    .await;

    let mut created = 0;
    let mut refused = 0;
    for res in results {
        match res.status().as_u16() {
            201 => created += 1,
            409 => {
                let body = problem(res, 409).await;
                assert_eq!(body["sku"], "ULTIMA-1");
                assert!(body["detail"].as_str().unwrap().contains("ULTIMA-1"));
                refused += 1;
            }
            other => panic!("unexpected status {other}: {}", res.text().await.unwrap()),
        }
    }
    assert_eq!((created, refused), (units, buyers as i64 - units));
    assert_eq!(t.stock(&admin, "ULTIMA-1").await, 0);
    let orders = t.orders_in(&admin, "pending_payment").await;
    let placed = orders
        .iter()
        .filter(|o| o["lines"][0]["sku"] == "ULTIMA-1")
        .count();
    assert_eq!(placed as i64, units);
    t.stop().await;
}

#[tokio::test]
async fn a_retried_checkout_returns_the_same_order_and_moves_stock_once() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    t.product(&admin, "retry", &[("RETRY-1", 5)]).await;
    let token = t.customer("ana@example.com").await;
    let send = |body: Value| {
        t.req(Method::POST, "/api/v1/orders", Some(&token))
            .header("Idempotency-Key", "checkout-abc")
            .json(&body)
            .send()
    };

    let first = send(buy_now("RETRY-1", 2)).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send(buy_now("RETRY-1", 2)).await.unwrap();
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);

    let other = send(buy_now("RETRY-1", 3)).await.unwrap();
    let body = problem(other, 422).await;
    assert_eq!(body["type"], "urn:vitrine:problem:idempotency-key-reused");

    assert_eq!(t.stock(&admin, "RETRY-1").await, 3);
    let mine: Value = t
        .get("/api/v1/orders", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_with_one_key_make_one_order() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    t.product(&admin, "dup", &[("DUP-1", 50)]).await;
    let token = t.customer("bia@example.com").await;
    let results = join_all((0..20).map(|_| {
        t.req(Method::POST, "/api/v1/orders", Some(&token))
            .header("Idempotency-Key", "same-key")
            .json(&buy_now("DUP-1", 1))
            .send()
    }))
    .await;
    let mut ids = std::collections::HashSet::new();
    for r in results {
        let r = r.unwrap();
        // A retry racing the first request may be told it is still in progress (409).
        match r.status().as_u16() {
            200 | 201 => {
                ids.insert(
                    r.json::<Value>().await.unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
            409 => {}
            s => panic!("status {s}"),
        }
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(t.stock(&admin, "DUP-1").await, 49);
    t.stop().await;
}

#[tokio::test]
async fn checkout_from_the_cart_prices_ships_and_empties_it() {
    let t = TestApp::spawn().await;
    let token = t.customer("caio@example.com").await;
    for (sku, qty) in [("CAM-BAS-M", 2), ("CAN-CER-AZUL", 1)] {
        let res = t
            .post(
                "/api/v1/cart/items",
                Some(&token),
                json!({ "sku": sku, "quantity": qty }),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    let mut body = buy_now("X", 1);
    body.as_object_mut().unwrap().remove("items");
    body["coupon"] = json!("bemvindo10");
    let res = t
        .req(Method::POST, "/api/v1/orders", Some(&token))
        .header("Idempotency-Key", "c1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["subtotal_centavos"], 2 * 4_990 + 6_490);
    assert_eq!(order["discount_centavos"], 1_647); // 10 % of 164,70, half up
    assert_eq!(
        order["total_centavos"],
        16_470 - 1_647 + order["shipping_centavos"].as_i64().unwrap()
    );
    assert_eq!(order["status"], "pending_payment");
    let cart: Value = t
        .get("/api/v1/cart", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert!(cart["lines"].as_array().unwrap().is_empty());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_coupon_is_never_used_past_its_limit() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let res = t
        .post(
            "/api/v1/admin/coupons",
            Some(&admin),
            json!({ "code": "TRES", "kind": "fixed", "amount_centavos": 500, "usage_limit": 3 }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let tokens = t.customers("c", 10).await;
    let results = join_all(tokens.iter().enumerate().map(|(i, token)| {
        let mut body = buy_now("MEI-CAN-34-38", 1);
        body["coupon"] = json!("TRES");
        t.req(Method::POST, "/api/v1/orders", Some(token))
            .header("Idempotency-Key", format!("x{i}"))
            .json(&body)
            .send()
    }))
    .await;
    let ok = results
        .iter()
        .filter(|r| r.as_ref().unwrap().status() == 201)
        .count();
    assert_eq!(ok, 3);
    let coupon: Value = t
        .get("/api/v1/admin/coupons/TRES", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(coupon["used"], 3);
    t.stop().await;
}

#[tokio::test]
async fn cancelling_an_unpaid_order_returns_its_stock_once() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    t.product(&admin, "cancela", &[("CANC-1", 4)]).await;
    let token = t.customer("dani@example.com").await;
    let res = t
        .req(Method::POST, "/api/v1/orders", Some(&token))
        .header("Idempotency-Key", "c")
        .json(&buy_now("CANC-1", 3))
        .send()
        .await
        .unwrap();
    let order: Value = res.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    assert_eq!(t.stock(&admin, "CANC-1").await, 1);

    let first = t
        .post(
            &format!("/api/v1/admin/orders/{id}/cancel"),
            Some(&admin),
            json!({ "reason": "pedido do cliente" }),
        )
        .await;
    assert_eq!(first.status(), 200);
    let second = t
        .post(
            &format!("/api/v1/orders/{id}/cancel"),
            Some(&token),
            json!({}),
        )
        .await;
    problem(second, 422).await;
    assert_eq!(t.stock(&admin, "CANC-1").await, 4);

    // Shipping needs an invoice first: the lifecycle is enforced over HTTP too.
    let paid = t
        .post(
            &format!("/api/v1/admin/orders/{id}/ship"),
            Some(&admin),
            json!({ "tracking_code": "BR1" }),
        )
        .await;
    let body = problem(paid, 422).await;
    assert!(body["detail"].as_str().unwrap().contains("cancelled"));
    t.stop().await;
}
