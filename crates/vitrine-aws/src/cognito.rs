//! `CognitoIdentity`: the Identity port on an Amazon Cognito user pool.
//!
//! Role: the AWS shape's user pool behind sign-up, sign-in and tokens. Cognito issues the RS256
//! JWTs itself; [`fetch_verifier`] builds the one [`TokenVerifier`] that checks them from the
//! pool's JWKS (the very verifier type the built-in provider's tokens go through).
//!
//! The pool this adapter expects is the one [`CognitoIdentity::create_pool`] makes (and the
//! CloudFormation template declares): the e-mail is the username, an app client without secret
//! that allows `USER_PASSWORD_AUTH` and `REFRESH_TOKEN_AUTH`, token revocation on, user-existence
//! errors prevented, users allowed to write their `name` but not their `email`, and the groups
//! `customer` and `admin`.
//!
//! Invariants:
//! - E-mails are trimmed and lowercased before they reach Cognito, so `Ana@X.com` and `ana@x.com`
//!   are one account whatever the pool's case setting.
//! - Passwords, codes and tokens are never logged nor put into errors: failures are reduced to
//!   Cognito's error code and message ([`CallError`]), which never echo them.
//! - Answers do not reveal whether an e-mail is registered: an unknown user signing in is
//!   `NotAuthorized` like a wrong password, and `forgot_password` / `resend_code` answer `Ok` for
//!   unknown users (as does the pool itself, with `PreventUserExistenceErrors`).
//! - `sign_up` and `admin_create_user` take several calls; when a later call fails, the user the
//!   first one made is deleted again, so a failed creation leaves no half-made account behind
//!   (an account outside the `customer` group, or one holding an unchecked password).

use crate::LazyClient;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::types::{
    AccountRecoverySettingType, AttributeType, AuthFlowType, AuthenticationResultType,
    ExplicitAuthFlowsType, MessageActionType, PasswordPolicyType, PreventUserExistenceErrorTypes,
    RecoveryOptionNameType, RecoveryOptionType, TimeUnitsType, TokenValidityUnitsType,
    UserPoolPolicyType, UserStatusType, UsernameAttributeType, UsernameConfigurationType,
    VerificationMessageTemplateType, VerifiedAttributeType,
};
use vitrine_app::auth::{Jwks, TokenVerifier};
use vitrine_app::ports::identity::{
    GROUP_ADMIN, GROUP_CUSTOMER, GROUP_STAFF_CATALOG, GROUP_STAFF_ORDERS,
};
use vitrine_app::ports::{ClientInfo, Identity, IdentityError, NewUser, Tokens, UserInfo};

/// What `TooManyAttempts` tells the caller to wait. Cognito says only "too many"; its own
/// lockouts grow from seconds to 15 minutes, so a minute is a fair first wait.
pub const RETRY_AFTER_SECS: u64 = 60;

/// The largest JWKS [`fetch_verifier`] reads. Cognito's has two keys (~1 KB); the cap bounds what
/// a misconfigured URL can make a cold start download.
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The issuer (`iss`) of a pool's tokens. moto writes the same value, so it holds for the
/// emulator too.
pub fn issuer(region: &str, user_pool_id: &str) -> String {
    format!("https://cognito-idp.{region}.amazonaws.com/{user_pool_id}")
}

/// Where a pool publishes its JWKS: under the issuer on AWS; under the pool id at the root of the
/// emulator when an endpoint override is given.
pub fn jwks_url(region: &str, user_pool_id: &str, endpoint: Option<&str>) -> String {
    match endpoint {
        Some(endpoint) => format!(
            "{}/{user_pool_id}/.well-known/jwks.json",
            endpoint.trim_end_matches('/')
        ),
        None => format!("{}/.well-known/jwks.json", issuer(region, user_pool_id)),
    }
}

/// Download the pool's JWKS and build the verifier of its tokens for one app client.
pub async fn fetch_verifier(
    jwks_url: &str,
    issuer: &str,
    client_id: &str,
) -> anyhow::Result<TokenVerifier> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")?;
    let response = http
        .get(jwks_url)
        .send()
        .await
        .with_context(|| format!("GET {jwks_url}"))?
        .error_for_status()
        .with_context(|| format!("GET {jwks_url}"))?;
    if response
        .content_length()
        .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
    {
        anyhow::bail!("the JWKS at {jwks_url} is larger than {MAX_JWKS_BYTES} bytes");
    }
    let body = response
        .bytes()
        .await
        .with_context(|| format!("reading {jwks_url}"))?;
    if body.len() > MAX_JWKS_BYTES {
        anyhow::bail!("the JWKS at {jwks_url} is larger than {MAX_JWKS_BYTES} bytes");
    }
    let jwks: Jwks =
        serde_json::from_slice(&body).with_context(|| format!("{jwks_url} is not a JWKS"))?;
    TokenVerifier::new(issuer.to_owned(), client_id.to_owned(), &jwks)
        .with_context(|| format!("the JWKS at {jwks_url} holds no usable key"))
}

/// The Identity port on one Cognito user pool and app client.
#[derive(Debug, Clone)]
pub struct CognitoIdentity {
    client: LazyClient<Client>,
    user_pool_id: String,
    client_id: String,
}

impl CognitoIdentity {
    pub fn new(
        client: impl Into<LazyClient<Client>>,
        user_pool_id: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        Self {
            client: client.into(),
            user_pool_id: user_pool_id.into(),
            client_id: client_id.into(),
        }
    }

    pub fn user_pool_id(&self) -> &str {
        &self.user_pool_id
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Create a user pool shaped as this adapter expects, its app client and groups (tests, the
    /// emulator, `--create-resources`; deployments get theirs from the template). Returns
    /// `(user pool id, app client id)`.
    ///
    /// The password policy is the built-in provider's, as far as Cognito can say it: at least 8
    /// characters with a digit. (The built-in provider also wants a letter, which Cognito can only
    /// require as a lowercase or an uppercase one; neither is required here.)
    pub async fn create_pool(client: &Client, name: &str) -> anyhow::Result<(String, String)> {
        let policy = PasswordPolicyType::builder()
            .minimum_length(8)
            .require_numbers(true)
            // Stated explicitly: an unstated requirement defaults to "required" in the emulator.
            .require_lowercase(false)
            .require_uppercase(false)
            .require_symbols(false)
            .temporary_password_validity_days(7)
            .build();
        let recovery = AccountRecoverySettingType::builder()
            .recovery_mechanisms(
                RecoveryOptionType::builder()
                    .name(RecoveryOptionNameType::VerifiedEmail)
                    .priority(1)
                    .build()?,
            )
            .build();
        // Cognito sends the same message for sign-up and password-reset codes.
        let message = VerificationMessageTemplateType::builder()
            .email_subject("Seu código de verificação — vitrine")
            .email_message("Seu código de verificação da vitrine é {####}.")
            .build();
        let pool = client
            .create_user_pool()
            .pool_name(name)
            .username_attributes(UsernameAttributeType::Email)
            .auto_verified_attributes(VerifiedAttributeType::Email)
            .username_configuration(
                UsernameConfigurationType::builder()
                    .case_sensitive(false)
                    .build()?,
            )
            .policies(
                UserPoolPolicyType::builder()
                    .password_policy(policy)
                    .build(),
            )
            .account_recovery_setting(recovery)
            .verification_message_template(message)
            .send()
            .await
            .map_err(|e| CallError::new("CreateUserPool", e).into_anyhow())?;
        let pool_id = pool
            .user_pool()
            .and_then(|p| p.id())
            .context("CreateUserPool answered without a pool id")?
            .to_owned();

        let app = client
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name("vitrine-web")
            // A browser holds no secret, so the client has none.
            .generate_secret(false)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
            .enable_token_revocation(true)
            // Only what vitrine reads goes into id tokens.
            .read_attributes("email")
            .read_attributes("email_verified")
            .read_attributes("name")
            // Users write their name only, never their e-mail (the username: they cannot
            // point the account at another address); infra/template.yaml says the same.
            .write_attributes("name")
            .access_token_validity(1)
            .id_token_validity(1)
            .refresh_token_validity(30)
            .token_validity_units(
                TokenValidityUnitsType::builder()
                    .access_token(TimeUnitsType::Hours)
                    .id_token(TimeUnitsType::Hours)
                    .refresh_token(TimeUnitsType::Days)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| CallError::new("CreateUserPoolClient", e).into_anyhow())?;
        let client_id = app
            .user_pool_client()
            .and_then(|c| c.client_id())
            .context("CreateUserPoolClient answered without a client id")?
            .to_owned();

        for (group, description) in [
            (GROUP_CUSTOMER, "Customers of the store"),
            (GROUP_ADMIN, "The store's owner"),
            (GROUP_STAFF_ORDERS, "Staff who handle orders"),
            (GROUP_STAFF_CATALOG, "Staff who keep the catalog"),
        ] {
            client
                .create_group()
                .user_pool_id(&pool_id)
                .group_name(group)
                .description(description)
                .send()
                .await
                .map_err(|e| CallError::new("CreateGroup", e).into_anyhow())?;
        }
        Ok((pool_id, client_id))
    }

    /// Add to a group; an unknown group is the caller's mistake, not an outage.
    async fn add_to_group(&self, username: &str, group: &str) -> Result<(), IdentityError> {
        self.client
            .admin_add_user_to_group()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .group_name(group)
            .send()
            .await
            .map_err(|e| {
                let e = CallError::new("AdminAddUserToGroup", e);
                match e.code() {
                    "UserNotFoundException" => IdentityError::UserNotFound,
                    "ResourceNotFoundException" => {
                        IdentityError::InvalidParameter(format!("no group named {group:?}"))
                    }
                    _ => e.common(),
                }
            })?;
        Ok(())
    }

    /// Undo a creation whose later steps failed. Best effort: the first error is what the caller
    /// gets; a failed clean-up is logged (by `sub`, never by e-mail) for an operator to finish.
    async fn delete_half_made(&self, username: &str, sub: &str) {
        if let Err(e) = self
            .client
            .admin_delete_user()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .send()
            .await
        {
            let e = CallError::new("AdminDeleteUser", e);
            tracing::error!(user.sub = %sub, error = %e, "could not delete a half-made user");
        }
    }

    async fn initiate_auth(
        &self,
        flow: AuthFlowType,
        parameters: &[(&str, &str)],
    ) -> Result<AuthenticationResultType, CallError> {
        let mut request = self
            .client
            .initiate_auth()
            .client_id(&self.client_id)
            .auth_flow(flow);
        for &(name, value) in parameters {
            request = request.auth_parameters(name, value);
        }
        let output = request
            .send()
            .await
            .map_err(|e| CallError::new("InitiateAuth", e))?;
        match (output.authentication_result(), output.challenge_name()) {
            (Some(result), _) => Ok(result.clone()),
            // A challenge (a new password, MFA) is a pool setting vitrine does not use: report
            // it as a misconfiguration rather than as the user's fault.
            (None, challenge) => Err(CallError::other(
                "InitiateAuth",
                format!(
                    "Cognito asked for the {} challenge, which vitrine does not answer",
                    challenge.map_or("(unnamed)", |c| c.as_str())
                ),
            )),
        }
    }
}

/// Cognito's answer as vitrine's tokens.
fn tokens(result: AuthenticationResultType) -> Result<Tokens, IdentityError> {
    let missing = |what: &str| {
        IdentityError::Unavailable(anyhow!("Cognito answered without an {what} token"))
    };
    Ok(Tokens {
        id_token: result.id_token().ok_or_else(|| missing("id"))?.to_owned(),
        access_token: result
            .access_token()
            .ok_or_else(|| missing("access"))?
            .to_owned(),
        refresh_token: result.refresh_token().map(str::to_owned),
        expires_in: u64::try_from(result.expires_in()).unwrap_or(0),
        token_type: result.token_type().unwrap_or("Bearer").to_owned(),
        device: None,
    })
}

fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn attribute(name: &str, value: &str) -> Result<AttributeType, IdentityError> {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|e| IdentityError::Unavailable(anyhow!(e)))
}

/// Statuses of an account whose e-mail was proven (or set by an administrator).
fn is_confirmed(status: Option<&UserStatusType>) -> bool {
    matches!(
        status,
        Some(
            UserStatusType::Confirmed
                | UserStatusType::ResetRequired
                | UserStatusType::ExternalProvider
        )
    )
}

#[async_trait]
impl Identity for CognitoIdentity {
    async fn sign_up(&self, user: NewUser) -> Result<String, IdentityError> {
        let email = normalize_email(&user.email);
        let name = user.name.trim();
        if name.is_empty() {
            return Err(IdentityError::InvalidParameter("the name is empty".into()));
        }
        let output = self
            .client
            .sign_up()
            .client_id(&self.client_id)
            .username(&email)
            .password(&user.password)
            // The username is the e-mail (`UsernameAttributes: [email]`), which fills the
            // `email` attribute; the app client may not write `email` itself (WriteAttributes).
            .user_attributes(attribute("name", name)?)
            .send()
            .await
            .map_err(|e| {
                let e = CallError::new("SignUp", e);
                match e.code() {
                    "UsernameExistsException" | "AliasExistsException" => IdentityError::UserExists,
                    "InvalidPasswordException" => IdentityError::InvalidPassword(e.message()),
                    "InvalidParameterException" => IdentityError::InvalidParameter(e.message()),
                    _ => e.common(),
                }
            })?;
        let sub = output.user_sub().to_owned();
        if let Err(e) = self.add_to_group(&email, GROUP_CUSTOMER).await {
            self.delete_half_made(&email, &sub).await;
            return Err(e);
        }
        tracing::info!(user.sub = %sub, "user signed up");
        Ok(sub)
    }

    async fn confirm_sign_up(&self, email: &str, code: &str) -> Result<(), IdentityError> {
        self.client
            .confirm_sign_up()
            .client_id(&self.client_id)
            .username(normalize_email(email))
            .confirmation_code(code.trim())
            .send()
            .await
            .map_err(|e| {
                let e = CallError::new("ConfirmSignUp", e);
                match e.code() {
                    // An unknown user, or one already confirmed (NotAuthorized), has no code to
                    // match: the same answer as a wrong code tells nothing about the account.
                    "CodeMismatchException"
                    | "ExpiredCodeException"
                    | "UserNotFoundException"
                    | "NotAuthorizedException"
                    | "InvalidParameterException" => IdentityError::CodeMismatch,
                    _ => e.common(),
                }
            })?;
        Ok(())
    }

    async fn resend_code(&self, email: &str) -> Result<(), IdentityError> {
        let result = self
            .client
            .resend_confirmation_code()
            .client_id(&self.client_id)
            .username(normalize_email(email))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = CallError::new("ResendConfirmationCode", e);
                match e.code() {
                    // Unknown, or already confirmed ("User is already confirmed."): say nothing
                    // that tells them apart from an account awaiting its code.
                    "UserNotFoundException" | "InvalidParameterException" => Ok(()),
                    _ => Err(e.common()),
                }
            }
        }
    }

    async fn sign_in(
        &self,
        email: &str,
        password: &str,
        _client: &ClientInfo,
    ) -> Result<Tokens, IdentityError> {
        // The caller's address is not passed on: Cognito limits attempts per account itself, and
        // its per-address protection needs the advanced-security context vitrine does not send.
        let email = normalize_email(email);
        let result = self
            .initiate_auth(
                AuthFlowType::UserPasswordAuth,
                &[("USERNAME", &email), ("PASSWORD", password)],
            )
            .await
            .map_err(|e| match e.code() {
                // Cognito's account lockout is a NotAuthorized with this message.
                "NotAuthorizedException" if e.message().contains("attempts exceeded") => {
                    IdentityError::TooManyAttempts {
                        retry_after_secs: RETRY_AFTER_SECS,
                    }
                }
                // InvalidParameter: an empty or over-long password, which no account can have;
                // PasswordResetRequired: the old password is void, so it is a wrong one.
                "NotAuthorizedException"
                | "UserNotFoundException"
                | "InvalidParameterException"
                | "PasswordResetRequiredException" => IdentityError::NotAuthorized,
                "UserNotConfirmedException" => IdentityError::NotConfirmed,
                _ => e.common(),
            })?;
        tokens(result)
    }

    async fn refresh(&self, refresh_token: &str) -> Result<Tokens, IdentityError> {
        if refresh_token.is_empty() {
            return Err(IdentityError::InvalidRefreshToken);
        }
        let result = self
            .initiate_auth(
                AuthFlowType::RefreshTokenAuth,
                &[("REFRESH_TOKEN", refresh_token)],
            )
            .await
            .map_err(|e| match e.code() {
                // Revoked, expired, malformed, or its user is gone or disabled.
                "NotAuthorizedException"
                | "UserNotFoundException"
                | "InvalidParameterException" => IdentityError::InvalidRefreshToken,
                _ => e.common(),
            })?;
        tokens(result)
    }

    async fn sign_out(&self, refresh_token: &str) -> Result<(), IdentityError> {
        if refresh_token.is_empty() {
            return Ok(());
        }
        let result = self
            .client
            .revoke_token()
            .client_id(&self.client_id)
            .token(refresh_token)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = CallError::new("RevokeToken", e);
                match e.code() {
                    // A token Cognito does not take as a refresh token of this client refreshes
                    // nothing either: signing out with it is already done.
                    "UnauthorizedException"
                    | "UnsupportedTokenTypeException"
                    | "InvalidParameterException"
                    | "NotAuthorizedException" => Ok(()),
                    _ => Err(e.common()),
                }
            }
        }
    }

    async fn forgot_password(&self, email: &str) -> Result<(), IdentityError> {
        let result = self
            .client
            .forgot_password()
            .client_id(&self.client_id)
            .username(normalize_email(email))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = CallError::new("ForgotPassword", e);
                match e.code() {
                    // Unknown user, or one without a verified e-mail to send to: answer as for
                    // a known one.
                    "UserNotFoundException" | "InvalidParameterException" => Ok(()),
                    _ => Err(e.common()),
                }
            }
        }
    }

    async fn confirm_forgot_password(
        &self,
        email: &str,
        code: &str,
        new_password: &str,
    ) -> Result<(), IdentityError> {
        self.client
            .confirm_forgot_password()
            .client_id(&self.client_id)
            .username(normalize_email(email))
            .confirmation_code(code.trim())
            .password(new_password)
            .send()
            .await
            .map_err(|e| {
                let e = CallError::new("ConfirmForgotPassword", e);
                match e.code() {
                    "CodeMismatchException" | "ExpiredCodeException" | "UserNotFoundException" => {
                        IdentityError::CodeMismatch
                    }
                    "InvalidPasswordException" => IdentityError::InvalidPassword(e.message()),
                    "InvalidParameterException" => IdentityError::InvalidParameter(e.message()),
                    _ => e.common(),
                }
            })?;
        Ok(())
    }

    async fn admin_create_user(
        &self,
        user: NewUser,
        groups: &[&str],
    ) -> Result<String, IdentityError> {
        let email = normalize_email(&user.email);
        let name = user.name.trim();
        if name.is_empty() {
            return Err(IdentityError::InvalidParameter("the name is empty".into()));
        }
        // The password goes in as the temporary one too, so that Cognito checks it against the
        // policy before the user exists; the emulator does not, which the clean-up below covers.
        let output = self
            .client
            .admin_create_user()
            .user_pool_id(&self.user_pool_id)
            .username(&email)
            .temporary_password(&user.password)
            .message_action(MessageActionType::Suppress)
            .user_attributes(attribute("email", &email)?)
            .user_attributes(attribute("email_verified", "true")?)
            .user_attributes(attribute("name", name)?)
            .send()
            .await
            .map_err(|e| {
                let e = CallError::new("AdminCreateUser", e);
                match e.code() {
                    "UsernameExistsException" | "AliasExistsException" => IdentityError::UserExists,
                    "InvalidPasswordException" => IdentityError::InvalidPassword(e.message()),
                    "InvalidParameterException" => IdentityError::InvalidParameter(e.message()),
                    _ => e.common(),
                }
            })?;
        let created = output.user();
        let sub = created
            .and_then(|u| u.attributes().iter().find(|a| a.name() == "sub"))
            .and_then(|a| a.value())
            // In a pool whose usernames are e-mails, the internal username is the sub.
            .or_else(|| created.and_then(|u| u.username()))
            .ok_or_else(|| {
                IdentityError::Unavailable(anyhow!("AdminCreateUser answered without the sub"))
            })?
            .to_owned();

        let finish = async {
            self.client
                .admin_set_user_password()
                .user_pool_id(&self.user_pool_id)
                .username(&email)
                .password(&user.password)
                .permanent(true)
                .send()
                .await
                .map_err(|e| {
                    let e = CallError::new("AdminSetUserPassword", e);
                    match e.code() {
                        "InvalidPasswordException" => IdentityError::InvalidPassword(e.message()),
                        "InvalidParameterException" => IdentityError::InvalidParameter(e.message()),
                        _ => e.common(),
                    }
                })?;
            let mut added: Vec<&str> = Vec::new();
            for group in groups {
                if !added.contains(group) {
                    self.add_to_group(&email, group).await?;
                    added.push(group);
                }
            }
            Ok(())
        };
        if let Err(e) = finish.await {
            self.delete_half_made(&email, &sub).await;
            return Err(e);
        }
        tracing::info!(user.sub = %sub, ?groups, "user created by an administrator");
        Ok(sub)
    }

    async fn admin_add_to_group(&self, email: &str, group: &str) -> Result<(), IdentityError> {
        self.add_to_group(&normalize_email(email), group).await
    }

    async fn admin_delete_user(&self, email: &str) -> Result<(), IdentityError> {
        let email = normalize_email(email);
        self.client
            .admin_delete_user()
            .user_pool_id(&self.user_pool_id)
            .username(&email)
            .send()
            .await
            .map_err(|e| CallError::new("AdminDeleteUser", e))
            .map_err(|e| match e.code() {
                "UserNotFoundException" => IdentityError::UserNotFound,
                _ => e.common(),
            })?;
        Ok(())
    }

    async fn admin_get_user(&self, email: &str) -> Result<UserInfo, IdentityError> {
        let email = normalize_email(email);
        let not_found = |e: CallError| match e.code() {
            "UserNotFoundException" => IdentityError::UserNotFound,
            _ => e.common(),
        };
        let user = self
            .client
            .admin_get_user()
            .user_pool_id(&self.user_pool_id)
            .username(&email)
            .send()
            .await
            .map_err(|e| CallError::new("AdminGetUser", e))
            .map_err(not_found)?;
        let attribute = |name: &str| {
            user.user_attributes()
                .iter()
                .find(|a| a.name() == name)
                .and_then(|a| a.value())
                .map(str::to_owned)
        };

        let mut groups = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .client
                .admin_list_groups_for_user()
                .user_pool_id(&self.user_pool_id)
                .username(&email)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| CallError::new("AdminListGroupsForUser", e))
                .map_err(not_found)?;
            groups.extend(
                page.groups()
                    .iter()
                    .filter_map(|g| g.group_name())
                    .map(str::to_owned),
            );
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }

        Ok(UserInfo {
            sub: attribute("sub").unwrap_or_else(|| user.username().to_owned()),
            email: attribute("email").unwrap_or(email),
            name: attribute("name").unwrap_or_default(),
            confirmed: is_confirmed(user.user_status()),
            groups,
        })
    }
}

/// A failed Cognito call, reduced to what the error mapping reads: the operation, Cognito's error
/// code (the exception's name) and message. It keeps no part of the request, so neither it nor
/// anything made from it can show a password, code or token.
#[derive(Debug)]
struct CallError {
    op: &'static str,
    code: Option<String>,
    message: Option<String>,
    /// For failures without a service answer (connection, timeout, unreadable response).
    detail: Option<String>,
}

impl CallError {
    fn new<E>(op: &'static str, err: SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = err.code().map(str::to_owned);
        let message = err.message().map(str::to_owned);
        let detail = match &err {
            SdkError::ServiceError(_) => None,
            _ => Some(DisplayErrorContext(&err).to_string()),
        };
        Self {
            op,
            code,
            message,
            detail,
        }
    }

    fn other(op: &'static str, detail: String) -> Self {
        Self {
            op,
            code: None,
            message: None,
            detail: Some(detail),
        }
    }

    fn code(&self) -> &str {
        self.code.as_deref().unwrap_or("")
    }

    fn message(&self) -> String {
        self.message.clone().unwrap_or_default()
    }

    /// The mapping every operation shares once its own cases are handled: throttling is
    /// `TooManyAttempts`, everything else an unavailable provider.
    fn common(self) -> IdentityError {
        match self.code() {
            "TooManyRequestsException"
            | "LimitExceededException"
            | "TooManyFailedAttemptsException" => IdentityError::TooManyAttempts {
                retry_after_secs: RETRY_AFTER_SECS,
            },
            _ => IdentityError::Unavailable(self.into_anyhow()),
        }
    }

    fn into_anyhow(self) -> anyhow::Error {
        anyhow!("{self}")
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cognito {} failed", self.op)?;
        if let Some(code) = &self.code {
            write!(f, ": {code}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}
