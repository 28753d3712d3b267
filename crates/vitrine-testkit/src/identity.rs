//! The Identity conformance suite: the contract every [`Identity`] adapter keeps.
//!
//! The built-in provider runs it on SQLite with mail in a folder; the Cognito adapter runs the very
//! same cases against the AWS emulator. So the cases test only what both promise — the flows,
//! the errors callers match on, the tokens' claims as the one [`TokenVerifier`] sees them — and
//! nothing local-only such as rate limits, lifetimes or storage (those are tested beside the
//! adapter).
//!
//! Wiring, in an adapter's integration test:
//!
//! ```text
//! async fn make() -> vitrine_testkit::identity::IdentityFixture { /* build the adapter */ }
//! vitrine_testkit::identity_conformance!(make);
//! ```
//!
//! which expands to one `#[tokio::test]` per case in [`cases`]. Every case makes its own
//! users with e-mails unique to the run, so fixtures may share one user pool.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use vitrine_app::auth::TokenVerifier;
use vitrine_app::ports::{Clock, Identity};

/// A boxed, sendable future (the testkit does not depend on `futures`).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Reads the latest code of a kind sent to an e-mail address; panics when there is none.
pub type CodeReader = Arc<dyn Fn(&str, CodeKind) -> BoxFuture<String> + Send + Sync>;

/// The kind of one-time code a flow mails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// Sent by `sign_up` and `resend_code`.
    Confirmation,
    /// Sent by `forgot_password`.
    PasswordReset,
}

/// Promises of the contract that a stand-in for the real provider may not keep.
///
/// The built-in provider and Cognito itself keep them all ([`Capabilities::ALL`]). The AWS
/// emulator (moto) does not implement some of Cognito, so the Cognito adapter's run against it
/// switches those off. A case whose promise is off still runs every step it can and says on
/// stderr what it left out: a gap is never skipped silently, and the adapter's own tests cover
/// the calls the emulator cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// A wrong confirmation code is refused (moto's ConfirmSignUp accepts any code).
    pub checks_confirmation_codes: bool,
    /// `resend_code` sends a new code (moto has no ResendConfirmationCode).
    pub resends_codes: bool,
    /// `sign_out` revokes the refresh token (moto has no RevokeToken).
    pub revokes_refresh_tokens: bool,
    /// A password reset checks the password policy (moto's ConfirmForgotPassword does not).
    pub checks_policy_on_reset: bool,
}

impl Capabilities {
    /// Every promise: what a real provider keeps.
    pub const ALL: Self = Self {
        checks_confirmation_codes: true,
        resends_codes: true,
        revokes_refresh_tokens: true,
        checks_policy_on_reset: true,
    };
}

/// Say which part of a case did not run, and why.
fn skipped(case: &str, step: &str, because: &str) {
    eprintln!("identity conformance: {case}: skipped {step}: {because}");
}

/// What a suite case needs from the adapter under test.
pub struct IdentityFixture {
    pub identity: Arc<dyn Identity>,
    /// Verifies the tokens the adapter issues (built from its JWKS).
    pub verifier: TokenVerifier,
    /// The clock tokens are checked against (the adapter's own).
    pub clock: Arc<dyn Clock>,
    pub codes: CodeReader,
    /// Which promises to hold the adapter to; [`Capabilities::ALL`] but for an emulator.
    pub capabilities: Capabilities,
    /// Kept alive for the duration of the case (temporary folders, servers, ...).
    pub guard: Box<dyn Any + Send>,
}

/// Expand to one `#[tokio::test]` per case, each building its fixture with `$make`, an
/// `async fn() -> IdentityFixture`.
#[macro_export]
macro_rules! identity_conformance {
    ($make:path) => {
        $crate::identity_conformance!(@cases $make;
            a_confirmed_user_signs_in_and_gets_verifiable_tokens,
            a_wrong_password_is_not_authorized,
            an_unknown_email_gets_the_same_answer_as_a_wrong_password,
            an_unconfirmed_user_cannot_sign_in,
            a_wrong_confirmation_code_is_a_code_mismatch,
            a_resent_code_confirms_the_account,
            refresh_gives_a_new_access_token_for_the_same_user,
            a_signed_out_refresh_token_no_longer_refreshes,
            a_garbage_refresh_token_is_refused,
            a_password_reset_replaces_the_password_and_its_code_is_single_use,
            a_wrong_reset_code_changes_nothing,
            a_reset_to_a_weak_password_is_refused,
            forgot_password_for_an_unknown_email_answers_like_for_a_known_one,
            an_admin_created_user_in_the_admin_group_gets_admin_tokens,
            adding_a_user_to_the_admin_group_shows_in_the_next_tokens,
            signing_up_an_existing_email_is_user_exists,
            e_mails_are_case_insensitive,
            weak_passwords_are_invalid_password,
            an_unknown_user_is_not_found_by_admin_operations,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $case() {
                $crate::identity::cases::$case($make().await).await;
            }
        )*
    };
}

/// A password every reasonable policy accepts (upper, lower, digit, symbol, 15 characters).
pub const GOOD_PASSWORD: &str = "Senha-Forte-123";
/// Another one, for resets.
pub const OTHER_PASSWORD: &str = "Outra-Senha-456";

/// An e-mail no other case or run uses.
pub fn unique_email(tag: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{tag}-{}-{nanos}-{n}@example.com", std::process::id())
}

/// A six-digit code that differs from `code` (each digit shifted by one).
pub fn wrong_code(code: &str) -> String {
    code.chars()
        .map(|c| {
            c.to_digit(10)
                .map_or(c, |d| char::from_digit((d + 1) % 10, 10).unwrap_or(c))
        })
        .collect()
}

/// The cases. Each takes a fresh fixture and panics on a broken promise.
pub mod cases {
    use vitrine_app::auth::{AuthError, TokenUse};
    use vitrine_app::ports::identity::{GROUP_ADMIN, GROUP_CUSTOMER};
    use vitrine_app::ports::{ClientInfo, IdentityError, NewUser};

    use super::*;

    fn new_user(email: &str) -> NewUser {
        NewUser {
            email: email.to_owned(),
            password: GOOD_PASSWORD.to_owned(),
            name: "Ana Souza".to_owned(),
        }
    }

    fn client() -> ClientInfo {
        ClientInfo::default()
    }

    /// Sign up and confirm with the mailed code; returns `sub`.
    async fn confirmed_user(f: &IdentityFixture, email: &str) -> String {
        let sub = f.identity.sign_up(new_user(email)).await.expect("sign-up");
        let code = (f.codes)(email, CodeKind::Confirmation).await;
        f.identity
            .confirm_sign_up(email, &code)
            .await
            .expect("confirmation with the mailed code");
        sub
    }

    macro_rules! assert_err {
        ($result:expr, $pattern:pat) => {
            match $result {
                Err($pattern) => {}
                other => panic!("expected {}, got {:?}", stringify!($pattern), other),
            }
        };
    }

    pub async fn a_confirmed_user_signs_in_and_gets_verifiable_tokens(f: IdentityFixture) {
        let email = unique_email("happy");
        let sub = confirmed_user(&f, &email).await;

        let tokens = f
            .identity
            .sign_in(&email, GOOD_PASSWORD, &client())
            .await
            .expect("sign-in");

        assert_eq!(tokens.token_type, "Bearer");
        assert!(tokens.expires_in > 0);
        assert!(
            tokens.refresh_token.is_some(),
            "sign-in returns a refresh token"
        );
        let now = f.clock.now();
        let access = f
            .verifier
            .verify(&tokens.access_token, now, TokenUse::Access)
            .expect("access token verifies");
        assert_eq!(access.sub, sub);
        assert_eq!(access.token_use, TokenUse::Access);
        assert!(
            access.groups.iter().any(|g| g == GROUP_CUSTOMER),
            "new users are customers: {:?}",
            access.groups
        );
        let principal = f.verifier.verify_access(&tokens.access_token, now).unwrap();
        assert!(!principal.is_admin());
        let id = f
            .verifier
            .verify_id(&tokens.id_token, now)
            .expect("id token verifies");
        assert_eq!(id.sub, sub);
        assert_eq!(id.email.as_deref(), Some(email.as_str()));
        assert_eq!(
            f.verifier.verify_access(&tokens.id_token, now),
            Err(AuthError::WrongTokenUse)
        );
        assert_eq!(
            f.verifier.verify_id(&tokens.access_token, now),
            Err(AuthError::WrongTokenUse)
        );

        let info = f.identity.admin_get_user(&email).await.unwrap();
        assert_eq!(
            (info.sub.as_str(), info.email.as_str(), info.name.as_str()),
            (sub.as_str(), email.as_str(), "Ana Souza")
        );
        assert!(info.confirmed);
    }

    pub async fn a_wrong_password_is_not_authorized(f: IdentityFixture) {
        let email = unique_email("wrongpw");
        confirmed_user(&f, &email).await;
        assert_err!(
            f.identity
                .sign_in(&email, "Senha-Errada-999", &client())
                .await,
            IdentityError::NotAuthorized
        );
    }

    pub async fn an_unknown_email_gets_the_same_answer_as_a_wrong_password(f: IdentityFixture) {
        let email = unique_email("known");
        confirmed_user(&f, &email).await;
        let wrong = f
            .identity
            .sign_in(&email, "Senha-Errada-999", &client())
            .await
            .unwrap_err();
        let unknown = f
            .identity
            .sign_in(&unique_email("nobody"), GOOD_PASSWORD, &client())
            .await
            .unwrap_err();
        assert!(
            matches!(unknown, IdentityError::NotAuthorized),
            "{unknown:?}"
        );
        assert_eq!(unknown.to_string(), wrong.to_string());
    }

    pub async fn an_unconfirmed_user_cannot_sign_in(f: IdentityFixture) {
        let email = unique_email("unconfirmed");
        f.identity.sign_up(new_user(&email)).await.unwrap();
        // Only a caller who knows the password learns that the account awaits confirmation.
        assert_err!(
            f.identity
                .sign_in(&email, "Senha-Errada-999", &client())
                .await,
            IdentityError::NotAuthorized
        );
        assert_err!(
            f.identity.sign_in(&email, GOOD_PASSWORD, &client()).await,
            IdentityError::NotConfirmed
        );
        assert!(!f.identity.admin_get_user(&email).await.unwrap().confirmed);
    }

    pub async fn a_wrong_confirmation_code_is_a_code_mismatch(f: IdentityFixture) {
        let email = unique_email("wrongcode");
        f.identity.sign_up(new_user(&email)).await.unwrap();
        let code = (f.codes)(&email, CodeKind::Confirmation).await;
        if f.capabilities.checks_confirmation_codes {
            assert_err!(
                f.identity.confirm_sign_up(&email, &wrong_code(&code)).await,
                IdentityError::CodeMismatch
            );
        } else {
            skipped(
                "a_wrong_confirmation_code_is_a_code_mismatch",
                "the wrong code",
                "the provider confirms any code",
            );
        }
        assert_err!(
            f.identity.sign_in(&email, GOOD_PASSWORD, &client()).await,
            IdentityError::NotConfirmed
        );
        f.identity
            .confirm_sign_up(&email, &code)
            .await
            .expect("the right code still works");
        f.identity
            .sign_in(&email, GOOD_PASSWORD, &client())
            .await
            .expect("sign-in after confirmation");
    }

    pub async fn a_resent_code_confirms_the_account(f: IdentityFixture) {
        let email = unique_email("resend");
        f.identity.sign_up(new_user(&email)).await.unwrap();
        if f.capabilities.resends_codes {
            f.identity.resend_code(&email).await.expect("resend");
        } else {
            skipped(
                "a_resent_code_confirms_the_account",
                "resend_code",
                "the provider cannot resend codes",
            );
        }
        let code = (f.codes)(&email, CodeKind::Confirmation).await;
        f.identity
            .confirm_sign_up(&email, &code)
            .await
            .expect("the latest code confirms");
        f.identity
            .sign_in(&email, GOOD_PASSWORD, &client())
            .await
            .expect("sign-in");
    }

    pub async fn refresh_gives_a_new_access_token_for_the_same_user(f: IdentityFixture) {
        let email = unique_email("refresh");
        let sub = confirmed_user(&f, &email).await;
        let first = f
            .identity
            .sign_in(&email, GOOD_PASSWORD, &client())
            .await
            .unwrap();

        let refreshed = f
            .identity
            .refresh(first.refresh_token.as_deref().unwrap())
            .await
            .expect("refresh");

        assert_ne!(refreshed.access_token, first.access_token);
        let now = f.clock.now();
        assert_eq!(
            f.verifier
                .verify_access(&refreshed.access_token, now)
                .unwrap()
                .sub,
            sub
        );
        assert_eq!(
            f.verifier.verify_id(&refreshed.id_token, now).unwrap().sub,
            sub
        );
    }

    pub async fn a_signed_out_refresh_token_no_longer_refreshes(f: IdentityFixture) {
        let email = unique_email("signout");
        confirmed_user(&f, &email).await;
        let tokens = f
            .identity
            .sign_in(&email, GOOD_PASSWORD, &client())
            .await
            .unwrap();
        let refresh = tokens.refresh_token.unwrap();
        f.identity
            .refresh(&refresh)
            .await
            .expect("refresh before sign-out");
        if !f.capabilities.revokes_refresh_tokens {
            skipped(
                "a_signed_out_refresh_token_no_longer_refreshes",
                "sign_out and the refused refresh",
                "the provider cannot revoke tokens",
            );
            return;
        }

        f.identity.sign_out(&refresh).await.expect("sign-out");

        assert_err!(
            f.identity.refresh(&refresh).await,
            IdentityError::InvalidRefreshToken
        );
    }

    pub async fn a_garbage_refresh_token_is_refused(f: IdentityFixture) {
        assert_err!(
            f.identity.refresh("not-a-refresh-token").await,
            IdentityError::InvalidRefreshToken
        );
    }

    pub async fn a_password_reset_replaces_the_password_and_its_code_is_single_use(
        f: IdentityFixture,
    ) {
        let email = unique_email("reset");
        confirmed_user(&f, &email).await;

        f.identity
            .forgot_password(&email)
            .await
            .expect("forgot password");
        let code = (f.codes)(&email, CodeKind::PasswordReset).await;
        f.identity
            .confirm_forgot_password(&email, &code, OTHER_PASSWORD)
            .await
            .expect("reset");

        assert_err!(
            f.identity.sign_in(&email, GOOD_PASSWORD, &client()).await,
            IdentityError::NotAuthorized
        );
        f.identity
            .sign_in(&email, OTHER_PASSWORD, &client())
            .await
            .expect("the new password works");
        assert_err!(
            f.identity
                .confirm_forgot_password(&email, &code, "Terceira-Senha-789")
                .await,
            IdentityError::CodeMismatch
        );
        f.identity
            .sign_in(&email, OTHER_PASSWORD, &client())
            .await
            .expect("the reused code changed nothing");
    }

    pub async fn a_wrong_reset_code_changes_nothing(f: IdentityFixture) {
        let email = unique_email("wrongreset");
        confirmed_user(&f, &email).await;
        f.identity.forgot_password(&email).await.unwrap();
        let code = (f.codes)(&email, CodeKind::PasswordReset).await;

        assert_err!(
            f.identity
                .confirm_forgot_password(&email, &wrong_code(&code), OTHER_PASSWORD)
                .await,
            IdentityError::CodeMismatch
        );

        f.identity
            .sign_in(&email, GOOD_PASSWORD, &client())
            .await
            .expect("the old password still works");
        assert_err!(
            f.identity.sign_in(&email, OTHER_PASSWORD, &client()).await,
            IdentityError::NotAuthorized
        );
    }

    pub async fn a_reset_to_a_weak_password_is_refused(f: IdentityFixture) {
        let email = unique_email("weakreset");
        confirmed_user(&f, &email).await;
        f.identity.forgot_password(&email).await.unwrap();
        let code = (f.codes)(&email, CodeKind::PasswordReset).await;

        if f.capabilities.checks_policy_on_reset {
            assert_err!(
                f.identity
                    .confirm_forgot_password(&email, &code, "curta1")
                    .await,
                IdentityError::InvalidPassword(_)
            );
        } else {
            // Trying would succeed and set the weak password.
            skipped(
                "a_reset_to_a_weak_password_is_refused",
                "the weak reset",
                "the provider does not check the policy on reset",
            );
        }

        f.identity
            .sign_in(&email, GOOD_PASSWORD, &client())
            .await
            .expect("the old password still works");
    }

    pub async fn forgot_password_for_an_unknown_email_answers_like_for_a_known_one(
        f: IdentityFixture,
    ) {
        f.identity
            .forgot_password(&unique_email("ghost"))
            .await
            .expect("no hint that the e-mail is unknown");
    }

    pub async fn an_admin_created_user_in_the_admin_group_gets_admin_tokens(f: IdentityFixture) {
        let email = unique_email("admin");
        let sub = f
            .identity
            .admin_create_user(new_user(&email), &[GROUP_ADMIN])
            .await
            .expect("admin create");

        let info = f.identity.admin_get_user(&email).await.unwrap();
        assert_eq!(info.sub, sub);
        assert!(info.confirmed, "admin-created users need no confirmation");
        assert!(
            info.groups.iter().any(|g| g == GROUP_ADMIN),
            "{:?}",
            info.groups
        );

        let tokens = f
            .identity
            .sign_in(&email, GOOD_PASSWORD, &client())
            .await
            .expect("sign-in");
        let now = f.clock.now();
        let principal = f.verifier.verify_access(&tokens.access_token, now).unwrap();
        assert_eq!(principal.sub, sub);
        assert!(
            principal.groups.iter().any(|g| g == GROUP_ADMIN),
            "cognito:groups = {:?}",
            principal.groups
        );
        assert!(principal.is_admin());
        assert!(
            f.verifier
                .verify_id(&tokens.id_token, now)
                .unwrap()
                .is_admin(),
            "id tokens carry the groups too"
        );
    }

    pub async fn adding_a_user_to_the_admin_group_shows_in_the_next_tokens(f: IdentityFixture) {
        let email = unique_email("promoted");
        confirmed_user(&f, &email).await;
        let before = f
            .identity
            .sign_in(&email, GOOD_PASSWORD, &client())
            .await
            .unwrap();
        assert!(
            !f.verifier
                .verify_access(&before.access_token, f.clock.now())
                .unwrap()
                .is_admin()
        );

        f.identity
            .admin_add_to_group(&email, GROUP_ADMIN)
            .await
            .expect("add to group");
        f.identity
            .admin_add_to_group(&email, GROUP_ADMIN)
            .await
            .expect("adding twice is harmless");

        let after = f
            .identity
            .sign_in(&email, GOOD_PASSWORD, &client())
            .await
            .unwrap();
        let principal = f
            .verifier
            .verify_access(&after.access_token, f.clock.now())
            .unwrap();
        assert!(principal.is_admin());
        assert_eq!(
            principal
                .groups
                .iter()
                .filter(|g| *g == GROUP_ADMIN)
                .count(),
            1
        );
    }

    pub async fn signing_up_an_existing_email_is_user_exists(f: IdentityFixture) {
        let email = unique_email("dup");
        let sub = confirmed_user(&f, &email).await;
        let again = NewUser {
            name: "Outra Pessoa".into(),
            password: OTHER_PASSWORD.into(),
            ..new_user(&email)
        };

        assert_err!(
            f.identity.sign_up(again.clone()).await,
            IdentityError::UserExists
        );
        assert_err!(
            f.identity.admin_create_user(again, &[]).await,
            IdentityError::UserExists
        );

        assert_eq!(
            f.identity.admin_get_user(&email).await.unwrap().sub,
            sub,
            "the first account is untouched"
        );
        f.identity
            .sign_in(&email, GOOD_PASSWORD, &client())
            .await
            .expect("with its own password");
    }

    pub async fn e_mails_are_case_insensitive(f: IdentityFixture) {
        let email = unique_email("mixedcase");
        let shouted = email.to_uppercase();
        let sub = f.identity.sign_up(new_user(&shouted)).await.unwrap();
        let code = (f.codes)(&email, CodeKind::Confirmation).await;
        f.identity
            .confirm_sign_up(&email, &code)
            .await
            .expect("confirm in lower case");

        let tokens = f
            .identity
            .sign_in(&email, GOOD_PASSWORD, &client())
            .await
            .expect("sign in in lower case");
        assert_eq!(
            f.verifier
                .verify_access(&tokens.access_token, f.clock.now())
                .unwrap()
                .sub,
            sub
        );
        assert_eq!(
            f.identity.admin_get_user(&shouted).await.unwrap().email,
            email
        );
        assert_err!(
            f.identity.sign_up(new_user(&email)).await,
            IdentityError::UserExists
        );
    }

    pub async fn weak_passwords_are_invalid_password(f: IdentityFixture) {
        for weak in ["curta1", "semnenhumdigito"] {
            let email = unique_email("weak");
            let user = NewUser {
                password: weak.into(),
                ..new_user(&email)
            };
            assert_err!(
                f.identity.sign_up(user.clone()).await,
                IdentityError::InvalidPassword(_)
            );
            assert_err!(
                f.identity.admin_create_user(user, &[]).await,
                IdentityError::InvalidPassword(_)
            );
            assert_err!(
                f.identity.admin_get_user(&email).await,
                IdentityError::UserNotFound
            );
        }
    }

    pub async fn an_unknown_user_is_not_found_by_admin_operations(f: IdentityFixture) {
        let email = unique_email("missing");
        assert_err!(
            f.identity.admin_get_user(&email).await,
            IdentityError::UserNotFound
        );
        assert_err!(
            f.identity.admin_add_to_group(&email, GROUP_ADMIN).await,
            IdentityError::UserNotFound
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_code_differs_in_every_digit() {
        assert_eq!(wrong_code("123459"), "234560");
    }

    #[test]
    fn unique_emails_do_not_repeat() {
        assert_ne!(unique_email("a"), unique_email("a"));
    }
}
