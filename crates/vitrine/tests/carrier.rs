//! Shipping quoted by a carrier: the store configured with Melhor Envio (`[carrier]`), against
//! the fake Melhor Envio (`vitrine_testkit::fakes::melhor_envio`, which checks every request
//! against the published API). The quote endpoint lists the carriers' options for the cart's
//! parcel; checkout quotes again and charges the chosen option; a carrier that does not answer is
//! a 503, not an empty list. The adapter's own contract tests are `crates/vitrine-shipping/tests`.

mod common;

use std::sync::Arc;

use common::{TestApp, buy_now, problem, test_config_with};
use reqwest::Method;
use serde_json::{Value, json};
use vitrine_app::ports::SystemClock;
use vitrine_testkit::fakes::melhor_envio::{CALCULATE, Failure, FakeMelhorEnvio, FakeOptions};

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
