//! The Melhor Envio adapter against the fake Melhor Envio (`vitrine_testkit::fakes::melhor_envio`),
//! which checks every request against the published API (`NOTES.md`): each test that expects a
//! well-behaved client ends with no violation recorded, and the last tests show that the fake
//! refuses what the API refuses, so these tests can fail.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vitrine_app::ports::shipping::{
    Label, LabelRequest, Parcel, QuoteRequest, Recipient, Shipping, ShippingError, TrackingState,
};
use vitrine_domain::{Cep, Money};
use vitrine_shipping::melhor_envio::{MelhorEnvio, MelhorEnvioConfig, Sender};
use vitrine_testkit::fakes::melhor_envio::{
    CALCULATE, CART, CHECKOUT, Failure, FakeMelhorEnvio, FakeOptions, GENERATE, PRINT, TRACKING,
    invoice_key,
};

const CONTACT: &str = "dev@loja-exemplo.com.br";
/// The shop: Avenida Paulista, São Paulo.
const FROM_CEP: &str = "01310-100";
/// A buyer in Rio de Janeiro (another postal region: two more days).
const RIO: &str = "20040-002";
/// A buyer in Belém (region 6: Jadlog does not go there in the fake).
const BELEM: &str = "66010-000";

fn cep(text: &str) -> Cep {
    Cep::parse(text).expect("a CEP")
}

fn sender() -> Sender {
    Sender {
        name: "Loja Exemplo Ltda".into(),
        tax_id: "11.222.333/0001-81".into(),
        state_register: Some("110042490114".into()),
        email: "envios@loja-exemplo.com.br".into(),
        phone: "(11) 3000-1000".into(),
        street: "Avenida Paulista".into(),
        number: "1000".into(),
        complement: Some("Loja 3".into()),
        district: "Bela Vista".into(),
        city: "São Paulo".into(),
        uf: "SP".into(),
    }
}

fn config(fake: &FakeMelhorEnvio) -> MelhorEnvioConfig {
    MelhorEnvioConfig {
        base_url: fake.url(),
        token: fake.token(),
        from_cep: cep(FROM_CEP),
        contact_email: CONTACT.into(),
        timeout: Duration::from_millis(800),
        sender: Some(sender()),
    }
}

struct Setup {
    fake: FakeMelhorEnvio,
    me: MelhorEnvio,
}

async fn setup() -> Setup {
    let fake = FakeMelhorEnvio::start(FakeOptions::default()).await;
    let me = MelhorEnvio::new(config(&fake)).expect("a valid configuration");
    Setup { fake, me }
}

impl Setup {
    /// The client stayed within the published API.
    fn done(&self) {
        let violations = self.fake.violations();
        assert!(violations.is_empty(), "{violations:#?}");
    }

    fn paths(&self) -> Vec<String> {
        self.fake.requests().into_iter().map(|r| r.path).collect()
    }
}

/// 1,5 kg in a 20 × 15 × 10 box (cubic weight 0,5 kg: billed by its real weight, 2 kg started).
fn parcel() -> Parcel {
    Parcel {
        weight_g: 1_500,
        length_cm: 20,
        width_cm: 15,
        height_cm: 10,
    }
}

fn quote_to(to: &str) -> QuoteRequest {
    QuoteRequest {
        to: cep(to),
        parcel: parcel(),
        subtotal: Money::from_centavos(15_000),
    }
}

fn summary(quotes: &[vitrine_domain::shipping::Quote]) -> Vec<(String, String, i64, u32)> {
    quotes
        .iter()
        .map(|q| {
            (
                q.method_id.clone(),
                q.name.clone(),
                q.price.centavos(),
                q.days,
            )
        })
        .collect()
}

fn st(text: &str) -> String {
    text.to_owned()
}

fn recipient() -> Recipient {
    Recipient {
        name: "Maria da Silva".into(),
        tax_id: "529.982.247-25".into(),
        email: "maria@example.com".into(),
        phone: Some("(21) 99999-0000".into()),
        street: "Avenida Rio Branco".into(),
        number: "1".into(),
        complement: None,
        district: "Centro".into(),
        city: "Rio de Janeiro".into(),
        uf: "RJ".into(),
        cep: cep(RIO),
    }
}

/// The NF-e of an order (SP, a valid check digit).
fn nfe_key() -> String {
    invoice_key("3526121122233300018155001000000123100000123")
}

fn label_request(order: &str, method: &str, invoice: Option<String>) -> LabelRequest {
    LabelRequest {
        method_id: method.into(),
        order_id: order.into(),
        recipient: recipient(),
        parcel: parcel(),
        declared: Money::from_centavos(15_000),
        invoice_key: invoice,
    }
}

async fn buy(s: &Setup, order: &str, method: &str) -> Label {
    s.me.buy_label(&label_request(order, method, Some(nfe_key())))
        .await
        .unwrap_or_else(|e| panic!("buying a label for {order}: {e}"))
}

fn unavailable_within(result: Result<impl std::fmt::Debug, ShippingError>) -> String {
    match result {
        Err(ShippingError::Unavailable(cause)) => format!("{cause:#}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_quote_sends_the_documented_request_and_reads_money_exactly() {
    let s = setup().await;
    let quotes = s.me.quote(&quote_to(RIO)).await.expect("quotes");

    // Billed 2 kg (one more than the first), 1 % of R$ 150,00 declared, Rio: two more days.
    assert_eq!(
        summary(&quotes),
        [
            (st("me-1"), st("Correios PAC"), 1_890 + 450 + 150, 9),
            (st("me-3"), st("Jadlog .Package"), 2_190 + 380 + 150, 8),
            (st("me-4"), st("Jadlog .Com"), 2_450 + 420 + 150, 6),
            (st("me-2"), st("Correios SEDEX"), 2_990 + 900 + 150, 5),
        ]
    );
    let calls = s.fake.requests_to(CALCULATE);
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(
        call.headers["authorization"],
        format!("Bearer {}", s.fake.token())
    );
    assert_eq!(call.headers["accept"], "application/json");
    assert_eq!(call.headers["content-type"], "application/json");
    assert!(
        call.headers["user-agent"].ends_with(&format!("({CONTACT})")),
        "{}",
        call.headers["user-agent"]
    );
    assert_eq!(
        call.body,
        Some(json!({
            "from": {"postal_code": "01310100"},
            "to": {"postal_code": "20040002"},
            "package": {"height": 10, "width": 15, "length": 20, "weight": 1.5},
            "options": {"insurance_value": 150.0, "receipt": false, "own_hand": false},
        }))
    );
    s.done();
}

#[tokio::test]
async fn unavailable_services_are_left_out_and_the_shops_own_prices_and_days_are_used() {
    let s = setup().await;
    // The shop's markup on PAC in Melhor Envio's panel: R$ 31,99 in 12 days.
    s.fake.customise(1, Money::from_centavos(3_199), 12);
    s.fake.customise(2, Money::from_centavos(4_005), 5);
    s.fake
        .make_unavailable(2, "Serviço temporariamente indisponível.");
    let quotes = s.me.quote(&quote_to(BELEM)).await.expect("quotes");
    // Jadlog does not serve Belém, SEDEX is unavailable, Mini Envios cannot take 1,5 kg.
    assert_eq!(
        summary(&quotes),
        [(st("me-1"), st("Correios PAC"), 3_199, 12)]
    );

    let light = QuoteRequest {
        to: cep(RIO),
        parcel: Parcel {
            weight_g: 250,
            length_cm: 20,
            width_cm: 15,
            height_cm: 3,
        },
        subtotal: Money::from_centavos(4_990),
    };
    let quotes = s.me.quote(&light).await.expect("quotes");
    let first = &quotes[0];
    // Mini Envios: R$ 12,90 + 1 % of R$ 49,90 (49 centavos), the cheapest.
    assert_eq!(
        (first.method_id.as_str(), first.price.centavos(), first.days),
        ("me-17", 1_290 + 49, 11)
    );
    assert!(quotes.windows(2).all(|w| w[0].price <= w[1].price));
    s.done();
}

#[tokio::test]
async fn a_refused_token_is_unavailable_and_names_the_token() {
    let s = setup().await;
    let mut wrong = config(&s.fake);
    wrong.token = vitrine_testkit::fakes::melhor_envio::random_token();
    let me = MelhorEnvio::new(wrong).expect("a valid configuration");
    let why = unavailable_within(me.quote(&quote_to(RIO)).await);
    assert!(why.contains("token") && why.contains("401"), "{why}");
    assert!(!why.contains(&s.fake.token()));
    assert_eq!(s.fake.requests()[0].status, 401);
    s.done();
}

#[tokio::test]
async fn server_errors_bad_json_and_lost_answers_are_unavailable() {
    let s = setup().await;
    s.fake.fail_next(1, Failure::ServerError);
    unavailable_within(s.me.quote(&quote_to(RIO)).await);
    s.fake.fail_next(1, Failure::NotJson);
    let why = unavailable_within(s.me.quote(&quote_to(RIO)).await);
    assert!(why.contains("not JSON"), "{why}");
    s.fake.fail_next(1, Failure::LostAnswer);
    unavailable_within(s.me.quote(&quote_to(RIO)).await);
    // And the next one is answered.
    assert_eq!(s.me.quote(&quote_to(RIO)).await.expect("quotes").len(), 4);
    s.done();
}

#[tokio::test]
async fn a_slow_answer_is_unavailable_within_the_configured_time() {
    let s = setup().await;
    s.fake.fail_next(1, Failure::Slow);
    let started = Instant::now();
    unavailable_within(s.me.quote(&quote_to(RIO)).await);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_millis(2_000),
        "{took:?}"
    );
    s.done();
}

#[tokio::test]
async fn a_parcel_without_weight_is_refused_before_any_call() {
    let s = setup().await;
    let mut request = quote_to(RIO);
    request.parcel.weight_g = 0;
    assert!(matches!(
        s.me.quote(&request).await,
        Err(ShippingError::Refused(_))
    ));
    assert!(s.fake.requests().is_empty());
}

#[tokio::test]
async fn a_label_is_bought_end_to_end_with_the_orders_nfe() {
    let s = setup().await;
    let before = s.fake.balance();
    let label = buy(&s, "01JORDERLABEL1", "me-2").await;

    assert_eq!(
        s.paths(),
        [CART, CHECKOUT, GENERATE, PRINT, TRACKING].map(str::to_owned)
    );
    // SEDEX to Rio for 1,5 kg and R$ 150,00: what the wallet paid, to the centavo.
    let price = Money::from_centavos(2_990 + 900 + 150);
    assert_eq!(label.price, price);
    assert_eq!(
        s.fake.balance().centavos(),
        before.centavos() - price.centavos()
    );
    assert!(
        label
            .print_url
            .as_deref()
            .is_some_and(|u| u.starts_with(&format!("{}/imprimir/", s.fake.url()))),
        "{label:?}"
    );
    let code = label.tracking_code.clone().expect("a tracking code");
    assert!(code.starts_with("AA") && code.ends_with("BR"), "{code}");

    let cart = s.fake.requests_to(CART)[0].body.clone().expect("a body");
    assert_eq!(cart["service"], 2);
    assert_eq!(cart["options"]["invoice"]["key"], json!(nfe_key()));
    assert_eq!(cart["options"]["non_commercial"], false);
    assert_eq!(cart["options"]["insurance_value"], json!(150.0));
    assert_eq!(cart["options"]["tags"][0]["tag"], "01JORDERLABEL1");
    assert_eq!(cart["from"]["company_document"], "11222333000181");
    assert_eq!(cart["from"]["state_register"], "110042490114");
    assert_eq!(cart["from"]["postal_code"], "01310100");
    assert_eq!(cart["to"]["document"], "52998224725");
    assert_eq!(cart["to"]["state_abbr"], "RJ");
    assert_eq!(cart["to"]["phone"], "21999990000");
    assert_eq!(
        cart["volumes"],
        json!([{"height": 10, "width": 15, "length": 20, "weight": 1.5}])
    );
    for path in [CHECKOUT, GENERATE, PRINT, TRACKING] {
        assert_eq!(
            s.fake.requests_to(path)[0].body,
            Some(json!({"orders": [label.id]})),
            "{path}"
        );
    }
    let held = s.fake.label(&label.id).expect("the label");
    assert_eq!(held["status"], "released");
    assert_eq!(held["tracking"], json!(code));
    s.done();
}

#[tokio::test]
async fn an_order_without_an_nfe_ships_with_a_content_declaration() {
    let s = setup().await;
    let label =
        s.me.buy_label(&label_request("01JORDERDECL", "me-1", None))
            .await
            .expect("a label");
    let cart = s.fake.requests_to(CART)[0].body.clone().expect("a body");
    assert_eq!(cart["options"]["non_commercial"], true);
    assert!(cart["options"].get("invoice").is_none(), "{cart}");
    assert_eq!(
        cart["products"],
        json!([{"name": "Pedido 01JORDERDECL", "quantity": 1, "unitary_value": 150.0}])
    );
    assert_eq!(label.price, Money::from_centavos(1_890 + 450 + 150));
    s.done();
}

#[tokio::test]
async fn a_failure_after_paying_resumes_without_paying_twice() {
    let s = setup().await;
    let before = s.fake.balance();
    s.fake.fail_on(GENERATE, Failure::ServerError);
    let request = label_request("01JORDERRESUME", "me-1", Some(nfe_key()));
    unavailable_within(s.me.buy_label(&request).await);
    let label = s.me.buy_label(&request).await.expect("the retry");

    assert_eq!(
        s.paths(),
        [CART, CHECKOUT, GENERATE, GENERATE, PRINT, TRACKING].map(str::to_owned)
    );
    assert_eq!(s.fake.label_count(), 1);
    assert_eq!(
        s.fake.balance().centavos(),
        before.centavos() - label.price.centavos()
    );
    s.done();
}

#[tokio::test]
async fn a_checkout_whose_answer_was_lost_is_found_paid_on_the_retry() {
    let s = setup().await;
    let before = s.fake.balance();
    s.fake.fail_on(CHECKOUT, Failure::LostAnswer);
    let request = label_request("01JORDERLOST", "me-2", Some(nfe_key()));
    unavailable_within(s.me.buy_label(&request).await);
    let label = s.me.buy_label(&request).await.expect("the retry");

    // The second checkout is refused (already paid); the label's status says it was.
    assert_eq!(
        s.paths(),
        [
            CART, CHECKOUT, CHECKOUT, TRACKING, GENERATE, PRINT, TRACKING
        ]
        .map(str::to_owned)
    );
    assert_eq!(s.fake.requests_to(CHECKOUT)[1].status, 422);
    assert_eq!(s.fake.label_count(), 1);
    assert_eq!(
        s.fake.balance().centavos(),
        before.centavos() - label.price.centavos()
    );
    s.done();
}

#[tokio::test]
async fn two_calls_for_the_same_order_buy_one_label() {
    let s = setup().await;
    let request = label_request("01JORDERTWICE", "me-1", Some(nfe_key()));
    let (first, second) = tokio::join!(s.me.buy_label(&request), s.me.buy_label(&request));
    let (bought, refused) = match (first, second) {
        (Ok(label), Err(e)) | (Err(e), Ok(label)) => (label, e),
        other => panic!("expected one label and one refusal, got {other:?}"),
    };
    assert!(
        matches!(refused, ShippingError::Unavailable(_)),
        "{refused:?}"
    );
    assert_eq!(s.fake.label_count(), 1);
    assert_eq!(s.fake.requests_to(CHECKOUT).len(), 1);
    // Done, the order may be bought again (a new label: the caller decides).
    assert_eq!(
        s.me.track(&bought.id).await.expect("tracking").state,
        TrackingState::Pending
    );
    s.done();
}

#[tokio::test]
async fn a_wallet_too_short_is_refused_with_melhor_envios_message() {
    let s = setup().await;
    s.fake.set_balance(Money::from_centavos(1_000));
    let request = label_request("01JORDERPOOR", "me-2", Some(nfe_key()));
    match s.me.buy_label(&request).await {
        Err(ShippingError::Refused(why)) => {
            assert!(why.contains("Saldo insuficiente"), "{why}");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    // Topped up, the same order's label is paid: still one label.
    s.fake.set_balance(Money::from_centavos(100_000));
    s.me.buy_label(&request).await.expect("the retry");
    assert_eq!(s.fake.label_count(), 1);
    s.done();
}

#[tokio::test]
async fn a_422_is_refused_with_the_fields_melhor_envio_names() {
    let s = setup().await;
    let mut request = label_request("01JORDERBADUF", "me-1", Some(nfe_key()));
    request.recipient.uf = "SP".into(); // a Rio CEP
    match s.me.buy_label(&request).await {
        Err(ShippingError::Refused(why)) => {
            assert!(why.contains("The given data was invalid."), "{why}");
            assert!(why.contains("to.state_abbr"), "{why}");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert_eq!(s.fake.requests_to(CART)[0].status, 422);
    assert_eq!(s.paths(), [CART].map(str::to_owned));
}

#[tokio::test]
async fn labels_need_the_shops_sender() {
    let s = setup().await;
    let mut without = config(&s.fake);
    without.sender = None;
    let me = MelhorEnvio::new(without).expect("a valid configuration");
    assert!(matches!(
        me.buy_label(&label_request("01JORDERNOSENDER", "me-1", None))
            .await,
        Err(ShippingError::Unsupported(_))
    ));
    assert!(matches!(
        s.me.buy_label(&label_request("01JORDERPAC", "pac", None))
            .await,
        Err(ShippingError::Refused(_))
    ));
    assert!(s.fake.requests().is_empty());
}

#[tokio::test]
async fn tracking_follows_the_label_through_the_carrier() {
    let s = setup().await;
    let label = buy(&s, "01JORDERTRACK", "me-1").await;
    let tracking = s.me.track(&label.id).await.expect("tracking");
    assert_eq!(tracking.state, TrackingState::Pending);
    assert_eq!(tracking.tracking_code, label.tracking_code);

    s.fake.post(&label.id).expect("posted");
    assert_eq!(
        s.me.track(&label.id).await.expect("tracking").state,
        TrackingState::Posted
    );
    s.fake.deliver(&label.id).expect("delivered");
    assert_eq!(
        s.me.track(&label.id).await.expect("tracking").state,
        TrackingState::Delivered
    );

    let returned = buy(&s, "01JORDERRETURNED", "me-1").await;
    s.fake.post(&returned.id).expect("posted");
    s.fake.fail_delivery(&returned.id).expect("undelivered");
    assert_eq!(
        s.me.track(&returned.id).await.expect("tracking").state,
        TrackingState::Failed
    );

    let cancelled = buy(&s, "01JORDERCANCELLED", "me-1").await;
    let before = s.fake.balance();
    s.fake.cancel(&cancelled.id).expect("cancelled");
    assert_eq!(
        s.me.track(&cancelled.id).await.expect("tracking").state,
        TrackingState::Failed
    );
    assert_eq!(
        s.fake.balance().centavos(),
        before.centavos() + cancelled.price.centavos()
    );

    s.fake
        .set_status(&cancelled.id, "teleported")
        .expect("a status");
    let why = unavailable_within(s.me.track(&cancelled.id).await);
    assert!(why.contains("teleported"), "{why}");

    assert!(matches!(
        s.me.track("9a1f6c6e-0000-4000-a000-000000000000").await,
        Err(ShippingError::Refused(_))
    ));
    s.done();
}

/// A raw request to the fake, as a careless client would send it.
async fn raw(
    fake: &FakeMelhorEnvio,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", fake.url()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body.to_owned());
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_fake_refuses_what_melhor_envio_refuses() {
    let fake = FakeMelhorEnvio::start(FakeOptions::default()).await;
    let bearer = format!("Bearer {}", fake.token());
    let agent = format!("vitrine/test ({CONTACT})");
    let good = [
        ("authorization", bearer.as_str()),
        ("accept", "application/json"),
        ("content-type", "application/json"),
        ("user-agent", agent.as_str()),
    ];
    let quote = r#"{"from":{"postal_code":"01310100"},"to":{"postal_code":"20040002"},
        "package":{"height":10,"width":15,"length":20,"weight":1.5},"options":{"insurance_value":150}}"#;
    let post = reqwest::Method::POST;

    // The well-formed request is served: the baseline the others depart from.
    let (status, body) = raw(&fake, post.clone(), CALCULATE, &good, Some(quote)).await;
    assert_eq!(status, 200, "{body}");
    assert!(fake.violations().is_empty(), "{:#?}", fake.violations());

    let without = |name: &str| -> Vec<(&str, &str)> {
        good.iter().copied().filter(|(n, _)| *n != name).collect()
    };
    let invalid = |(status, body): (u16, Value), field: &str| {
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["message"], "The given data was invalid.", "{body}");
        assert!(body["errors"][field].is_array(), "{field}: {body}");
    };

    let (status, body) = raw(
        &fake,
        post.clone(),
        CALCULATE,
        &without("authorization"),
        Some(quote),
    )
    .await;
    assert_eq!(
        (status, body),
        (401, json!({"message": "Unauthenticated."}))
    );
    invalid(
        raw(
            &fake,
            post.clone(),
            CALCULATE,
            &without("user-agent"),
            Some(quote),
        )
        .await,
        "user-agent",
    );
    let no_contact = [good[0], good[1], good[2], ("user-agent", "reqwest/0.12")];
    invalid(
        raw(&fake, post.clone(), CALCULATE, &no_contact, Some(quote)).await,
        "user-agent",
    );
    invalid(
        raw(
            &fake,
            post.clone(),
            CALCULATE,
            &without("accept"),
            Some(quote),
        )
        .await,
        "accept",
    );
    // Without a JSON content type the body is not read: every field is missing, as in Melhor
    // Envio's forum.
    invalid(
        raw(
            &fake,
            post.clone(),
            CALCULATE,
            &without("content-type"),
            Some(quote),
        )
        .await,
        "from.postal_code",
    );

    for (body, field) in [
        (
            quote.replace("\"20040002\"", "\"2004000\""),
            "to.postal_code",
        ),
        (quote.replace("\"20040002\"", "20040002"), "to.postal_code"),
        (
            quote.replace("\"width\":15", "\"width\":0"),
            "package.width",
        ),
        (
            quote.replace("\"weight\":1.5", "\"weight\":\"1.5\""),
            "package.weight",
        ),
        (
            quote.replace("\"insurance_value\":150", "\"insurance_value\":150.005"),
            "options.insurance_value",
        ),
        (quote.replace("\"package\"", "\"pacote\""), "package"),
        ("[1, 2]".to_owned(), "body"),
    ] {
        invalid(
            raw(&fake, post.clone(), CALCULATE, &good, Some(&body)).await,
            field,
        );
    }

    // A label needs the NF-e key (with a right check digit) or the content declaration.
    let label = |options: &str| {
        format!(
            r#"{{"service":1,
            "from":{{"name":"Loja","company_document":"11222333000181","state_register":"110042490114",
                "address":"Avenida Paulista","number":"1000","district":"Bela Vista","city":"São Paulo",
                "state_abbr":"SP","postal_code":"01310100"}},
            "to":{{"name":"Maria","document":"52998224725","address":"Avenida Rio Branco","number":"1",
                "district":"Centro","city":"Rio de Janeiro","state_abbr":"RJ","postal_code":"20040002"}},
            "volumes":[{{"height":10,"width":15,"length":20,"weight":1.5}}],
            "options":{options}}}"#
        )
    };
    let key = nfe_key();
    let mut wrong_digit = key.clone();
    wrong_digit.replace_range(43.., if key.ends_with('0') { "1" } else { "0" });
    invalid(
        raw(
            &fake,
            post.clone(),
            CART,
            &good,
            Some(&label(r#"{"insurance_value":150}"#)),
        )
        .await,
        "options.invoice.key",
    );
    invalid(
        raw(
            &fake,
            post.clone(),
            CART,
            &good,
            Some(&label(&format!(
                r#"{{"insurance_value":150,"invoice":{{"key":"{wrong_digit}"}}}}"#
            ))),
        )
        .await,
        "options.invoice.key",
    );
    invalid(
        raw(
            &fake,
            post.clone(),
            CART,
            &good,
            Some(&label(r#"{"insurance_value":150,"non_commercial":true}"#)),
        )
        .await,
        "products",
    );
    invalid(
        raw(
            &fake,
            post.clone(),
            CART,
            &good,
            Some(
                &label(&format!(
                    r#"{{"insurance_value":150,"invoice":{{"key":"{key}"}}}}"#
                ))
                .replace("52998224725", "52998224700"),
            ),
        )
        .await,
        "to.document",
    );
    let (status, body) = raw(
        &fake,
        post.clone(),
        CART,
        &good,
        Some(&label(&format!(
            r#"{{"insurance_value":150,"invoice":{{"key":"{key}"}}}}"#
        ))),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "pending");

    invalid(
        raw(
            &fake,
            post.clone(),
            CHECKOUT,
            &good,
            Some(r#"{"orders":[]}"#),
        )
        .await,
        "orders",
    );
    let (status, _) = raw(
        &fake,
        post.clone(),
        "/api/v2/me/shipment/teleport",
        &good,
        Some("{}"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = raw(&fake, reqwest::Method::GET, CALCULATE, &good, None).await;
    assert_eq!(status, 405);

    // Every departure was recorded; the 401 is Melhor Envio's answer, not the client's fault.
    let violations = fake.violations();
    assert_eq!(violations.len(), 19, "{violations:#?}");
}
