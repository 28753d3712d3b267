//! Abandoned cart reminders on the real server (docs/abandoned-carts.md): a signed-in customer's
//! cart left untouched gets exactly one e-mail, a touch makes it eligible again, two sweeps at
//! once send one, an opted-out customer gets none, the e-mail's link turns the reminders off
//! without signing in (a forged one is refused), and the dashboard counts the reminders and the
//! carts they recovered.
//!
//! Time is the test's: each sweep is called with the `now` it runs at (`App::remind_abandoned_
//! carts`), hours after the carts were touched; nothing waits. The mail read is what the store's
//! mailer sent: the mail folder locally, the emulator's SES on the AWS backend
//! (`VITRINE_TEST_BACKEND=aws`), where every test binary shares one emulator, so each test's
//! customers have addresses of their own.

mod common;

use common::{TestApp, address, problem};
use serde_json::{Value, json};
use vitrine_app::cart_reminders::ReminderRun;
use vitrine_app::ports::{Clock, SystemClock};
use vitrine_domain::Timestamp;

const HOUR: i64 = 3600;

/// One e-mail the store sent: to whom, its subject, and a body (the text part locally; the HTML
/// part on SES, which is what the emulator keeps).
#[derive(Debug, Clone)]
struct Sent {
    to: String,
    subject: String,
    body: String,
}

/// Every e-mail the store sent so far.
async fn sent_mail(t: &TestApp) -> Vec<Sent> {
    if common::backend() != "aws" {
        return vitrine_testkit::mail::read_mail_folder(&t.data_dir.join("mail"))
            .into_iter()
            .map(|m| Sent {
                to: m.to,
                subject: m.subject,
                body: m.text,
            })
            .collect();
    }
    // The emulator builds its dump from live state and answers 500 while a request changes it.
    let url = format!("{}/moto-api/data.json", vitrine_testkit::moto::endpoint());
    for _ in 0..50 {
        let res = t.client.get(&url).send().await.expect("the emulator");
        if res.status().is_success() {
            let data: Value = res.json().await.expect("the emulator's state");
            return data["ses"]["Message"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| Sent {
                    to: m["destinations"]["ToAddresses"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                    subject: m["subject"].as_str().unwrap_or_default().to_owned(),
                    body: m["body"].as_str().unwrap_or_default().to_owned(),
                })
                .collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the emulator's state could not be read");
}

/// The cart reminders sent to `to`, in sending order.
async fn reminders_to(t: &TestApp, to: &str) -> Vec<Sent> {
    sent_mail(t)
        .await
        .into_iter()
        .filter(|m| m.to.contains(to) && m.subject.contains("carrinho"))
        .collect()
}

/// The opt-out token in a reminder's link (`…/#/lembretes?token=…`).
fn token_of(mail: &Sent) -> String {
    let (_, rest) = mail
        .body
        .split_once("lembretes?token=")
        .unwrap_or_else(|| panic!("no opt-out link in {}", mail.body));
    rest.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect()
}

/// A customer address no other test (sharing the emulator) uses.
fn unique(name: &str) -> String {
    format!(
        "{name}-{}@example.com",
        ulid::Ulid::new().to_string().to_lowercase()
    )
}

/// A store with one product (`sku`, R$ 50,00 a unit).
async fn store_with(sku: &str) -> (TestApp, String) {
    let t = TestApp::spawn().await;
    let admin = t.admin(&unique("admin")).await;
    t.product(&admin, &sku.to_lowercase(), &[(sku, 50)]).await;
    (t, admin)
}

/// Put `qty` units of `sku` in the cart of the customer signed in with `token`.
async fn add(t: &TestApp, token: &str, sku: &str, qty: i64) {
    let res = t
        .post(
            "/api/v1/cart/items",
            Some(token),
            json!({ "sku": sku, "quantity": qty }),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// A sweep at `hours` after `start`.
async fn sweep(t: &TestApp, start: Timestamp, hours: i64) -> ReminderRun {
    t.app
        .remind_abandoned_carts(start.plus_secs(hours * HOUR), &t.base)
        .await
        .expect("sweep")
}

async fn export(t: &TestApp, token: &str) -> Value {
    t.get_json("/api/v1/me/data", Some(token)).await
}

/// The opt-out page's button pressed for the link with `token`, with no session.
async fn link_pressed(t: &TestApp, token: &str) -> reqwest::Response {
    t.post(
        "/api/v1/cart-reminders/off",
        None,
        json!({ "token": token }),
    )
    .await
}

/// Whether the customer signed in with `token` has cart reminders on, as their profile says.
async fn reminders_on(t: &TestApp, token: &str) -> Value {
    t.get_json("/api/v1/me", Some(token)).await["cart_reminders"].clone()
}

/// `PUT path` with `body` as the customer signed in with `token`; asserts 200.
async fn put(t: &TestApp, path: &str, token: &str, body: Value) {
    let res = t
        .req(reqwest::Method::PUT, path, Some(token))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// A store selling `sku`, and a customer (`name`-…@example.com) who just put `qty` of it in
/// their cart: the store, their address and token, and when.
async fn a_shopper(sku: &str, name: &str, qty: i64) -> (TestApp, String, String, Timestamp) {
    let (t, _admin) = store_with(sku).await;
    let email = unique(name);
    let token = t.customer(&email).await;
    let start = SystemClock.now();
    add(&t, &token, sku, qty).await;
    (t, email, token, start)
}

#[tokio::test]
async fn an_idle_cart_gets_exactly_one_reminder_and_a_new_touch_makes_it_eligible_again() {
    let (t, email, ana, start) = a_shopper("LEMB-A", "ana", 2).await;

    // Not idle long enough (24 h by default): nothing.
    assert_eq!(sweep(&t, start, 23).await.sent, 0);
    assert!(reminders_to(&t, &email).await.is_empty());

    let run = sweep(&t, start, 25).await;
    assert_eq!(run.sent, 1, "{run:?}");
    let mails = reminders_to(&t, &email).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail.subject.contains("Seu carrinho"), "{}", mail.subject);
    for says in ["Produto lemb-a", "R$ 100,00", "Olá, Cliente!"] {
        assert!(mail.body.contains(says), "{says}: {}", mail.body);
    }
    // The link back to the cart (escaped in the HTML part the emulator keeps).
    let cart_link = format!("{}/#/carrinho", t.base);
    assert!(
        mail.body.contains(&cart_link) || mail.body.contains(&cart_link.replace('/', "&#x2f;")),
        "{}",
        mail.body
    );
    assert!(!token_of(mail).is_empty());

    // Swept again, later: the cart was reminded for this state.
    assert_eq!(sweep(&t, start, 26).await.sent, 0);
    assert_eq!(sweep(&t, start, 30).await.sent, 0);
    assert_eq!(reminders_to(&t, &email).await.len(), 1);

    // A touch (a quantity changed) is a new state: once idle again, one more reminder.
    put(
        &t,
        "/api/v1/cart/items/LEMB-A",
        &ana,
        json!({ "quantity": 3 }),
    )
    .await;
    assert_eq!(sweep(&t, start, 30).await.sent, 1);
    assert_eq!(sweep(&t, start, 31).await.sent, 0);
    let mails = reminders_to(&t, &email).await;
    assert_eq!(mails.len(), 2);
    assert!(mails[1].body.contains("R$ 150,00"), "{}", mails[1].body);

    // Both are in the customer's data export, with the preference.
    let data = export(&t, &ana).await;
    assert_eq!(data["profile"]["cart_reminders"], true);
    let kinds: Vec<&str> = data["emails_sent"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["kind"].as_str())
        .filter(|k| *k == "cart.reminder")
        .collect();
    assert_eq!(kinds.len(), 2, "{data}");

    // An emptied cart leaves the index: no reminder for nothing.
    let res = t
        .req(
            reqwest::Method::DELETE,
            "/api/v1/cart/items/LEMB-A",
            Some(&ana),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(sweep(&t, start, 40).await, ReminderRun::default());

    // A cart touched more than a week before the sweep is not mailed.
    add(&t, &ana, "LEMB-A", 1).await;
    assert_eq!(sweep(&t, start, 8 * 24 + 1).await.sent, 0);
    assert_eq!(reminders_to(&t, &email).await.len(), 2);
    t.stop().await;
}

#[tokio::test]
async fn two_sweeps_at_once_send_each_cart_one_reminder() {
    let (t, _admin) = store_with("LEMB-B").await;
    let emails: Vec<String> = (0..3).map(|i| unique(&format!("par{i}"))).collect();
    let start = SystemClock.now();
    for email in &emails {
        let token = t.customer(email).await;
        add(&t, &token, "LEMB-B", 1).await;
    }
    let (a, b) = tokio::join!(sweep(&t, start, 25), sweep(&t, start, 25));
    assert_eq!(a.sent + b.sent, 3, "{a:?} {b:?}");
    for email in &emails {
        assert_eq!(reminders_to(&t, email).await.len(), 1, "{email}");
    }
    t.stop().await;
}

#[tokio::test]
async fn the_link_turns_reminders_off_without_sign_in_and_a_forged_one_is_refused() {
    let (t, email, bia, start) = a_shopper("LEMB-C", "bia", 1).await;
    assert_eq!(sweep(&t, start, 25).await.sent, 1);
    let token = token_of(&reminders_to(&t, &email).await[0]);

    // Forged: another customer's name under Bia's signature, a bare guess, nothing.
    let (_, tag) = token.split_once('.').unwrap();
    for forged in [
        format!("c3ViLW90aGVy.{tag}"),
        "c3ViLW90aGVy.AAAA".to_owned(),
        String::new(),
    ] {
        let body = problem(link_pressed(&t, &forged).await, 422).await;
        assert_eq!(body["errors"][0]["field"], "token", "{body}");
    }
    assert_eq!(reminders_on(&t, &bia).await, true);

    // The link's own token, with no session: off.
    assert_eq!(link_pressed(&t, &token).await.status(), 204);
    assert_eq!(reminders_on(&t, &bia).await, false);

    // Opted out: a new idle cart gets nothing.
    add(&t, &bia, "LEMB-C", 1).await;
    let run = sweep(&t, start, 26).await;
    assert_eq!((run.sent, run.skipped), (0, 1), "{run:?}");

    // Another customer turns them off on the account page from the start: nothing either.
    let cai_email = unique("cai");
    let cai = t.customer(&cai_email).await;
    let off = json!({ "name": "Cai Lima", "cart_reminders": false });
    put(&t, "/api/v1/me", &cai, off).await;
    add(&t, &cai, "LEMB-C", 1).await;
    assert_eq!(sweep(&t, start, 26).await.sent, 0);

    // Bia turns them on again in her account: her next idle cart is reminded.
    let on = json!({ "name": "Bia Souza", "cart_reminders": true });
    put(&t, "/api/v1/me", &bia, on).await;
    add(&t, &bia, "LEMB-C", 1).await;
    assert_eq!(sweep(&t, start, 27).await.sent, 1);
    assert_eq!(reminders_to(&t, &email).await.len(), 2);
    assert!(reminders_to(&t, &cai_email).await.is_empty());
    assert_eq!(export(&t, &bia).await["profile"]["cart_reminders"], true);
    t.stop().await;
}

#[tokio::test]
async fn the_dashboard_counts_the_reminders_sent_and_the_carts_they_recovered() {
    let (t, admin) = store_with("LEMB-D").await;
    let start = SystemClock.now();
    let buyer = t.customer(&unique("dani")).await;
    let browser = t.customer(&unique("edu")).await;
    for token in [&buyer, &browser] {
        add(&t, token, "LEMB-D", 1).await;
    }
    assert_eq!(sweep(&t, start, 25).await.sent, 2);

    // The buyer comes back and orders the cart (no `items`: the cart itself).
    let order = t
        .place(
            &buyer,
            &json!({
                "shipping_address": address(),
                "shipping_method": "pac",
                "payment_method": "pix",
                "tax_id": "529.982.247-25"
            }),
        )
        .await;
    let order_id = order["id"].as_str().unwrap();
    assert_eq!(order["lines"][0]["sku"], "LEMB-D");

    let dashboard = t.get_json("/api/v1/admin/dashboard", Some(&admin)).await;
    assert_eq!(dashboard["cart_reminders_sent"], 2, "{dashboard}");
    assert_eq!(dashboard["carts_recovered"], 1, "{dashboard}");

    // The buyer's export says which order followed which reminder.
    let data = export(&t, &buyer).await;
    let recoveries = data["cart_recoveries"].as_array().unwrap();
    assert_eq!(recoveries.len(), 1, "{data}");
    assert_eq!(recoveries[0]["order_id"], order_id);
    let reminder_id = recoveries[0]["reminder_id"].as_str().unwrap();
    assert!(
        data["emails_sent"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["event_id"] == reminder_id && m["kind"] == "cart.reminder"),
        "{data}"
    );
    assert!(
        export(&t, &browser).await["cart_recoveries"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    t.stop().await;
}
