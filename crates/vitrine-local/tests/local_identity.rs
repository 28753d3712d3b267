//! The built-in identity provider on its real neighbours: the SQLite table and the mail folder.
//!
//! First the Identity conformance suite (the contract shared with Cognito), then what only the
//! local provider promises: rate limits, code budgets and lifetimes, the signing key file, and
//! that secrets are stored only as hashes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use vitrine_app::auth::{AuthError, TokenSigner, TokenUse};
use vitrine_app::ports::identity::GROUP_ADMIN;
use vitrine_app::ports::{
    ClientInfo, Clock, Identity, IdentityError, Key, ManualClock, NewUser, Table, UlidIds,
};
use vitrine_domain::Timestamp;
use vitrine_local::identity::{
    Argon2Cost, LocalIdentity, LocalIdentityConfig, MAX_CODE_TRIES, RateLimit, SIGNING_KEY_FILE,
};
use vitrine_local::mail::FileMailer;
use vitrine_local::sqlite::SqliteTable;
use vitrine_testkit::identity::{
    Capabilities, CodeKind, CodeReader, GOOD_PASSWORD, IdentityFixture, OTHER_PASSWORD,
    unique_email, wrong_code,
};
use vitrine_testkit::mail::read_mail_folder;

const ISSUER: &str = "http://localhost:8080/auth";
const CLIENT: &str = "vitrine-web";
/// 2025-06-15T12:00:00Z: the clocks start here.
const START: Timestamp = Timestamp::from_secs(1_749_988_800);

const CONFIRMATION_SUBJECT: &str = "Seu código de confirmação — vitrine";
const RESET_SUBJECT: &str = "Código para redefinir sua senha — vitrine";

/// An RSA key made once per test binary and copied into each test's key folder: generating one
/// per test would dominate the run time.
fn shared_key_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        TokenSigner::generate()
            .unwrap()
            .to_pkcs8_pem()
            .unwrap()
            .to_string()
    })
}

fn write_private(path: &Path, text: &str) {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// The defaults, but with argon2 as cheap as it goes: tests sign up many users.
fn config(key_dir: PathBuf) -> LocalIdentityConfig {
    LocalIdentityConfig {
        argon2: Argon2Cost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..LocalIdentityConfig::new(key_dir, ISSUER, CLIENT)
    }
}

/// A provider on a fresh SQLite file and mail folder, with a manual clock.
struct Local {
    identity: Arc<LocalIdentity>,
    clock: Arc<ManualClock>,
    table: Arc<SqliteTable>,
    mail_dir: PathBuf,
    dir: TempDir,
}

impl Local {
    async fn new() -> Self {
        Self::with(|c| c).await
    }

    async fn with(adjust: impl FnOnce(LocalIdentityConfig) -> LocalIdentityConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key_dir = dir.path().join("keys");
        std::fs::create_dir(&key_dir).unwrap();
        write_private(&key_dir.join(SIGNING_KEY_FILE), shared_key_pem());
        Self::open_in(dir, adjust(config(key_dir)))
    }

    fn open_in(dir: TempDir, config: LocalIdentityConfig) -> Self {
        let clock = Arc::new(ManualClock::new(START));
        let table =
            Arc::new(SqliteTable::open(&dir.path().join("vitrine.db"), clock.clone()).unwrap());
        let mail_dir = dir.path().join("mail");
        let mailer = FileMailer::open(&mail_dir, "vitrine <loja@vitrine.test>")
            .unwrap()
            .with_clock(clock.clone());
        let identity = LocalIdentity::open(
            config,
            table.clone(),
            Arc::new(mailer),
            clock.clone(),
            Arc::new(UlidIds),
        )
        .unwrap();
        Self {
            identity: Arc::new(identity),
            clock,
            table,
            mail_dir,
            dir,
        }
    }

    fn code(&self, email: &str, kind: CodeKind) -> String {
        latest_code(&self.mail_dir, email, kind)
    }

    async fn signed_up(&self, email: &str) -> String {
        self.identity.sign_up(user(email)).await.unwrap()
    }

    async fn confirmed(&self, email: &str) -> String {
        let sub = self.signed_up(email).await;
        self.identity
            .confirm_sign_up(email, &self.code(email, CodeKind::Confirmation))
            .await
            .unwrap();
        sub
    }

    async fn sign_in(
        &self,
        email: &str,
        password: &str,
    ) -> Result<vitrine_app::ports::Tokens, IdentityError> {
        self.identity
            .sign_in(email, password, &ClientInfo::default())
            .await
    }

    async fn sign_in_from(
        &self,
        address: &str,
        email: &str,
        password: &str,
    ) -> Result<vitrine_app::ports::Tokens, IdentityError> {
        self.identity
            .sign_in(
                email,
                password,
                &ClientInfo {
                    address: Some(address.into()),
                    device: None,
                },
            )
            .await
    }
}

fn user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        password: GOOD_PASSWORD.into(),
        name: "Ana Souza".into(),
    }
}

/// The code in the latest mail of `kind` to `email` (compared case-insensitively).
fn latest_code(mail_dir: &Path, email: &str, kind: CodeKind) -> String {
    let subject = match kind {
        CodeKind::Confirmation => CONFIRMATION_SUBJECT,
        CodeKind::PasswordReset => RESET_SUBJECT,
    };
    let mail = read_mail_folder(mail_dir)
        .into_iter()
        .rev()
        .find(|m| m.to.eq_ignore_ascii_case(email) && m.subject == subject)
        .unwrap_or_else(|| panic!("no {kind:?} mail in {}", mail_dir.display()));
    six_digits(&mail.text).unwrap_or_else(|| panic!("no code in the {kind:?} mail"))
}

/// The first run of exactly six digits.
fn six_digits(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 6 {
                return Some(text[start..i].to_owned());
            }
        } else {
            i += 1;
        }
    }
    None
}

async fn make() -> IdentityFixture {
    let local = Local::new().await;
    let mail_dir = local.mail_dir.clone();
    let codes: CodeReader = Arc::new(move |email: &str, kind| {
        let code = latest_code(&mail_dir, email, kind);
        Box::pin(async move { code })
    });
    IdentityFixture {
        identity: local.identity.clone(),
        verifier: local.identity.verifier(),
        clock: local.clock.clone(),
        codes,
        capabilities: Capabilities::ALL,
        guard: Box::new(local.dir),
    }
}

vitrine_testkit::identity_conformance!(make);

// ---- rate limits ----

#[tokio::test]
async fn sign_in_is_refused_after_five_failures_for_fifteen_minutes() {
    let local = Local::new().await;
    let email = unique_email("limited");
    local.confirmed(&email).await;
    for _ in 0..5 {
        assert!(matches!(
            local.sign_in(&email, "Errada-123").await,
            Err(IdentityError::NotAuthorized)
        ));
    }

    let refused = local.sign_in(&email, GOOD_PASSWORD).await;
    assert!(
        matches!(
            refused,
            Err(IdentityError::TooManyAttempts {
                retry_after_secs: 900
            })
        ),
        "{refused:?}"
    );

    local.clock.advance_secs(899);
    assert!(matches!(
        local.sign_in(&email, GOOD_PASSWORD).await,
        Err(IdentityError::TooManyAttempts {
            retry_after_secs: 1
        })
    ));
    local.clock.advance_secs(1);
    local
        .sign_in(&email, GOOD_PASSWORD)
        .await
        .expect("the window has passed");
}

#[tokio::test]
async fn failures_for_an_unknown_email_are_limited_like_a_known_one() {
    let local = Local::new().await;
    let email = unique_email("ghost");
    for _ in 0..5 {
        assert!(matches!(
            local.sign_in(&email, GOOD_PASSWORD).await,
            Err(IdentityError::NotAuthorized)
        ));
    }
    assert!(matches!(
        local.sign_in(&email, GOOD_PASSWORD).await,
        Err(IdentityError::TooManyAttempts { .. })
    ));
}

#[tokio::test]
async fn the_account_limit_ignores_the_e_mails_case() {
    let local = Local::new().await;
    let email = unique_email("casey");
    local.confirmed(&email).await;
    for _ in 0..5 {
        let _ = local.sign_in(&email.to_uppercase(), "Errada-123").await;
    }
    assert!(matches!(
        local.sign_in(&email, GOOD_PASSWORD).await,
        Err(IdentityError::TooManyAttempts { .. })
    ));
}

#[tokio::test]
async fn a_successful_sign_in_clears_the_accounts_failures() {
    let local = Local::new().await;
    let email = unique_email("forgiven");
    local.confirmed(&email).await;
    for _ in 0..4 {
        let _ = local.sign_in(&email, "Errada-123").await;
    }
    local.sign_in(&email, GOOD_PASSWORD).await.unwrap();
    for _ in 0..4 {
        let _ = local.sign_in(&email, "Errada-123").await;
    }
    local
        .sign_in(&email, GOOD_PASSWORD)
        .await
        .expect("four failures since the last success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_sign_ins_cannot_exceed_the_accounts_budget() {
    let local = Local::new().await;
    let email = unique_email("parallel");
    local.confirmed(&email).await;
    let attempts = (0..20).map(|_| {
        let identity = local.identity.clone();
        let email = email.clone();
        tokio::spawn(async move {
            identity
                .sign_in(&email, "Errada-123", &ClientInfo::default())
                .await
        })
    });
    let mut verified = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await.unwrap() {
            Err(IdentityError::NotAuthorized) => verified += 1,
            Err(IdentityError::TooManyAttempts { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(verified, 5, "only five guesses reach the password check");
}

#[tokio::test]
async fn an_unknown_email_costs_a_password_verification_too() {
    // Real argon2 cost, so that a skipped verification would stand out from scheduling noise.
    let local = Local::with(|c| LocalIdentityConfig {
        argon2: Argon2Cost::default(),
        sign_in_per_account: RateLimit {
            max: 100,
            window: Duration::from_secs(60),
        },
        ..c
    })
    .await;
    let email = unique_email("timed");
    local
        .identity
        .admin_create_user(user(&email), &[])
        .await
        .unwrap();
    let mut known = Duration::MAX;
    let mut unknown = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let _ = local.sign_in(&email, "Errada-123").await;
        known = known.min(started.elapsed());
        let started = Instant::now();
        let _ = local.sign_in(&unique_email("nobody"), "Errada-123").await;
        unknown = unknown.min(started.elapsed());
    }
    assert!(
        unknown * 4 > known,
        "unknown e-mail answered in {unknown:?}, wrong password in {known:?}"
    );
}

#[tokio::test]
async fn one_address_may_fail_thirty_times_in_fifteen_minutes() {
    let local = Local::new().await;
    let email = unique_email("victim");
    local.confirmed(&email).await;
    // A password-spraying client: one try per account, many accounts.
    for _ in 0..30 {
        let _ = local
            .sign_in_from("203.0.113.9", &unique_email("spray"), GOOD_PASSWORD)
            .await;
    }

    let refused = local
        .sign_in_from("203.0.113.9", &email, GOOD_PASSWORD)
        .await;
    assert!(
        matches!(refused, Err(IdentityError::TooManyAttempts { .. })),
        "{refused:?}"
    );
    local
        .sign_in_from("198.51.100.7", &email, GOOD_PASSWORD)
        .await
        .expect("other addresses are not affected");
    local.clock.advance_secs(15 * 60);
    local
        .sign_in_from("203.0.113.9", &email, GOOD_PASSWORD)
        .await
        .expect("the window has passed");
}

#[tokio::test]
async fn code_mails_are_limited_per_email_whether_it_exists_or_not() {
    let local = Local::new().await;
    let known = unique_email("known");
    local.confirmed(&known).await;
    // The sign-up's confirmation mail counted too: start from a fresh budget.
    local.clock.advance_secs(3600);
    let unknown = unique_email("unknown");
    for _ in 0..5 {
        local.identity.forgot_password(&known).await.unwrap();
        local.identity.forgot_password(&unknown).await.unwrap();
    }
    assert!(matches!(
        local.identity.forgot_password(&known).await,
        Err(IdentityError::TooManyAttempts { .. })
    ));
    assert!(matches!(
        local.identity.forgot_password(&unknown).await,
        Err(IdentityError::TooManyAttempts { .. })
    ));
    local.clock.advance_secs(3600);
    local
        .identity
        .forgot_password(&known)
        .await
        .expect("an hour later");
}

#[tokio::test]
async fn sign_up_and_resends_share_the_code_mail_budget() {
    let local = Local::new().await;
    let email = unique_email("resender");
    local.signed_up(&email).await;
    for _ in 0..4 {
        local.identity.resend_code(&email).await.unwrap();
    }
    assert!(matches!(
        local.identity.resend_code(&email).await,
        Err(IdentityError::TooManyAttempts { .. })
    ));
}

// ---- codes ----

#[tokio::test]
async fn a_code_is_void_after_five_wrong_tries() {
    let local = Local::new().await;
    let email = unique_email("guesser");
    local.signed_up(&email).await;
    let code = local.code(&email, CodeKind::Confirmation);
    for _ in 0..MAX_CODE_TRIES {
        assert!(matches!(
            local
                .identity
                .confirm_sign_up(&email, &wrong_code(&code))
                .await,
            Err(IdentityError::CodeMismatch)
        ));
    }
    assert!(matches!(
        local.identity.confirm_sign_up(&email, &code).await,
        Err(IdentityError::CodeMismatch)
    ));
    assert!(matches!(
        local.sign_in(&email, GOOD_PASSWORD).await,
        Err(IdentityError::NotConfirmed)
    ));
}

#[tokio::test]
async fn the_right_code_on_the_fifth_try_still_works() {
    let local = Local::new().await;
    let email = unique_email("lastchance");
    local.signed_up(&email).await;
    let code = local.code(&email, CodeKind::Confirmation);
    for _ in 0..MAX_CODE_TRIES - 1 {
        let _ = local
            .identity
            .confirm_sign_up(&email, &wrong_code(&code))
            .await;
    }
    local
        .identity
        .confirm_sign_up(&email, &code)
        .await
        .expect("fifth try");
}

#[tokio::test]
async fn parallel_guesses_cannot_exceed_the_try_budget() {
    let local = Local::new().await;
    let email = unique_email("racer");
    local.signed_up(&email).await;
    let code = local.code(&email, CodeKind::Confirmation);
    let guesses = (0..20).map(|_| {
        let identity = local.identity.clone();
        let (email, guess) = (email.clone(), wrong_code(&code));
        tokio::spawn(async move { identity.confirm_sign_up(&email, &guess).await })
    });
    for guess in guesses.collect::<Vec<_>>() {
        assert!(matches!(
            guess.await.unwrap(),
            Err(IdentityError::CodeMismatch)
        ));
    }
    assert!(matches!(
        local.identity.confirm_sign_up(&email, &code).await,
        Err(IdentityError::CodeMismatch)
    ));
}

#[tokio::test]
async fn a_confirmation_code_lasts_24_hours() {
    let local = Local::new().await;
    let (early, late) = (unique_email("early"), unique_email("late"));
    local.signed_up(&early).await;
    local.signed_up(&late).await;
    let (early_code, late_code) = (
        local.code(&early, CodeKind::Confirmation),
        local.code(&late, CodeKind::Confirmation),
    );

    local.clock.advance_secs(24 * 3600 - 1);
    local
        .identity
        .confirm_sign_up(&early, &early_code)
        .await
        .expect("a second before expiry");
    local.clock.advance_secs(1);
    assert!(matches!(
        local.identity.confirm_sign_up(&late, &late_code).await,
        Err(IdentityError::CodeMismatch)
    ));
}

#[tokio::test]
async fn a_reset_code_lasts_one_hour() {
    let local = Local::new().await;
    let email = unique_email("slow");
    local.confirmed(&email).await;
    local.identity.forgot_password(&email).await.unwrap();
    let code = local.code(&email, CodeKind::PasswordReset);
    local.clock.advance_secs(3600);
    assert!(matches!(
        local
            .identity
            .confirm_forgot_password(&email, &code, OTHER_PASSWORD)
            .await,
        Err(IdentityError::CodeMismatch)
    ));
    local
        .sign_in(&email, GOOD_PASSWORD)
        .await
        .expect("the password is unchanged");
}

#[tokio::test]
async fn a_new_code_replaces_the_previous_one() {
    let local = Local::new().await;
    let email = unique_email("replaced");
    local.signed_up(&email).await;
    let first = local.code(&email, CodeKind::Confirmation);
    let mut second = first.clone();
    // A resend may draw the same six digits by chance; draw until it differs.
    while second == first {
        local.identity.resend_code(&email).await.unwrap();
        second = local.code(&email, CodeKind::Confirmation);
    }
    assert!(matches!(
        local.identity.confirm_sign_up(&email, &first).await,
        Err(IdentityError::CodeMismatch)
    ));
    local
        .identity
        .confirm_sign_up(&email, &second)
        .await
        .unwrap();
}

#[tokio::test]
async fn codes_with_spaces_around_still_match_and_malformed_ones_cost_no_try() {
    let local = Local::new().await;
    let email = unique_email("sloppy");
    local.signed_up(&email).await;
    let code = local.code(&email, CodeKind::Confirmation);
    for junk in ["", "12345", "1234567", "abcdef", "12 345"] {
        for _ in 0..MAX_CODE_TRIES {
            assert!(matches!(
                local.identity.confirm_sign_up(&email, junk).await,
                Err(IdentityError::CodeMismatch)
            ));
        }
    }
    local
        .identity
        .confirm_sign_up(&email, &format!(" {code}\n"))
        .await
        .expect("the budget is intact");
}

// ---- tokens ----

#[tokio::test]
async fn tokens_carry_cognitos_claims_and_last_an_hour() {
    let local = Local::new().await;
    let email = unique_email("claims");
    let sub = local.confirmed(&email).await;
    let tokens = local.sign_in(&email, GOOD_PASSWORD).await.unwrap();
    assert_eq!(tokens.expires_in, 3600);
    let verifier = local.identity.verifier();

    let access = verifier
        .verify(&tokens.access_token, START, TokenUse::Access)
        .unwrap();
    assert_eq!(access.iss, ISSUER);
    assert_eq!(access.client_id.as_deref(), Some(CLIENT));
    assert_eq!(access.username.as_deref(), Some(sub.as_str()));
    assert_eq!(
        (access.iat, access.auth_time, access.exp),
        (START.secs(), START.secs(), START.secs() + 3600)
    );
    let id = verifier
        .verify(&tokens.id_token, START, TokenUse::Id)
        .unwrap();
    assert_eq!(id.aud.as_deref(), Some(CLIENT));
    assert_eq!(id.email.as_deref(), Some(email.as_str()));
    assert_eq!(id.name.as_deref(), Some("Ana Souza"));
    assert_eq!(id.origin_jti, access.origin_jti);
    assert_ne!(id.jti, access.jti);

    assert!(
        verifier
            .verify_access(&tokens.access_token, START.plus_secs(3599))
            .is_ok()
    );
    assert_eq!(
        verifier.verify_access(&tokens.access_token, START.plus_secs(3600)),
        Err(AuthError::Expired)
    );
}

#[tokio::test]
async fn refreshed_tokens_keep_the_sign_in_time_and_origin() {
    let local = Local::new().await;
    let email = unique_email("origin");
    local.confirmed(&email).await;
    let first = local.sign_in(&email, GOOD_PASSWORD).await.unwrap();
    local.clock.advance_secs(1800);

    let refreshed = local
        .identity
        .refresh(first.refresh_token.as_deref().unwrap())
        .await
        .unwrap();

    assert_eq!(
        refreshed.refresh_token, None,
        "refresh tokens are not rotated, as with Cognito"
    );
    let verifier = local.identity.verifier();
    let before = verifier
        .verify(&first.access_token, local.clock.now(), TokenUse::Access)
        .unwrap();
    let after = verifier
        .verify(&refreshed.access_token, local.clock.now(), TokenUse::Access)
        .unwrap();
    assert_eq!(after.auth_time, before.auth_time);
    assert_eq!(after.origin_jti, before.origin_jti);
    assert_eq!(after.iat, START.secs() + 1800);
}

#[tokio::test]
async fn a_refresh_token_lasts_30_days() {
    let local = Local::new().await;
    let email = unique_email("longlived");
    local.confirmed(&email).await;
    let tokens = local.sign_in(&email, GOOD_PASSWORD).await.unwrap();
    let refresh = tokens.refresh_token.unwrap();
    local.clock.advance_secs(30 * 24 * 3600 - 1);
    local
        .identity
        .refresh(&refresh)
        .await
        .expect("a second before expiry");
    local.clock.advance_secs(1);
    assert!(matches!(
        local.identity.refresh(&refresh).await,
        Err(IdentityError::InvalidRefreshToken)
    ));
}

#[tokio::test]
async fn a_password_reset_revokes_earlier_refresh_tokens() {
    let local = Local::new().await;
    let email = unique_email("stolen");
    local.confirmed(&email).await;
    let old_session = local
        .sign_in(&email, GOOD_PASSWORD)
        .await
        .unwrap()
        .refresh_token
        .unwrap();

    local.identity.forgot_password(&email).await.unwrap();
    let code = local.code(&email, CodeKind::PasswordReset);
    local
        .identity
        .confirm_forgot_password(&email, &code, OTHER_PASSWORD)
        .await
        .unwrap();

    assert!(matches!(
        local.identity.refresh(&old_session).await,
        Err(IdentityError::InvalidRefreshToken)
    ));
    let new_session = local
        .sign_in(&email, OTHER_PASSWORD)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    local
        .identity
        .refresh(&new_session)
        .await
        .expect("sessions after the reset work");
}

#[tokio::test]
async fn signing_out_twice_or_with_an_unknown_token_is_fine() {
    let local = Local::new().await;
    let email = unique_email("twice");
    local.confirmed(&email).await;
    let refresh = local
        .sign_in(&email, GOOD_PASSWORD)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    local.identity.sign_out(&refresh).await.unwrap();
    local.identity.sign_out(&refresh).await.unwrap();
    local.identity.sign_out("whatever").await.unwrap();
}

#[tokio::test]
async fn a_password_reset_confirms_an_unconfirmed_account() {
    let local = Local::new().await;
    let email = unique_email("neverconfirmed");
    local.signed_up(&email).await;
    local.identity.forgot_password(&email).await.unwrap();
    let code = local.code(&email, CodeKind::PasswordReset);
    local
        .identity
        .confirm_forgot_password(&email, &code, OTHER_PASSWORD)
        .await
        .unwrap();
    local
        .sign_in(&email, OTHER_PASSWORD)
        .await
        .expect("the reset code proved the mailbox");
}

// ---- the signing key ----

#[tokio::test]
async fn the_signing_key_is_made_private_on_first_start_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let key_dir = dir.path().join("new").join("keys");
    let first = Local::open_in(tempfile::tempdir().unwrap(), config(key_dir.clone()));
    let key_file = key_dir.join(SIGNING_KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let pem = std::fs::read_to_string(&key_file).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(
        std::fs::read_dir(&key_dir).unwrap().count(),
        1,
        "no temporary file left behind"
    );
    let email = unique_email("restart");
    first.confirmed(&email).await;
    let tokens = first.sign_in(&email, GOOD_PASSWORD).await.unwrap();

    let second = Local::open_in(tempfile::tempdir().unwrap(), config(key_dir.clone()));

    assert_eq!(second.identity.jwks(), first.identity.jwks());
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), pem);
    second
        .identity
        .verifier()
        .verify_access(&tokens.access_token, START)
        .expect("old tokens stay valid after a restart");
}

#[tokio::test]
async fn a_signing_key_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key_dir = dir.path().join("keys");
    std::fs::create_dir(&key_dir).unwrap();
    let key_file = key_dir.join(SIGNING_KEY_FILE);
    std::fs::write(&key_file, shared_key_pem()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let table = Arc::new(
            SqliteTable::open(&dir.path().join("t.db"), Arc::new(ManualClock::new(START))).unwrap(),
        );
        let mailer =
            Arc::new(FileMailer::open(dir.path().join("mail"), "loja@vitrine.test").unwrap());
        let opened = LocalIdentity::open(
            config(key_dir),
            table,
            mailer,
            Arc::new(ManualClock::new(START)),
            Arc::new(UlidIds),
        );
        let err = opened.unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}

#[tokio::test]
async fn a_corrupt_signing_key_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let key_dir = dir.path().join("keys");
    std::fs::create_dir(&key_dir).unwrap();
    write_private(&key_dir.join(SIGNING_KEY_FILE), "not a key");
    let table = Arc::new(
        SqliteTable::open(&dir.path().join("t.db"), Arc::new(ManualClock::new(START))).unwrap(),
    );
    let mailer = Arc::new(FileMailer::open(dir.path().join("mail"), "loja@vitrine.test").unwrap());
    let opened = LocalIdentity::open(
        config(key_dir),
        table,
        mailer,
        Arc::new(ManualClock::new(START)),
        Arc::new(UlidIds),
    );
    assert!(opened.is_err());
}

// ---- storage ----

#[tokio::test]
async fn secrets_are_stored_only_as_hashes() {
    let local = Local::new().await;
    let email = unique_email("secrets");
    let sub = local.signed_up(&email).await;
    let code = local.code(&email, CodeKind::Confirmation);

    let profile = local
        .table
        .get(&Key::new(format!("USER#{sub}"), "PROFILE"))
        .await
        .unwrap()
        .unwrap();
    let password = profile.str("password").unwrap();
    assert!(password.starts_with("$argon2id$"), "{password}");
    assert!(!format!("{profile:?}").contains(GOOD_PASSWORD));
    let code_item = local
        .table
        .get(&Key::new(format!("USER#{sub}"), "CODE#SIGNUP"))
        .await
        .unwrap()
        .unwrap();
    assert!(!format!("{code_item:?}").contains(&code));
    assert_eq!(
        code_item.num("ttl"),
        Some(START.secs() + 24 * 3600),
        "the table expires unused codes"
    );

    local.identity.confirm_sign_up(&email, &code).await.unwrap();
    assert_eq!(
        local.table.get(&code_item.key).await.unwrap(),
        None,
        "a used code is deleted"
    );
    let refresh = local
        .sign_in(&email, GOOD_PASSWORD)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    assert_eq!(URL_SAFE_NO_PAD.decode(&refresh).unwrap().len(), 32);
    let hashed: String = Sha256::digest(refresh.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let session = local
        .table
        .get(&Key::new(format!("RTOKEN#{hashed}"), "RTOKEN"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.str("sub"), Some(sub.as_str()));
    assert!(!format!("{session:?}").contains(&refresh));
}

#[tokio::test]
async fn the_e_mail_reference_is_lowercase_and_unique() {
    let local = Local::new().await;
    let email = unique_email("unique");
    let sub = local.signed_up(&email.to_uppercase()).await;
    let reference = local
        .table
        .get(&Key::new(format!("UREF#EMAIL#{email}"), "UREF"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reference.str("sub"), Some(sub.as_str()));
}

#[tokio::test]
async fn concurrent_sign_ups_of_one_email_make_one_account() {
    let local = Local::new().await;
    let email = unique_email("rush");
    let attempts = (0..8).map(|_| {
        let identity = local.identity.clone();
        let email = email.clone();
        tokio::spawn(async move { identity.sign_up(user(&email)).await })
    });
    let mut created = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await.unwrap() {
            Ok(_) => created += 1,
            Err(IdentityError::UserExists) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(created, 1);
}

// ---- mail ----

#[tokio::test]
async fn the_confirmation_mail_is_short_portuguese_text_with_the_code() {
    let local = Local::new().await;
    let email = unique_email("mail");
    local.signed_up(&email).await;
    let mails = read_mail_folder(&local.mail_dir);
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.to, email);
    assert_eq!(mail.subject, CONFIRMATION_SUBJECT);
    assert!(mail.text.contains("Olá, Ana Souza!"), "{}", mail.text);
    assert!(mail.text.contains("24 horas"), "{}", mail.text);
    assert!(six_digits(&mail.text).is_some());
}

#[tokio::test]
async fn the_reset_mail_names_its_one_hour_lifetime() {
    let local = Local::new().await;
    let email = unique_email("resetmail");
    local.confirmed(&email).await;
    local.identity.forgot_password(&email).await.unwrap();
    let mail = read_mail_folder(&local.mail_dir)
        .into_iter()
        .find(|m| m.subject == RESET_SUBJECT)
        .unwrap();
    assert!(mail.text.contains("1 hora"), "{}", mail.text);
}

// ---- administration ----

#[tokio::test]
async fn unknown_groups_are_refused() {
    let local = Local::new().await;
    let email = unique_email("groups");
    assert!(matches!(
        local
            .identity
            .admin_create_user(user(&email), &["root"])
            .await,
        Err(IdentityError::InvalidParameter(_))
    ));
    local
        .identity
        .admin_create_user(user(&email), &[GROUP_ADMIN, GROUP_ADMIN])
        .await
        .unwrap();
    assert!(matches!(
        local.identity.admin_add_to_group(&email, "root").await,
        Err(IdentityError::InvalidParameter(_))
    ));
    assert_eq!(
        local.identity.admin_get_user(&email).await.unwrap().groups,
        vec![GROUP_ADMIN.to_owned()]
    );
}

#[tokio::test]
async fn invalid_e_mails_and_names_are_refused_at_sign_up() {
    let local = Local::new().await;
    let bad_email = NewUser {
        email: "sem-arroba".into(),
        ..user("x@example.com")
    };
    assert!(matches!(
        local.identity.sign_up(bad_email).await,
        Err(IdentityError::InvalidParameter(_))
    ));
    let no_name = NewUser {
        name: "  ".into(),
        ..user(&unique_email("noname"))
    };
    assert!(matches!(
        local.identity.sign_up(no_name).await,
        Err(IdentityError::InvalidParameter(_))
    ));
}

// ---- abuse: guesses that outsiders make must not become the owner's problem ----

#[tokio::test]
async fn a_new_reset_code_does_not_buy_more_guesses_until_the_window_passes() {
    let local = Local::new().await;
    let email = unique_email("reroll");
    local.confirmed(&email).await;
    local.identity.forgot_password(&email).await.unwrap();
    let first = local.code(&email, CodeKind::PasswordReset);
    for _ in 0..MAX_CODE_TRIES {
        assert!(matches!(
            local
                .identity
                .confirm_forgot_password(&email, &wrong_code(&first), OTHER_PASSWORD)
                .await,
            Err(IdentityError::CodeMismatch)
        ));
    }
    // Asking for a new code (what an attacker re-rolling would do) keeps the tries spent: even
    // the right new code is refused.
    local.clock.advance_secs(60);
    local.identity.forgot_password(&email).await.unwrap();
    let second = local.code(&email, CodeKind::PasswordReset);
    assert_ne!(first, second, "a new code was mailed");
    assert!(matches!(
        local
            .identity
            .confirm_forgot_password(&email, &second, OTHER_PASSWORD)
            .await,
        Err(IdentityError::CodeMismatch)
    ));
    // Once the window has passed, a new code comes with a new budget.
    local.clock.advance_secs(3600);
    local.identity.forgot_password(&email).await.unwrap();
    let third = local.code(&email, CodeKind::PasswordReset);
    local
        .identity
        .confirm_forgot_password(&email, &third, OTHER_PASSWORD)
        .await
        .expect("a fresh budget after the window");
    local.sign_in(&email, OTHER_PASSWORD).await.unwrap();
}

#[tokio::test]
async fn code_guesses_are_limited_per_client_address_across_accounts() {
    let local = Local::new().await;
    let attacker = ClientInfo {
        address: Some("203.0.113.66".into()),
        device: None,
    };
    let mut refused = None;
    for i in 0..40 {
        match local.identity.count_code_guess(&attacker) {
            Ok(()) => {}
            Err(e) => {
                refused = Some((i, e));
                break;
            }
        }
    }
    let (at, error) = refused.expect("the address is stopped");
    assert_eq!(at, 30, "30 guesses per 15 minutes");
    assert!(matches!(error, IdentityError::TooManyAttempts { .. }));
    let neighbour = ClientInfo {
        address: Some("203.0.113.67".into()),
        device: None,
    };
    local
        .identity
        .count_code_guess(&neighbour)
        .expect("another client is not affected");
}

#[tokio::test]
async fn the_owner_signs_in_from_a_known_device_while_an_attacker_hammers_the_account() {
    let local = Local::new().await;
    let email = unique_email("hammered");
    local.confirmed(&email).await;
    let client = |address: &str, device: Option<String>| ClientInfo {
        address: Some(address.into()),
        device,
    };
    let owner = local
        .identity
        .sign_in(&email, GOOD_PASSWORD, &client("198.51.100.1", None))
        .await
        .unwrap();
    let device = owner.device.clone().expect("a device token");

    // The attacker spends the account's budget, from many addresses.
    for i in 0..10 {
        let _ = local
            .identity
            .sign_in(
                &email,
                "senha-errada-1",
                &client(&format!("203.0.113.{i}"), None),
            )
            .await;
    }
    assert!(
        matches!(
            local
                .identity
                .sign_in(&email, GOOD_PASSWORD, &client("198.51.100.1", None))
                .await,
            Err(IdentityError::TooManyAttempts { .. })
        ),
        "a device the account never saw waits"
    );
    // A forged or another account's device token is no key.
    let other = unique_email("other");
    local.confirmed(&other).await;
    let others = local
        .identity
        .sign_in(&other, GOOD_PASSWORD, &client("198.51.100.9", None))
        .await
        .unwrap()
        .device
        .unwrap();
    for forged in [others, format!("{}x", &device[..device.len() - 1])] {
        assert!(matches!(
            local
                .identity
                .sign_in(&email, GOOD_PASSWORD, &client("198.51.100.1", Some(forged)))
                .await,
            Err(IdentityError::TooManyAttempts { .. })
        ));
    }
    // The owner's device passes, and keeps its token.
    let again = local
        .identity
        .sign_in(
            &email,
            GOOD_PASSWORD,
            &client("198.51.100.1", Some(device.clone())),
        )
        .await
        .expect("the owner's device is not locked out");
    assert_eq!(again.device.as_deref(), Some(device.as_str()));
}

#[tokio::test]
async fn a_flood_of_sign_ups_waits_in_a_short_line_for_argon2_and_the_rest_is_refused() {
    let local = Local::with(|c| LocalIdentityConfig {
        argon2_at_once: 1,
        argon2_waiting: 2,
        ..c
    })
    .await;
    // Ten sign-ups at once: each reaches the hash on its first poll, so one computes, two wait
    // and seven are refused before any memory is taken for them.
    let attempts = (0..10).map(|i| {
        let identity = local.identity.clone();
        async move {
            identity
                .sign_up(user(&format!("flood{i}@example.com")))
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(IdentityError::TooManyAttempts { .. })))
        .count();
    let created = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!((created, refused), (3, 7), "{results:?}");
    // The line is free again: the next sign-up goes through.
    local.signed_up("depois@example.com").await;
}
