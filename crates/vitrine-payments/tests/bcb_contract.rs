//! The `bcb` adapter against the fake bank (`vitrine_testkit::fakes::bcb_pix`), which holds every
//! request and answer to the BCB Pix API spec v2.9.0: each test ends with no contract violation.

use std::time::{Duration, SystemTime};

use vitrine_app::ports::payments::{
    Charge, ChargeKey, ChargeMethod, ChargeRequest, Payer, PaymentError, PaymentProvider,
    ProviderStatus, WebhookError, WebhookRequest,
};
use vitrine_domain::{Money, Timestamp};
use vitrine_payments::bcb::{BcbPix, BcbSettings, BcbTimeouts};
use vitrine_testkit::fakes::bcb_pix::{FakeBank, FakeBankOptions, Fault, WebhookMode};

fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    Timestamp::from_millis(ms as i64)
}

async fn bank(options: FakeBankOptions) -> FakeBank {
    FakeBank::start(options)
        .await
        .expect("the fake bank starts")
}

fn settings(fake: &FakeBank, webhook_url: Option<String>) -> BcbSettings {
    BcbSettings {
        api_url: fake.api_url(),
        token_url: fake.token_url(),
        client_id: fake.options().client_id.clone(),
        client_secret: fake.options().client_secret.clone(),
        certificate_pem: fake.client_certificate_pem().to_string(),
        key_pem: fake.client_key_pem().to_string(),
        ca_pem: Some(fake.ca_pem().to_string()),
        pix_key: fake.options().pix_key.clone(),
        webhook_url,
    }
}

fn adapter(fake: &FakeBank) -> BcbPix {
    let timeouts = BcbTimeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_secs(1),
    };
    BcbPix::with_timeouts(settings(fake, None), timeouts).expect("valid settings")
}

fn charge_request(key: &str, centavos: i64) -> ChargeRequest {
    ChargeRequest {
        order_id: format!("order-{key}"),
        idempotency_key: key.to_string(),
        amount: Money::from_centavos(centavos),
        payer: Payer {
            name: "Francisco da Silva".into(),
            email: "francisco@example.com".into(),
            document: "12345678909".into(),
        },
        description: format!("Pedido {key}"),
        method: ChargeMethod::Pix {
            expires_at: now().plus_secs(1800),
        },
    }
}

async fn charge(pix: &BcbPix, key: &str, centavos: i64) -> String {
    match pix.charge(&charge_request(key, centavos)).await {
        Ok(Charge::PixPending { txid, .. }) => txid,
        other => panic!("expected a pending Pix charge, got {other:?}"),
    }
}

async fn notices(pix: &BcbPix, subpath: &str, body: &[u8]) -> Result<Vec<String>, WebhookError> {
    let none = |_: &str| None;
    let request = WebhookRequest {
        header: &none,
        query: &none,
        subpath,
        body,
        now: now(),
    };
    let items = pix.webhook(&request).await?;
    assert!(
        items.iter().all(|i| i.verified.is_none()),
        "a bcb notice is only a hint"
    );
    Ok(items
        .into_iter()
        .map(|i| format!("{} {}", i.notice_id, i.reference))
        .collect())
}

/// Every test ends here: nothing the adapter sent or the bank answered broke the spec.
fn no_violations(fake: &FakeBank, test: &str) {
    let violations = fake.violations();
    println!(
        "{test}: {} requests to the fake bank, {} tokens, {} contract violations",
        fake.requests(),
        fake.token_requests(),
        violations.len()
    );
    assert!(violations.is_empty(), "{violations:#?}");
}

fn unavailable(result: Result<impl std::fmt::Debug, PaymentError>, what: &str) -> String {
    match result {
        Err(PaymentError::Unavailable(e)) => format!("{e:#}"),
        other => panic!("{what}: expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_paid_charge_is_notified_and_read_back_as_paid() {
    let fake = bank(FakeBankOptions::default()).await;
    let inbox = fake.inbox().await.unwrap();
    let pix = BcbPix::new(settings(&fake, Some(inbox.url()))).unwrap();
    pix.register_webhook().await.unwrap();

    let answer = pix.charge(&charge_request("k1", 12345)).await.unwrap();
    let Charge::PixPending {
        txid,
        br_code,
        reference,
    } = answer
    else {
        panic!("not a pending Pix: {answer:?}");
    };
    assert_eq!(txid, BcbPix::txid_for("k1"));
    assert_eq!(reference, txid);
    assert_eq!(br_code, fake.charge(&txid).unwrap()["pixCopiaECola"]);
    let cob = fake.charge(&txid).unwrap();
    assert_eq!(cob["valor"]["original"], "123.45");
    assert_eq!(cob["devedor"]["cpf"], "12345678909");
    assert_eq!(cob["solicitacaoPagador"], "Pedido k1");
    let expiry = cob["calendario"]["expiracao"].as_i64().unwrap();
    assert!((1790..=1800).contains(&expiry), "expiracao {expiry}");

    let e2eid = fake.pay(&txid).await.unwrap();
    let received = inbox.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(received.len(), 1);
    assert!(
        received[0].path.ends_with("/webhooks/bcb/pix"),
        "{}",
        received[0].path
    );
    let items = notices(&pix, "pix", &received[0].body).await.unwrap();
    assert_eq!(items, vec![format!("{e2eid} {e2eid}")]);
    let deliveries = fake.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].outcome, Ok(200), "delivered over mutual TLS");
    assert_eq!(deliveries[0].url, format!("{}/pix", inbox.url()));

    let paid = pix
        .lookup(&e2eid)
        .await
        .unwrap()
        .expect("the bank knows the Pix");
    assert_eq!(paid.reference, e2eid);
    assert_eq!(paid.charge, ChargeKey::Txid(txid.clone()));
    assert_eq!(paid.status, ProviderStatus::Paid);
    assert_eq!(paid.amount, Money::from_centavos(12345));
    assert_eq!(paid.refunded, Money::ZERO);
    assert_eq!(fake.charge(&txid).unwrap()["status"], "CONCLUIDA");
    no_violations(&fake, "paid");
}

#[tokio::test]
async fn a_retried_charge_is_one_charge_at_the_bank() {
    let fake = bank(FakeBankOptions::default()).await;
    let pix = adapter(&fake);
    let first = pix.charge(&charge_request("retry", 5000)).await.unwrap();
    let again = pix.charge(&charge_request("retry", 5000)).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(fake.charge_count(), 1);
    let mut company = charge_request("company", 5000);
    company.payer.document = "12ABC34501DE35".into();
    company.payer.name = "Empresa de Serviços SA".into();
    let Charge::PixPending { txid, .. } = pix.charge(&company).await.unwrap() else {
        panic!("not a pending Pix");
    };
    let devedor = &fake.charge(&txid).unwrap()["devedor"];
    assert_eq!(
        devedor["cnpj"], "12ABC34501DE35",
        "alphanumeric CNPJ (v2.9.0)"
    );
    assert_eq!(devedor["nome"], "Empresa de Serviços SA");
    let mut unknown = charge_request("no-document", 5000);
    unknown.payer.document = "123".into();
    let Charge::PixPending { txid, .. } = pix.charge(&unknown).await.unwrap() else {
        panic!("not a pending Pix");
    };
    assert!(fake.charge(&txid).unwrap().get("devedor").is_none());
    assert_eq!(fake.charge_count(), 3);
    // The same key for another amount is not the same charge: refused, not confused.
    match pix.charge(&charge_request("retry", 6000)).await {
        Err(PaymentError::Invalid(message)) => {
            assert!(message.contains("another charge"), "{message}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    no_violations(&fake, "retry");
}

#[tokio::test]
async fn a_cancelled_charge_is_removed_and_cancelling_again_or_after_payment_is_fine() {
    let fake = bank(FakeBankOptions::default()).await;
    let pix = adapter(&fake);
    let txid = charge(&pix, "cancel", 1000).await;
    pix.cancel(&txid).await.unwrap();
    assert_eq!(
        fake.charge(&txid).unwrap()["status"],
        "REMOVIDA_PELO_USUARIO_RECEBEDOR"
    );
    pix.cancel(&txid).await.unwrap();
    assert!(
        fake.pay(&txid).await.is_err(),
        "a removed charge takes no payment"
    );
    match pix.charge(&charge_request("cancel", 1000)).await {
        Err(PaymentError::Invalid(message)) => assert!(message.contains("removed"), "{message}"),
        other => panic!("a removed charge is not pending again: {other:?}"),
    }

    let paid = charge(&pix, "paid-then-cancel", 1000).await;
    fake.pay(&paid).await.unwrap();
    pix.cancel(&paid).await.unwrap();
    assert_eq!(fake.charge(&paid).unwrap()["status"], "CONCLUIDA");
    no_violations(&fake, "cancel");
}

#[tokio::test]
async fn refunds_partial_and_full_reach_the_bank_once_each() {
    let fake = bank(FakeBankOptions::default()).await;
    let inbox = fake.inbox().await.unwrap();
    let pix =
        BcbPix::with_timeouts(settings(&fake, Some(inbox.url())), BcbTimeouts::default()).unwrap();
    pix.register_webhook().await.unwrap();
    let txid = charge(&pix, "refund", 10000).await;
    let e2eid = fake.pay(&txid).await.unwrap();

    let partial = pix
        .refund(&e2eid, Money::from_centavos(3000), "evt-1")
        .await
        .unwrap();
    assert_eq!(fake.refunded(&e2eid), Money::from_centavos(3000));
    let repeat = pix
        .refund(&e2eid, Money::from_centavos(3000), "evt-1")
        .await
        .unwrap();
    assert_eq!(partial, repeat);
    assert_eq!(
        fake.refunded(&e2eid),
        Money::from_centavos(3000),
        "a repeat refunds once"
    );
    assert_eq!(partial.reference.len(), 32, "the rtrId");

    match pix
        .refund(&e2eid, Money::from_centavos(7001), "evt-2")
        .await
    {
        Err(PaymentError::Invalid(message)) => {
            assert!(message.contains("PixDevolucaoInvalida"), "{message}")
        }
        other => panic!("more than the Pix's value must be refused: {other:?}"),
    }
    pix.refund(&e2eid, Money::from_centavos(7000), "evt-3")
        .await
        .unwrap();
    assert_eq!(fake.refunded(&e2eid), Money::from_centavos(10000));
    let looked = pix.lookup(&e2eid).await.unwrap().unwrap();
    assert_eq!(looked.amount, Money::from_centavos(10000));
    assert_eq!(looked.refunded, Money::from_centavos(10000));

    // The payment and each refund's final status are notified; each notice id is distinct.
    let received = inbox.wait_for(3, Duration::from_secs(5)).await;
    let mut ids = Vec::new();
    for notice in &received {
        ids.extend(notices(&pix, "pix", &notice.body).await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "{ids:?}");
    no_violations(&fake, "refunds");
}

#[tokio::test]
async fn received_lists_the_days_pix_across_pages() {
    let fake = bank(FakeBankOptions {
        max_page_size: 2,
        ..FakeBankOptions::default()
    })
    .await;
    let pix = adapter(&fake);
    let from = now().plus_secs(-60);
    let mut paid = Vec::new();
    for i in 0..5 {
        let txid = charge(&pix, &format!("day-{i}"), 1000 + i).await;
        paid.push(fake.pay(&txid).await.unwrap());
    }
    charge(&pix, "unpaid", 999).await;
    // Money to the key without a charge is listed by the bank but is no order's payment.
    let keyed = fake.receive_without_txid(Money::from_centavos(5000));
    assert_eq!(pix.lookup(&keyed).await.unwrap(), None);
    let listed = pix.received(from, now().plus_secs(60)).await.unwrap();
    let mut references: Vec<String> = listed.iter().map(|p| p.reference.clone()).collect();
    references.sort();
    paid.sort();
    assert_eq!(references, paid);
    assert!(listed.iter().all(|p| p.status == ProviderStatus::Paid));
    let total: i64 = listed.iter().map(|p| p.amount.centavos()).sum();
    assert_eq!(total, 1000 + 1001 + 1002 + 1003 + 1004);
    assert!(
        pix.received(from.plus_secs(-3600), from)
            .await
            .unwrap()
            .is_empty()
    );
    no_violations(&fake, "received");
}

#[tokio::test]
async fn the_token_is_cached_and_renewed_after_expiry_or_a_401() {
    let fake = bank(FakeBankOptions {
        token_lifetime: Duration::from_secs(2),
        ..FakeBankOptions::default()
    })
    .await;
    let pix = adapter(&fake);
    for i in 0..5 {
        charge(&pix, &format!("token-{i}"), 100).await;
    }
    assert_eq!(fake.token_requests(), 1, "one token for many calls");
    fake.expire_tokens();
    charge(&pix, "after-401", 100).await;
    assert_eq!(fake.token_requests(), 2, "a 401 renews the token once");
    // Renewed shortly before it expires (2 s, so 1 s ahead), never used expired.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    charge(&pix, "after-expiry", 100).await;
    assert_eq!(fake.token_requests(), 3);
    // A 401 whatever the token: renewed once, then the bank's refusal is final.
    fake.fail_next(Fault::ExpiredToken, 1);
    charge(&pix, "one-401", 100).await;
    assert_eq!(fake.token_requests(), 4);
    fake.fail_next(Fault::ExpiredToken, 2);
    match pix.charge(&charge_request("two-401", 100)).await {
        Err(PaymentError::Invalid(message)) => {
            assert!(message.contains("refused a fresh token (401)"), "{message}")
        }
        other => panic!("expected Invalid after two 401s, got {other:?}"),
    }
    assert_eq!(fake.token_requests(), 5);
    assert_eq!(fake.charge_count(), 8);
    no_violations(&fake, "token");
}

#[tokio::test]
async fn a_bank_that_fails_times_out_or_throttles_is_unavailable_and_a_retry_works() {
    let fake = bank(FakeBankOptions {
        hang: Duration::from_secs(3),
        ..FakeBankOptions::default()
    })
    .await;
    let pix = adapter(&fake);
    let request = charge_request("faults", 2500);

    fake.fail_next(Fault::ServerError, 1);
    let why = unavailable(pix.charge(&request).await, "5xx");
    assert!(why.contains("503"), "{why}");
    fake.fail_next(Fault::TooManyRequests, 1);
    let why = unavailable(pix.charge(&request).await, "429");
    assert!(why.contains("429"), "{why}");
    fake.fail_next(Fault::Hang, 1);
    let started = std::time::Instant::now();
    let why = unavailable(pix.charge(&request).await, "timeout");
    assert!(why.contains("in time"), "{why}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the client gave up first"
    );

    let answer = pix.charge(&request).await.unwrap();
    assert!(matches!(answer, Charge::PixPending { .. }));
    assert_eq!(fake.charge_count(), 1);
    fake.fail_next(Fault::ServerError, 1);
    unavailable(
        pix.lookup("E9999999920261206000000000000001").await,
        "lookup 5xx",
    );
    no_violations(&fake, "faults");
}

#[tokio::test]
async fn a_client_without_the_banks_certificate_is_refused_at_the_handshake() {
    let fake = bank(FakeBankOptions::default()).await;
    let bare = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(fake.ca_pem().as_bytes()).unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let refused = bare.post(fake.token_url()).send().await;
    assert!(refused.is_err(), "no client certificate: {refused:?}");

    // A certificate from another CA (another bank's) is refused too.
    let other = bank(FakeBankOptions::default()).await;
    let mut foreign = settings(&fake, None);
    foreign.certificate_pem = other.client_certificate_pem().to_string();
    foreign.key_pem = other.client_key_pem().to_string();
    let pix = BcbPix::new(foreign).unwrap();
    unavailable(
        pix.charge(&charge_request("foreign", 100)).await,
        "foreign certificate",
    );
    assert!(
        fake.refused_handshakes() >= 2,
        "{}",
        fake.refused_handshakes()
    );
    assert_eq!(fake.token_requests(), 0);
    no_violations(&fake, "mtls");
}

#[tokio::test]
async fn webhooks_twice_late_never_and_foreign_are_hints_the_store_reads_back() {
    let fake = bank(FakeBankOptions::default()).await;
    let inbox = fake.inbox().await.unwrap();
    let pix = BcbPix::new(settings(&fake, Some(inbox.url()))).unwrap();
    pix.register_webhook().await.unwrap();

    fake.set_webhook_mode(WebhookMode::Twice);
    let txid = charge(&pix, "twice", 700).await;
    let e2eid = fake.pay(&txid).await.unwrap();
    let received = inbox.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(received.len(), 2);
    let first = notices(&pix, "pix", &received[0].body).await.unwrap();
    let second = notices(&pix, "pix", &received[1].body).await.unwrap();
    assert_eq!(
        first, second,
        "a repeated delivery carries the same notice id"
    );
    assert!(first[0].starts_with(&e2eid));

    fake.set_webhook_mode(WebhookMode::Never);
    let silent = charge(&pix, "never", 800).await;
    let silent_e2eid = fake.pay(&silent).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(inbox.received().len(), 2, "no notice");
    let found = pix
        .received(now().plus_secs(-60), now().plus_secs(60))
        .await
        .unwrap();
    assert!(
        found.iter().any(|p| p.reference == silent_e2eid),
        "reconciliation finds it"
    );

    fake.set_webhook_mode(WebhookMode::Late(Duration::from_millis(300)));
    let late = charge(&pix, "late", 900).await;
    fake.pay(&late).await.unwrap();
    assert_eq!(inbox.received().len(), 2, "not yet");
    assert_eq!(inbox.wait_for(3, Duration::from_secs(5)).await.len(), 3);

    fake.set_webhook_mode(WebhookMode::Normal);
    let foreign = fake.send_foreign_webhook().await;
    let received = inbox.wait_for(4, Duration::from_secs(5)).await;
    let items = notices(&pix, "pix", &received[3].body).await.unwrap();
    assert_eq!(items, vec![format!("{foreign} {foreign}")]);
    assert_eq!(
        pix.lookup(&foreign).await.unwrap(),
        None,
        "not the shop's Pix"
    );

    assert!(matches!(
        notices(&pix, "pix", b"{\"cob\":1}").await,
        Err(WebhookError::Malformed(_))
    ));
    assert!(matches!(
        notices(&pix, "pix", b"not json").await,
        Err(WebhookError::Malformed(_))
    ));
    assert!(matches!(
        notices(&pix, "", &received[0].body).await,
        Err(WebhookError::Malformed(_))
    ));
    assert!(matches!(
        notices(&pix, "pix", br#"{"pix":[{"endToEndId":"short"}]}"#).await,
        Err(WebhookError::Malformed(_))
    ));
    no_violations(&fake, "webhooks");
}

#[tokio::test]
async fn a_refusal_by_the_bank_is_invalid_with_its_problem() {
    let fake = bank(FakeBankOptions::default()).await;
    let mut other_key = settings(&fake, None);
    other_key.pix_key = "not-the-shops-key@example.com".into();
    let pix = BcbPix::new(other_key).unwrap();
    match pix.charge(&charge_request("refused", 100)).await {
        Err(PaymentError::Invalid(message)) => {
            assert!(message.contains("400"), "{message}");
            assert!(message.contains("CobOperacaoInvalida"), "{message}");
            assert!(message.contains("chave"), "{message}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(
        pix.lookup("E9999999920261206000000000000042")
            .await
            .unwrap(),
        None
    );
    assert_eq!(pix.lookup("not-an-e2eid").await.unwrap(), None);

    let mut wrong_secret = settings(&fake, None);
    wrong_secret.client_secret = "not-the-secret".into();
    match BcbPix::new(wrong_secret)
        .unwrap()
        .charge(&charge_request("secret", 100))
        .await
    {
        Err(PaymentError::Invalid(message)) => {
            assert!(message.contains("client credentials"), "{message}");
            assert!(!message.contains("not-the-secret"), "no secret in errors");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    no_violations(&fake, "refusal");
}

#[tokio::test]
async fn the_fake_bank_refuses_and_counts_a_request_that_breaks_the_spec() {
    let fake = bank(FakeBankOptions::default()).await;
    let identity = format!(
        "{}\n{}",
        fake.client_certificate_pem(),
        fake.client_key_pem()
    );
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(fake.ca_pem().as_bytes()).unwrap())
        .identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let issued = client
        .post(fake.token_url())
        .basic_auth(
            &fake.options().client_id,
            Some(&fake.options().client_secret),
        )
        .form(&[("grant_type", "client_credentials"), ("scope", "cob.write")])
        .send()
        .await
        .expect("a token over mutual TLS");
    let token: serde_json::Value = issued.json().await.expect("a JSON token answer");
    let bearer = token["access_token"].as_str().unwrap();
    let money_as_a_number = serde_json::json!({
        "calendario": {"expiracao": 3600},
        "valor": {"original": 12.5},
        "chave": fake.options().pix_key,
    });
    let answer = client
        .put(format!("{}cob/{}", fake.api_url(), BcbPix::txid_for("bad")))
        .bearer_auth(bearer)
        .json(&money_as_a_number)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let violations = fake.violations();
    assert!(
        violations.iter().any(|v| v.contains("valor/original")),
        "{violations:#?}"
    );
    assert_eq!(fake.charge_count(), 0);
    // A token without the operation's scope is refused (403 AcessoNegado).
    let read = client
        .get(format!(
            "{}pix/{}",
            fake.api_url(),
            "E9999999920261206000000000000001"
        ))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 403);
}
