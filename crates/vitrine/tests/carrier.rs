//! Shipping quoted by a carrier: the store configured with Melhor Envio (`[carrier]`), against
//! the fake Melhor Envio (`vitrine_testkit::fakes::melhor_envio`, which checks every request
//! against the published API). The quote endpoint lists the carriers' options for the cart's
//! parcel; checkout quotes again and charges the chosen option; a carrier that does not answer is
//! a 503, not an empty list. The admin buys an order's label (once, however many click) and the
//! tracking sweep moves the order as the carrier moves the parcel. The adapter's own contract
//! tests are `crates/vitrine-shipping/tests`.

mod common;

use std::sync::Arc;

use common::{TestApp, buy_now, problem, test_config_with};
use reqwest::Method;
use serde_json::{Value, json};
use vitrine_app::ports::SystemClock;
use vitrine_testkit::fakes::melhor_envio::{
    CALCULATE, CHECKOUT, Failure, FakeMelhorEnvio, FakeOptions, TRACKING,
};

async fn store_on(fake: &FakeMelhorEnvio) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[carrier]\nprovider = \"melhorenvio\"\napi_url = \"{}\"\ntoken = \"{}\"\nfrom_cep = \"01310-100\"\ncontact_email = \"ti@loja.test\"\n",
        fake.url(),
        fake.token()
    );
    let config = test_config_with(dir.path().join("data"), &toml);
    TestApp::spawn_on(dir, config, Arc::new(SystemClock), |_| {}).await
}

#[tokio::test]
async fn checkout_offers_the_carriers_options_for_the_parcel_and_charges_the_one_chosen() {
    let fake = FakeMelhorEnvio::start(FakeOptions::default()).await;
    let t = store_on(&fake).await;
    let admin = t.admin("dona@loja.test").await;
    t.product(&admin, "caneca-frete", &[("CANECA-FRETE", 20)])
        .await;
    let token = t.customer("ana@cliente.test").await;
    let res = t
        .req(Method::POST, "/api/v1/cart/items", Some(&token))
        .json(&json!({ "sku": "CANECA-FRETE", "quantity": 3 }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let cart = t.get_json("/api/v1/cart", Some(&token)).await;
    let parcel = &cart["parcel"];
    assert!(parcel["height_cm"].as_u64().unwrap() >= 2, "{cart}");

    let quote_path = format!(
        "/api/v1/shipping/quote?cep=20040-002&weight_g={}&length_cm={}&width_cm={}&height_cm={}&subtotal_centavos={}",
        cart["weight_g"],
        parcel["length_cm"],
        parcel["width_cm"],
        parcel["height_cm"],
        cart["subtotal_centavos"]
    );
    let quotes = t.get_json(&quote_path, None).await;
    let options = quotes.as_array().unwrap_or_else(|| panic!("{quotes}"));
    assert!(options.len() >= 2, "{quotes}");
    assert!(
        options
            .iter()
            .all(|q| q["method_id"].as_str().unwrap().starts_with("me-"))
    );
    let names: Vec<&str> = options
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("Correios")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("Jadlog")), "{names:?}");
    let prices: Vec<i64> = options
        .iter()
        .map(|q| q["price_centavos"].as_i64().unwrap())
        .collect();
    assert!(
        prices.windows(2).all(|w| w[0] <= w[1]),
        "cheapest first: {prices:?}"
    );
    // The calculation sent the parcel as the cart has it.
    let sent = fake.requests_to(CALCULATE);
    let last: Value = sent.last().unwrap().body.clone().unwrap();
    assert_eq!(last["to"]["postal_code"], "20040002", "{last}");
    assert_eq!(last["package"]["height"], parcel["height_cm"], "{last}");

    // Checkout quotes again and charges the chosen option as quoted.
    let chosen = options.last().unwrap();
    let mut body = buy_now("CANECA-FRETE", 3);
    body["shipping_address"]["cep"] = json!("20040-002");
    body["shipping_address"]["city"] = json!("Rio de Janeiro");
    body["shipping_address"]["uf"] = json!("RJ");
    body["shipping_method"] = chosen["method_id"].clone();
    let order = t.place(&token, &body).await;
    assert_eq!(order["shipping_method"], chosen["method_id"]);
    assert_eq!(
        order["shipping_centavos"], chosen["price_centavos"],
        "{order}"
    );
    // An option the carrier did not quote is refused, naming the field.
    body["shipping_method"] = json!("me-999");
    let res = t
        .req(Method::POST, "/api/v1/orders", Some(&token))
        .header("Idempotency-Key", "carrier-unknown-option")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(res, 422).await["errors"][0]["field"],
        "shipping_method"
    );
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());

    // A carrier that does not answer: a 503 to retry, never "no shipping".
    fake.fail_next(1, Failure::ServerError);
    let res = t.get(&quote_path, None).await;
    assert_eq!(problem(res, 503).await["status"], 503);
    t.stop().await;
}

#[tokio::test]
async fn a_carrier_setting_that_is_missing_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let settings = data.join("vitrine.toml");
    std::fs::write(
        &settings,
        "[carrier]\nprovider = \"melhorenvio\"\ntoken = \"x\"\n",
    )
    .unwrap();
    let flags = vitrine::config::Flags {
        config: Some(settings),
        data_dir: Some(data),
        ..Default::default()
    };
    let err = vitrine::config::Config::resolve(&flags).unwrap_err();
    assert!(format!("{err:#}").contains("carrier.from_cep"), "{err:#}");
}

/// An order of `sku` shipped by the carrier's cheapest option to Rio, paid by Pix and invoiced
/// (the store issues its NF-e as the demo emitter; on AWS, where no invoices consumer runs beside
/// `serve`, the test records the key): the buyer's token and the order.
async fn invoiced_carrier_order(
    t: &TestApp,
    admin: &str,
    sku: &str,
    buyer: &str,
) -> (String, Value) {
    t.product(admin, &sku.to_ascii_lowercase(), &[(sku, 20)])
        .await;
    let token = t.customer(buyer).await;
    let quotes = t
        .get_json(
            "/api/v1/shipping/quote?cep=20040-002&weight_g=600&length_cm=20&width_cm=15&height_cm=10&subtotal_centavos=5000",
            None,
        )
        .await;
    let cheapest = quotes[0]["method_id"].clone();
    let mut body = buy_now(sku, 2);
    body["shipping_address"]["cep"] = json!("20040-002");
    body["shipping_address"]["city"] = json!("Rio de Janeiro");
    body["shipping_address"]["uf"] = json!("RJ");
    body["shipping_method"] = cheapest;
    let order = t.place(&token, &body).await;
    t.pay_by_pix(&token, &order).await;
    let id = order["id"].as_str().unwrap().to_owned();
    if common::backend() == "aws" {
        // No invoices consumer runs beside `serve` on AWS: record an NF-e key as it would.
        t.app
            .move_order(
                &id,
                None,
                vitrine_app::orders::OrderMove::Invoice {
                    access_key: vitrine_testkit::fakes::melhor_envio::invoice_key(
                        "3526121122233300018155001000000001100000001",
                    ),
                },
            )
            .await
            .expect("invoice");
    }
    let order = t.settled_within(&token, &id, 30).await;
    assert_eq!(order["status"], "invoiced", "{order}");
    (token, order)
}

fn label_path(order: &Value) -> String {
    format!(
        "/api/v1/admin/orders/{}/label",
        order["id"].as_str().unwrap()
    )
}

/// The labels the fake sold: checkouts it answered with a purchase.
fn labels_paid(fake: &FakeMelhorEnvio) -> usize {
    fake.requests_to(CHECKOUT)
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .count()
}

#[tokio::test]
async fn a_label_bought_from_the_admin_ships_the_order_with_its_tracking_code_once() {
    let fake = FakeMelhorEnvio::start(FakeOptions::default()).await;
    let t = store_on(&fake).await;
    let admin = t.admin("dona@loja.test").await;
    let (token, order) = invoiced_carrier_order(&t, &admin, "CANECA-ETQ", "bia@cliente.test").await;
    let path = label_path(&order);
    let before = t.get_json(&path, Some(&admin)).await;
    assert_eq!(before["carrier"], "melhorenvio", "{before}");
    assert_eq!(before["sells_labels"], true);
    assert!(before["label"].is_null());

    // Two admins click at once: one label is bought, the other click is told so.
    let (a, b) = tokio::join!(
        t.req(Method::POST, &path, Some(&admin)).send(),
        t.req(Method::POST, &path, Some(&admin)).send()
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "one label, one conflict");
    let bought = if a.status() == 200 { a } else { b };
    let label: Value = bought.json().await.unwrap();
    assert_eq!(label["state"], "bought", "{label}");
    let code = label["tracking_code"].as_str().unwrap().to_owned();
    assert!(
        label["print_url"].as_str().unwrap().starts_with("http"),
        "{label}"
    );
    assert!(label["price_centavos"].as_i64().unwrap() > 0);
    assert_eq!(labels_paid(&fake), 1);
    assert_eq!(fake.label_count(), 1);
    // The cart request carried the NF-e key, as a commercial shipment.
    let cart = fake.requests_to(vitrine_testkit::fakes::melhor_envio::CART);
    let sent = cart.last().unwrap().body.clone().unwrap();
    assert_eq!(
        sent["options"]["invoice"]["key"], order["invoice_key"],
        "{sent}"
    );

    // The order is shipped with the carrier's code, and the buyer is told.
    let shipped = t.order(&token, order["id"].as_str().unwrap()).await;
    assert_eq!(shipped["status"], "shipped", "{shipped}");
    assert_eq!(shipped["tracking_code"], code.as_str());
    if common::backend() == "local" {
        // The e-mail consumer runs beside `serve` locally (on AWS it is a function of its own).
        let mailed = mail_containing(&t, "bia@cliente.test", &code).await;
        assert!(mailed.subject.contains("enviado"), "{}", mailed.subject);
    }

    // A retry later buys nothing either.
    let res = t
        .req(Method::POST, &path, Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 409).await["status"], 409);
    assert_eq!(labels_paid(&fake), 1);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    t.stop().await;
}

#[tokio::test]
async fn a_label_the_carrier_refuses_releases_the_claim_with_the_carriers_message() {
    let fake = FakeMelhorEnvio::start(FakeOptions::default()).await;
    let t = store_on(&fake).await;
    let admin = t.admin("dona@loja.test").await;
    let (_, order) = invoiced_carrier_order(&t, &admin, "CANECA-SALDO", "caio@cliente.test").await;
    let path = label_path(&order);
    fake.set_balance(vitrine_domain::Money::from_centavos(0));

    let res = t
        .req(Method::POST, &path, Some(&admin))
        .send()
        .await
        .unwrap();
    let body = problem(res, 422).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Saldo insuficiente"),
        "{body}"
    );
    let view = t.get_json(&path, Some(&admin)).await;
    assert_eq!(view["label"]["state"], "refused", "{view}");
    assert_eq!(labels_paid(&fake), 0);

    // With money in the wallet, the admin buys it.
    fake.set_balance(vitrine_domain::Money::from_centavos(100_000));
    let res = t
        .req(Method::POST, &path, Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(labels_paid(&fake), 1);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    t.stop().await;
}

#[tokio::test]
async fn the_tracking_sweep_ships_a_posted_parcel_and_delivers_a_delivered_one_from_the_index() {
    let fake = FakeMelhorEnvio::start(FakeOptions::default()).await;
    let t = store_on(&fake).await;
    let admin = t.admin("dona@loja.test").await;
    let (token, order) =
        invoiced_carrier_order(&t, &admin, "CANECA-RASTRO", "davi@cliente.test").await;
    let id = order["id"].as_str().unwrap();
    // The tracking code is not read at the purchase: the order waits for the carrier.
    fake.fail_on(TRACKING, Failure::ServerError);
    let res = t
        .req(Method::POST, &label_path(&order), Some(&admin))
        .send()
        .await
        .unwrap();
    let label: Value = res.json().await.unwrap();
    assert!(label["tracking_code"].is_null(), "{label}");
    assert_eq!(t.order(&token, id).await["status"], "invoiced");
    let label_id = label["label_id"].as_str().unwrap();

    // The sweep as `vitrine serve`'s worker runs it, reading through a counting table.
    let counting = Arc::new(vitrine_testkit::counting_table::CountingTable::new(
        t.app.ports.table.clone(),
    ));
    let mut ports = t.app.ports.clone();
    ports.table = counting.clone();
    let sweeper = vitrine_app::App::new(ports, t.app.settings.clone());
    // Not posted yet: nothing moves.
    assert_eq!(sweeper.track_labels().await.unwrap().asked, 1);
    assert_eq!(t.order(&token, id).await["status"], "invoiced");

    fake.post(label_id).unwrap();
    counting.take_partitions();
    let run = sweeper.track_labels().await.unwrap();
    assert_eq!((run.asked, run.shipped), (1, 1), "{run:?}");
    let read = counting.take_partitions();
    assert!(
        read.iter().all(|pk| *pk == format!("ORDER#{id}")),
        "read beyond the index: {read:?}"
    );
    let shipped = t.order(&token, id).await;
    assert_eq!(shipped["status"], "shipped");
    let code = fake.label(label_id).unwrap()["tracking"].clone();
    assert_eq!(shipped["tracking_code"], code, "{shipped}");

    fake.deliver(label_id).unwrap();
    let run = sweeper.track_labels().await.unwrap();
    assert_eq!(run.delivered, 1, "{run:?}");
    assert_eq!(t.order(&token, id).await["status"], "delivered");
    let view = t.get_json(&label_path(&order), Some(&admin)).await;
    assert_eq!(view["label"]["state"], "delivered", "{view}");
    // Delivered labels leave the index: the next sweep asks about nothing.
    assert_eq!(sweeper.track_labels().await.unwrap().asked, 0);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    t.stop().await;
}

#[tokio::test]
async fn a_store_on_its_rate_table_has_no_labels_to_buy() {
    let t = TestApp::spawn().await;
    let admin = t.admin("dona@loja.test").await;
    t.product(&admin, "caneca-tabela", &[("CANECA-TAB", 5)])
        .await;
    let token = t.customer("eva@cliente.test").await;
    let order = t.place(&token, &buy_now("CANECA-TAB", 1)).await;
    let res = t
        .req(Method::POST, &label_path(&order), Some(&admin))
        .send()
        .await
        .unwrap();
    let body = problem(res, 422).await;
    assert_eq!(
        body["detail"],
        "this store's shipping is its own rate table: no labels to buy"
    );
    let view = t.get_json(&label_path(&order), Some(&admin)).await;
    assert_eq!(view["sells_labels"], false, "{view}");
    t.stop().await;
}

/// The mail to `to` whose text holds `needle`, waiting for it (mails are sent by the dispatcher).
async fn mail_containing(
    t: &TestApp,
    to: &str,
    needle: &str,
) -> vitrine_testkit::mail::ReceivedMail {
    for _ in 0..100 {
        if let Some(m) = vitrine_testkit::mail::read_mail_folder(&t.data_dir.join("mail"))
            .into_iter()
            .find(|m| m.to.contains(to) && m.text.contains(needle))
        {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no mail to {to} with {needle}");
}
