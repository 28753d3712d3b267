//! Checkout over HTTP: no overselling under concurrency, idempotency, coupons, and the caps
//! on what one customer may hold unpaid.

mod common;

use std::sync::Arc;

use common::{TestApp, buy_now, problem};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use vitrine_app::ports::{Clock, ManualClock, SystemClock};

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

/// A checkout request of `body` by `token` with a fresh Idempotency-Key.
async fn checkout(t: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    t.req(Method::POST, "/api/v1/orders", Some(token))
        .header("Idempotency-Key", format!("hold-{}", ulid::Ulid::new()))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Cancel the unpaid order `id` as its customer.
async fn cancel_mine(t: &TestApp, token: &str, id: &Value) {
    let id = id.as_str().unwrap();
    let res = t
        .post(
            &format!("/api/v1/orders/{id}/cancel"),
            Some(token),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_checkouts_at_once_by_one_customer_hold_no_more_than_three_unpaid_orders() {
    let t = TestApp::spawn_as_shipped(Arc::new(SystemClock)).await;
    let admin = t.admin("admin@loja.test").await;
    t.product(&admin, "acumulo", &[("ACUM-1", 50)]).await;
    let hoarder = t.customer("acumula@example.com").await;

    // The attack: many orders at once, each holding stock for free until it expires.
    let two = buy_now("ACUM-1", 2);
    let results = join_all((0..10).map(|_| checkout(&t, &hoarder, &two))).await;
    let mut created = 0;
    for res in results {
        match res.status().as_u16() {
            201 => created += 1,
            422 => {
                let body = problem(res, 422).await;
                assert_eq!(body["type"], "urn:vitrine:problem:unpaid-limit");
                assert_eq!(body["code"], "too-many-unpaid-orders");
                assert_eq!(
                    (body["held"].as_i64(), body["max"].as_i64()),
                    (Some(3), Some(3))
                );
                let detail = body["detail"].as_str().unwrap();
                assert!(detail.contains("3 orders awaiting payment"), "{detail}");
            }
            other => panic!("unexpected status {other}: {}", res.text().await.unwrap()),
        }
    }
    assert_eq!(created, 3);
    assert_eq!(t.stock(&admin, "ACUM-1").await, 50 - 3 * 2);

    // Another customer is not held back by the hoarder's cap.
    let other = t.customer("outra@example.com").await;
    assert_eq!(
        checkout(&t, &other, &buy_now("ACUM-1", 2)).await.status(),
        201
    );
    t.stop().await;
}

#[tokio::test]
async fn unpaid_orders_may_not_reserve_more_than_a_hundred_units_together() {
    let t = TestApp::spawn_as_shipped(Arc::new(SystemClock)).await;
    let admin = t.admin("admin@loja.test").await;
    t.product(&admin, "granel", &[("GRANEL-1", 1000), ("GRANEL-2", 1000)])
        .await;
    let token = t.customer("granel@example.com").await;
    // One order past the cap on its own: 99 + 2 units.
    let mut big = buy_now("GRANEL-1", 99);
    big["items"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "sku": "GRANEL-2", "quantity": 2 }));
    let body = problem(checkout(&t, &token, &big).await, 422).await;
    assert_eq!(body["code"], "too-many-unpaid-units");
    assert_eq!(
        (body["held"].as_i64(), body["wanted"].as_i64()),
        (Some(0), Some(101))
    );
    assert_eq!(body["max"], 100);

    let first = t.place(&token, &buy_now("GRANEL-1", 60)).await;
    let body = problem(checkout(&t, &token, &buy_now("GRANEL-2", 41)).await, 422).await;
    assert_eq!(body["code"], "too-many-unpaid-units");
    assert_eq!(
        (body["held"].as_i64(), body["wanted"].as_i64()),
        (Some(60), Some(41))
    );
    t.place(&token, &buy_now("GRANEL-2", 40)).await;
    assert_eq!(t.stock(&admin, "GRANEL-2").await, 960);

    // Cancelling gives the units back to the customer's allowance too.
    cancel_mine(&t, &token, &first["id"]).await;
    t.place(&token, &buy_now("GRANEL-1", 60)).await;
    t.stop().await;
}

#[tokio::test]
async fn a_customer_who_pays_is_never_capped_and_paying_or_cancelling_frees_a_place() {
    let t = TestApp::spawn_as_shipped(Arc::new(SystemClock)).await;
    let admin = t.admin("admin@loja.test").await;
    t.product(&admin, "comum", &[("COMUM-1", 100)]).await;
    let token = t.customer("cliente@example.com").await;

    // A customer who pays what they order orders as often as they like.
    for _ in 0..5 {
        let order = t.place(&token, &buy_now("COMUM-1", 3)).await;
        t.pay_by_pix(&token, &order).await;
    }
    // Three left unpaid (choosing how to pay, say): the fourth waits for one of them.
    let unpaid: Vec<Value> = [
        t.place(&token, &buy_now("COMUM-1", 1)).await,
        t.place(&token, &buy_now("COMUM-1", 1)).await,
        t.place(&token, &buy_now("COMUM-1", 1)).await,
    ]
    .into();
    let body = problem(checkout(&t, &token, &buy_now("COMUM-1", 1)).await, 422).await;
    assert_eq!(body["code"], "too-many-unpaid-orders");

    t.pay_by_pix(&token, &unpaid[0]).await;
    let fourth = t.place(&token, &buy_now("COMUM-1", 1)).await;
    problem(checkout(&t, &token, &buy_now("COMUM-1", 1)).await, 422).await;
    cancel_mine(&t, &token, &unpaid[1]["id"]).await;
    t.place(&token, &buy_now("COMUM-1", 1)).await;
    // An admin's cancel frees a place as well.
    let res = t
        .post(
            &format!(
                "/api/v1/admin/orders/{}/cancel",
                fourth["id"].as_str().unwrap()
            ),
            Some(&admin),
            json!({ "reason": "pedido duplicado" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    t.place(&token, &buy_now("COMUM-1", 1)).await;
    t.stop().await;
}

/// The coupon `code` as the admin sees it.
async fn coupon(t: &TestApp, admin: &str, code: &str) -> Value {
    t.get_json(&format!("/api/v1/admin/coupons/{code}"), Some(admin))
        .await
}

/// Create the coupon `body` as `admin`; asserts 201 and returns it.
async fn create_coupon(t: &TestApp, admin: &str, body: Value) -> Value {
    let res = t.post("/api/v1/admin/coupons", Some(admin), body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

fn with_coupon(mut body: Value, code: &str) -> Value {
    body["coupon"] = json!(code);
    body
}

#[tokio::test]
async fn a_cancelled_or_expired_order_gives_its_coupon_use_back_once() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let t = TestApp::spawn_as_shipped(clock.clone()).await;
    let admin = t.admin("admin@loja.test").await;
    create_coupon(
        &t,
        &admin,
        json!({ "code": "UMAVEZ", "kind": "fixed", "amount_centavos": 500, "usage_limit": 1 }),
    )
    .await;
    let ana = t.customer("ana@example.com").await;
    let bia = t.customer("bia@example.com").await;

    // Paid: the use stays spent.
    create_coupon(
        &t,
        &admin,
        json!({ "code": "PAGO", "kind": "fixed", "amount_centavos": 500, "usage_limit": 1 }),
    )
    .await;
    let paid = with_coupon(buy_now("MEI-CAN-34-38", 1), "PAGO");
    let order = t.place(&ana, &paid).await;
    t.pay_by_pix(&ana, &order).await;
    assert_eq!(coupon(&t, &admin, "PAGO").await["used"], 1);
    problem(checkout(&t, &bia, &paid).await, 422).await;

    let body = with_coupon(buy_now("MEI-CAN-34-38", 1), "UMAVEZ");

    // Cancelled: the use comes back, once however often the cancel is asked for.
    let order = t.place(&ana, &body).await;
    assert_eq!(coupon(&t, &admin, "UMAVEZ").await["used"], 1);
    let used_up = problem(checkout(&t, &bia, &body).await, 422).await;
    assert!(used_up["detail"].as_str().unwrap().contains("used up"));
    cancel_mine(&t, &ana, &order["id"]).await;
    let again = t
        .post(
            &format!("/api/v1/orders/{}/cancel", order["id"].as_str().unwrap()),
            Some(&ana),
            json!({}),
        )
        .await;
    problem(again, 422).await;
    assert_eq!(coupon(&t, &admin, "UMAVEZ").await["used"], 0);

    // Expired: the same.
    let order = t.place(&bia, &body).await;
    assert_eq!(coupon(&t, &admin, "UMAVEZ").await["used"], 1);
    clock.advance_secs(31 * 60);
    assert_eq!(t.app.expire_overdue().await.unwrap(), 1);
    assert_eq!(
        t.order(&bia, order["id"].as_str().unwrap()).await["status"],
        "expired"
    );
    assert_eq!(t.app.expire_overdue().await.unwrap(), 0);
    assert_eq!(coupon(&t, &admin, "UMAVEZ").await["used"], 0);

    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_coupon_s_per_customer_limit_holds_under_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    // Room for ten unpaid orders, so that only the coupon's limit refuses.
    let config = common::as_shipped_with(dir.path().join("data"), "max_unpaid_orders = 20\n");
    let t = TestApp::spawn_on(dir, config, Arc::new(SystemClock), |_| {}).await;
    let admin = t.admin("admin@loja.test").await;
    let created = create_coupon(
        &t,
        &admin,
        json!({ "code": "PRIMEIRA", "kind": "percent", "basis_points": 1000,
                "per_customer_limit": 1 }),
    )
    .await;
    assert_eq!(created["per_customer_limit"], 1);
    let zero = t
        .post(
            "/api/v1/admin/coupons",
            Some(&admin),
            json!({ "code": "NENHUMA", "kind": "percent", "basis_points": 1000,
                    "per_customer_limit": 0 }),
        )
        .await;
    let body = problem(zero, 422).await;
    assert_eq!(body["errors"][0]["field"], "per_customer_limit");

    let ana = t.customer("ana@example.com").await;
    let body = with_coupon(buy_now("MEI-CAN-34-38", 1), "PRIMEIRA");
    let results = join_all((0..10).map(|_| checkout(&t, &ana, &body))).await;
    let mut created = Vec::new();
    for res in results {
        match res.status().as_u16() {
            201 => created.push(res.json::<Value>().await.unwrap()),
            422 => {
                let p = problem(res, 422).await;
                assert_eq!(p["errors"][0]["field"], "coupon");
                assert_eq!(p["errors"][0]["code"], "coupon-per-customer-limit");
                assert_eq!(p["errors"][0]["params"]["limit"], 1);
            }
            other => panic!("unexpected status {other}: {}", res.text().await.unwrap()),
        }
    }
    assert_eq!(created.len(), 1);
    // Without the coupon Ana orders on; another customer has a use of their own.
    t.place(&ana, &buy_now("MEI-CAN-34-38", 1)).await;
    let bia = t.customer("bia@example.com").await;
    t.place(&bia, &body).await;
    assert_eq!(coupon(&t, &admin, "PRIMEIRA").await["used"], 2);
    // A cancelled order gives Ana her use back.
    cancel_mine(&t, &ana, &created[0]["id"]).await;
    t.place(&ana, &body).await;
    problem(checkout(&t, &ana, &body).await, 422).await;
    t.stop().await;
}
