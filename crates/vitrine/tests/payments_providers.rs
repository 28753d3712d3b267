//! Real money paths over HTTP, against fakes of the providers that check every request against
//! the provider's published spec (vitrine-testkit `fakes`): Pix through a bank's standard API
//! (`bcb`), cards and boleto through Mercado Pago. Each test ends with zero spec violations.
//!
//! The bank posts its notices to the shop's TLS terminator over mutual TLS (here the fake's
//! inbox), which passes them to the store; Mercado Pago's signed notices are passed on the same
//! way, as a reverse proxy would.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, buy_now, times_paid};
use reqwest::Method;
use serde_json::{Value, json};
use vitrine_app::ports::{Clock, ManualClock, PaymentProvider, SystemClock};
use vitrine_app::{App, Ports};
use vitrine_domain::Timestamp;
use vitrine_payments::bcb::{BcbPix, BcbSettings};
use vitrine_payments::mercadopago::{MercadoPago, MercadoPagoSettings};
use vitrine_testkit::fakes::bcb_pix::{FakeBank, FakeBankOptions, WebhookInbox, WebhookMode};
use vitrine_testkit::fakes::mercadopago::{self as mp, FakeMercadoPago};

/// A store whose only payment providers are `providers`, on a clock the test moves.
async fn store_with(providers: Vec<Arc<dyn PaymentProvider>>) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let t = TestApp::spawn_with_clock(clock.clone(), move |store| {
        let ports = Ports {
            payments: providers,
            ..store.app.ports.clone()
        };
        store.app = App::new(ports, store.app.settings.clone());
    })
    .await;
    (t, clock)
}

async fn place(t: &TestApp, token: &str, sku: &str, qty: i64, method: &str) -> Value {
    let mut body = buy_now(sku, qty);
    body["payment_method"] = json!(method);
    t.place(token, &body).await
}

async fn pay(t: &TestApp, token: &str, order_id: &str, body: Value) -> (u16, Value) {
    let res = t
        .post(
            &format!("/api/v1/orders/{order_id}/payment"),
            Some(token),
            body,
        )
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// Wait (bounded) until `check` holds.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("waited 10 s for {what}");
}

// ---------------------------------------------------------------- Pix through the bank

/// The bank's notices that reached the TLS terminator since `seen`, passed to the store: the
/// store's answers.
async fn relay_bank(t: &TestApp, inbox: &WebhookInbox, seen: &mut usize) -> Vec<Value> {
    let notices = inbox.received();
    let mut answers = Vec::new();
    for notice in &notices[*seen..] {
        let res = t
            .req(Method::POST, &notice.path, None)
            .header("content-type", "application/json")
            .body(notice.body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "the store took the bank's notice");
        answers.push(res.json::<Value>().await.unwrap()["results"].clone());
    }
    *seen = notices.len();
    answers
}

#[tokio::test]
async fn pix_through_the_bank_is_paid_once_however_its_notices_come_and_refunds_reach_the_bank() {
    let bank = FakeBank::start(FakeBankOptions::default()).await.unwrap();
    let inbox = bank.inbox().await.unwrap();
    let bcb = BcbPix::new(BcbSettings {
        api_url: bank.api_url(),
        token_url: bank.token_url(),
        client_id: bank.options().client_id.clone(),
        client_secret: bank.options().client_secret.clone(),
        certificate_pem: bank.client_certificate_pem().into(),
        key_pem: bank.client_key_pem().into(),
        ca_pem: Some(bank.ca_pem().into()),
        pix_key: bank.options().pix_key.clone(),
        webhook_url: Some(inbox.url()),
    })
    .unwrap();
    bcb.register_webhook().await.unwrap();
    let (t, clock) = store_with(vec![Arc::new(bcb)]).await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "pix-bank", &[("BANK-1", 20)]).await;
    let ana = t.customer("ana@example.com").await;
    let mut seen = 0;

    // Paid, and the bank sends its notice twice: paid once.
    let first = place(&t, &ana, "BANK-1", 2, "pix").await;
    let first_id = first["id"].as_str().unwrap();
    let total = first["total_centavos"].as_i64().unwrap();
    let (status, charge) = pay(&t, &ana, first_id, json!({ "method": "pix" })).await;
    assert_eq!(status, 200, "{charge}");
    assert_eq!(charge["provider"], "bcb");
    let txid = charge["pix"]["txid"].as_str().unwrap().to_owned();
    let br_code = charge["pix"]["br_code"].as_str().unwrap();
    assert_eq!(
        bank.charge(&txid).unwrap()["pixCopiaECola"],
        br_code,
        "the bank's own BR Code"
    );
    bank.set_webhook_mode(WebhookMode::Twice);
    let e2e = bank.pay(&txid).await.unwrap();
    inbox.wait_for(2, Duration::from_secs(10)).await;
    let answers = relay_bank(&t, &inbox, &mut seen).await;
    assert_eq!(answers, [json!(["paid"]), json!(["already_paid"])]);
    assert_eq!(times_paid(&t.order(&ana, first_id).await), 1);

    // A notice for a Pix that is not the shop's: nothing.
    bank.set_webhook_mode(WebhookMode::Normal);
    bank.send_foreign_webhook().await;
    inbox.wait_for(seen + 1, Duration::from_secs(10)).await;
    assert_eq!(
        relay_bank(&t, &inbox, &mut seen).await,
        [json!(["ignored"])]
    );

    // A notice that never comes: the reconciliation finds the money.
    let second = place(&t, &ana, "BANK-1", 1, "pix").await;
    let second_id = second["id"].as_str().unwrap();
    let (_, charge) = pay(&t, &ana, second_id, json!({ "method": "pix" })).await;
    bank.set_webhook_mode(WebhookMode::Never);
    let second_e2e = bank
        .pay(charge["pix"]["txid"].as_str().unwrap())
        .await
        .unwrap();
    let now = clock.now();
    let run = t
        .app
        .reconcile_payments(
            Timestamp::from_millis(now.millis() - 3_600_000),
            now.plus_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(run.settled, 1, "{run:?}");
    assert!(run.differences.is_empty(), "{:?}", run.differences);
    assert_eq!(times_paid(&t.order(&ana, second_id).await), 1);

    // A notice that comes late, after the reconciliation paid the order: nothing more.
    bank.set_webhook_mode(WebhookMode::Normal);
    let late = json!({ "pix": [bank.pix(&second_e2e).unwrap()] });
    let res = t
        .post("/api/v1/payments/webhooks/bcb/pix", None, late)
        .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["results"],
        json!(["already_paid"])
    );

    // Part of the second order given back, then the first cancelled: each amount reaches the bank.
    let res = t
        .post(
            &format!("/api/v1/admin/orders/{second_id}/refunds"),
            Some(&admin),
            json!({ "amount_centavos": 1_000, "reason": "item arrived damaged" }),
        )
        .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    until("the partial refund at the bank", || async {
        bank.refunded(&second_e2e).centavos() == 1_000
    })
    .await;
    // A payer who sends another amount: the money is not taken, and all of it goes back.
    let odd = place(&t, &ana, "BANK-1", 1, "pix").await;
    let odd_id = odd["id"].as_str().unwrap();
    let odd_total = odd["total_centavos"].as_i64().unwrap();
    let (_, charge) = pay(&t, &ana, odd_id, json!({ "method": "pix" })).await;
    let short = vitrine_domain::Money::from_centavos(odd_total - 1);
    let odd_e2e = bank
        .pay_amount(charge["pix"]["txid"].as_str().unwrap(), short)
        .await
        .unwrap();
    inbox.wait_for(seen + 2, Duration::from_secs(10)).await;
    // The bank also notifies the partial refund above (a Pix's refund reaching DEVOLVIDO): read
    // back, it is the settled payment again.
    let answers = relay_bank(&t, &inbox, &mut seen).await;
    assert_eq!(
        answers,
        [json!(["already_paid"]), json!(["refund"])],
        "{answers:?}"
    );
    until("the refund of the odd amount at the bank", || async {
        bank.refunded(&odd_e2e) == short
    })
    .await;
    assert_eq!(t.order(&ana, odd_id).await["status"], "pending_payment");
    assert_eq!(
        bank.refunded(&e2e).centavos(),
        0,
        "the first order's money stays"
    );
    assert_eq!(
        bank.pix(&e2e).unwrap()["valor"],
        format!("{}.{:02}", total / 100, total % 100)
    );

    // An order that expires unpaid: its charge is withdrawn at the bank, its stock back once.
    let third = place(&t, &ana, "BANK-1", 3, "pix").await;
    let third_id = third["id"].as_str().unwrap();
    let (_, charge) = pay(&t, &ana, third_id, json!({ "method": "pix" })).await;
    let third_txid = charge["pix"]["txid"].as_str().unwrap().to_owned();
    let before = t.stock(&admin, "BANK-1").await;
    clock.advance_secs(31 * 60);
    // (with the order of the odd amount, still unpaid)
    assert_eq!(t.app.expire_overdue().await.unwrap(), 2);
    assert_eq!(t.app.expire_overdue().await.unwrap(), 0);
    assert_eq!(t.stock(&admin, "BANK-1").await, before + 3 + 1);
    until("the charge withdrawn at the bank", || async {
        bank.charge(&third_txid).unwrap()["status"] == "REMOVIDA_PELO_USUARIO_RECEBEDOR"
    })
    .await;

    // Money stays right: the daily report finds nothing.
    let (daily, _) = t.app.daily_reconciliation().await.unwrap().unwrap();
    assert!(daily.differences.is_empty(), "{:?}", daily.differences);
    println!(
        "bank: {} requests, {} token requests, violations {:?}",
        bank.requests(),
        bank.token_requests(),
        bank.violations()
    );
    assert!(bank.violations().is_empty(), "{:?}", bank.violations());
    t.stop().await;
}

// ---------------------------------------------------------------- cards and boleto

/// Mercado Pago's notices that reached the inbox since `seen`, passed to the store as a reverse
/// proxy would (query string and signature headers kept): the store's answers.
async fn relay_mp(t: &TestApp, inbox: &mp::WebhookInbox, seen: &mut usize) -> Vec<Value> {
    let notices = inbox.received();
    let mut answers = Vec::new();
    for notice in &notices[*seen..] {
        let query: Vec<(&str, &str)> = notice
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut req = t
            .req(Method::POST, "/api/v1/payments/webhooks/mercadopago", None)
            .query(&query)
            .header("content-type", "application/json")
            .body(notice.body.clone());
        for name in ["x-signature", "x-request-id"] {
            if let Some(v) = notice.header(name) {
                req = req.header(name, v);
            }
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200, "the store took the provider's notice");
        answers.push(res.json::<Value>().await.unwrap()["results"].clone());
    }
    *seen = notices.len();
    answers
}

/// The provider's id of an order's charge (`charge_reference` while it waits, else the settled
/// payment's `reference`), as its owner sees it.
async fn provider_reference(t: &TestApp, token: &str, order_id: &str) -> String {
    let payment: Value = t
        .get(&format!("/api/v1/orders/{order_id}/payment"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    payment["charge_reference"]
        .as_str()
        .or(payment["reference"].as_str())
        .unwrap_or_else(|| panic!("no provider reference: {payment}"))
        .to_owned()
}

async fn card(fake: &FakeMercadoPago, number: &str, holder: &str) -> Value {
    let token = fake.tokenise(number, holder).await.unwrap();
    json!({
        "token": token.id,
        "payment_method_id": token.payment_method_id,
        "bin": token.bin,
    })
}

#[tokio::test]
async fn cards_and_boleto_through_mercadopago_end_in_the_right_state_with_stock_back_once() {
    let fake = FakeMercadoPago::start(mp::FakeOptions::default()).await;
    let inbox = mp::WebhookInbox::start().await;
    let provider = MercadoPago::new(MercadoPagoSettings {
        api_url: fake.url(),
        access_token: fake.access_token(),
        public_key: fake.public_key(),
        webhook_secret: fake.webhook_secret(),
        script_url: fake.script_url(),
        ca_pem: None,
        notification_url: Some(inbox.url()),
    })
    .unwrap();
    let (t, clock) = store_with(vec![Arc::new(provider)]).await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "mp-cards", &[("MP-1", 30)]).await;
    let ana = t.customer("ana@example.com").await;
    let mut seen = 0;

    // The browser's card script: the provider's public key and script, from /config.
    let config: Value = t.get("/api/v1/config", None).await.json().await.unwrap();
    let tokenisation = &config["payments"]["card_tokenisation"];
    assert_eq!(tokenisation["script_url"], fake.script_url(), "{config}");
    assert_eq!(tokenisation["public_key"], fake.public_key());
    assert_eq!(config["payments"]["sandbox"], false);

    // 1×: approved at once.
    let one = place(&t, &ana, "MP-1", 1, "card").await;
    let one_id = one["id"].as_str().unwrap();
    let total = one["total_centavos"].as_i64().unwrap();
    let mastercard = "5031433215406351";
    let (status, paid) = pay(
        &t,
        &ana,
        one_id,
        json!({ "method": "card", "card": card(&fake, mastercard, "APRO").await, "installments": 1 }),
    )
    .await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(
        (paid["status"].as_str(), paid["amount_centavos"].as_i64()),
        (Some("confirmed"), Some(total))
    );
    assert_eq!(times_paid(&t.order(&ana, one_id).await), 1);

    // 6× with the interest of the provider's table for this card.
    let six = place(&t, &ana, "MP-1", 2, "card").await;
    let six_id = six["id"].as_str().unwrap();
    let six_total = six["total_centavos"].as_i64().unwrap();
    let plans: Value = t
        .get(
            &format!("/api/v1/payments/installments?total_centavos={six_total}&bin=503143"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let plan = plans["plans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["count"] == 6)
        .expect("the provider offers 6× for this card")
        .clone();
    assert!(
        plan["total_centavos"].as_i64().unwrap() > six_total,
        "6× carries interest: {plan}"
    );
    let (status, paid) = pay(
        &t,
        &ana,
        six_id,
        json!({ "method": "card", "card": card(&fake, mastercard, "APRO").await, "installments": 6 }),
    )
    .await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["installments"]["count"], 6);
    assert_eq!(
        paid["amount_centavos"], plan["total_centavos"],
        "the buyer pays the table's total"
    );
    assert_eq!(times_paid(&t.order(&ana, six_id).await), 1);

    // Declined: 402, the order waits for another card, its stock still held; expired: back once.
    let declined = place(&t, &ana, "MP-1", 4, "card").await;
    let declined_id = declined["id"].as_str().unwrap();
    let held = t.stock(&admin, "MP-1").await;
    let (status, problem) = pay(
        &t,
        &ana,
        declined_id,
        json!({ "method": "card", "card": card(&fake, mastercard, "OTHE").await }),
    )
    .await;
    assert_eq!(status, 402, "{problem}");
    assert_eq!(t.order(&ana, declined_id).await["status"], "payment_failed");
    assert_eq!(t.stock(&admin, "MP-1").await, held);

    // 3-D Secure: pending with the issuer's challenge; refused there: the attempt fails.
    let secure = place(&t, &ana, "MP-1", 1, "card").await;
    let secure_id = secure["id"].as_str().unwrap();
    let (status, pending) = pay(
        &t,
        &ana,
        secure_id,
        json!({ "method": "card", "card": card(&fake, mastercard, "3DS").await }),
    )
    .await;
    assert_eq!(status, 200, "{pending}");
    assert_eq!(pending["status"], "pending");
    assert!(pending["challenge_url"].as_str().is_some(), "{pending}");
    let payment_id = provider_reference(&t, &ana, secure_id).await;
    fake.challenge(&payment_id, false).await.unwrap();
    inbox.wait_for(seen + 1, Duration::from_secs(10)).await;
    let answers = relay_mp(&t, &inbox, &mut seen).await;
    assert!(answers.contains(&json!(["failed"])), "{answers:?}");
    assert_eq!(t.order(&ana, secure_id).await["status"], "payment_failed");

    // Boleto paid: the notice, read back, pays the order.
    let paid_boleto = place(&t, &ana, "MP-1", 1, "boleto").await;
    let paid_boleto_id = paid_boleto["id"].as_str().unwrap();
    let (status, boleto) = pay(&t, &ana, paid_boleto_id, json!({ "method": "boleto" })).await;
    assert_eq!(status, 200, "{boleto}");
    assert!(
        boleto["boleto"]["digitable_line"].as_str().is_some(),
        "{boleto}"
    );
    fake.pay_boleto(&provider_reference(&t, &ana, paid_boleto_id).await)
        .await
        .unwrap();
    inbox.wait_for(seen + 1, Duration::from_secs(10)).await;
    let answers = relay_mp(&t, &inbox, &mut seen).await;
    assert!(answers.contains(&json!(["paid"])), "{answers:?}");
    assert_eq!(times_paid(&t.order(&ana, paid_boleto_id).await), 1);

    // Boleto never paid: the order expires with the declined one, stock back once each, and
    // the boleto is cancelled at the provider.
    let unpaid = place(&t, &ana, "MP-1", 5, "boleto").await;
    let unpaid_id = unpaid["id"].as_str().unwrap();
    pay(&t, &ana, unpaid_id, json!({ "method": "boleto" })).await;
    let boleto_id = provider_reference(&t, &ana, unpaid_id).await;
    let before = t.stock(&admin, "MP-1").await;
    clock.advance_secs(31 * 60);
    assert_eq!(
        t.app.expire_overdue().await.unwrap(),
        2,
        "the declined card order and the 3-D Secure one"
    );
    clock.advance_secs(7 * 24 * 3600);
    assert_eq!(
        t.app.expire_overdue().await.unwrap(),
        1,
        "the boleto order, after its due date and clearing"
    );
    // A week on, the sessions of the morning are long expired: sign in again.
    let admin = t.sign_in("admin@example.com", "senha-forte-123").await;
    let ana = t.sign_in("ana@example.com", "senha-forte-123").await;
    assert_eq!(t.app.expire_overdue().await.unwrap(), 0);
    assert_eq!(t.stock(&admin, "MP-1").await, before + 4 + 1 + 5);
    assert_eq!(t.order(&ana, unpaid_id).await["status"], "expired");
    until("the boleto cancelled at the provider", || async {
        fake.payment(&boleto_id).unwrap()["status"] == "cancelled"
    })
    .await;

    // A partial refund of the 6× payment reaches the provider.
    let res = t
        .post(
            &format!("/api/v1/admin/orders/{six_id}/refunds"),
            Some(&admin),
            json!({ "amount_centavos": 2_000, "reason": "a discount after the sale" }),
        )
        .await;
    assert_eq!(res.status(), 202);
    let six_reference = provider_reference(&t, &ana, six_id).await;
    until("the partial refund at the provider", || async {
        fake.payment(&six_reference).unwrap()["transaction_amount_refunded"]
            .as_f64()
            .is_some_and(|v| (v - 20.0).abs() < 0.001)
    })
    .await;

    println!(
        "mercadopago: {} requests, violations {:?}",
        fake.requests(),
        fake.violations()
    );
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    t.stop().await;
}
