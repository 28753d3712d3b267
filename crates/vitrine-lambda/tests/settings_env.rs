//! The store's settings in a function's environment change what the BUILT function binaries do,
//! run as Lambda runs them (`vitrine_testkit::lambda_runtime`) on AWS resources in the local
//! emulator: the `api` function with no settings behaves as the defaults say, and with
//! `VITRINE_PAY_WITHIN_MINUTES`, `VITRINE_LOW_STOCK_THRESHOLD`, the installment table and the
//! shipping rates set it gives orders that payment window, lists low stock and emits `stock.low`
//! by that threshold, offers those installments and quotes those rates; the `admin_alerts`
//! function e-mails `VITRINE_ALERTS_TO` about the orders of at least `VITRINE_LARGE_ORDER_CENTAVOS`.
//! A malformed setting stops the cold start with a message naming its variable.

mod common;

use serde_json::{Value, json};
use vitrine_app::Settings;
use vitrine_app::ports::{ClientInfo, Index, Query};
use vitrine_app::settings as names;
use vitrine_domain::order::OrderStatus;
use vitrine_domain::{Event, Money};
use vitrine_testkit::lambda_runtime::{LambdaProcess, Outcome, RuntimeApi};
use vitrine_testkit::moto;

use common::{AwsFixture, customer_token, edited_event, seed_recorded_catalog, with_bearer};

const API: &str = env!("CARGO_BIN_EXE_api");
const ADMIN_ALERTS: &str = env!("CARGO_BIN_EXE_admin_alerts");

/// The shipping table the configured function gets: one PAC zone at a price no default has.
const SHIPPING_RATES: &str = r#"{"methods": [{"id": "pac", "name": "PAC da loja", "zones": [
    {"cep_from": "01000000", "cep_to": "99999999", "base_centavos": 777, "per_kg_centavos": 0, "days": 4}]}]}"#;

/// An HTTP API (v2) GET of `path?query` on the `$default` stage, from the recorded listing event.
fn get(path: &str, query: &str, token: Option<&str>) -> String {
    edited_event("apigw-http-get-products", |v| {
        v["rawPath"] = json!(path);
        v["rawQueryString"] = json!(query);
        v["routeKey"] = json!("$default");
        v["requestContext"]["routeKey"] = json!("$default");
        v["requestContext"]["stage"] = json!("$default");
        v["requestContext"]["http"]["path"] = json!(path);
        v.as_object_mut().unwrap().remove("pathParameters");
        let params: serde_json::Map<String, Value> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), json!(v)))
            .collect();
        v["queryStringParameters"] = Value::Object(params);
        if let Some(token) = token {
            v["headers"]["authorization"] = json!(format!("Bearer {token}"));
        }
    })
}

fn body(response: &Value) -> Value {
    assert!(
        response["statusCode"].as_i64().is_some_and(|s| s < 300),
        "{response}"
    );
    serde_json::from_str(response["body"].as_str().expect("a text body")).expect("a JSON body")
}

/// An admin, signed in: the access token.
async fn admin_token(app: &vitrine_app::App, email: &str) -> String {
    app.create_user(email, "senha-forte-123", "Admin Teste", true)
        .await
        .expect("create the admin");
    app.sign_in(email, "senha-forte-123", &ClientInfo::default(), None)
        .await
        .expect("sign the admin in")
        .access_token
}

/// What one run of the `api` function did.
#[derive(Debug)]
struct ApiRun {
    /// The SKUs `GET /api/v1/admin/stock-low` listed before the order.
    low_before: Vec<String>,
    /// The order placed: its id and minutes between placing it and its payment deadline.
    order_id: String,
    pay_within_minutes: i64,
    /// The installment counts offered for R$ 100,00.
    installment_counts: Vec<i64>,
    /// The shipping quotes for 1,5 kg to 01310-100: (method name, price).
    quotes: Vec<(String, i64)>,
}

/// Start the `api` function with the fixture's environment plus `settings`, list low stock,
/// place the recorded order (idempotency key `key`), ask for installments and a shipping quote.
async fn run_api(
    fixture: &AwsFixture,
    settings: &[(&str, &str)],
    customer: &str,
    admin: &str,
    key: &str,
) -> ApiRun {
    let runtime = RuntimeApi::start().await.expect("the Runtime API");
    let mut env = fixture.api_env();
    env.extend(
        settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let mut api = LambdaProcess::spawn(API, &runtime, &env);

    let low = api
        .invoke(&runtime, get("/api/v1/admin/stock-low", "", Some(admin)))
        .await
        .json();
    let mut order_event: Value =
        serde_json::from_str(&with_bearer("apigw-http-post-order", customer)).unwrap();
    order_event["headers"]["idempotency-key"] = json!(key);
    let order = api.invoke(&runtime, order_event.to_string()).await.json();
    let plans = api
        .invoke(
            &runtime,
            get(
                "/api/v1/payments/installments",
                "total_centavos=10000",
                None,
            ),
        )
        .await
        .json();
    let quotes = api
        .invoke(
            &runtime,
            get("/api/v1/shipping/quote", "cep=01310100&weight_g=1500", None),
        )
        .await
        .json();
    let output = api.stop().await;
    let order = body(&order);
    let order_id = order["id"].as_str().expect("an order id").to_owned();
    let placed = fixture_order(fixture, &order_id).await;
    let run = ApiRun {
        low_before: body(&low)
            .as_array()
            .expect("a list")
            .iter()
            .map(|s| s["sku"].as_str().unwrap().to_owned())
            .collect(),
        order_id,
        pay_within_minutes: (placed.pay_by.millis() - placed.created_at.millis()) / 60_000,
        installment_counts: body(&plans)["plans"]
            .as_array()
            .expect("plans")
            .iter()
            .map(|p| p["count"].as_i64().unwrap())
            .collect(),
        quotes: body(&quotes)
            .as_array()
            .expect("quotes")
            .iter()
            .map(|q| {
                (
                    q["name"].as_str().unwrap().to_owned(),
                    q["price_centavos"].as_i64().unwrap(),
                )
            })
            .collect(),
    };
    assert!(
        !output.stdout.contains("\"level\":\"ERROR\""),
        "{}",
        output.stdout
    );
    run
}

/// The order `id` as stored (read with the test's own store on the same table).
async fn fixture_order(fixture: &AwsFixture, id: &str) -> vitrine_domain::order::Order {
    let state = fixture.state().await;
    let page = state
        .app
        .orders_in_status(OrderStatus::PendingPayment, 50, None)
        .await
        .expect("the pending orders");
    page.items
        .into_iter()
        .find(|o| o.id == id)
        .unwrap_or_else(|| panic!("order {id} is not stored"))
}

/// Every event in the table's outbox (nothing fans them out in this test): (id, event).
async fn outbox(fixture: &AwsFixture) -> Vec<(String, Event)> {
    let state = fixture.state().await;
    let page = state
        .app
        .ports
        .table
        .query(Query::new(Index::Gsi1, vitrine_app::store::OUTBOX))
        .await
        .expect("the outbox");
    page.items
        .iter()
        .map(|item| {
            let id = item.key.pk.trim_start_matches("EVENT#").to_owned();
            let data = item.str(vitrine_app::store::DATA).expect("event data");
            (id, serde_json::from_str(data).expect("an event"))
        })
        .collect()
}

/// The SQS batch the `admin-alerts` queue would hand its function: each event as SNS publishes it.
fn alerts_batch(events: &[(String, Event)]) -> String {
    let records: Vec<Value> = events
        .iter()
        .map(|(id, event)| {
            let envelope = json!({
                "Type": "Notification",
                "MessageId": format!("sns-{id}"),
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:events",
                "Message": vitrine_aws::sns_bus::message_body(id, event).unwrap(),
                "Timestamp": "2026-11-01T12:00:00.000Z",
            });
            json!({
                "messageId": format!("m-{id}"),
                "receiptHandle": format!("rh-{id}"),
                "body": envelope.to_string(),
                "attributes": { "ApproximateReceiveCount": "1" },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:admin-alerts",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records }).to_string()
}

/// The messages moto recorded as sent through SES to `to`, each as its JSON text.
async fn mail_sent_to(to: &str) -> Vec<String> {
    let state = moto::state().await;
    state["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m.to_string().contains(to))
        .map(Value::to_string)
        .collect()
}

#[tokio::test]
async fn the_functions_do_what_the_settings_in_their_environment_say() {
    let fixture = AwsFixture::create().await;
    let state = fixture.state().await;
    seed_recorded_catalog(&state.app).await; // 5 in stock
    let customer = customer_token(&state.app, "settings-buyer@example.com").await;
    let admin = admin_token(&state.app, "settings-admin@example.com").await;
    let defaults = Settings::default();
    let before: Vec<String> = outbox(&fixture)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();

    // No settings: the defaults.
    let plain = run_api(
        &fixture,
        &[],
        &customer,
        &admin,
        "checkout-settings-default",
    )
    .await;
    assert_eq!(plain.pay_within_minutes, defaults.pay_within_secs / 60);
    assert_eq!(plain.low_before, ["TENIS-CORRIDA-42-AZUL"], "5 ≤ 5");
    assert_eq!(
        plain.installment_counts.len(),
        defaults
            .installments
            .plans(Money::from_centavos(10_000))
            .len()
    );
    assert!(
        plain.quotes.iter().all(|(name, _)| name != "PAC da loja"),
        "{:?}",
        plain.quotes
    );

    // The settings a shop chooses, in the function's environment.
    let configured = run_api(
        &fixture,
        &[
            (names::PAY_WITHIN_MINUTES.var, "7"),
            (names::LOW_STOCK_THRESHOLD.var, "3"),
            (names::INSTALLMENT_RATES_BP.var, "0,0,0,149"),
            (names::MIN_INSTALLMENT_CENTAVOS.var, "3000"),
            (names::SHIPPING_RATES.var, SHIPPING_RATES),
        ],
        &customer,
        &admin,
        "checkout-settings-configured",
    )
    .await;
    assert_eq!(configured.pay_within_minutes, 7);
    assert!(configured.low_before.is_empty(), "4 in stock > 3");
    // R$ 100,00: 1×, 2×, 3× (R$ 33,34 ≥ R$ 30,00); 4× would be under R$ 30,00.
    assert_eq!(configured.installment_counts, [1, 2, 3]);
    assert_eq!(configured.quotes, [("PAC da loja".to_owned(), 777)]);
    let order = fixture_order(&fixture, &configured.order_id).await;
    assert_eq!(order.shipping_total, Money::from_centavos(777));

    // `stock.low` fires when a checkout takes a SKU across the threshold: not in the plain run
    // (5 → 4, already at the default 5), in the configured one (4 → 3, across 3).
    let events: Vec<(String, Event)> = outbox(&fixture)
        .await
        .into_iter()
        .filter(|(id, _)| !before.contains(id))
        .collect();
    let low: Vec<&Event> = events
        .iter()
        .map(|(_, e)| e)
        .filter(|e| e.event_type == "stock.low")
        .collect();
    assert_eq!(low.len(), 1, "{low:?}");
    let totals: Vec<(String, i64)> = [&plain.order_id, &configured.order_id]
        .into_iter()
        .map(|id| {
            let placed = events
                .iter()
                .find(|(_, e)| e.event_type == "order.placed" && e.subject == *id)
                .unwrap_or_else(|| panic!("no order.placed for {id}"));
            let total = match placed.1.attributes.get("order_total") {
                Some(vitrine_domain::EventAttr::Number(n)) => *n,
                other => panic!("order_total: {other:?}"),
            };
            (id.clone(), total)
        })
        .collect();
    let (big, small) = if totals[0].1 > totals[1].1 {
        (&totals[0], &totals[1])
    } else {
        (&totals[1], &totals[0])
    };
    assert!(big.1 < defaults.large_order_centavos, "{totals:?}");

    // The admin-alerts function, with an alerts address and a threshold between the two orders
    // (both are under the default R$ 1.000,00, which alerts about neither). It gets every event
    // of the two runs, as if its subscription's filter admitted them all: the threshold it
    // checks is its own.
    let alerts_to = format!("{}@example.com", moto::unique("alertas"));
    let threshold = small.1 + 1;
    let runtime = RuntimeApi::start().await.expect("the Runtime API");
    let mut env = fixture.api_env();
    env.push((names::ALERTS_TO.var.to_owned(), alerts_to.clone()));
    env.push((
        names::LARGE_ORDER_CENTAVOS.var.to_owned(),
        threshold.to_string(),
    ));
    let mut function = LambdaProcess::spawn(ADMIN_ALERTS, &runtime, &env);
    let answer = function
        .invoke(&runtime, alerts_batch(&events))
        .await
        .json();
    let output = function.stop().await;
    assert_eq!(
        answer["batchItemFailures"],
        json!([]),
        "{answer}\n{}",
        output.stdout
    );
    let sent = mail_sent_to(&alerts_to).await;
    assert_eq!(sent.len(), 2, "stock.low and the large order:\n{sent:#?}");
    assert!(
        sent.iter().any(|m| m.contains(&big.0)),
        "the order of {} ≥ {threshold} is e-mailed: {sent:#?}",
        big.1
    );
    assert!(
        !sent.iter().any(|m| m.contains(&small.0)),
        "the order of {} < {threshold} is not: {sent:#?}",
        small.1
    );
    assert!(
        sent.iter().any(|m| m.contains("Estoque baixo")),
        "{sent:#?}"
    );
}

#[tokio::test]
async fn a_malformed_setting_stops_the_cold_start_naming_its_variable() {
    let runtime = RuntimeApi::start().await.expect("the Runtime API");
    // Every resource variable present (no request is made before the settings are read).
    let env: Vec<(String, String)> = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("VITRINE_TABLE", "t"),
        ("VITRINE_BUCKET", "b"),
        ("VITRINE_USER_POOL_ID", "us-east-1_x"),
        ("VITRINE_CLIENT_ID", "c"),
        ("VITRINE_MAIL_FROM", "loja@example.com"),
        (names::PAY_WITHIN_MINUTES.var, "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut api = LambdaProcess::spawn(API, &runtime, &env);
    let outcome = api
        .invoke(&runtime, get("/api/v1/products", "", None))
        .await;
    let _ = api.stop().await;
    let Outcome::InitError(error) = outcome else {
        panic!("expected an init error, got {outcome:?}");
    };
    let message = error.body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("VITRINE_PAY_WITHIN_MINUTES must be between 1 and 10080"),
        "{message}"
    );
}
