//! The built-in identity provider: the [`Identity`] port on the Table port, for the local shape.
//!
//! It behaves like the Cognito user pool it stands in for — the same flows, the same errors, and
//! RS256 tokens with Cognito's claims — so the one [`TokenVerifier`] and the same conformance
//! suite (`vitrine_testkit::identity`) serve both adapters.
//!
//! # Item layout
//!
//! | pk | sk | attributes |
//! |---|---|---|
//! | `USER#<sub>` | `PROFILE` | `sub`, `email`, `name`, `password` (argon2id PHC string), `confirmed`, `groups` (list), `session_gen`, `version`, `created_at` (ms) |
//! | `UREF#EMAIL#<email>` | `UREF` | `sub` — makes the e-mail unique: written with the profile in one batch, conditionally on not existing |
//! | `USER#<sub>` | `CODE#SIGNUP` / `CODE#RESET` | `hash`, `tries`, `expires_at` (s), `ttl` (s) |
//! | `RTOKEN#<sha256 hex of the token>` | `RTOKEN` | `sub`, `session_gen`, `origin_jti`, `auth_time` (s), `expires_at` (s), `ttl` (s) |
//!
//! # Invariants
//!
//! - E-mails are trimmed and lowercased before every use, so `Ana@X.com` and `ana@x.com` are one
//!   account; two accounts never share an e-mail (conditional put of the `UREF` item).
//! - Passwords are stored only as argon2id hashes; codes only as HMAC-SHA-256 under a key derived
//!   from the signing key (so a copy of the table alone does not let one brute-force the six
//!   digits offline); refresh tokens only as SHA-256 (they are 256 random bits). None of them, nor
//!   any token, is ever logged.
//! - A code is single-use, expires, and allows at most [`MAX_CODE_TRIES`] attempts: the attempt
//!   is counted atomically *before* the comparison, so parallel guesses cannot exceed the budget.
//!   Sending a new code of a kind replaces the previous one.
//! - Sign-in answers `NotAuthorized` alike for an unknown e-mail and a wrong password, and both
//!   cost one argon2 verification (against a dummy hash for unknown e-mails), so neither the
//!   answer nor its timing reveals who is registered. `NotConfirmed` is said only after the
//!   password verified. Flows that send a code answer the same whether the e-mail exists or not.
//! - Sign-in failures are rate-limited in memory, per e-mail (known or not) and per client
//!   address; an attempt counts from its start and is forgiven when the password verifies, so
//!   parallel requests cannot slip past the limit. Code mails are limited per e-mail. The limits
//!   reset when the process restarts and are per process: they slow online guessing down; the
//!   argon2 cost and the code try budget are what bound it.
//! - A password reset bumps the user's `session_gen`, which revokes every refresh token issued
//!   before it. Access and id tokens already issued stay valid until they expire, as with Cognito:
//!   they are verified offline.
//! - The RSA-2048 signing key lives in `key_dir/jwt-signing-key.pem` (mode 0600), generated on the
//!   first start and reused afterwards; deleting it invalidates every token and pending code.
//!
//! Here: the configuration, [`LocalIdentity`] and its flows (the Identity port). The parts:
//! `user` (the stored user and the item keys), `keyfile` (the signing key's file) and `limiter`
//! (the in-memory rate limits).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use vitrine_app::auth::{Claims, Jwks, TokenSigner, TokenUse, TokenVerifier};
use vitrine_app::ports::identity::{GROUP_CUSTOMER, GROUPS};
use vitrine_app::ports::table::TTL;
use vitrine_app::ports::{
    ClientInfo, Clock, Condition, Email, Identity, IdentityError, Ids, Item, Key, Mailer, NewUser,
    Table, TableError, Tokens, Update, UserInfo, Value, WriteOp,
};
use vitrine_domain::Timestamp;

mod keyfile;
mod limiter;
mod passwords;
mod user;

use self::keyfile::load_or_create_key;
use self::limiter::Limiter;
use self::user::{User, email_ref_key, refresh_key, strings, user_key, user_pk};

/// Name of the signing key file inside [`LocalIdentityConfig::key_dir`].
pub const SIGNING_KEY_FILE: &str = "jwt-signing-key.pem";

/// Attempts a code allows (wrong or right) before it is void.
pub const MAX_CODE_TRIES: i64 = 5;

/// Password length bounds, in characters (Cognito's maximum is 256 too).
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 256;

const NAME_MAX_CHARS: usize = 200;
const REFRESH_TOKEN_BYTES: usize = 32;
/// Label separating the code-hashing key from any other use of the signing key's bytes.
const CODE_KEY_LABEL: &[u8] = b"vitrine-local identity: confirmation code HMAC key v1";

/// argon2id cost. The default is OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Cost {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// At most `max` events per sliding `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window: Duration,
}

#[derive(Debug, Clone)]
pub struct LocalIdentityConfig {
    /// Where the signing key is kept (created when missing).
    pub key_dir: PathBuf,
    /// The `iss` of the tokens (the public base URL of the provider).
    pub issuer: String,
    /// The app client the tokens are for (`client_id` / `aud`).
    pub client_id: String,
    pub argon2: Argon2Cost,
    /// Lifetime of access and id tokens.
    pub token_lifetime: Duration,
    pub refresh_lifetime: Duration,
    pub signup_code_lifetime: Duration,
    pub reset_code_lifetime: Duration,
    /// Failed sign-ins per e-mail (known or not).
    pub sign_in_per_account: RateLimit,
    /// Failed sign-ins per client address.
    pub sign_in_per_address: RateLimit,
    /// Code mails (confirmation or reset) per e-mail, so the code flows cannot be used to flood a
    /// mailbox.
    pub code_mails_per_email: RateLimit,
    /// Code guesses (confirmations and password resets, right or wrong) per client address,
    /// whichever accounts they are for.
    pub code_guesses_per_address: RateLimit,
    /// How long an account's code tries keep counting across new codes: [`MAX_CODE_TRIES`]
    /// wrong guesses per window, however many codes are sent meanwhile.
    pub code_try_window: Duration,
    /// argon2 computations (sign-up, sign-in, reset) running at once.
    pub argon2_at_once: usize,
    /// Requests waiting for one of those places before the next is refused (429).
    pub argon2_waiting: usize,
}

impl LocalIdentityConfig {
    /// The defaults: OWASP argon2 cost, 1 h tokens, 30 d refresh, 24 h sign-up and 1 h reset codes,
    /// 5 failures / 15 min per account (and per known device of it), 30 / 15 min per address, 5
    /// code mails / h per e-mail, 30 code guesses / 15 min per address, code tries counted per
    /// hour across new codes.
    pub fn new(
        key_dir: impl Into<PathBuf>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        const MIN: u64 = 60;
        Self {
            key_dir: key_dir.into(),
            issuer: issuer.into(),
            client_id: client_id.into(),
            argon2: Argon2Cost::default(),
            token_lifetime: Duration::from_secs(60 * MIN),
            refresh_lifetime: Duration::from_secs(30 * 24 * 60 * MIN),
            signup_code_lifetime: Duration::from_secs(24 * 60 * MIN),
            reset_code_lifetime: Duration::from_secs(60 * MIN),
            sign_in_per_account: RateLimit {
                max: 5,
                window: Duration::from_secs(15 * MIN),
            },
            sign_in_per_address: RateLimit {
                max: 30,
                window: Duration::from_secs(15 * MIN),
            },
            code_mails_per_email: RateLimit {
                max: 5,
                window: Duration::from_secs(60 * MIN),
            },
            code_guesses_per_address: RateLimit {
                max: 30,
                window: Duration::from_secs(15 * MIN),
            },
            code_try_window: Duration::from_secs(60 * MIN),
            // As many as the cores (at least 2): more would only queue inside the blocking pool
            // while holding their memory.
            argon2_at_once: std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .max(2),
            argon2_waiting: 64,
        }
    }
}

/// The two kinds of one-time codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeKind {
    SignUp,
    Reset,
}

impl CodeKind {
    fn sk(self) -> &'static str {
        match self {
            CodeKind::SignUp => "CODE#SIGNUP",
            CodeKind::Reset => "CODE#RESET",
        }
    }
}

/// The built-in identity provider. See the module docs for its storage and invariants.
pub struct LocalIdentity {
    config: LocalIdentityConfig,
    signer: TokenSigner,
    verifier: TokenVerifier,
    argon2: Argon2<'static>,
    /// Working memory for the hashes, kept and reused ([`passwords`]).
    hash_memory: Arc<passwords::HashMemory>,
    /// A hash of a random password, verified against when the e-mail is unknown.
    dummy_hash: String,
    code_key: [u8; 32],
    table: Arc<dyn Table>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn Ids>,
    account_failures: Limiter,
    address_failures: Limiter,
    code_mails: Limiter,
    code_guesses: Limiter,
    argon2_gate: tokio::sync::Semaphore,
    argon2_waiting: std::sync::atomic::AtomicUsize,
}

/// Takes one from the waiting count when dropped.
struct WaitingGuard<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl std::fmt::Debug for LocalIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIdentity")
            .field("config", &self.config)
            .field("kid", &self.signer.kid())
            .finish_non_exhaustive()
    }
}

impl LocalIdentity {
    /// Load (or create, on first start) the signing key and get ready. Blocks for a moment: it may
    /// generate an RSA key and computes one argon2 hash.
    pub fn open(
        config: LocalIdentityConfig,
        table: Arc<dyn Table>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn Ids>,
    ) -> anyhow::Result<Self> {
        let signer = load_or_create_key(&config.key_dir)?;
        let verifier = TokenVerifier::new(
            config.issuer.clone(),
            config.client_id.clone(),
            &signer.jwks(),
        )
        .context("building the verifier for our own key")?;
        let cost = config.argon2;
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| anyhow!("invalid argon2 cost {cost:?}: {e}"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_password = URL_SAFE_NO_PAD.encode(random_bytes::<16>());
        // In memory of its own, given back at once: a store nobody signs in to holds none.
        let dummy_hash = passwords::hash(
            &argon2,
            &passwords::HashMemory::new(argon2.params()),
            &dummy_password,
        )
        .context("hashing the dummy password")?;
        let hash_memory = Arc::new(passwords::HashMemory::new(argon2.params()));
        let code_key: [u8; 32] = {
            // Derived from the key's canonical encoding, not the file's text, so reformatting the
            // file does not void the codes in flight.
            let pem = signer.to_pkcs8_pem()?;
            let mut h = Sha256::new();
            h.update(CODE_KEY_LABEL);
            h.update(pem.as_bytes());
            h.finalize().into()
        };
        Ok(Self {
            account_failures: Limiter::new(config.sign_in_per_account),
            address_failures: Limiter::new(config.sign_in_per_address),
            code_mails: Limiter::new(config.code_mails_per_email),
            code_guesses: Limiter::new(config.code_guesses_per_address),
            argon2_gate: tokio::sync::Semaphore::new(config.argon2_at_once.max(1)),
            argon2_waiting: std::sync::atomic::AtomicUsize::new(0),
            config,
            signer,
            verifier,
            argon2,
            hash_memory,
            dummy_hash,
            code_key,
            table,
            mailer,
            clock,
            ids,
        })
    }

    /// The public keys, to serve at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Jwks {
        self.signer.jwks()
    }

    /// A verifier for the tokens this provider issues.
    pub fn verifier(&self) -> TokenVerifier {
        self.verifier.clone()
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    // ---- users ----

    async fn find_user(&self, email: &str) -> Result<Option<User>, IdentityError> {
        let Some(reference) = self
            .table
            .get(&email_ref_key(email))
            .await
            .map_err(table_error)?
        else {
            return Ok(None);
        };
        let sub = reference.str("sub").ok_or_else(|| {
            IdentityError::Unavailable(anyhow!("e-mail reference item without sub"))
        })?;
        match self.table.get(&user_key(sub)).await.map_err(table_error)? {
            Some(item) => User::from_item(&item).map(Some),
            None => Ok(None),
        }
    }

    /// Write a new user and its e-mail reference in one batch (plus `extra`, e.g. its first
    /// code), failing with `UserExists` when the e-mail is taken.
    async fn create_user(&self, user: &User, extra: Vec<WriteOp>) -> Result<(), IdentityError> {
        let reference = Item::new(email_ref_key(&user.email)).with("sub", user.sub.as_str());
        let mut ops = vec![
            WriteOp::put_new(reference),
            WriteOp::put_new(user.to_item()),
        ];
        ops.extend(extra);
        match self.table.write(ops).await {
            Ok(()) => Ok(()),
            Err(TableError::ConditionFailed { index: 0 }) => Err(IdentityError::UserExists),
            Err(e) => Err(table_error(e)),
        }
    }

    /// A place among the argon2 computations running at once ([`LocalIdentityConfig::argon2_at_once`]),
    /// waited for in a bounded line: past [`LocalIdentityConfig::argon2_waiting`] requests
    /// already waiting, `TooManyAttempts` at once. What a flood of sign-ups or sign-ins can make
    /// the process hold is then `at once × memory cost`, not `requests × memory cost`.
    async fn argon2_turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, IdentityError> {
        if let Ok(permit) = self.argon2_gate.try_acquire() {
            return Ok(permit);
        }
        let waiting = self
            .argon2_waiting
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _line = WaitingGuard(&self.argon2_waiting);
        if waiting >= self.config.argon2_waiting {
            tracing::warn!(waiting, "password hashing is saturated; refusing");
            return Err(IdentityError::TooManyAttempts {
                retry_after_secs: 1,
            });
        }
        self.argon2_gate
            .acquire()
            .await
            .map_err(|e| IdentityError::Unavailable(anyhow!("password hashing gate closed: {e}")))
    }

    async fn hash(&self, password: &str) -> Result<String, IdentityError> {
        let argon2 = self.argon2.clone();
        let memory = self.hash_memory.clone();
        let password = password.to_owned();
        let _turn = self.argon2_turn().await?;
        // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
        tokio::task::spawn_blocking(move || passwords::hash(&argon2, &memory, &password))
            .await
            .map_err(|e| IdentityError::Unavailable(anyhow!("password hashing task failed: {e}")))?
            .map_err(IdentityError::Unavailable)
    }

    /// Whether `password` matches the PHC string `hash` (its own parameters apply).
    async fn verify_password(&self, hash: String, password: &str) -> Result<bool, IdentityError> {
        let password = password.to_owned();
        let memory = self.hash_memory.clone();
        let _turn = self.argon2_turn().await?;
        tokio::task::spawn_blocking(move || passwords::verify(&memory, &hash, &password))
            .await
            .map_err(|e| {
                IdentityError::Unavailable(anyhow!("password verification task failed: {e}"))
            })?
            .map_err(IdentityError::Unavailable)
    }

    // ---- codes ----

    fn code_hash(&self, sub: &str, kind: CodeKind, code: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.code_key).expect("HMAC takes any key length");
        for part in [sub, kind.sk(), code] {
            mac.update(part.as_bytes());
            // A separator no part contains, so distinct triples never hash alike.
            mac.update(&[0]);
        }
        hex(&mac.finalize().into_bytes())
    }

    /// The token naming device `id` for the account `sub`: `{id}.{HMAC}` (the code key, so only
    /// this provider can make one).
    fn device_token(&self, sub: &str, id: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.code_key).expect("HMAC takes any key length");
        for part in ["device", sub, id] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        format!(
            "{id}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    /// The device a token names, when it is a token of this account.
    fn known_device(&self, sub: &str, token: &str) -> Option<String> {
        let (id, _) = token.split_once('.')?;
        if id.len() != 22
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        let expected = self.device_token(sub, id);
        bool::from(expected.as_bytes().ct_eq(token.as_bytes())).then(|| id.to_owned())
    }

    /// Make a code and the write that stores its hash, replacing any earlier code of that kind,
    /// with the try count `carried` from it (`(tries, since)`: see [`Self::fresh_code`]).
    fn new_code(
        &self,
        sub: &str,
        kind: CodeKind,
        now: Timestamp,
        carried: Option<(i64, i64)>,
    ) -> (String, Item) {
        let code = format!("{:06}", OsRng.gen_range(0..1_000_000u32));
        let lifetime = match kind {
            CodeKind::SignUp => self.config.signup_code_lifetime,
            CodeKind::Reset => self.config.reset_code_lifetime,
        };
        let expires_at = now.secs() + secs(lifetime);
        let (tries, since) = carried.unwrap_or((0, now.secs()));
        // Kept until the tries stop counting, even past the code's own expiry.
        let keep = expires_at.max(since + secs(self.config.code_try_window));
        let item = Item::new(Key::new(user_pk(sub), kind.sk()))
            .with("hash", self.code_hash(sub, kind, &code))
            .with("tries", tries)
            .with("tries_since", since)
            .with("expires_at", expires_at)
            .with(TTL, keep);
        (code, item)
    }

    /// A new code of `kind` for `sub`, stored: the wrong guesses spent on the codes before it in
    /// the current window ([`LocalIdentityConfig::code_try_window`]) still count, so asking for
    /// a new code never buys more guesses.
    async fn fresh_code(
        &self,
        sub: &str,
        kind: CodeKind,
        now: Timestamp,
    ) -> Result<String, IdentityError> {
        let key = Key::new(user_pk(sub), kind.sk());
        let window = secs(self.config.code_try_window);
        for _ in 0..5 {
            let old = self.table.get(&key).await.map_err(table_error)?;
            let carried = old.as_ref().and_then(|item| {
                let tries = item.num("tries").unwrap_or(0);
                let since = item.num("tries_since").unwrap_or(0);
                (now.secs() - since < window).then_some((tries, since))
            });
            let (code, item) = self.new_code(sub, kind, now, carried);
            // Conditional on the tries read: a guess counted meanwhile is never written over.
            let condition = match &old {
                Some(item) => {
                    Condition::Eq("tries".into(), Value::N(item.num("tries").unwrap_or(0)))
                }
                None => Condition::NotExists,
            };
            let op = WriteOp::Put {
                item,
                condition: Some(condition),
            };
            match self.table.write(vec![op]).await {
                Ok(()) => return Ok(code),
                Err(TableError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(table_error(e)),
            }
        }
        Err(IdentityError::Unavailable(anyhow!(
            "the code kept changing while a new one was made"
        )))
    }

    async fn mail_code(
        &self,
        user: &User,
        kind: CodeKind,
        code: &str,
    ) -> Result<(), IdentityError> {
        let email = match kind {
            CodeKind::SignUp => Email {
                to: user.email.clone(),
                subject: "Seu código de confirmação — vitrine".into(),
                text: format!(
                    "Olá, {}!\n\nSeu código de confirmação é: {code}\n\nEle vale por {}. \
                     Se você não criou uma conta na vitrine, ignore este e-mail.\n",
                    user.name,
                    describe(self.config.signup_code_lifetime)
                ),
                html: None,
                // A code e-mail answers a request, not an event: each request sends a new code.
                idempotency_key: None,
                attachments: vec![],
            },
            CodeKind::Reset => Email {
                to: user.email.clone(),
                subject: "Código para redefinir sua senha — vitrine".into(),
                text: format!(
                    "Olá, {}!\n\nSeu código para redefinir a senha é: {code}\n\nEle vale por {}. \
                     Se você não pediu para redefinir a senha, ignore este e-mail: ela continua a mesma.\n",
                    user.name,
                    describe(self.config.reset_code_lifetime)
                ),
                html: None,
                idempotency_key: None,
                attachments: vec![],
            },
        };
        self.mailer.send(email).await.map_err(|e| {
            IdentityError::Unavailable(anyhow::Error::new(e).context("sending a code by e-mail"))
        })
    }

    /// Count one code mail for `email`, or refuse when over the limit.
    fn take_code_mail(&self, email: &str, now: Timestamp) -> Result<(), IdentityError> {
        self.code_mails.take(email, now).map_err(too_many)
    }

    /// Spend one try of the user's code of `kind`; when `code` matches, delete the code and apply
    /// `then` in the same atomic batch. Any failure is `CodeMismatch`, so callers cannot tell a
    /// wrong code from an expired, used up or missing one.
    async fn consume_code(
        &self,
        user: &User,
        kind: CodeKind,
        code: &str,
        then: impl AsyncFnOnce() -> Result<Vec<WriteOp>, IdentityError>,
    ) -> Result<(), IdentityError> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdentityError::CodeMismatch);
        }
        let key = Key::new(user_pk(&user.sub), kind.sk());
        // Counting the try first, conditionally on the budget, bounds guesses even when they race.
        let spent = self
            .table
            .update_returning(
                key.clone(),
                vec![Update::Add("tries".into(), 1)],
                Some(Condition::And(vec![
                    Condition::Exists,
                    Condition::Lt("tries".into(), Value::N(MAX_CODE_TRIES)),
                ])),
            )
            .await;
        let item = match spent {
            Ok(item) => item,
            Err(TableError::ConditionFailed { .. }) => return Err(IdentityError::CodeMismatch),
            Err(e) => return Err(table_error(e)),
        };
        let stored = item.str("hash").unwrap_or_default().to_owned();
        // The table hides expired items by `ttl` already; checking here too keeps the rule ours.
        let live = item
            .num("expires_at")
            .is_some_and(|t| t > self.now().secs());
        let matches: bool = self
            .code_hash(&user.sub, kind, code)
            .as_bytes()
            .ct_eq(stored.as_bytes())
            .into();
        if !(live && matches) {
            return Err(IdentityError::CodeMismatch);
        }
        // The delete is conditional on this very code: a parallel use of it wins or loses as one.
        let mut ops = vec![WriteOp::Delete {
            key,
            condition: Some(Condition::Eq("hash".into(), Value::S(stored))),
        }];
        ops.extend(then().await?);
        match self.table.write(ops).await {
            Ok(()) => Ok(()),
            // Operation 0 failing: the code was used meanwhile; a later one: the user vanished.
            Err(TableError::ConditionFailed { .. }) => Err(IdentityError::CodeMismatch),
            Err(e) => Err(table_error(e)),
        }
    }

    // ---- tokens ----

    async fn issue_tokens(
        &self,
        user: &User,
        auth_time: i64,
        origin_jti: &str,
        with_refresh: bool,
    ) -> Result<Tokens, IdentityError> {
        let now = self.now().secs();
        let lifetime = secs(self.config.token_lifetime);
        let access = Claims {
            sub: user.sub.clone(),
            iss: self.config.issuer.clone(),
            token_use: TokenUse::Access,
            groups: user.groups.clone(),
            client_id: Some(self.config.client_id.clone()),
            aud: None,
            exp: now + lifetime,
            iat: now,
            auth_time,
            jti: self.ids.new_id(),
            // Cognito pools that sign in by e-mail name users by their sub.
            username: Some(user.sub.clone()),
            email: None,
            name: None,
            origin_jti: Some(origin_jti.to_owned()),
            nbf: None,
        };
        let id = Claims {
            token_use: TokenUse::Id,
            client_id: None,
            aud: Some(self.config.client_id.clone()),
            jti: self.ids.new_id(),
            username: None,
            email: Some(user.email.clone()),
            name: Some(user.name.clone()),
            ..access.clone()
        };
        let refresh_token = if with_refresh {
            let token = URL_SAFE_NO_PAD.encode(random_bytes::<REFRESH_TOKEN_BYTES>());
            let expires_at = now + secs(self.config.refresh_lifetime);
            let item = Item::new(refresh_key(&token))
                .with("sub", user.sub.as_str())
                .with("session_gen", user.session_gen)
                .with("origin_jti", origin_jti)
                .with("auth_time", auth_time)
                .with("expires_at", expires_at)
                .with(TTL, expires_at);
            self.table
                .write(vec![WriteOp::put_new(item)])
                .await
                .map_err(table_error)?;
            Some(token)
        } else {
            None
        };
        Ok(Tokens {
            id_token: self.signer.sign(&id),
            access_token: self.signer.sign(&access),
            refresh_token,
            expires_in: self.config.token_lifetime.as_secs(),
            token_type: "Bearer".into(),
            device: None,
        })
    }
}

#[async_trait]
impl Identity for LocalIdentity {
    async fn sign_up(&self, new: NewUser) -> Result<String, IdentityError> {
        let email = parse_email(&new.email)?;
        let name = parse_name(&new.name)?;
        check_password(&new.password)?;
        let now = self.now();
        let user = User {
            sub: self.ids.new_id(),
            email,
            name,
            password: self.hash(&new.password).await?,
            confirmed: false,
            groups: vec![GROUP_CUSTOMER.to_owned()],
            session_gen: 0,
            version: 0,
            created_at: now.millis(),
        };
        let (code, code_item) = self.new_code(&user.sub, CodeKind::SignUp, now, None);
        self.create_user(&user, vec![WriteOp::put(code_item)])
            .await?;
        // Counted so that resends right after sign-up share the budget; never refused here.
        self.code_mails.record(&user.email, now);
        tracing::info!(user.sub = %user.sub, "user signed up");
        self.mail_code(&user, CodeKind::SignUp, &code).await?;
        Ok(user.sub)
    }

    async fn confirm_sign_up(&self, email: &str, code: &str) -> Result<(), IdentityError> {
        let Some(user) = self.find_user(&normalize_email(email)).await? else {
            return Err(IdentityError::CodeMismatch);
        };
        let confirm = WriteOp::Update {
            key: user_key(&user.sub),
            updates: vec![
                Update::Set("confirmed".into(), Value::Bool(true)),
                Update::Add("version".into(), 1),
            ],
            condition: Some(Condition::Exists),
        };
        self.consume_code(&user, CodeKind::SignUp, code, async || Ok(vec![confirm]))
            .await?;
        tracing::info!(user.sub = %user.sub, "user confirmed");
        Ok(())
    }

    async fn resend_code(&self, email: &str) -> Result<(), IdentityError> {
        let email = normalize_email(email);
        let now = self.now();
        self.take_code_mail(&email, now)?;
        match self.find_user(&email).await? {
            Some(user) if !user.confirmed => {
                let code = self.fresh_code(&user.sub, CodeKind::SignUp, now).await?;
                self.mail_code(&user, CodeKind::SignUp, &code).await
            }
            // Unknown or already confirmed: say nothing that tells them apart.
            _ => Ok(()),
        }
    }

    async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<Tokens, IdentityError> {
        let email = normalize_email(email);
        let now = self.now();
        let address = client.address.as_deref();
        let user = self.find_user(&email).await?;
        // A device this account signed in from before has a failure budget of its own: guesses
        // from elsewhere (which count against the account's and their address's) never lock the
        // owner out of a device they use.
        let device = user.as_ref().and_then(|u| {
            client
                .device
                .as_deref()
                .and_then(|token| self.known_device(&u.sub, token))
        });
        let budget = match &device {
            Some(id) => format!("{email}\u{0}{id}"),
            None => email.clone(),
        };
        // Every attempt is counted as a failure up front and forgiven once the password verified:
        // counting only after the (slow) verification would let parallel requests all pass the
        // check before any of them is counted.
        self.account_failures.take(&budget, now).map_err(too_many)?;
        let address = address.filter(|_| device.is_none());
        if let Some(a) = address
            && let Err(wait) = self.address_failures.take(a, now)
        {
            self.account_failures.give_back(&budget, now);
            return Err(too_many(wait));
        }
        if password.chars().count() > PASSWORD_MAX_CHARS {
            // No such password can exist; refuse without spending argon2 on an outsized input.
            return Err(IdentityError::NotAuthorized);
        }
        let hash = user
            .as_ref()
            .map_or_else(|| self.dummy_hash.clone(), |u| u.password.clone());
        let verified = self.verify_password(hash, password).await?;
        let Some(user) = user.filter(|_| verified) else {
            return Err(IdentityError::NotAuthorized);
        };
        self.account_failures.clear(&budget);
        if let Some(a) = address {
            self.address_failures.give_back(a, now);
        }
        if !user.confirmed {
            return Err(IdentityError::NotConfirmed);
        }
        let origin_jti = self.ids.new_id();
        let mut tokens = self
            .issue_tokens(&user, now.secs(), &origin_jti, true)
            .await?;
        let device = device.unwrap_or_else(|| URL_SAFE_NO_PAD.encode(random_bytes::<16>()));
        tokens.device = Some(self.device_token(&user.sub, &device));
        tracing::info!(user.sub = %user.sub, "user signed in");
        Ok(tokens)
    }

    async fn refresh(&self, refresh_token: &str) -> Result<Tokens, IdentityError> {
        if !looks_like_refresh_token(refresh_token) {
            return Err(IdentityError::InvalidRefreshToken);
        }
        let Some(item) = self
            .table
            .get(&refresh_key(refresh_token))
            .await
            .map_err(table_error)?
        else {
            return Err(IdentityError::InvalidRefreshToken);
        };
        let now = self.now().secs();
        let (Some(sub), Some(session_gen), Some(auth_time), Some(origin_jti), Some(expires_at)) = (
            item.str("sub"),
            item.num("session_gen"),
            item.num("auth_time"),
            item.str("origin_jti"),
            item.num("expires_at"),
        ) else {
            return Err(IdentityError::Unavailable(anyhow!(
                "refresh token item is missing attributes"
            )));
        };
        if expires_at <= now {
            return Err(IdentityError::InvalidRefreshToken);
        }
        let user = match self.table.get(&user_key(sub)).await.map_err(table_error)? {
            Some(item) => User::from_item(&item)?,
            None => return Err(IdentityError::InvalidRefreshToken),
        };
        if user.session_gen != session_gen || !user.confirmed {
            return Err(IdentityError::InvalidRefreshToken);
        }
        self.issue_tokens(&user, auth_time, origin_jti, false).await
    }

    async fn sign_out(&self, refresh_token: &str) -> Result<(), IdentityError> {
        // Revoking an unknown or already revoked token succeeds (RFC 7009 §2.2): the caller wants
        // it unusable, and it is.
        if looks_like_refresh_token(refresh_token) {
            let op = WriteOp::Delete {
                key: refresh_key(refresh_token),
                condition: None,
            };
            self.table.write(vec![op]).await.map_err(table_error)?;
        }
        Ok(())
    }

    async fn forgot_password(&self, email: &str) -> Result<(), IdentityError> {
        let email = normalize_email(email);
        let now = self.now();
        self.take_code_mail(&email, now)?;
        let Some(user) = self.find_user(&email).await? else {
            return Ok(());
        };
        let code = self.fresh_code(&user.sub, CodeKind::Reset, now).await?;
        self.mail_code(&user, CodeKind::Reset, &code).await
    }

    async fn confirm_forgot_password(
        &self,
        email: &str,
        code: &str,
        new_password: &str,
    ) -> Result<(), IdentityError> {
        check_password(new_password)?;
        let email = normalize_email(email);
        let Some(user) = self.find_user(&email).await? else {
            return Err(IdentityError::CodeMismatch);
        };
        let sub = user.sub.clone();
        // Hashed only once the code matched, so wrong guesses cost no argon2.
        let reset = async || {
            let hash = self.hash(new_password).await?;
            Ok(vec![WriteOp::Update {
                key: user_key(&sub),
                updates: vec![
                    Update::Set("password".into(), Value::S(hash)),
                    // The code reached the mailbox, which proves what confirmation would.
                    Update::Set("confirmed".into(), Value::Bool(true)),
                    // Revokes every refresh token issued under the old password.
                    Update::Add("session_gen".into(), 1),
                    Update::Add("version".into(), 1),
                ],
                condition: Some(Condition::Exists),
            }])
        };
        self.consume_code(&user, CodeKind::Reset, code, reset)
            .await?;
        self.account_failures.clear(&email);
        tracing::info!(user.sub = %user.sub, "password reset");
        Ok(())
    }

    async fn admin_create_user(
        &self,
        new: NewUser,
        groups: &[&str],
    ) -> Result<String, IdentityError> {
        let email = parse_email(&new.email)?;
        let name = parse_name(&new.name)?;
        check_password(&new.password)?;
        let mut group_list = Vec::new();
        for group in groups {
            let group = parse_group(group)?;
            if !group_list.contains(&group) {
                group_list.push(group);
            }
        }
        if group_list.is_empty() {
            group_list.push(GROUP_CUSTOMER.to_owned());
        }
        let user = User {
            sub: self.ids.new_id(),
            email,
            name,
            password: self.hash(&new.password).await?,
            confirmed: true,
            groups: group_list,
            session_gen: 0,
            version: 0,
            created_at: self.now().millis(),
        };
        self.create_user(&user, vec![]).await?;
        tracing::info!(user.sub = %user.sub, user.groups = ?user.groups, "user created by an administrator");
        Ok(user.sub)
    }

    async fn admin_add_to_group(&self, email: &str, group: &str) -> Result<(), IdentityError> {
        let group = parse_group(group)?;
        let email = normalize_email(email);
        // Optimistic concurrency on `version`: a concurrent change makes us read again.
        for _ in 0..5 {
            let user = self
                .find_user(&email)
                .await?
                .ok_or(IdentityError::UserNotFound)?;
            if user.groups.contains(&group) {
                return Ok(());
            }
            let mut groups = user.groups.clone();
            groups.push(group.clone());
            let op = WriteOp::Update {
                key: user_key(&user.sub),
                updates: vec![
                    Update::Set("groups".into(), strings(&groups)),
                    Update::Add("version".into(), 1),
                ],
                condition: Some(Condition::Eq("version".into(), Value::N(user.version))),
            };
            match self.table.write(vec![op]).await {
                Ok(()) => {
                    tracing::info!(user.sub = %user.sub, user.group = %group, "user added to group");
                    return Ok(());
                }
                Err(TableError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(table_error(e)),
            }
        }
        Err(IdentityError::Unavailable(anyhow!(
            "the user kept changing while adding it to a group"
        )))
    }

    fn count_code_guess(&self, client: &ClientInfo) -> Result<(), IdentityError> {
        match client.address.as_deref() {
            Some(address) => self
                .code_guesses
                .take(address, self.now())
                .map_err(too_many),
            None => Ok(()),
        }
    }

    async fn admin_delete_user(&self, email: &str) -> Result<(), IdentityError> {
        let email = normalize_email(email);
        let user = self
            .find_user(&email)
            .await?
            .ok_or(IdentityError::UserNotFound)?;
        // The user, the e-mail's reservation and any pending code, in one batch; refresh tokens
        // name a `sub` that no longer exists, so they are refused.
        let ops = [
            user_key(&user.sub),
            email_ref_key(&email),
            Key::new(user_pk(&user.sub), "CODE#SIGNUP"),
            Key::new(user_pk(&user.sub), "CODE#RESET"),
        ]
        .into_iter()
        .map(|key| WriteOp::Delete {
            key,
            condition: None,
        })
        .collect();
        self.table
            .write(ops)
            .await
            .map_err(|e| IdentityError::Unavailable(e.into()))?;
        tracing::info!(user.sub = %user.sub, "user deleted");
        Ok(())
    }

    async fn admin_get_user(&self, email: &str) -> Result<UserInfo, IdentityError> {
        let user = self
            .find_user(&normalize_email(email))
            .await?
            .ok_or(IdentityError::UserNotFound)?;
        Ok(UserInfo {
            sub: user.sub,
            email: user.email,
            name: user.name,
            confirmed: user.confirmed,
            groups: user.groups,
        })
    }
}

/// Trim and lowercase: the form every lookup and every stored e-mail uses.
fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Normalize and check an e-mail given at account creation. Deliberately loose (one `@`, a dotted
/// domain, no spaces): the confirmation mail is the real check.
fn parse_email(email: &str) -> Result<String, IdentityError> {
    let email = normalize_email(email);
    let invalid = || IdentityError::InvalidParameter("e-mail address is not valid".into());
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || !domain.contains('.')
        || domain.split('.').any(str::is_empty)
    {
        return Err(invalid());
    }
    Ok(email)
}

fn parse_name(name: &str) -> Result<String, IdentityError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(IdentityError::InvalidParameter("name is required".into()));
    }
    if name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(IdentityError::InvalidParameter(format!(
            "name must be at most {NAME_MAX_CHARS} characters, without control characters"
        )));
    }
    Ok(name.to_owned())
}

fn parse_group(group: &str) -> Result<String, IdentityError> {
    if GROUPS.contains(&group) {
        Ok(group.to_owned())
    } else {
        Err(IdentityError::InvalidParameter(format!(
            "unknown group {group:?}"
        )))
    }
}

/// The password policy: 8..=256 characters, at least one letter and one digit.
pub fn check_password(password: &str) -> Result<(), IdentityError> {
    let chars = password.chars().count();
    let reason = if chars < PASSWORD_MIN_CHARS {
        format!("it must have at least {PASSWORD_MIN_CHARS} characters")
    } else if chars > PASSWORD_MAX_CHARS {
        format!("it must have at most {PASSWORD_MAX_CHARS} characters")
    } else if !password.chars().any(char::is_alphabetic) {
        "it must contain at least one letter".to_owned()
    } else if !password.chars().any(|c| c.is_ascii_digit()) {
        "it must contain at least one digit".to_owned()
    } else {
        return Ok(());
    };
    Err(IdentityError::InvalidPassword(reason))
}

fn looks_like_refresh_token(token: &str) -> bool {
    URL_SAFE_NO_PAD
        .decode(token)
        .is_ok_and(|b| b.len() == REFRESH_TOKEN_BYTES)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// "24 horas", "1 hora", "30 minutos": a code lifetime for the mail text.
fn describe(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60) {
        (1, 0) => "1 hora".into(),
        (h, 0) if h > 1 => format!("{h} horas"),
        (0, 1) => "1 minuto".into(),
        (h, m) => format!("{} minutos", h * 60 + m),
    }
}

fn table_error(e: TableError) -> IdentityError {
    IdentityError::Unavailable(anyhow::Error::new(e).context("identity table"))
}

fn too_many(retry_after_secs: u64) -> IdentityError {
    tracing::warn!(retry_after_secs, "identity rate limit reached");
    IdentityError::TooManyAttempts { retry_after_secs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_policy_names_what_is_missing() {
        let reason = |p: &str| match check_password(p) {
            Err(IdentityError::InvalidPassword(r)) => r,
            other => panic!("{other:?}"),
        };
        assert!(reason("abc123").contains("at least 8"));
        assert!(reason("abcdefgh").contains("digit"));
        assert!(reason("12345678").contains("letter"));
        assert!(reason(&format!("a1{}", "x".repeat(255))).contains("at most 256"));
        assert!(check_password("senha123").is_ok());
        assert!(
            check_password("ação2024").is_ok(),
            "non-ASCII letters count as letters"
        );
        assert!(check_password(&format!("a1{}", "x".repeat(254))).is_ok());
    }

    #[test]
    fn e_mails_are_normalised_and_loosely_checked() {
        assert_eq!(
            parse_email("  Ana.Silva@Example.COM ").unwrap(),
            "ana.silva@example.com"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "ana@@example.com",
            "a na@example.com",
            "ana@example..com",
        ] {
            assert!(
                matches!(parse_email(bad), Err(IdentityError::InvalidParameter(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn only_known_groups_are_accepted() {
        assert_eq!(parse_group("admin").unwrap(), "admin");
        assert!(matches!(
            parse_group("root"),
            Err(IdentityError::InvalidParameter(_))
        ));
    }

    #[test]
    fn code_lifetimes_read_naturally() {
        assert_eq!(describe(Duration::from_secs(24 * 3600)), "24 horas");
        assert_eq!(describe(Duration::from_secs(3600)), "1 hora");
        assert_eq!(describe(Duration::from_secs(30 * 60)), "30 minutos");
        assert_eq!(describe(Duration::from_secs(90 * 60)), "90 minutos");
    }

    #[test]
    fn refresh_tokens_must_be_32_bytes_of_base64url() {
        assert!(looks_like_refresh_token(&URL_SAFE_NO_PAD.encode([7u8; 32])));
        assert!(!looks_like_refresh_token(
            &URL_SAFE_NO_PAD.encode([7u8; 31])
        ));
        assert!(!looks_like_refresh_token("not a token"));
    }
}
