//! Mail and SMS flooding through the store's own features, over HTTP against the real server
//! (issue 18, finding 5), each beside the legitimate user it must not hurt:
//!
//! - Sign-ups naming someone's address send them at most the hourly budget of mails, whether
//!   the address is registered or not, and every sign-up gets the same answer, sent or skipped.
//! - One client asking for account mails is refused (429) past its hourly budget; another
//!   client, behind the same trusted proxy, is not.
//! - A sign-up name cannot carry a link or markup into the code mail.
//! - Only Brazilian mobile numbers opt in to texts (unless the shop lists other country codes),
//!   and one number gets at most its daily budget of texts however many orders are cancelled.
//!
//! The clock is fixed, so every budget window holds the whole test.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, buy_now, problem, test_config_with};
use reqwest::Method;
use serde_json::{Value, json};
use vitrine_app::ports::ManualClock;
use vitrine_domain::Timestamp;
use vitrine_testkit::mail::{ReceivedMail, read_mail_folder};

const PASSWORD: &str = "senha-forte-123";
const VICTIM: &str = "vitima@example.com";
const MOBILE: &str = "+5511987654321";

/// A store whose settings file says `toml`, on a clock that stands still.
async fn store_with(toml: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config_with(dir.path().join("data"), toml);
    // 2026-12-11 10:30 UTC: mid-hour, mid-day.
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_796_985_000_000)));
    TestApp::spawn_on(dir, config, clock, |_| {}).await
}

fn mail_to(t: &TestApp, to: &str) -> Vec<ReceivedMail> {
    read_mail_folder(&t.data_dir.join("mail"))
        .into_iter()
        .filter(|m| m.to.contains(to))
        .collect()
}

async fn sign_up(t: &TestApp, email: &str, name: &str, client: Option<&str>) -> (u16, Value) {
    let mut req = t
        .req(Method::POST, "/api/v1/auth/sign-up", None)
        .json(&json!({ "email": email, "password": PASSWORD, "name": name }));
    if let Some(ip) = client {
        req = req.header("x-forwarded-for", ip);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn fifty_sign_ups_naming_a_victim_send_at_most_the_budget_and_all_answer_alike() {
    // The per-client budget is raised, and each sign-up comes from its own client behind the
    // trusted proxy: only the per-recipient budget (3 an hour by default) stands in the way.
    let t = store_with("trusted_proxies = [\"127.0.0.1\"]\n").await;
    t.app
        .create_user(VICTIM, PASSWORD, "Vítima", false)
        .await
        .unwrap();
    let unregistered = "ninguem@example.com";
    let mut answers = Vec::new();
    for i in 0..50 {
        let client = format!("203.0.113.{}", i + 1);
        answers.push(sign_up(&t, VICTIM, "Fulano de Tal", Some(&client)).await);
        answers.push(sign_up(&t, unregistered, "Fulano de Tal", Some(&client)).await);
    }
    let first = answers[0].clone();
    assert_eq!(first.0, 202, "{}", first.1);
    assert!(
        answers.iter().all(|a| *a == first),
        "every sign-up gets the same answer, mail sent or not"
    );
    let to_victim = mail_to(&t, VICTIM);
    assert_eq!(to_victim.len(), 3, "the hourly budget");
    assert!(
        to_victim
            .iter()
            .all(|m| m.subject == "Tentativa de cadastro na vitrine")
    );
    // The unregistered address: its code, then warnings (the account exists once made).
    let to_other = mail_to(&t, unregistered);
    assert_eq!(to_other.len(), 3, "the hourly budget");
    assert!(to_other[0].subject.contains("código de confirmação"));

    // The owner of a fresh address is not hurt: one sign-up, one code, a confirmed account.
    let (status, _) = sign_up(&t, "nova@example.com", "Nova Cliente", Some("198.51.100.9")).await;
    assert_eq!(status, 202);
    let mail = mail_to(&t, "nova@example.com");
    assert_eq!(mail.len(), 1);
    assert!(
        mail[0].text.contains("Olá, Nova Cliente!"),
        "{}",
        mail[0].text
    );
    let code = mail[0].code().unwrap();
    let res = t
        .post(
            "/api/v1/auth/confirm",
            None,
            json!({ "email": "nova@example.com", "code": code }),
        )
        .await;
    assert_eq!(res.status(), 204);
    t.stop().await;
}

#[tokio::test]
async fn reset_requests_past_the_budget_are_skipped_and_answered_alike() {
    let t = store_with("account_mails_per_hour = 2\n").await;
    t.app
        .create_user(VICTIM, PASSWORD, "Vítima", false)
        .await
        .unwrap();
    let mut answers = Vec::new();
    for _ in 0..10 {
        let res = t
            .post(
                "/api/v1/auth/forgot-password",
                None,
                json!({ "email": VICTIM }),
            )
            .await;
        answers.push((res.status().as_u16(), res.text().await.unwrap()));
    }
    assert_eq!(answers[0].0, 202);
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    // The stop sends what the code-mail worker still holds: then every mail there will be is in.
    let data_dir = t.data_dir.clone();
    let _kept = t.stop_keeping_data().await;
    let sent = read_mail_folder(&data_dir.join("mail"))
        .into_iter()
        .filter(|m| m.to.contains(VICTIM))
        .count();
    assert_eq!(sent, 2);
}

#[tokio::test]
async fn one_client_past_its_budget_is_refused_and_another_is_not() {
    let t =
        store_with("trusted_proxies = [\"127.0.0.1\"]\naccount_mails_per_client_hour = 5\n").await;
    let attacker = "192.0.2.66";
    for i in 0..5 {
        let (status, body) =
            sign_up(&t, &format!("alvo{i}@example.com"), "Ana", Some(attacker)).await;
        assert_eq!(status, 202, "{body}");
    }
    let (status, body) = sign_up(&t, "alvo9@example.com", "Ana", Some(attacker)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["type"], "urn:vitrine:problem:too-many-requests");
    assert!(mail_to(&t, "alvo9@example.com").is_empty());
    let res = t
        .req(Method::POST, "/api/v1/auth/forgot-password", None)
        .header("x-forwarded-for", attacker)
        .json(&json!({ "email": "alvo1@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "every account mail request counts");

    let (status, _) = sign_up(&t, "bia@example.com", "Bia", Some("198.51.100.20")).await;
    assert_eq!(status, 202);
    assert_eq!(mail_to(&t, "bia@example.com").len(), 1);
    t.stop().await;
}

#[tokio::test]
async fn a_sign_up_name_cannot_carry_a_link_or_markup_into_the_code_mail() {
    let t = store_with("").await;
    for name in [
        "Ganhe um prêmio em https://golpe.example",
        "acesse golpe.example",
        "<a href=\"https://golpe.example\">Ana</a>",
        "ligue 0800 123 4567",
    ] {
        let (status, body) = sign_up(&t, "alvo@example.com", name, None).await;
        assert_eq!(status, 422, "{name}: {body}");
        assert_eq!(body["errors"][0]["field"], "name", "{body}");
    }
    assert!(mail_to(&t, "alvo@example.com").is_empty());
    let (status, _) = sign_up(&t, "alvo@example.com", "Maria d'Ávila-Souza Jr.", None).await;
    assert_eq!(status, 202);
    assert_eq!(mail_to(&t, "alvo@example.com").len(), 1);
    t.stop().await;
}

async fn put_phone(t: &TestApp, token: &str, phone: &str) -> reqwest::Response {
    t.req(Method::PUT, "/api/v1/me", Some(token))
        .json(&json!({ "name": "Cliente Teste", "phone": phone, "sms_opt_in": true }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn only_brazilian_mobiles_opt_in_to_texts_unless_the_shop_lists_other_countries() {
    let t = store_with("").await;
    let token = t.customer("cliente@example.com").await;
    for foreign in ["+44 7700 900123", "+351 912 345 678", "+55 11 3456-7890"] {
        let body = problem(put_phone(&t, &token, foreign).await, 422).await;
        assert_eq!(body["errors"][0]["field"], "phone", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("Brazilian mobile numbers"),
            "{body}"
        );
    }
    // A foreign number without texts is still a contact.
    let res = t
        .req(Method::PUT, "/api/v1/me", Some(&token))
        .json(&json!({ "name": "Cliente Teste", "phone": "+351 912 345 678", "sms_opt_in": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = put_phone(&t, &token, "(11) 98765-4321").await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["sms_opt_in"], true);
    t.stop().await;

    let t = store_with("sms_country_codes = [\"+55\", \"+351\"]\n").await;
    let token = t.customer("cliente@example.com").await;
    assert_eq!(
        put_phone(&t, &token, "+351 912 345 678").await.status(),
        200
    );
    problem(put_phone(&t, &token, "+44 7700 900123").await, 422).await;
    t.stop().await;
}

/// The `.sms` files in the mail folder addressed to `to`, and their texts.
fn texts_to(dir: &Path, to: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sms"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter(|text| text.lines().next() == Some(&format!("To: {to}")))
        .collect()
}

/// The texts to `to` once there are at least `want` of them (each file read whole: one being
/// written is read again), or what there is after 30 s.
async fn texts_within(t: &TestApp, to: &str, want: usize) -> Vec<String> {
    for _ in 0..600 {
        let texts = texts_to(&t.data_dir.join("mail"), to);
        if texts.len() >= want {
            return texts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    texts_to(&t.data_dir.join("mail"), to)
}

/// Wait until every event written so far has been handled by every consumer.
async fn drained(t: &TestApp) {
    for _ in 0..1200 {
        let queues = t.app.event_queues().await.unwrap();
        assert!(queues.iter().all(|q| q.dead == 0), "{queues:?}");
        if t.app.outbox_len().await.unwrap() == 0 && queues.iter().all(|q| q.pending == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the events were not handled in a minute");
}

#[tokio::test]
async fn cancelled_orders_text_one_number_at_most_its_daily_budget() {
    let t = store_with("sms_per_number_per_day = 3\n").await;
    // The attacker's account names the victim's mobile; each cancelled order would text it.
    let attacker = t.customer("golpista@example.com").await;
    assert_eq!(put_phone(&t, &attacker, MOBILE).await.status(), 200);
    for _ in 0..8 {
        let order = t.place(&attacker, &buy_now("CAM-BAS-G", 1)).await;
        let id = order["id"].as_str().unwrap();
        let res = t
            .post(
                &format!("/api/v1/orders/{id}/cancel"),
                Some(&attacker),
                json!({}),
            )
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
    drained(&t).await;
    let texts = texts_within(&t, MOBILE, 3).await;
    assert_eq!(texts.len(), 3, "the daily budget: {texts:?}");
    assert!(
        texts.iter().all(|text| text.contains("cancelado")),
        "{texts:?}"
    );

    // Another customer's own number is untouched by it.
    let buyer = t.customer("bia@example.com").await;
    assert_eq!(put_phone(&t, &buyer, "(21) 99876-5432").await.status(), 200);
    let order = t.place(&buyer, &buy_now("CAM-BAS-G", 1)).await;
    let id = order["id"].as_str().unwrap();
    let res = t
        .post(
            &format!("/api/v1/orders/{id}/cancel"),
            Some(&buyer),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    drained(&t).await;
    let texts = texts_within(&t, "+5521998765432", 1).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains(id), "{}", texts[0]);
    t.stop().await;
}
