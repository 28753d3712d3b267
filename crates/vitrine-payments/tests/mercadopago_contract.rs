//! The Mercado Pago adapter against the fake Mercado Pago (`vitrine_testkit::fakes::mercadopago`),
//! which checks every request and answer against the official spec: each test ends with no
//! violation recorded.

use std::time::Duration;

use vitrine_app::ports::payments::{
    CardInput, Charge, ChargeKey, ChargeMethod, ChargeRequest, DeclineReason, Payer, PaymentError,
    PaymentProvider, ProviderStatus, WebhookError, WebhookRequest,
};
use vitrine_domain::card::{CardBrand, CardNumber, InstallmentPlan, InstallmentTable};
use vitrine_domain::{Money, Timestamp};
use vitrine_payments::mercadopago::{MercadoPago, MercadoPagoSettings};
use vitrine_testkit::fakes::mercadopago::{
    CardToken, Failure, FakeMercadoPago, FakeOptions, ReceivedWebhook, WebhookInbox, WebhookMode,
};

/// Mercado Pago's Brazilian test cards (docs: test-cards).
const MASTERCARD: &str = "5031 4332 1540 6351";
const VISA: &str = "4235 6477 2802 5682";

const WAIT: Duration = Duration::from_secs(5);

struct Setup {
    fake: FakeMercadoPago,
    inbox: WebhookInbox,
    mp: MercadoPago,
}

fn settings(fake: &FakeMercadoPago, inbox: &WebhookInbox) -> MercadoPagoSettings {
    MercadoPagoSettings {
        api_url: fake.url(),
        access_token: fake.access_token(),
        public_key: fake.public_key(),
        webhook_secret: fake.webhook_secret(),
        script_url: fake.script_url(),
        ca_pem: None,
        notification_url: Some(inbox.url()),
    }
}

async fn setup() -> Setup {
    let fake = FakeMercadoPago::start(FakeOptions::default()).await;
    let inbox = WebhookInbox::start().await;
    let mp = MercadoPago::new(settings(&fake, &inbox))
        .expect("valid settings")
        .with_timeout(Duration::from_millis(700));
    Setup { fake, inbox, mp }
}

impl Setup {
    /// Charge, expecting an answer.
    async fn charge(&self, key: &str, amount: Money, method: ChargeMethod) -> Charge {
        self.mp
            .charge(&request(key, amount, method))
            .await
            .unwrap_or_else(|e| panic!("charge {key}: {e}"))
    }

    fn done(&self, test: &str) {
        let violations = self.fake.violations();
        println!(
            "{test}: {} requests to the fake, {} webhooks sent, {} violations",
            self.fake.requests(),
            self.fake.sent_webhooks().len(),
            violations.len()
        );
        assert!(violations.is_empty(), "{violations:#?}");
        let undelivered: Vec<_> = self
            .fake
            .sent_webhooks()
            .into_iter()
            .filter(|w| w.status != Some(200))
            .collect();
        assert!(undelivered.is_empty(), "{undelivered:#?}");
    }
}

fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis();
    Timestamp::from_millis(ms as i64)
}

fn request(key: &str, amount: Money, method: ChargeMethod) -> ChargeRequest {
    ChargeRequest {
        order_id: format!("01JORDER{key}"),
        idempotency_key: format!("01JATTEMPT{key}"),
        amount,
        payer: Payer {
            name: "Maria da Silva".into(),
            email: "maria@example.com".into(),
            document: "12345678909".into(),
        },
        description: format!("Pedido 01JORDER{key}"),
        method,
    }
}

fn card(token: &CardToken, price: Money, plan: InstallmentPlan) -> ChargeMethod {
    ChargeMethod::Card {
        card: CardInput::Token {
            token: token.id.clone(),
            payment_method_id: token.payment_method_id.clone(),
            issuer_id: None,
            bin: token.bin.clone(),
        },
        price,
        plan,
    }
}

/// Tokenise, read the installments and charge `count` of them.
async fn pay_by_card(
    s: &Setup,
    key: &str,
    number: &str,
    holder: &str,
    price: Money,
    count: u32,
) -> (Result<Charge, PaymentError>, InstallmentPlan) {
    let token = s.fake.tokenise(number, holder).await.expect("a token");
    let plans =
        s.mp.installments(price, &token.bin)
            .await
            .expect("installments")
            .expect("Mercado Pago's own table");
    let plan = plans
        .into_iter()
        .find(|p| p.count == count)
        .unwrap_or_else(|| panic!("no {count}× plan"));
    let charge =
        s.mp.charge(&request(key, plan.total, card(&token, price, plan.clone())))
            .await;
    (charge, plan)
}

fn reference_in(charge: &Charge) -> String {
    match charge {
        Charge::Approved { reference, .. }
        | Charge::InProcess { reference, .. }
        | Charge::BoletoPending { reference, .. }
        | Charge::PixPending { reference, .. } => reference.clone(),
        Charge::Declined { .. } => panic!("declined: {charge:?}"),
    }
}

async fn webhook(
    mp: &MercadoPago,
    notice: &ReceivedWebhook,
    now: Timestamp,
) -> Result<Vec<vitrine_app::ports::payments::NoticeItem>, WebhookError> {
    let header = |name: &str| notice.header(name);
    let query = |name: &str| notice.query(name);
    mp.webhook(&WebhookRequest {
        header: &header,
        query: &query,
        subpath: "",
        body: &notice.body,
        now,
    })
    .await
}

#[tokio::test]
async fn the_documented_test_vector_passes_through_the_port() {
    let s = setup().await;
    let mp = MercadoPago::new(MercadoPagoSettings {
        webhook_secret: "test-secret".into(),
        ..settings(&s.fake, &s.inbox)
    })
    .expect("valid settings");
    let header = |name: &str| match name {
        "x-signature" => Some(
            "ts=1704908010,v1=aa03614f237c28380f08b45b5ad11eea289b7546c54c5c6a042611e605f16b3d"
                .to_owned(),
        ),
        "x-request-id" => Some("bb56a2f1-6aae-46ac-982e-9dcd3581d08e".to_owned()),
        _ => None,
    };
    let query = |name: &str| (name == "data.id").then(|| "123456".to_owned());
    let body = br#"{"id":12345,"live_mode":true,"type":"payment","date_created":"2024-01-10T14:33:30Z","user_id":44,"api_version":"v1","action":"payment.created","data":{"id":"123456"}}"#;
    let items = mp
        .webhook(&WebhookRequest {
            header: &header,
            query: &query,
            subpath: "",
            body,
            now: Timestamp::from_secs(1_704_908_010 + 60),
        })
        .await
        .expect("the documented vector verifies");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].notice_id, "12345");
    assert_eq!(items[0].reference, "123456");
    assert!(items[0].verified.is_none());
    // A merchant_order notice says nothing about a payment.
    let other = br#"{"id":12346,"type":"merchant_order","data":{"id":"123456"}}"#;
    let none = mp
        .webhook(&WebhookRequest {
            header: &header,
            query: &query,
            subpath: "",
            body: other,
            now: Timestamp::from_secs(1_704_908_010),
        })
        .await
        .expect("signed");
    assert!(none.is_empty());
    s.done("test vector");
}

#[tokio::test]
async fn a_card_approved_in_one_and_in_six_installments() {
    let s = setup().await;
    let price = Money::from_centavos(100_000);
    let (charge, plan) = pay_by_card(&s, "A1", MASTERCARD, "APRO", price, 1).await;
    assert_eq!(plan.total, price);
    let Ok(Charge::Approved {
        reference,
        authorization,
        card,
    }) = charge
    else {
        panic!("{charge:?}")
    };
    assert!(!authorization.is_empty());
    let card = card.expect("the card's summary");
    assert_eq!(
        (card.brand, card.last4.as_str()),
        (CardBrand::Mastercard, "6351")
    );
    let paid = s.mp.lookup(&reference).await.unwrap().expect("found");
    assert_eq!(paid.status, ProviderStatus::Paid);
    assert_eq!(paid.amount, price);
    assert_eq!(paid.charge, ChargeKey::Order("01JORDERA1".into()));
    assert_eq!(paid.authorization.as_deref(), Some(authorization.as_str()));

    // 6×, from the fake's table for this BIN: 1,99 % a.m. from the 4th installment.
    let (charge, plan) = pay_by_card(&s, "A6", MASTERCARD, "APRO", price, 6).await;
    assert_eq!(plan.monthly_rate_bp, 199);
    assert_eq!(plan.installments.len(), 6);
    assert_eq!(
        plan.installments.iter().map(|m| m.centavos()).sum::<i64>(),
        plan.total.centavos()
    );
    // The same plan as the store's own Price-table rule gives at 1,99 % a.m.
    assert_eq!(plan, InstallmentTable::default().plan(price, 6).unwrap());
    assert!(plan.total > price);
    let reference = reference_of(charge);
    let at_fake = s.fake.payment(&reference).expect("at the fake");
    assert_eq!(at_fake["installments"], 6);
    assert_eq!(at_fake["transaction_amount"], 1000.0);
    assert_eq!(
        at_fake["transaction_details"]["total_paid_amount"],
        plan.total.centavos() as f64 / 100.0
    );
    let paid = s.mp.lookup(&reference).await.unwrap().expect("found");
    assert_eq!(
        paid.amount, plan.total,
        "what the payer paid, interest included"
    );

    // The whole table, and a Visa's shorter one.
    let plans = s.mp.installments(price, "503143").await.unwrap().unwrap();
    assert_eq!(plans.len(), 12);
    assert!(
        plans[..3]
            .iter()
            .all(|p| p.monthly_rate_bp == 0 && p.total == price)
    );
    let plans = s.mp.installments(price, "423564").await.unwrap().unwrap();
    assert_eq!(plans.len(), 6);
    assert_eq!(plans[1].monthly_rate_bp, 249);
    s.done("card approved");
}

fn reference_of(charge: Result<Charge, PaymentError>) -> String {
    reference_in(&charge.expect("a charge"))
}

#[tokio::test]
async fn declined_and_insufficient_funds() {
    let s = setup().await;
    let price = Money::from_centavos(5_000);
    let (charge, _) = pay_by_card(&s, "D1", VISA, "OTHE", price, 1).await;
    let Ok(Charge::Declined { reason, card }) = charge else {
        panic!("{charge:?}")
    };
    assert_eq!(reason, DeclineReason::Declined);
    assert_eq!(card.expect("summary").brand, CardBrand::Visa);
    let (charge, _) = pay_by_card(&s, "D2", VISA, "FUND", price, 1).await;
    let Ok(Charge::Declined { reason, .. }) = charge else {
        panic!("{charge:?}")
    };
    assert_eq!(reason, DeclineReason::InsufficientFunds);
    s.done("declined");
}

#[tokio::test]
async fn three_d_secure_then_approved_or_refused() {
    let s = setup().await;
    let price = Money::from_centavos(25_990);
    let (charge, _) = pay_by_card(&s, "S1", MASTERCARD, "3DS", price, 1).await;
    let Ok(Charge::InProcess {
        reference,
        challenge_url: Some(challenge_url),
        card: Some(_),
    }) = charge
    else {
        panic!("{charge:?}")
    };
    let pending = s.mp.lookup(&reference).await.unwrap().unwrap();
    assert_eq!(pending.status, ProviderStatus::Pending);
    // The buyer's browser: the challenge page, then its "Confirm" button.
    let http = reqwest::Client::new();
    let page = http.get(&challenge_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let action = format!("/challenge/{reference}/approve");
    assert!(html.contains(&action), "{html}");
    let done = http
        .post(format!("{}{action}", s.fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    // The notice arrives signed, names the payment, and the payment reads back paid.
    let notices = s.inbox.wait_for(2, WAIT).await;
    let items = webhook(&s.mp, notices.last().unwrap(), now())
        .await
        .unwrap();
    assert_eq!(items[0].reference, reference);
    let paid = s.mp.lookup(&reference).await.unwrap().unwrap();
    assert_eq!(paid.status, ProviderStatus::Paid);
    assert_eq!(paid.amount, price);

    let (charge, _) = pay_by_card(&s, "S2", MASTERCARD, "3DS", price, 1).await;
    let reference = reference_of(charge);
    s.fake.challenge(&reference, false).await.unwrap();
    let refused = s.mp.lookup(&reference).await.unwrap().unwrap();
    assert_eq!(
        refused.status,
        ProviderStatus::Declined(DeclineReason::Declined)
    );

    // Under review (CONT): pending, no challenge.
    let (charge, _) = pay_by_card(&s, "S3", MASTERCARD, "CONT", price, 1).await;
    let Ok(Charge::InProcess {
        challenge_url: None,
        reference,
        ..
    }) = charge
    else {
        panic!("{charge:?}")
    };
    let review = s.mp.lookup(&reference).await.unwrap().unwrap();
    assert_eq!(review.status, ProviderStatus::Pending);
    s.done("3-D Secure");
}

#[tokio::test]
async fn boleto_pending_then_paid_or_expired() {
    let s = setup().await;
    let amount = Money::from_centavos(15_075);
    let due = Timestamp::from_millis(now().millis() + 3 * 86_400_000);
    let charge = s
        .charge("B1", amount, ChargeMethod::Boleto { expires_at: due })
        .await;
    let Charge::BoletoPending { reference, boleto } = charge else {
        panic!("{charge:?}")
    };
    assert_eq!(boleto.barcode.len(), 44);
    assert_eq!(boleto.digitable_line.len(), 47);
    assert!(boleto.pdf_url.starts_with(&s.fake.url()));
    assert_eq!(boleto.expires_at.secs(), due.secs());
    assert_eq!(
        s.mp.lookup(&reference).await.unwrap().unwrap().status,
        ProviderStatus::Pending
    );
    s.fake.pay_boleto(&reference).await.unwrap();
    let paid = s.mp.lookup(&reference).await.unwrap().unwrap();
    assert_eq!((paid.status, paid.amount), (ProviderStatus::Paid, amount));

    let charge = s
        .charge("B2", amount, ChargeMethod::Boleto { expires_at: due })
        .await;
    let reference = reference_in(&charge);
    s.fake.expire(&reference).await.unwrap();
    let expired = s.mp.lookup(&reference).await.unwrap().unwrap();
    assert_eq!(expired.status, ProviderStatus::Cancelled);
    s.mp.cancel(&reference)
        .await
        .expect("expired already is fine");

    // Withdrawn before anyone paid: cancelled, and cancelling twice is fine.
    let charge = s
        .charge("B3", amount, ChargeMethod::Boleto { expires_at: due })
        .await;
    let reference = reference_in(&charge);
    s.mp.cancel(&reference).await.unwrap();
    s.mp.cancel(&reference).await.unwrap();
    assert_eq!(
        s.mp.lookup(&reference).await.unwrap().unwrap().status,
        ProviderStatus::Cancelled
    );
    s.done("boleto");
}

#[tokio::test]
async fn pix_pending_then_paid() {
    let s = setup().await;
    let amount = Money::from_centavos(4_250);
    let charge = s
        .charge(
            "P1",
            amount,
            ChargeMethod::Pix {
                expires_at: Timestamp::from_millis(now().millis() + 1_800_000),
            },
        )
        .await;
    let Charge::PixPending {
        txid,
        br_code,
        reference,
    } = charge
    else {
        panic!("{charge:?}")
    };
    assert_eq!(txid, reference);
    assert!(vitrine_domain::pix::crc_matches(&br_code), "{br_code}");
    s.fake.pay_pix(&reference).await.unwrap();
    let paid = s.mp.lookup(&reference).await.unwrap().unwrap();
    assert_eq!((paid.status, paid.amount), (ProviderStatus::Paid, amount));
    assert_eq!(paid.charge, ChargeKey::Order("01JORDERP1".into()));
    s.done("pix");
}

#[tokio::test]
async fn refunds_partial_then_full_once_per_refund_id() {
    let s = setup().await;
    let price = Money::from_centavos(10_000);
    let (charge, _) = pay_by_card(&s, "R1", VISA, "APRO", price, 1).await;
    let reference = reference_of(charge);
    let first =
        s.mp.refund(&reference, Money::from_centavos(3_000), "01JEVENTREFUND1")
            .await
            .unwrap();
    let again =
        s.mp.refund(&reference, Money::from_centavos(3_000), "01JEVENTREFUND1")
            .await
            .unwrap();
    assert_eq!(first, again, "the same refund id refunds once");
    assert_eq!(
        s.fake.payment(&reference).unwrap()["transaction_amount_refunded"],
        30.0
    );
    let partly = s.mp.lookup(&reference).await.unwrap().unwrap();
    assert_eq!(partly.status, ProviderStatus::Paid);
    assert_eq!(partly.refunded, Money::from_centavos(3_000));

    s.mp.refund(&reference, Money::from_centavos(7_000), "01JEVENTREFUND2")
        .await
        .unwrap();
    let at_fake = s.fake.payment(&reference).unwrap();
    assert_eq!(at_fake["status"], "refunded");
    assert_eq!(at_fake["transaction_amount_refunded"], 100.0);
    let refunded = s.mp.lookup(&reference).await.unwrap().unwrap();
    assert_eq!(refunded.status, ProviderStatus::Paid);
    assert_eq!(refunded.refunded, price);

    // More than is left: refused with the API's message.
    let err =
        s.mp.refund(&reference, Money::from_centavos(1), "01JEVENTREFUND3")
            .await
            .unwrap_err();
    assert!(
        matches!(err, PaymentError::Invalid(ref m) if m.contains("approved")),
        "{err}"
    );
    s.done("refunds");
}

#[tokio::test]
async fn a_retry_with_the_same_key_is_the_same_payment() {
    let s = setup().await;
    let amount = Money::from_centavos(9_900);
    let boleto = ChargeMethod::Boleto {
        expires_at: Timestamp::from_millis(now().millis() + 86_400_000),
    };
    s.fake.fail_next(1, Failure::ServerError);
    let err =
        s.mp.charge(&request("I1", amount, boleto.clone()))
            .await
            .unwrap_err();
    assert!(matches!(err, PaymentError::Unavailable(_)), "{err}");
    let first = s.charge("I1", amount, boleto.clone()).await;
    let second = s.charge("I1", amount, boleto.clone()).await;
    assert_eq!(first, second);
    let other = s.charge("I2", amount, boleto).await;
    assert_ne!(reference_in(&first), reference_in(&other));
    // Card tokens are single-use, yet the retry answers the first payment.
    let token = s.fake.tokenise(MASTERCARD, "APRO").await.unwrap();
    let plan =
        s.mp.installments(amount, &token.bin)
            .await
            .unwrap()
            .unwrap()[0]
            .clone();
    let charge = request("I3", amount, card(&token, amount, plan));
    let first = s.mp.charge(&charge).await.unwrap();
    let second = s.mp.charge(&charge).await.unwrap();
    assert_eq!(reference_in(&first), reference_in(&second));
    s.done("idempotency");
}

#[tokio::test]
async fn a_card_number_is_refused_before_any_call() {
    let s = setup().await;
    let before = s.fake.requests();
    let price = Money::from_centavos(1_000);
    let plan = InstallmentTable::default().plan(price, 1).unwrap();
    let charge = request(
        "N1",
        price,
        ChargeMethod::Card {
            card: CardInput::Number {
                number: CardNumber::parse("4111 1111 1111 1111").unwrap(),
                holder: "APRO".into(),
            },
            price,
            plan,
        },
    );
    let err = s.mp.charge(&charge).await.unwrap_err();
    assert!(
        matches!(err, PaymentError::Invalid(ref m) if m.contains("card numbers are not accepted")),
        "{err}"
    );
    assert_eq!(s.fake.requests(), before);
    s.done("card number");
}

#[tokio::test]
async fn webhooks_good_bad_stale_duplicate_foreign_and_missing() {
    let s = setup().await;
    let amount = Money::from_centavos(3_000);
    let pix = || ChargeMethod::Pix {
        expires_at: Timestamp::from_millis(now().millis() + 1_800_000),
    };
    let reference = reference_in(&s.charge("W1", amount, pix()).await);
    let created = s.inbox.wait_for(1, WAIT).await;
    assert_eq!(created.len(), 1);
    let notice = &created[0];
    assert_eq!(notice.query("type").as_deref(), Some("payment"));
    let items = webhook(&s.mp, notice, now())
        .await
        .expect("a good signature");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].reference, reference);

    // Tampered: another payment id in the query, or a changed signature.
    let mut forged = notice.clone();
    forged.query = vec![
        ("data.id".into(), "999".into()),
        ("type".into(), "payment".into()),
    ];
    assert!(matches!(
        webhook(&s.mp, &forged, now()).await,
        Err(WebhookError::BadSignature)
    ));
    let mut forged = notice.clone();
    for (name, value) in &mut forged.headers {
        if name == "x-signature" {
            *value = value.replace("v1=", "v1=0");
        }
    }
    assert!(matches!(
        webhook(&s.mp, &forged, now()).await,
        Err(WebhookError::BadSignature)
    ));
    let mut unsigned = notice.clone();
    unsigned.headers.retain(|(name, _)| name != "x-signature");
    assert!(matches!(
        webhook(&s.mp, &unsigned, now()).await,
        Err(WebhookError::BadSignature)
    ));
    // Replayed ten minutes later, or from ten minutes ahead: stale.
    for skew in [600_000, -600_000] {
        assert!(matches!(
            webhook(&s.mp, notice, Timestamp::from_millis(now().millis() + skew)).await,
            Err(WebhookError::Stale)
        ));
    }
    // A millisecond ts, signed as such, is read as milliseconds.
    let mut in_ms = notice.clone();
    let ts_ms = now().millis();
    let request_id = notice.header("x-request-id").unwrap();
    for (name, value) in &mut in_ms.headers {
        if name == "x-signature" {
            *value = s.fake.sign(&reference, &request_id, ts_ms);
        }
    }
    webhook(&s.mp, &in_ms, now()).await.expect("ms accepted");

    // Duplicate: the same notice id twice.
    s.fake.webhooks(WebhookMode::Duplicate);
    s.fake.pay_pix(&reference).await.unwrap();
    let all = s.inbox.wait_for(3, WAIT).await;
    let (a, b) = (
        webhook(&s.mp, &all[1], now()).await.unwrap(),
        webhook(&s.mp, &all[2], now()).await.unwrap(),
    );
    assert_eq!(a[0].notice_id, b[0].notice_id);

    // Someone else's payment: signed, but it reads back as unknown.
    s.fake.webhooks(WebhookMode::Foreign);
    let second = reference_in(&s.charge("W2", amount, pix()).await);
    let all = s.inbox.wait_for(5, WAIT).await;
    let foreign = webhook(&s.mp, &all[3], now()).await.unwrap();
    assert_ne!(foreign[0].reference, second);
    assert!(s.mp.lookup(&foreign[0].reference).await.unwrap().is_none());

    // Never sent: reconciliation finds the payment anyway.
    s.fake.webhooks(WebhookMode::Never);
    let from = now();
    let third = reference_in(&s.charge("W3", amount, pix()).await);
    s.fake.pay_pix(&third).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.inbox.received().len(), 5);
    let received =
        s.mp.received(from, Timestamp::from_millis(now().millis() + 1_000))
            .await
            .unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].reference, third);
    assert_eq!(received[0].status, ProviderStatus::Paid);
    s.done("webhooks");
}

#[tokio::test]
async fn received_reads_every_page() {
    let s = setup().await;
    s.fake.webhooks(WebhookMode::Never);
    let from = now();
    let mut paid = Vec::new();
    for k in 0..60 {
        let charge = s
            .charge(
                &format!("L{k}"),
                Money::from_centavos(1_000 + k),
                ChargeMethod::Pix {
                    expires_at: Timestamp::from_millis(now().millis() + 1_800_000),
                },
            )
            .await;
        let reference = reference_in(&charge);
        if k % 10 != 0 {
            s.fake.pay_pix(&reference).await.unwrap();
            paid.push(reference);
        }
    }
    let found =
        s.mp.received(from, Timestamp::from_millis(now().millis() + 1_000))
            .await
            .unwrap();
    let mut got: Vec<String> = found.into_iter().map(|p| p.reference).collect();
    got.sort();
    paid.sort();
    assert_eq!(got, paid);
    assert_eq!(paid.len(), 54, "more than one page of 50");
    let none = s.mp.received(Timestamp::from_secs(0), from).await.unwrap();
    assert!(none.is_empty());
    s.done("received");
}

#[tokio::test]
async fn server_errors_timeouts_and_rate_limits_are_unavailable() {
    let s = setup().await;
    let amount = Money::from_centavos(2_000);
    for failure in [
        Failure::ServerError,
        Failure::Timeout,
        Failure::TooManyRequests,
    ] {
        s.fake.fail_next(1, failure);
        let err = s.mp.lookup("1325000001").await.unwrap_err();
        assert!(
            matches!(err, PaymentError::Unavailable(_)),
            "{failure:?}: {err}"
        );
    }
    s.fake.fail_next(1, Failure::TooManyRequests);
    let err = s.mp.installments(amount, "503143").await.unwrap_err();
    assert!(matches!(err, PaymentError::Unavailable(_)), "{err}");
    // A wrong access token is the API's 401: refused, not retried.
    let wrong = MercadoPago::new(MercadoPagoSettings {
        access_token: "APP_USR-wrong".into(),
        ..settings(&s.fake, &s.inbox)
    })
    .unwrap();
    let err = wrong.lookup("1325000001").await.unwrap_err();
    assert!(
        matches!(err, PaymentError::Invalid(ref m) if m.contains("401") && !m.contains("APP_USR")),
        "{err}"
    );
    // An unknown payment is None, a non-numeric one is never asked for.
    assert!(s.mp.lookup("1").await.unwrap().is_none());
    let before = s.fake.requests();
    assert!(s.mp.lookup("../v1/payments").await.unwrap().is_none());
    assert_eq!(s.fake.requests(), before);
    s.done("unavailable");
}

#[tokio::test]
async fn the_browser_gets_the_script_and_the_public_key() {
    let s = setup().await;
    let browser = s.mp.browser().expect("cards are tokenised in the browser");
    assert_eq!(browser.provider, "mercadopago");
    assert_eq!(browser.script_url, s.fake.script_url());
    assert_eq!(browser.public_key, s.fake.public_key());
    assert_eq!(browser.origins, vec![s.fake.url()]);
    assert!(!s.mp.is_sandbox());
    assert_eq!(s.mp.name(), "mercadopago");
    let real = MercadoPago::new(MercadoPagoSettings {
        api_url: "https://api.mercadopago.com".into(),
        script_url: "https://sdk.mercadopago.com/js/v2".into(),
        ..settings(&s.fake, &s.inbox)
    })
    .unwrap();
    assert_eq!(
        real.browser().unwrap().origins,
        vec![
            "https://sdk.mercadopago.com".to_owned(),
            "https://api.mercadopago.com".to_owned()
        ]
    );
    for bad in [
        MercadoPagoSettings {
            api_url: "ftp://x".into(),
            ..settings(&s.fake, &s.inbox)
        },
        MercadoPagoSettings {
            access_token: " ".into(),
            ..settings(&s.fake, &s.inbox)
        },
    ] {
        assert!(MercadoPago::new(bad).is_err());
    }
    s.done("browser");
}

/// The script itself, run by Node against the fake: tokenise, brand, installments.
#[tokio::test]
async fn the_script_tokenises_and_reads_installments() {
    let s = setup().await;
    let Ok(node) = which_node() else {
        eprintln!("node is not installed: the script's test is skipped");
        return;
    };
    let program = format!(
        r#"
globalThis.window = globalThis;
globalThis.document = {{ currentScript: {{ src: {script:?} }} }};
(async () => {{
  const source = await (await fetch({script:?})).text();
  eval(source);
  const mp = new MercadoPago({key:?}, {{ locale: "pt-BR" }});
  const token = await mp.createCardToken({{
    cardNumber: "5031 4332 1540 6351", cardholderName: "APRO", cardExpirationMonth: "11",
    cardExpirationYear: "30", securityCode: "123", identificationType: "CPF",
    identificationNumber: "123.456.789-09" }});
  const installments = await mp.getInstallments({{ amount: "1000", bin: "503143" }});
  let refused = null;
  try {{
    await new MercadoPago("wrong-key").createCardToken({{ cardNumber: "5031433215406351",
      cardholderName: "APRO", cardExpirationMonth: 11, cardExpirationYear: 2030, securityCode: "123" }});
  }}
  catch (e) {{ refused = e.status; }}
  console.log(JSON.stringify({{ token, installments, refused }}));
}})().catch((e) => {{ console.error(e); process.exit(1); }});
"#,
        script = s.fake.script_url(),
        key = s.fake.public_key(),
    );
    let run = tokio::process::Command::new(node)
        .arg("-e")
        .arg(program)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("node finishes")
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["token"]["payment_method_id"], "master");
    assert_eq!(result["token"]["last_four_digits"], "6351");
    assert_eq!(result["refused"], 400);
    let costs = result["installments"][0]["payer_costs"].as_array().unwrap();
    assert_eq!(costs.len(), 12);
    // The token the script made pays through the adapter.
    let token = CardToken {
        id: result["token"]["id"].as_str().unwrap().to_owned(),
        payment_method_id: "master".into(),
        bin: "503143".into(),
        last_four: "6351".into(),
    };
    let price = Money::from_centavos(100_000);
    let plan = s.mp.installments(price, "503143").await.unwrap().unwrap()[0].clone();
    let charge = s.charge("J1", price, card(&token, price, plan)).await;
    assert!(matches!(charge, Charge::Approved { .. }), "{charge:?}");
    s.done("script");
}

fn which_node() -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("node"))
        .find(|candidate| candidate.is_file())
        .ok_or(())
}

/// The fake is a strict counterpart: a client that strays from the spec is caught.
#[tokio::test]
async fn the_fake_catches_a_client_that_strays_from_the_spec() {
    let s = setup().await;
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{}/v1/payments", s.fake.url()))
        .bearer_auth(s.fake.access_token())
        .header("X-Idempotency-Key", "order-42")
        .json(&serde_json::json!({"transaction_amount": "100.50", "payment_method_id": "pix"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    http.get(format!("{}/v1/payments/search", s.fake.url()))
        .query(&[
            ("sort", "date_created"),
            ("criteria", "sideways"),
            ("page", "2"),
        ])
        .bearer_auth(s.fake.access_token())
        .send()
        .await
        .unwrap();
    let violations = s.fake.violations();
    println!("{violations:#?}");
    for expected in [
        "is not a uuid",
        "transaction_amount",
        "payer",
        "criteria",
        "unknown query parameter page",
    ] {
        assert!(
            violations.iter().any(|v| v.contains(expected)),
            "{expected} not caught: {violations:#?}"
        );
    }
}
