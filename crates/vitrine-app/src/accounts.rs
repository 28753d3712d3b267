//! Account use cases on top of the Identity port: sign-up, sign-in (creating the customer
//! profile on first sign-in and merging an anonymous cart), and the rest of the session life.
//!
//! Answers never reveal whether an e-mail is registered: sign-up of a taken e-mail answers like a
//! new one (and tells the owner by e-mail), and a forgotten-password request answers the same.

use vitrine_domain::contact::{Email, PersonName};

use crate::app::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::ports::identity::IdentityError;
use crate::ports::{ClientInfo, Email as Mail, NewUser, Tokens};

impl App {
    pub async fn sign_up(&self, email: &str, password: &str, name: &str) -> AppResult<()> {
        let email = Email::parse(email).map_err(|e| AppError::field("email", e.to_string()))?;
        let name = PersonName::parse(name).map_err(|e| AppError::field("name", e.to_string()))?;
        let user = NewUser {
            email: email.as_str().to_owned(),
            password: password.to_owned(),
            name: name.as_str().to_owned(),
        };
        match self.ports.identity.sign_up(user).await {
            Ok(_) => Ok(()),
            Err(IdentityError::UserExists) => {
                self.ports
                    .mailer
                    .send(Mail {
                        to: email.as_str().to_owned(),
                        subject: "Tentativa de cadastro na vitrine".into(),
                        text: "Alguém tentou criar uma conta com este e-mail, que já está cadastrado.\n\
                               Se foi você, entre com sua senha ou use \"Esqueci minha senha\".\n\
                               Se não foi, ignore esta mensagem."
                            .into(),
                        html: None,
                        idempotency_key: None,
                        attachments: vec![],
                    })
                    .await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn confirm_sign_up(
        &self,
        email: &str,
        code: &str,
        client: &ClientInfo,
    ) -> AppResult<()> {
        self.ports.identity.count_code_guess(client)?;
        Ok(self
            .ports
            .identity
            .confirm_sign_up(&normalise(email), code.trim())
            .await?)
    }

    pub async fn resend_code(&self, email: &str) -> AppResult<()> {
        match self.ports.identity.resend_code(&normalise(email)).await {
            Ok(()) | Err(IdentityError::UserNotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Sign in; on success make sure the customer has a profile, and merge `cart_token`'s cart.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
        cart_token: Option<&str>,
    ) -> AppResult<Tokens> {
        let email = normalise(email);
        let tokens = self
            .ports
            .identity
            .sign_in(&email, password, client)
            .await?;
        let user = self.ports.identity.admin_get_user(&email).await?;
        self.ensure_profile(&user.sub, &user.email, &user.name)
            .await?;
        if let Some(token) = cart_token {
            // A stale or foreign token must not fail the sign-in.
            if let Err(e) = self.merge_cart(&user.sub, token).await {
                tracing::info!(error = %e, "anonymous cart not merged at sign-in");
            }
        }
        Ok(tokens)
    }

    pub async fn refresh(&self, refresh_token: &str) -> AppResult<Tokens> {
        Ok(self.ports.identity.refresh(refresh_token).await?)
    }

    /// Revoke the refresh token and, when the caller shows its access token, the session's
    /// access tokens too (refused within a minute everywhere: `crate::sessions`).
    pub async fn sign_out(&self, refresh_token: &str, who: Option<&Principal>) -> AppResult<()> {
        self.ports.identity.sign_out(refresh_token).await?;
        if let Some(who) = who {
            self.revoke_session(who).await?;
        }
        Ok(())
    }

    pub async fn forgot_password(&self, email: &str) -> AppResult<()> {
        match self.ports.identity.forgot_password(&normalise(email)).await {
            Ok(()) | Err(IdentityError::UserNotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn reset_password(
        &self,
        email: &str,
        code: &str,
        new_password: &str,
        client: &ClientInfo,
    ) -> AppResult<()> {
        self.ports.identity.count_code_guess(client)?;
        let email = normalise(email);
        self.ports
            .identity
            .confirm_forgot_password(&email, code.trim(), new_password)
            .await?;
        // Whoever held the old password loses the tokens it gave them.
        let user = self.ports.identity.admin_get_user(&email).await?;
        self.revoke_user_tokens(&user.sub).await
    }

    /// Create a confirmed user (CLI `user create`), with a profile. Returns `sub`.
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        name: &str,
        admin: bool,
    ) -> AppResult<String> {
        let email = Email::parse(email).map_err(|e| AppError::field("email", e.to_string()))?;
        let name = PersonName::parse(name).map_err(|e| AppError::field("name", e.to_string()))?;
        let groups: &[&str] = if admin {
            &["customer", "admin"]
        } else {
            &["customer"]
        };
        let user = NewUser {
            email: email.as_str().to_owned(),
            password: password.to_owned(),
            name: name.as_str().to_owned(),
        };
        let sub = self.ports.identity.admin_create_user(user, groups).await?;
        // Accounts are keyed by the fully lowercased e-mail; the profile says the same.
        self.ensure_profile(&sub, &normalise(email.as_str()), name.as_str())
            .await?;
        Ok(sub)
    }
}

fn normalise(email: &str) -> String {
    email.trim().to_lowercase()
}
