//! The Cognito adapter: first the Identity conformance suite against the AWS emulator (moto),
//! then what moto cannot answer, against a scripted stand-in for Cognito's JSON protocol.
//!
//! What moto does and does not do, measured with moto 5.1/5.2 (and why the suite runs with some
//! [`Capabilities`] off):
//! - Tokens: RS256, `kid: "dummy"`, one key pair shipped inside moto and shared by every pool,
//!   served at `{endpoint}/{pool}/.well-known/jwks.json`. The claims have Cognito's shape, `iss`
//!   included (`https://cognito-idp.{region}.amazonaws.com/{pool}`), so the same
//!   [`TokenVerifier`](vitrine_app::auth::TokenVerifier) checks them unchanged.
//! - ConfirmSignUp accepts any code, and no sign-up code exists anywhere: the fixture hands out a
//!   placeholder, and the wrong-code step is off.
//! - ResendConfirmationCode and RevokeToken are not implemented (HTTP 500): tested here against
//!   the stand-in instead.
//! - ForgotPassword makes a code `moto-confirmation-code:NNNNNN`, returned in a response header
//!   and kept on the user, where `/moto-api/data.json` shows it; ConfirmForgotPassword checks it
//!   and makes it single-use, but does not check the password policy.

use std::sync::Arc;

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::config::retry::RetryConfig;
use tokio::sync::OnceCell;
use vitrine_app::auth::TokenUse;
use vitrine_app::ports::identity::GROUP_ADMIN;
use vitrine_app::ports::{ClientInfo, Identity, IdentityError, NewUser, SystemClock};
use vitrine_aws::cognito::{CognitoIdentity, fetch_verifier, issuer, jwks_url};
use vitrine_aws::{AwsConfig, sdk_config};
use vitrine_testkit::identity::{
    Capabilities, CodeKind, CodeReader, GOOD_PASSWORD, IdentityFixture, unique_email,
};
use vitrine_testkit::moto;
use vitrine_testkit::scripted::{Received, ScriptedServer, error, ok};

const REGION: &str = "us-east-1";

/// What moto keeps of the contract (see the module notes).
const MOTO: Capabilities = Capabilities {
    checks_confirmation_codes: false,
    resends_codes: false,
    revokes_refresh_tokens: false,
    checks_policy_on_reset: false,
};

/// moto makes no sign-up code and confirms with any: this one stands for the mailed code.
const ANY_SIGN_UP_CODE: &str = "123456";

fn aws_config(endpoint: &str) -> AwsConfig {
    AwsConfig {
        region: REGION.into(),
        endpoint: Some(endpoint.into()),
        static_credentials: Some(("testing".into(), "testing".into())),
        emulator: true,
    }
}

/// A client of moto. Made per test: SDK clients keep pooled connections tied to the runtime
/// that opened them, and every `#[tokio::test]` has its own runtime.
async fn moto_client() -> Client {
    Client::new(&sdk_config(&aws_config(moto::endpoint())).await)
}

/// One user pool for the whole test binary (every case makes its own users): `(pool, client)`.
async fn shared_pool() -> (String, String) {
    static POOL: OnceCell<(String, String)> = OnceCell::const_new();
    POOL.get_or_init(|| async {
        CognitoIdentity::create_pool(&moto_client().await, &moto::unique("vitrine-identity"))
            .await
            .expect("creating the user pool in moto")
    })
    .await
    .clone()
}

/// The password-reset code moto keeps on the user, read from its state dump.
async fn moto_reset_code(pool_id: &str, email: &str) -> String {
    let state = moto::state().await;
    let users = state["cognitoidp"]["CognitoIdpUser"]
        .as_array()
        .expect("moto's state lists Cognito users");
    users
        .iter()
        .find(|u| {
            u["user_pool_id"] == pool_id && u["attribute_lookup"]["email"] == email.to_lowercase()
        })
        .and_then(|u| u["confirmation_code"].as_str())
        .unwrap_or_else(|| panic!("no reset code for the user in moto's state"))
        .to_owned()
}

async fn make() -> IdentityFixture {
    let (pool_id, client_id) = shared_pool().await;
    let endpoint = moto::endpoint();
    let verifier = fetch_verifier(
        &jwks_url(REGION, &pool_id, Some(endpoint)),
        &issuer(REGION, &pool_id),
        &client_id,
    )
    .await
    .expect("moto's JWKS");
    let identity = CognitoIdentity::new(moto_client().await, &pool_id, &client_id);
    let codes: CodeReader = Arc::new(move |email: &str, kind| {
        let (pool_id, email) = (pool_id.clone(), email.to_owned());
        Box::pin(async move {
            match kind {
                CodeKind::Confirmation => ANY_SIGN_UP_CODE.to_owned(),
                CodeKind::PasswordReset => moto_reset_code(&pool_id, &email).await,
            }
        })
    });
    IdentityFixture {
        identity: Arc::new(identity),
        verifier,
        // moto stamps tokens with its wall clock.
        clock: Arc::new(SystemClock),
        codes,
        capabilities: MOTO,
        guard: Box::new(()),
    }
}

vitrine_testkit::identity_conformance!(make);

fn user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        password: GOOD_PASSWORD.into(),
        name: "Ana Souza".into(),
    }
}

// ---- against moto ----

#[tokio::test]
async fn moto_tokens_have_cognitos_claims() {
    let (pool_id, client_id) = shared_pool().await;
    let f = make().await;
    let email = unique_email("claims");
    let sub = f.identity.sign_up(user(&email)).await.unwrap();
    f.identity
        .confirm_sign_up(&email, ANY_SIGN_UP_CODE)
        .await
        .unwrap();
    let tokens = f
        .identity
        .sign_in(&email, GOOD_PASSWORD, &ClientInfo::default())
        .await
        .unwrap();
    assert_eq!(tokens.expires_in, 3600);
    let now = vitrine_app::ports::Clock::now(&SystemClock);

    let access = f
        .verifier
        .verify(&tokens.access_token, now, TokenUse::Access)
        .unwrap();
    assert_eq!(access.iss, issuer(REGION, &pool_id));
    assert_eq!(access.client_id.as_deref(), Some(client_id.as_str()));
    assert_eq!(
        access.username.as_deref(),
        Some(sub.as_str()),
        "in an e-mail-username pool the username is the sub"
    );
    assert_eq!(access.exp - access.iat, 3600);
    assert!(access.origin_jti.is_some());

    let id = f
        .verifier
        .verify(&tokens.id_token, now, TokenUse::Id)
        .unwrap();
    assert_eq!(id.aud.as_deref(), Some(client_id.as_str()));
    assert_eq!(id.email.as_deref(), Some(email.as_str()));
    assert_eq!(
        id.name.as_deref(),
        Some("Ana Souza"),
        "the client reads the name into id tokens"
    );
    assert_eq!(id.origin_jti, access.origin_jti);
}

#[tokio::test]
async fn the_pool_is_made_as_the_adapter_expects() {
    let (pool_id, client_id) = shared_pool().await;
    let client = moto_client().await;
    let pool = client
        .describe_user_pool()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    let pool = pool.user_pool().unwrap();
    assert_eq!(pool.username_attributes().len(), 1);
    assert_eq!(pool.username_attributes()[0].as_str(), "email");
    let policy = pool.policies().unwrap().password_policy().unwrap();
    assert_eq!(policy.minimum_length(), Some(8));
    assert!(policy.require_numbers());
    assert!(!policy.require_symbols() && !policy.require_uppercase());

    let app = client
        .describe_user_pool_client()
        .user_pool_id(&pool_id)
        .client_id(&client_id)
        .send()
        .await
        .unwrap();
    let app = app.user_pool_client().unwrap();
    assert_eq!(app.client_secret(), None, "a browser client has no secret");
    let flows: Vec<&str> = app
        .explicit_auth_flows()
        .iter()
        .map(|f| f.as_str())
        .collect();
    assert_eq!(
        flows,
        ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    );
    assert_eq!(app.enable_token_revocation(), Some(true));
    // Users write their name, never their e-mail (the username; infra/template.yaml alike).
    assert_eq!(app.write_attributes(), ["name"]);

    let groups = client
        .list_groups()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    let mut names: Vec<&str> = groups
        .groups()
        .iter()
        .filter_map(|g| g.group_name())
        .collect();
    names.sort_unstable();
    // The template's groups: the owner, customers and the two staff roles.
    assert_eq!(
        names,
        ["admin", "customer", "staff-catalog", "staff-orders"]
    );
}

#[tokio::test]
async fn a_user_created_with_an_unknown_group_is_not_left_behind() {
    let f = make().await;
    let email = unique_email("badgroup");
    let created = f
        .identity
        .admin_create_user(user(&email), &[GROUP_ADMIN, "root"])
        .await;
    assert!(
        matches!(created, Err(IdentityError::InvalidParameter(_))),
        "{created:?}"
    );
    assert!(
        matches!(
            f.identity.admin_get_user(&email).await,
            Err(IdentityError::UserNotFound)
        ),
        "the half-made user was deleted again"
    );
    f.identity
        .admin_create_user(user(&email), &[GROUP_ADMIN])
        .await
        .expect("so the e-mail is free for a corrected attempt");
}

#[tokio::test]
async fn an_unknown_group_is_an_invalid_parameter() {
    let f = make().await;
    let email = unique_email("root");
    f.identity
        .admin_create_user(user(&email), &[])
        .await
        .unwrap();
    assert!(matches!(
        f.identity.admin_add_to_group(&email, "root").await,
        Err(IdentityError::InvalidParameter(_))
    ));
    assert!(
        f.identity
            .admin_get_user(&email)
            .await
            .unwrap()
            .groups
            .is_empty(),
        "admin-created users are in the groups given, no others"
    );
}

#[tokio::test]
async fn moto_does_not_implement_resend_nor_revoke() {
    // Guards the capability flags above: when a moto upgrade implements these calls, this test
    // fails, and the flags (and the module notes) should be switched on. moto answers the
    // missing calls with a 500, which the emulator's retry policy would try ten times with
    // backoff (over a minute each): this adapter sends each call once.
    let (pool_id, client_id) = shared_pool().await;
    let once = aws_sdk_cognitoidentityprovider::config::Builder::from(
        &sdk_config(&aws_config(moto::endpoint())).await,
    )
    .retry_config(RetryConfig::disabled())
    .build();
    let identity = CognitoIdentity::new(Client::from_conf(once), &pool_id, &client_id);
    let email = unique_email("gaps");
    identity.sign_up(user(&email)).await.unwrap();
    assert!(matches!(
        identity.resend_code(&email).await,
        Err(IdentityError::Unavailable(_))
    ));
    identity
        .confirm_sign_up(&email, ANY_SIGN_UP_CODE)
        .await
        .unwrap();
    let refresh = identity
        .sign_in(&email, GOOD_PASSWORD, &ClientInfo::default())
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    assert!(matches!(
        identity.sign_out(&refresh).await,
        Err(IdentityError::Unavailable(_))
    ));
}

// ---- against a scripted stand-in for Cognito ----

/// A scripted stand-in for Cognito (`vitrine_testkit::scripted`).
struct FakeCognito(ScriptedServer);

impl FakeCognito {
    async fn start(script: Vec<(u16, serde_json::Value)>) -> Self {
        Self(ScriptedServer::start(script, "application/x-amz-json-1.1").await)
    }

    /// An adapter on this stand-in, with retries off so that each call is one request.
    async fn identity(&self) -> CognitoIdentity {
        let sdk = sdk_config(&aws_config(&self.0.url)).await;
        let conf = aws_sdk_cognitoidentityprovider::config::Builder::from(&sdk)
            .retry_config(RetryConfig::disabled())
            .build();
        CognitoIdentity::new(Client::from_conf(conf), "us-east-1_pool", "app-client")
    }

    fn received(&self) -> Vec<Received> {
        self.0.received()
    }
}

#[tokio::test]
async fn sign_out_revokes_the_refresh_token() {
    let fake = FakeCognito::start(vec![
        ok(serde_json::json!({})),
        error("UnsupportedTokenTypeException", "not a refresh token"),
    ])
    .await;
    let identity = fake.identity().await;

    identity.sign_out("the-refresh-token").await.unwrap();
    identity
        .sign_out("already-gone")
        .await
        .expect("a token Cognito does not take is as good as signed out");

    let received = fake.received();
    assert_eq!(received[0].operation, "RevokeToken");
    assert_eq!(
        received[0].body,
        serde_json::json!({"Token": "the-refresh-token", "ClientId": "app-client"})
    );
}

#[tokio::test]
async fn resend_code_asks_for_a_new_code_and_says_nothing_of_unknown_users() {
    let fake = FakeCognito::start(vec![
        ok(serde_json::json!({"CodeDeliveryDetails": {"DeliveryMedium": "EMAIL"}})),
        error("UserNotFoundException", "User does not exist."),
        error("InvalidParameterException", "User is already confirmed."),
    ])
    .await;
    let identity = fake.identity().await;

    identity.resend_code(" Ana@Example.COM ").await.unwrap();
    identity.resend_code("ghost@example.com").await.unwrap();
    identity.resend_code("done@example.com").await.unwrap();

    let received = fake.received();
    assert_eq!(received[0].operation, "ResendConfirmationCode");
    assert_eq!(
        received[0].body,
        serde_json::json!({"ClientId": "app-client", "Username": "ana@example.com"})
    );
}

#[tokio::test]
async fn throttling_and_lockouts_are_too_many_attempts() {
    let fake = FakeCognito::start(vec![
        error("TooManyRequestsException", "Rate exceeded"),
        error("NotAuthorizedException", "Password attempts exceeded"),
        error("LimitExceededException", "Attempt limit exceeded"),
    ])
    .await;
    let identity = fake.identity().await;
    let client = ClientInfo::default();

    for result in [
        identity
            .sign_in("ana@example.com", GOOD_PASSWORD, &client)
            .await
            .map(|_| ()),
        identity
            .sign_in("ana@example.com", GOOD_PASSWORD, &client)
            .await
            .map(|_| ()),
        identity.forgot_password("ana@example.com").await,
    ] {
        assert!(
            matches!(result, Err(IdentityError::TooManyAttempts { .. })),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn codes_cognito_refuses_are_code_mismatches() {
    let fake = FakeCognito::start(vec![
        error("CodeMismatchException", "Invalid verification code"),
        error("ExpiredCodeException", "Code expired"),
        error("CodeMismatchException", "Invalid code"),
        error("InvalidPasswordException", "Password not long enough"),
    ])
    .await;
    let identity = fake.identity().await;

    for result in [
        identity.confirm_sign_up("ana@example.com", "111111").await,
        identity.confirm_sign_up("ana@example.com", "222222").await,
        identity
            .confirm_forgot_password("ana@example.com", "333333", GOOD_PASSWORD)
            .await,
    ] {
        assert!(
            matches!(result, Err(IdentityError::CodeMismatch)),
            "{result:?}"
        );
    }
    assert!(matches!(
        identity
            .confirm_forgot_password("ana@example.com", "444444", "curta1")
            .await,
        Err(IdentityError::InvalidPassword(_))
    ));
    assert_eq!(
        fake.received()[0].body,
        serde_json::json!({
            "ClientId": "app-client",
            "Username": "ana@example.com",
            "ConfirmationCode": "111111"
        })
    );
}

#[tokio::test]
async fn a_sign_in_challenge_is_a_misconfiguration_not_a_wrong_password() {
    let fake = FakeCognito::start(vec![ok(serde_json::json!({
        "ChallengeName": "NEW_PASSWORD_REQUIRED",
        "Session": "session",
        "ChallengeParameters": {}
    }))])
    .await;
    let identity = fake.identity().await;
    let result = identity
        .sign_in("ana@example.com", GOOD_PASSWORD, &ClientInfo::default())
        .await;
    let Err(IdentityError::Unavailable(e)) = result else {
        panic!("{result:?}");
    };
    assert!(e.to_string().contains("NEW_PASSWORD_REQUIRED"), "{e}");
}

#[tokio::test]
async fn failures_never_show_passwords_codes_or_tokens() {
    let fake = FakeCognito::start(vec![
        (
            500,
            serde_json::json!({"__type": "InternalErrorException", "message": "boom"}),
        ),
        (
            500,
            serde_json::json!({"__type": "InternalErrorException", "message": "boom"}),
        ),
        (
            500,
            serde_json::json!({"__type": "InternalErrorException", "message": "boom"}),
        ),
    ])
    .await;
    let identity = fake.identity().await;
    let secrets = ["Segredo-Muito-999", "987654", "refresh-token-secreto"];

    let results = [
        identity
            .sign_in("ana@example.com", secrets[0], &ClientInfo::default())
            .await
            .map(|_| ()),
        identity
            .confirm_forgot_password("ana@example.com", secrets[1], secrets[0])
            .await,
        identity.refresh(secrets[2]).await.map(|_| ()),
    ];
    for result in results {
        let Err(IdentityError::Unavailable(e)) = &result else {
            panic!("{result:?}");
        };
        let shown = format!("{e} {e:?} {e:#}");
        assert!(shown.contains("InternalErrorException"), "{shown}");
        for secret in secrets {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
    // Each went to Cognito once, with what it should carry.
    let received = fake.received();
    assert_eq!(received[0].operation, "InitiateAuth");
    assert_eq!(received[0].body["AuthFlow"], "USER_PASSWORD_AUTH");
    assert_eq!(
        received[0].body["AuthParameters"]["USERNAME"],
        "ana@example.com"
    );
    assert_eq!(received[2].body["AuthFlow"], "REFRESH_TOKEN_AUTH");
    assert_eq!(
        received[2].body["AuthParameters"]["REFRESH_TOKEN"],
        secrets[2]
    );
}

#[tokio::test]
async fn a_jwks_without_a_usable_key_is_refused() {
    let fake = FakeCognito::start(vec![ok(serde_json::json!({"keys": []}))]).await;
    let url = format!("{}/pool/.well-known/jwks.json", fake.0.url);
    let err = fetch_verifier(&url, "https://issuer", "client")
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("no usable key"), "{err:#}");
}

#[tokio::test]
async fn a_jwks_that_cannot_be_fetched_is_an_error() {
    let fake = FakeCognito::start(vec![(404, serde_json::json!({}))]).await;
    let url = format!("{}/pool/.well-known/jwks.json", fake.0.url);
    assert!(
        fetch_verifier(&url, "https://issuer", "client")
            .await
            .is_err()
    );
}

#[test]
fn the_urls_are_cognitos() {
    assert_eq!(
        issuer("sa-east-1", "sa-east-1_Abc"),
        "https://cognito-idp.sa-east-1.amazonaws.com/sa-east-1_Abc"
    );
    assert_eq!(
        jwks_url("sa-east-1", "sa-east-1_Abc", None),
        "https://cognito-idp.sa-east-1.amazonaws.com/sa-east-1_Abc/.well-known/jwks.json"
    );
    assert_eq!(
        jwks_url("us-east-1", "us-east-1_x", Some("http://127.0.0.1:5000/")),
        "http://127.0.0.1:5000/us-east-1_x/.well-known/jwks.json"
    );
}
