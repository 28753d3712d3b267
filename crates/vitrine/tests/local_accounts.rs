//! Accounts on the built-in identity provider over HTTP: the confirmation code arrives in the
//! mail folder, and the provider serves its own key set. (On AWS, Cognito sends the mail and
//! serves the keys; its adapter has its own conformance tests.)

mod common;

use common::{TestApp, problem};
use serde_json::{Value, json};

#[tokio::test]
async fn sign_up_confirm_sign_in_refresh_and_sign_out_over_http() {
    let t = TestApp::spawn().await;
    let mail_dir = t.data_dir.join("mail");
    let res = t
        .post(
            "/api/v1/auth/sign-up",
            None,
            json!({ "email": "nova@example.com", "password": "abc12345", "name": "Nova Cliente" }),
        )
        .await;
    assert_eq!(res.status(), 202);
    // Signing up again with the same e-mail answers the same: nothing reveals registration.
    let again = t
        .post(
            "/api/v1/auth/sign-up",
            None,
            json!({ "email": "nova@example.com", "password": "abc12345", "name": "Nova" }),
        )
        .await;
    assert_eq!(again.status(), 202);
    problem(
        t.post(
            "/api/v1/auth/sign-in",
            None,
            json!({ "email": "nova@example.com", "password": "abc12345" }),
        )
        .await,
        403,
    )
    .await;

    let mail = vitrine_testkit::mail::read_mail_folder(&mail_dir);
    let code_mail = mail
        .iter()
        .find(|m| {
            m.to.contains("nova@example.com")
                && m.text.chars().filter(char::is_ascii_digit).count() >= 6
        })
        .expect("code mail");
    let code = code_mail.code().unwrap().to_owned();
    problem(
        t.post(
            "/api/v1/auth/confirm",
            None,
            json!({ "email": "nova@example.com", "code": "000000" }),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(
        t.post(
            "/api/v1/auth/confirm",
            None,
            json!({ "email": "nova@example.com", "code": code })
        )
        .await
        .status(),
        204
    );

    let res = t
        .post(
            "/api/v1/auth/sign-in",
            None,
            json!({ "email": "NOVA@example.com", "password": "abc12345" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let me: Value = t
        .get("/api/v1/me", tokens["access_token"].as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "nova@example.com");
    assert_eq!(me["groups"], json!(["customer"]));

    let refresh = tokens["refresh_token"].as_str().unwrap();
    let res = t
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        t.post(
            "/api/v1/auth/sign-out",
            None,
            json!({ "refresh_token": refresh })
        )
        .await
        .status(),
        204
    );
    problem(
        t.post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh }),
        )
        .await,
        401,
    )
    .await;

    // Wrong password and unknown e-mail get the very same answer.
    let wrong = problem(
        t.post(
            "/api/v1/auth/sign-in",
            None,
            json!({ "email": "nova@example.com", "password": "errada123" }),
        )
        .await,
        401,
    )
    .await;
    let unknown = problem(
        t.post(
            "/api/v1/auth/sign-in",
            None,
            json!({ "email": "ninguem@example.com", "password": "errada123" }),
        )
        .await,
        401,
    )
    .await;
    assert_eq!(wrong, unknown);
    t.stop().await;
}

#[tokio::test]
async fn the_jwks_and_the_docs_are_served() {
    let t = TestApp::spawn().await;
    let jwks: Value = t
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    let doc: Value = t.get("/api/openapi.json", None).await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let page = t.get("/api/docs", None).await.text().await.unwrap();
    assert!(page.contains("/api/openapi.json"));
    assert_eq!(t.get("/health", None).await.status(), 200);
    assert_eq!(t.get("/ready", None).await.status(), 200);
    problem(t.get("/api/v1/nowhere", None).await, 404).await;
    t.stop().await;
}
