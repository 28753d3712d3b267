//! Attacks on authentication, over HTTP against the real server: each forged token of
//! `vitrine_testkit::attacks` in a test of its own (the same claims signed by the server's key
//! are accepted, so each refusal is for the one thing forged), revoked refresh tokens, single-use
//! reset codes, and sign-up and sign-in answers that do not tell whether an e-mail is registered.
//! The verifier's unit tests (`vitrine_app::auth`) check the same rules one level down.

mod common;

use common::{TestApp, problem};
use serde_json::{Value, json};
use vitrine_app::auth::TokenSigner;
use vitrine_testkit::attacks::{self, Forgery};

const PASSWORD: &str = "senha-forte-123";

/// A server, a genuine session of a customer, and the forgeries made from it.
struct Setup {
    t: TestApp,
    access: String,
    forgeries: Vec<Forgery>,
    control: String,
}

/// A new customer's whole sign-in answer (access, id and refresh tokens).
async fn signed_in(t: &TestApp, email: &str) -> Value {
    t.app
        .create_user(email, PASSWORD, "Cliente", false)
        .await
        .unwrap();
    t.post(
        "/api/v1/auth/sign-in",
        None,
        json!({ "email": email, "password": PASSWORD }),
    )
    .await
    .json()
    .await
    .unwrap()
}

async fn setup() -> Setup {
    let t = TestApp::spawn().await;
    let tokens = signed_in(&t, "alvo@example.com").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let id = tokens["id_token"].as_str().unwrap().to_owned();
    let pem = std::fs::read_to_string(t.data_dir.join("keys").join("jwt-signing-key.pem")).unwrap();
    let server_key = TokenSigner::from_pkcs8_pem(&pem).unwrap();
    let stranger = TokenSigner::generate().unwrap();
    let jwks = t
        .get("/.well-known/jwks.json", None)
        .await
        .bytes()
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let forgeries = attacks::forgeries(&server_key, &stranger, &access, &id, &jwks, now);
    let control = attacks::resigned(&server_key, &attacks::claims_of(&access));
    Setup {
        t,
        access,
        forgeries,
        control,
    }
}

/// The forged token named `name` is refused with 401 where the genuine and the re-signed ones
/// are accepted, on a customer route and an admin route.
async fn refused(name: &str) {
    let s = setup().await;
    for genuine in [&s.access, &s.control] {
        assert_eq!(
            s.t.get("/api/v1/orders", Some(genuine)).await.status(),
            200,
            "the control token must be accepted, or the refusal below proves nothing"
        );
    }
    let forged = s
        .forgeries
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no forgery named {name:?}"));
    for path in ["/api/v1/orders", "/api/v1/me", "/api/v1/admin/orders"] {
        let res = s.t.get(path, Some(&forged.token)).await;
        let body = problem(res, 401).await;
        assert_eq!(
            body["type"], "urn:vitrine:problem:unauthenticated",
            "{path}: {body}"
        );
    }
    // Never treated as anonymous either, where anonymous access is allowed.
    problem(s.t.get("/api/v1/cart", Some(&forged.token)).await, 401).await;
    s.t.stop().await;
}

macro_rules! forged_token_test {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[tokio::test]
            async fn $test() {
                refused($name).await;
            }
        )*

        #[test]
        fn every_forgery_has_its_test() {
            let tested = [$($name),*];
            assert_eq!(tested.len(), attacks::NAMES.len());
            for name in attacks::NAMES {
                assert!(tested.contains(&name), "{name:?} has no test here");
            }
        }
    };
}

forged_token_test! {
    alg_none_is_refused => "alg none",
    hs256_keyed_with_the_public_keys_is_refused => "HS256 keyed with the public key set",
    an_expired_token_is_refused => "expired",
    a_token_before_its_nbf_is_refused => "not yet valid",
    a_token_of_another_issuer_is_refused => "wrong issuer",
    a_token_of_another_app_client_is_refused => "another app client",
    an_id_token_is_not_an_access_token => "id token used as access token",
    a_tampered_payload_is_refused => "tampered payload (admin group added)",
    a_token_with_an_unknown_kid_is_refused => "signed by another key (unknown kid)",
    another_key_claiming_our_kid_is_refused => "signed by another key claiming our kid",
    a_token_without_signature_is_refused => "no signature",
}

#[tokio::test]
async fn a_signed_out_refresh_token_is_refused() {
    let t = TestApp::spawn().await;
    let tokens = signed_in(&t, "sai@example.com").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let body = json!({ "refresh_token": refresh });
    assert_eq!(
        t.post("/api/v1/auth/refresh", None, body.clone())
            .await
            .status(),
        200
    );
    assert_eq!(
        t.post("/api/v1/auth/sign-out", None, body.clone())
            .await
            .status(),
        204
    );
    problem(
        t.post("/api/v1/auth/refresh", None, body.clone()).await,
        401,
    )
    .await;
    // A made-up refresh token fares the same.
    problem(
        t.post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": "x".repeat(64) }),
        )
        .await,
        401,
    )
    .await;
    t.stop().await;
}

#[tokio::test]
async fn a_reset_code_works_once() {
    let t = TestApp::spawn().await;
    t.app
        .create_user("esq@example.com", PASSWORD, "Esq", false)
        .await
        .unwrap();
    let res = t
        .post(
            "/api/v1/auth/forgot-password",
            None,
            json!({ "email": "esq@example.com" }),
        )
        .await;
    assert_eq!(res.status(), 202);
    let code = common::last_code(&t, "esq@example.com", "").await;
    let reset = |password: &'static str| {
        t.post(
            "/api/v1/auth/reset-password",
            None,
            json!({ "email": "esq@example.com", "code": code, "new_password": password }),
        )
    };
    assert_eq!(reset("nova-senha-1").await.status(), 204);
    problem(reset("outra-senha-2").await, 400).await;
    // The first reset holds; the second changed nothing.
    t.sign_in("esq@example.com", "nova-senha-1").await;
    problem(
        t.post(
            "/api/v1/auth/sign-in",
            None,
            json!({ "email": "esq@example.com", "password": "outra-senha-2" }),
        )
        .await,
        401,
    )
    .await;
    t.stop().await;
}

#[tokio::test]
async fn sign_up_sign_in_and_reset_answer_alike_for_known_and_unknown_e_mails() {
    let t = TestApp::spawn().await;
    t.app
        .create_user("conhecida@example.com", PASSWORD, "Conhecida", false)
        .await
        .unwrap();
    async fn answer(t: &TestApp, path: &str, body: Value) -> (u16, String) {
        let res = t.post(path, None, body).await;
        (res.status().as_u16(), res.text().await.unwrap())
    }
    for (path, known, unknown) in [
        (
            "/api/v1/auth/sign-up",
            json!({ "email": "conhecida@example.com", "password": "abc12345", "name": "X" }),
            json!({ "email": "nova@example.com", "password": "abc12345", "name": "X" }),
        ),
        (
            "/api/v1/auth/sign-in",
            json!({ "email": "conhecida@example.com", "password": "errada-123" }),
            json!({ "email": "ninguem@example.com", "password": "errada-123" }),
        ),
        (
            "/api/v1/auth/forgot-password",
            json!({ "email": "conhecida@example.com" }),
            json!({ "email": "ninguem@example.com" }),
        ),
        (
            "/api/v1/auth/resend-code",
            json!({ "email": "conhecida@example.com" }),
            json!({ "email": "ninguem@example.com" }),
        ),
    ] {
        let a = answer(&t, path, known).await;
        let b = answer(&t, path, unknown).await;
        assert_eq!(a, b, "{path} tells known and unknown e-mails apart");
    }
    t.stop().await;
}
