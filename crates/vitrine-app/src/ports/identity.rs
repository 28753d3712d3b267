//! The Identity port: the user pool behind sign-up, sign-in and tokens.
//!
//! Two adapters: the built-in provider (`vitrine-local`) and Cognito (`vitrine-aws`). Both issue
//! RS256 JWTs with Cognito's claim shape, so one [`crate::auth::TokenVerifier`] serves both.
//! Passwords and codes pass through this port but are never logged or stored in clear.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// The groups a user may belong to. `admin` is the store's owner: every admin route.
pub const GROUP_ADMIN: &str = "admin";
pub const GROUP_CUSTOMER: &str = "customer";
/// Staff who handle orders: orders, invoices, refunds, the dashboard.
pub const GROUP_STAFF_ORDERS: &str = "staff-orders";
/// Staff who keep the catalog: products, categories, stock, images, coupons, the dashboard.
pub const GROUP_STAFF_CATALOG: &str = "staff-catalog";
/// Every group a user may be put in.
pub const GROUPS: [&str; 4] = [
    GROUP_CUSTOMER,
    GROUP_ADMIN,
    GROUP_STAFF_ORDERS,
    GROUP_STAFF_CATALOG,
];

/// What a successful sign-in or refresh returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub id_token: String,
    pub access_token: String,
    /// Absent on refresh (Cognito does not rotate refresh tokens).
    pub refresh_token: Option<String>,
    /// Lifetime of the access token, in seconds.
    pub expires_in: u64,
    pub token_type: String,
    /// After a sign-in, a token naming this device for this account (the local provider: kept
    /// by the browser as a cookie and shown at the next sign-in, it gives the device a failure
    /// budget of its own that guesses from elsewhere cannot use up). `None` from providers that
    /// keep their own (Cognito).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// Who asks: used for rate limiting sign-in and code guesses per client address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address as the limits group it (an IPv6 address by its /64).
    pub address: Option<String>,
    /// The device token an earlier sign-in gave this client ([`Tokens::device`]).
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: String,
    pub password: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub sub: String,
    pub email: String,
    pub name: String,
    pub confirmed: bool,
    pub groups: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Wrong e-mail or password, or no such user. Deliberately one case: answers must not reveal
    /// whether an e-mail is registered.
    #[error("incorrect e-mail or password")]
    NotAuthorized,
    #[error("the account is not confirmed yet")]
    NotConfirmed,
    #[error("an account with this e-mail already exists")]
    UserExists,
    #[error("no such user")]
    UserNotFound,
    #[error("the code is wrong or has expired")]
    CodeMismatch,
    #[error("the password does not meet the policy: {0}")]
    InvalidPassword(String),
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    #[error("too many attempts; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("the refresh token is invalid or revoked")]
    InvalidRefreshToken,
    #[error("identity provider unavailable")]
    Unavailable(#[source] anyhow::Error),
}

#[async_trait]
pub trait Identity: Send + Sync {
    /// Register an unconfirmed user and send the confirmation code to their e-mail. Returns `sub`.
    async fn sign_up(&self, user: NewUser) -> Result<String, IdentityError>;
    async fn confirm_sign_up(&self, email: &str, code: &str) -> Result<(), IdentityError>;
    /// Send a new confirmation code.
    async fn resend_code(&self, email: &str) -> Result<(), IdentityError>;
    async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<Tokens, IdentityError>;
    async fn refresh(&self, refresh_token: &str) -> Result<Tokens, IdentityError>;
    /// Revoke the refresh token (and with it every token refreshed from it).
    async fn sign_out(&self, refresh_token: &str) -> Result<(), IdentityError>;
    /// Send a reset code when the user exists; answer the same either way.
    async fn forgot_password(&self, email: &str) -> Result<(), IdentityError>;
    async fn confirm_forgot_password(
        &self,
        email: &str,
        code: &str,
        new_password: &str,
    ) -> Result<(), IdentityError>;
    /// Count one code guess (a confirmation or a password reset) from `client`, or refuse with
    /// `TooManyAttempts` when that client has guessed too often, whichever accounts it tried.
    /// Providers that limit guesses themselves (Cognito) keep this default.
    fn count_code_guess(&self, client: &ClientInfo) -> Result<(), IdentityError> {
        let _ = client;
        Ok(())
    }
    /// Create a confirmed user directly (CLI `user create`, seeding). Returns `sub`.
    async fn admin_create_user(
        &self,
        user: NewUser,
        groups: &[&str],
    ) -> Result<String, IdentityError>;
    async fn admin_add_to_group(&self, email: &str, group: &str) -> Result<(), IdentityError>;
    async fn admin_get_user(&self, email: &str) -> Result<UserInfo, IdentityError>;
    /// Delete the account: sign-in becomes impossible and its refresh tokens stop working
    /// (`UserNotFound` when there is none). Access tokens already issued run out on their own.
    async fn admin_delete_user(&self, email: &str) -> Result<(), IdentityError>;
}
