//! Abuse of the store's own account features, over HTTP against the real server (issue 18,
//! findings 1 and 2), each beside the legitimate user it must not hurt:
//!
//! - Guessing sign-in passwords locks the account for new devices, never for the device the
//!   owner signed in from before (the `vitrine_device` cookie).
//! - Behind a reverse proxy the operator trusts, limits count each client (`X-Forwarded-For`),
//!   so one client's guesses do not lock everyone out; without that trust the header is
//!   ignored, so a client cannot dodge its limit by writing one; IPv6 clients count by /64.
//! - Reset codes: asking for a new code does not buy more guesses, and one client's guesses are
//!   limited across accounts.
//! - Access tokens of a signed-out session, or from before a password reset, stop working.
//! - Costly requests (finding 6): asking for a code answers alike for a registered address and an
//!   unknown one, even with mail failing; a flood of sign-ups hashes a few passwords at a time.
//!
//! The built-in identity provider holds these rules (`vitrine_local::identity`); on AWS,
//! Cognito's own lock-out and the WAF do.

mod common;

use common::{TestApp, test_config_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use vitrine_app::ports::SystemClock;
use vitrine_testkit::process::peak_rss_kib;

const PASSWORD: &str = "senha-forte-123";

async fn sign_in(
    t: &TestApp,
    email: &str,
    password: &str,
    headers: &[(&str, String)],
) -> reqwest::Response {
    let mut req = t
        .req(Method::POST, "/api/v1/auth/sign-in", None)
        .json(&json!({ "email": email, "password": password }));
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    req.send().await.unwrap()
}

/// A store whose settings file says `toml`.
async fn store_with(toml: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config_with(dir.path().join("data"), toml);
    TestApp::spawn_on(dir, config, Arc::new(SystemClock), |_| {}).await
}

#[tokio::test]
async fn the_owner_signs_in_from_their_device_while_an_attacker_guesses_their_password() {
    let t = TestApp::spawn().await;
    t.app
        .create_user("dona@example.com", PASSWORD, "Dona", true)
        .await
        .unwrap();
    let first = sign_in(&t, "dona@example.com", PASSWORD, &[]).await;
    assert_eq!(first.status(), 200);
    let cookie = first
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("vitrine_device="))
        .expect("the device cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let device = cookie.split(';').next().unwrap().to_owned();
    let body: Value = first.json().await.unwrap();
    assert!(body["device_token"].is_string(), "{body}");

    // The attack: guesses at the owner's password until the account is locked.
    let mut locked = false;
    for _ in 0..12 {
        let res = sign_in(&t, "dona@example.com", "chute-errado-1", &[]).await;
        locked |= res.status() == 429;
    }
    assert!(locked, "guessing is stopped");
    let res = sign_in(&t, "dona@example.com", PASSWORD, &[]).await;
    assert_eq!(res.status(), 429, "a device the account never used waits");

    // The owner, on their device: in.
    let res = sign_in(
        &t,
        "dona@example.com",
        PASSWORD,
        &[("cookie", device.clone())],
    )
    .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    // Or with the token in the body (an app without cookies).
    let res = t
        .post(
            "/api/v1/auth/sign-in",
            None,
            json!({ "email": "dona@example.com", "password": PASSWORD,
                    "device_token": body["device_token"] }),
        )
        .await;
    assert_eq!(res.status(), 200);
    // The attacker with a made-up cookie is still stopped.
    let forged = format!("{}x", &device[..device.len() - 1]);
    let res = sign_in(
        &t,
        "dona@example.com",
        "chute-errado-2",
        &[("cookie", forged)],
    )
    .await;
    assert_eq!(res.status(), 429);
    t.stop().await;
}

/// Guesses at many accounts (unknown e-mails: the address limit, not an account's) with
/// `X-Forwarded-For: {forwarded(i)}`: how many got through before the first 429.
async fn spray(t: &TestApp, tag: &str, forwarded: impl Fn(usize) -> String) -> usize {
    for i in 0..40 {
        let res = sign_in(
            t,
            &format!("{tag}{i}@example.com"),
            "chute-errado-1",
            &[("x-forwarded-for", forwarded(i))],
        )
        .await;
        if res.status() == 429 {
            return i;
        }
        assert_eq!(res.status(), 401);
    }
    40
}

#[tokio::test]
async fn behind_a_trusted_proxy_one_client_s_guesses_do_not_lock_out_the_others() {
    let t = store_with("trusted_proxies = [\"127.0.0.1\"]\n").await;
    t.app
        .create_user("cliente@example.com", PASSWORD, "Cliente", false)
        .await
        .unwrap();
    let through = spray(&t, "spray", |_| "6.6.6.6, 203.0.113.5".into()).await;
    assert_eq!(through, 30, "30 failures per client address");
    // Another client behind the same proxy signs in.
    let res = sign_in(
        &t,
        "cliente@example.com",
        PASSWORD,
        &[("x-forwarded-for", "198.51.100.7".into())],
    )
    .await;
    assert_eq!(res.status(), 200);
    // An IPv6 client walking through its /64 is one client.
    let through = spray(&t, "six", |i| format!("2001:db8:7:7::{:x}", i + 1)).await;
    assert_eq!(through, 30, "a /64 is one client");
    t.stop().await;
}

#[tokio::test]
async fn without_a_trusted_proxy_a_forwarded_for_header_dodges_nothing() {
    let t = TestApp::spawn().await;
    let through = spray(&t, "dodge", |i| format!("198.51.100.{i}")).await;
    assert_eq!(through, 30, "the header is ignored: the peer is the client");
    t.stop().await;
}

#[tokio::test]
async fn a_new_reset_code_buys_no_guesses_and_one_client_s_guesses_are_limited() {
    let t = TestApp::spawn().await;
    t.app
        .create_user("alvo@example.com", PASSWORD, "Alvo", false)
        .await
        .unwrap();
    let forgot = || {
        t.post(
            "/api/v1/auth/forgot-password",
            None,
            json!({ "email": "alvo@example.com" }),
        )
    };
    let reset = |code: String| {
        t.post(
            "/api/v1/auth/reset-password",
            None,
            json!({ "email": "alvo@example.com", "code": code, "new_password": "nova-senha-123" }),
        )
    };
    assert_eq!(forgot().await.status(), 202);
    let first = common::last_code(&t, "alvo@example.com", "redefinir").await;
    for guess in 0..5 {
        let wrong = format!(
            "{:06}",
            (first.parse::<u32>().unwrap() + 1 + guess) % 1_000_000
        );
        assert_eq!(reset(wrong).await.status(), 400);
    }
    // The re-roll an attacker would do: a new code, the same spent budget.
    assert_eq!(forgot().await.status(), 202);
    let second = common::nth_code(&t, "alvo@example.com", "redefinir", 1).await;
    assert_eq!(reset(second).await.status(), 400, "no new guesses");
    let res = sign_in(&t, "alvo@example.com", PASSWORD, &[]).await;
    assert_eq!(res.status(), 200, "the password is unchanged");

    // One client guessing across accounts is stopped after 30 guesses in 15 minutes (6 so
    // far), whatever e-mails it names.
    let mut refused_at = None;
    for i in 6..40 {
        let res = t
            .post(
                "/api/v1/auth/reset-password",
                None,
                json!({ "email": format!("outra{i}@example.com"), "code": "123456",
                        "new_password": "nova-senha-123" }),
            )
            .await;
        if res.status() == 429 {
            refused_at = Some(i);
            break;
        }
        assert_eq!(res.status(), 400);
    }
    assert_eq!(refused_at, Some(30));
    t.stop().await;
}

#[tokio::test]
async fn a_signed_out_session_s_access_token_stops_working_and_other_sessions_go_on() {
    let t = TestApp::spawn().await;
    t.app
        .create_user("sessao@example.com", PASSWORD, "Sessão", false)
        .await
        .unwrap();
    let tokens = |res: reqwest::Response| async move { res.json::<Value>().await.unwrap() };
    let phone = tokens(sign_in(&t, "sessao@example.com", PASSWORD, &[]).await).await;
    let laptop = tokens(sign_in(&t, "sessao@example.com", PASSWORD, &[]).await).await;
    let access = |v: &Value| v["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        t.get("/api/v1/orders", Some(&access(&phone)))
            .await
            .status(),
        200
    );

    let res = t
        .post(
            "/api/v1/auth/sign-out",
            Some(&access(&phone)),
            json!({ "refresh_token": phone["refresh_token"] }),
        )
        .await;
    assert_eq!(res.status(), 204);
    // The signed-out session's access token, still within its hour, is refused.
    let res = t.get("/api/v1/orders", Some(&access(&phone))).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("session has ended"),
        "{body}"
    );
    // The other session is not touched.
    assert_eq!(
        t.get("/api/v1/orders", Some(&access(&laptop)))
            .await
            .status(),
        200
    );
    t.stop().await;
}

#[tokio::test]
async fn a_password_reset_ends_the_tokens_the_old_password_gave() {
    let t = TestApp::spawn().await;
    t.app
        .create_user("roubada@example.com", PASSWORD, "Roubada", false)
        .await
        .unwrap();
    let thief: Value = sign_in(&t, "roubada@example.com", PASSWORD, &[])
        .await
        .json()
        .await
        .unwrap();
    let thief = thief["access_token"].as_str().unwrap().to_owned();
    assert_eq!(t.get("/api/v1/orders", Some(&thief)).await.status(), 200);
    // Tokens carry whole seconds: the reset comes in a later second than the thief's sign-in.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let res = t
        .post(
            "/api/v1/auth/forgot-password",
            None,
            json!({ "email": "roubada@example.com" }),
        )
        .await;
    assert_eq!(res.status(), 202);
    let code = common::last_code(&t, "roubada@example.com", "redefinir").await;
    let res = t
        .post(
            "/api/v1/auth/reset-password",
            None,
            json!({ "email": "roubada@example.com", "code": code, "new_password": "nova-senha-123" }),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(t.get("/api/v1/orders", Some(&thief)).await.status(), 401);
    // The owner signs in with the new password, at once.
    let owner = t.sign_in("roubada@example.com", "nova-senha-123").await;
    assert_eq!(t.get("/api/v1/orders", Some(&owner)).await.status(), 200);
    t.stop().await;
}

/// Finding 6: a request for a code does the same work for a registered address as for an
/// unknown one (the code is written and mailed by a worker once the request is answered), so
/// not even a failing mail folder tells them apart; the mail goes out once it works again.
#[tokio::test]
async fn a_failing_mail_folder_tells_no_one_who_is_registered() {
    let t = TestApp::spawn().await;
    t.app
        .create_user("cadastrada@example.com", PASSWORD, "Cadastrada", false)
        .await
        .unwrap();
    let mail_dir = t.data_dir.join("mail");
    // A file where the folder was: every mail write fails, as on a full or broken disk (and
    // unlike a permission change, also for root).
    std::fs::remove_dir_all(&mail_dir).unwrap();
    std::fs::write(&mail_dir, b"not a folder").unwrap();
    let mut answers = Vec::new();
    for path in ["/api/v1/auth/forgot-password", "/api/v1/auth/resend-code"] {
        for email in ["cadastrada@example.com", "ninguem@example.com"] {
            let res = t.post(path, None, json!({ "email": email })).await;
            answers.push((
                path,
                email,
                res.status().as_u16(),
                res.text().await.unwrap(),
            ));
        }
    }
    for pair in answers.chunks(2) {
        assert_eq!(
            (pair[0].2, &pair[0].3),
            (pair[1].2, &pair[1].3),
            "{} tells a registered address from an unknown one: {pair:?}",
            pair[0].0
        );
        assert_eq!(pair[0].2, 202, "{pair:?}");
    }
    std::fs::remove_file(&mail_dir).unwrap();
    std::fs::create_dir(&mail_dir).unwrap();
    let res = t
        .post(
            "/api/v1/auth/forgot-password",
            None,
            json!({ "email": "cadastrada@example.com" }),
        )
        .await;
    assert_eq!(res.status(), 202);
    let code = common::last_code(&t, "cadastrada@example.com", "redefinir").await;
    assert_eq!(code.len(), 6, "the owner gets their code once mail works");
    t.stop().await;
}

/// Finding 6: 150 sign-ups at once. Each password hash (argon2id) takes 19 MiB, so hashed all
/// at once they would take about 2.8 GiB; through the gate (as many at once as the cores, a
/// bounded line, `429` with `Retry-After` past it) the process holds a few of them, and a
/// sign-up after the flood goes through.
#[tokio::test]
async fn a_flood_of_sign_ups_hashes_a_few_passwords_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config_with(
        dir.path().join("data"),
        "account_mails_per_client_hour = 10000\n",
    );
    // The shipped cost (OWASP's minimum, 19 MiB a hash), not the test servers' cheap one: the
    // memory a flood makes the process hold is the point.
    config.argon2_memory_kib = 19_456;
    let t = TestApp::spawn_on(dir, config, Arc::new(SystemClock), |_| {}).await;
    let before = peak_rss_kib(std::process::id()).unwrap();
    let flood = (0..150).map(|i| {
        t.post(
            "/api/v1/auth/sign-up",
            None,
            json!({ "email": format!("enxurrada{i}@example.com"), "password": PASSWORD, "name": "Ana" }),
        )
    });
    let answers = futures::future::join_all(flood).await;
    let mut created = 0;
    let mut refused = 0;
    for res in answers {
        match res.status().as_u16() {
            202 => created += 1,
            429 => {
                assert!(res.headers().contains_key("retry-after"));
                refused += 1;
            }
            other => panic!("a sign-up answered {other}: {}", res.text().await.unwrap()),
        }
    }
    let grown_mib = peak_rss_kib(std::process::id())
        .unwrap()
        .saturating_sub(before)
        / 1024;
    // Through the gate, as many hashes at once as the cores, each in working memory the
    // identity keeps and reuses (one buffer per hash at once: 38 MiB on two cores; the whole
    // flood grew the process by 58 MiB, where allocating and freeing each hash's memory let
    // glibc's per-thread arenas keep 191-666 MiB). Unbounded, it is 150 buffers: 2.8 GiB. The
    // margin is for the other tests of this binary running at the same time.
    let cores = std::thread::available_parallelism().map_or(2, usize::from) as u64;
    let bound_mib = 100 + cores * 19 * 4;
    assert!(
        grown_mib < bound_mib,
        "the flood ({created} created, {refused} told to retry) grew the process by {grown_mib} MiB (bound {bound_mib})"
    );
    let res = t
        .post(
            "/api/v1/auth/sign-up",
            None,
            json!({ "email": "depois@example.com", "password": PASSWORD, "name": "Bia" }),
        )
        .await;
    assert_eq!(res.status(), 202, "a sign-up after the flood");
    t.stop().await;
}
