//! Order processing on events, local shape: the outbox, the dispatcher's per-subscriber queues,
//! retries and dead letters, and the notification consumers writing into the mail folder.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, buy_now};
use reqwest::Method;
use serde_json::{Value, json};
use vitrine_app::events::Consumer;
use vitrine_app::events::dispatch::{Dispatcher, MAX_ATTEMPTS};
use vitrine_app::orders::OrderMove;
use vitrine_testkit::doubles::RecordingConsumer as Recorder;

struct Recorders {
    email: Arc<Recorder>,
    sms: Arc<Recorder>,
    realtime: Arc<Recorder>,
    alerts: Arc<Recorder>,
}

impl Recorders {
    fn new(email_failures: u32) -> Self {
        Self {
            email: Recorder::new("email", email_failures),
            sms: Recorder::new("sms", 0),
            realtime: Recorder::new("realtime", 0),
            alerts: Recorder::new("admin-alerts", 0),
        }
    }

    fn dispatcher(&self, t: &TestApp) -> Arc<Dispatcher> {
        let consumers: Vec<Arc<dyn Consumer>> = vec![
            self.email.clone(),
            self.sms.clone(),
            self.realtime.clone(),
            self.alerts.clone(),
        ];
        Arc::new(
            Dispatcher::new(t.app.clone(), consumers)
                .with_backoff(Duration::from_millis(5), Duration::from_millis(40)),
        )
    }
}

/// A store served without its own dispatcher: the test runs one with recording consumers.
async fn spawn_quiet() -> TestApp {
    TestApp::spawn_with(|store| store.dispatch_events = false).await
}

/// Run passes until one does nothing and no retry waits (bounded).
async fn drain(dispatcher: &Arc<Dispatcher>) {
    for _ in 0..400 {
        let pass = Arc::clone(dispatcher).pass().await.expect("dispatch pass");
        if pass.fanned_out + pass.delivered + pass.retried + pass.dead_lettered == 0
            && pass.next_due_ms.is_none()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the dispatcher did not settle");
}

async fn place(t: &TestApp, token: &str, sku: &str) -> String {
    t.place(token, &buy_now(sku, 1)).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn admin_move(t: &TestApp, admin: &str, id: &str, action: &str, body: Value) {
    let res = t
        .post(
            &format!("/api/v1/admin/orders/{id}/{action}"),
            Some(admin),
            body,
        )
        .await;
    assert_eq!(res.status(), 200, "{action}: {}", res.text().await.unwrap());
}

/// Stands in for the NF-e issuer (issue 5): records an authorised invoice on a paid order.
async fn invoice(t: &TestApp, id: &str) {
    t.app
        .move_order(
            id,
            None,
            OrderMove::Invoice {
                access_key: "35261112345678000195550010000000011000000019".into(),
            },
        )
        .await
        .expect("invoice the order");
}

/// Place, pay, invoice and ship `n` orders, one after the other.
async fn order_lifecycles(t: &TestApp, admin: &str, token: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = place(t, token, "CAM-BAS-M").await;
        admin_move(
            t,
            admin,
            &id,
            "mark-paid",
            json!({ "reference": "pix-e2e-1" }),
        )
        .await;
        invoice(t, &id).await;
        admin_move(
            t,
            admin,
            &id,
            "ship",
            json!({ "tracking_code": "BR123456789BR" }),
        )
        .await;
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn each_subscriber_gets_each_of_its_events_once_in_order_per_order() {
    let t = spawn_quiet().await;
    let admin = t.admin("admin@loja.test").await;
    let token = t.customer("ana@cliente.test").await;
    let recorders = Recorders::new(0);
    let dispatcher = recorders.dispatcher(&t);
    let ids = order_lifecycles(&t, &admin, &token, 3).await;
    drain(&dispatcher).await;

    let lifecycle = [
        "order.placed",
        "order.paid",
        "order.invoiced",
        "order.shipped",
    ];
    for id in &ids {
        assert_eq!(
            recorders.email.types_for(id),
            lifecycle,
            "email, order {id}"
        );
        assert_eq!(
            recorders.realtime.types_for(id),
            lifecycle,
            "realtime, order {id}"
        );
        // No opt-in to text messages; a 50 BRL order is no large order.
        assert!(recorders.sms.types_for(id).is_empty());
        assert!(recorders.alerts.types_for(id).is_empty());
    }
    // Once each: no event id twice, for any subscriber.
    for r in [&recorders.email, &recorders.realtime] {
        let mut event_ids: Vec<String> = r.seen().into_iter().map(|(e, _, _)| e).collect();
        let n = event_ids.len();
        event_ids.sort();
        event_ids.dedup();
        assert_eq!(event_ids.len(), n, "{} got an event twice", r.name);
    }
    let queues = t.app.event_queues().await.unwrap();
    assert!(
        queues.iter().all(|q| q.pending == 0 && q.dead == 0),
        "{queues:?}"
    );
    assert_eq!(t.app.outbox_len().await.unwrap(), 0);
    t.stop().await;
}

#[tokio::test]
async fn opted_in_buyers_get_texts_and_large_orders_alert_the_admins() {
    let t = spawn_quiet().await;
    let admin = t.admin("admin@loja.test").await;
    let token = t.customer("bia@cliente.test").await;
    let res = t
        .req(Method::PUT, "/api/v1/me", Some(&token))
        .json(&json!({ "name": "Bia Lima", "phone": "+5511987654321", "sms_opt_in": true, "language": "en" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // A product expensive enough for the large-order alert (R$ 1.000,00 by default).
    let res = t
        .post(
            "/api/v1/admin/products",
            Some(&admin),
            json!({ "slug": "relogio-ouro", "name": "Relógio de ouro", "variants": [
                { "sku": "RELOGIO-OURO", "options": {}, "price_centavos": 150_000, "weight_g": 200, "stock": 3 }
            ]}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let recorders = Recorders::new(0);
    let dispatcher = recorders.dispatcher(&t);

    let id = place(&t, &token, "RELOGIO-OURO").await;
    admin_move(
        &t,
        &admin,
        &id,
        "mark-paid",
        json!({ "reference": "pix-1" }),
    )
    .await;
    drain(&dispatcher).await;

    assert_eq!(recorders.sms.types_for(&id), ["order.paid"]);
    assert_eq!(recorders.alerts.types_for(&id), ["order.placed"]);
    assert_eq!(
        recorders.email.types_for(&id),
        ["order.placed", "order.paid"]
    );
    t.stop().await;
}

#[tokio::test]
async fn a_failing_consumer_retries_with_backoff_without_reordering_an_order() {
    let t = spawn_quiet().await;
    let admin = t.admin("admin@loja.test").await;
    let token = t.customer("caio@cliente.test").await;
    // E-mail fails twice per delivery, then works.
    let recorders = Recorders::new(2);
    let dispatcher = recorders.dispatcher(&t);
    let ids = order_lifecycles(&t, &admin, &token, 2).await;
    drain(&dispatcher).await;

    for id in &ids {
        assert_eq!(
            recorders.email.types_for(id),
            [
                "order.placed",
                "order.paid",
                "order.invoiced",
                "order.shipped"
            ]
        );
    }
    assert_eq!(recorders.email.attempts(), 8 * 3);
    // The others were not held up by e-mail's failures.
    assert_eq!(recorders.realtime.seen().len(), 8);
    assert!(t.app.dead_letters(None).await.unwrap().is_empty());
    t.stop().await;
}

#[tokio::test]
async fn a_consumer_that_keeps_failing_dead_letters_and_a_replay_delivers() {
    let t = spawn_quiet().await;
    let admin = t.admin("admin@loja.test").await;
    let token = t.customer("duda@cliente.test").await;
    let failing = Recorders::new(u32::MAX);
    let dispatcher = failing.dispatcher(&t);
    let id = place(&t, &token, "CAM-BAS-M").await;
    drain(&dispatcher).await;

    let dead = t.app.dead_letters(Some("email")).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].subject, id);
    assert_eq!(dead[0].event_type, "order.placed");
    assert_eq!(dead[0].attempts, MAX_ATTEMPTS);
    assert!(dead[0].last_error.contains("email is down"), "{dead:?}");
    assert!(failing.email.seen().is_empty());
    assert_eq!(failing.realtime.types_for(&id), ["order.placed"]);

    // The admin API shows it; a customer cannot see it.
    let body: Value = t
        .get("/api/v1/admin/events", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["dead_letters"][0]["event_id"],
        dead[0].event_id.as_str()
    );
    let email_queue = body["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["subscriber"] == "email")
        .unwrap();
    assert_eq!(email_queue["dead"], 1);
    assert_eq!(
        t.get("/api/v1/admin/events", Some(&token)).await.status(),
        403
    );

    // Replay through the API with a consumer that works now: delivered once, list empty.
    let working = Recorders::new(0);
    let dispatcher = working.dispatcher(&t);
    let path = format!(
        "/api/v1/admin/events/dead-letters/email/{}/replay",
        dead[0].event_id
    );
    let res = t.post(&path, Some(&admin), json!({})).await;
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    assert_eq!(t.post(&path, Some(&admin), json!({})).await.status(), 404);
    drain(&dispatcher).await;
    assert_eq!(working.email.types_for(&id), ["order.placed"]);
    // Realtime had delivered it already: the replay was for e-mail only.
    assert!(working.realtime.seen().is_empty());
    assert!(t.app.dead_letters(None).await.unwrap().is_empty());
    let unknown = t
        .post(
            "/api/v1/admin/events/dead-letters/replay?subscriber=fax",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(unknown.status(), 404);
    t.stop().await;
}

#[tokio::test]
async fn the_running_server_sends_the_lifecycle_e_mails_in_the_customers_language() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let ana = t.customer("ana@cliente.test").await;
    let john = t.customer("john@customer.test").await;
    let res = t
        .req(Method::PUT, "/api/v1/me", Some(&john))
        .json(&json!({ "name": "John Smith", "language": "en" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let ana_orders = order_lifecycles(&t, &admin, &ana, 1).await;
    let john_orders = order_lifecycles(&t, &admin, &john, 1).await;

    // Four e-mails per order (placed, paid, invoiced, shipped), each once.
    let mail_dir = t.data_dir.join("mail");
    let mut mails = BTreeMap::new();
    for _ in 0..200 {
        mails = order_mails(&mail_dir, &[&ana_orders[0], &john_orders[0]]);
        if mails.values().map(Vec::len).sum::<usize>() >= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ana_mails = &mails[&ana_orders[0]];
    let john_mails = &mails[&john_orders[0]];
    assert_eq!(ana_mails.len(), 4, "{ana_mails:#?}");
    assert_eq!(john_mails.len(), 4, "{john_mails:#?}");
    assert!(ana_mails.iter().all(|m| m.to.contains("ana@cliente.test")));
    assert!(
        john_mails
            .iter()
            .all(|m| m.to.contains("john@customer.test"))
    );
    // pt-BR by default, English by preference; the shipping mail carries the tracking code.
    let shipped = |mails: &[Mail]| {
        mails
            .iter()
            .find(|m| m.text.contains("BR123456789BR"))
            .cloned()
            .unwrap_or_else(|| panic!("no shipping e-mail: {mails:#?}"))
    };
    assert!(shipped(ana_mails).text.contains("pedido"), "{ana_mails:#?}");
    assert!(
        shipped(john_mails).text.to_lowercase().contains("order"),
        "{john_mails:#?}"
    );
    assert!(
        !shipped(john_mails).text.contains("pedido"),
        "{john_mails:#?}"
    );
    t.stop().await;
}

#[derive(Debug, Clone)]
struct Mail {
    to: String,
    text: String,
}

/// The mail folder's messages that mention each order id.
fn order_mails(dir: &std::path::Path, orders: &[&String]) -> BTreeMap<String, Vec<Mail>> {
    let mut out: BTreeMap<String, Vec<Mail>> =
        orders.iter().map(|o| ((*o).clone(), Vec::new())).collect();
    for mail in vitrine_testkit::mail::read_mail_folder(dir) {
        for order in orders {
            if mail.text.contains(order.as_str()) || mail.subject.contains(order.as_str()) {
                out.get_mut(*order).unwrap().push(Mail {
                    to: mail.to.clone(),
                    text: mail.text.clone(),
                });
            }
        }
    }
    out
}
