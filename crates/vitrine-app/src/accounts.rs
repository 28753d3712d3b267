//! Account use cases on top of the Identity port: sign-up, sign-in (creating the customer
//! profile on first sign-in and merging an anonymous cart), and the rest of the session life.
//!
//! Answers never reveal whether an e-mail is registered: sign-up of a taken e-mail answers like a
//! new one (and tells the owner by e-mail), and a forgotten-password request answers the same.
//!
//! Account mails are budgeted (issue 18, finding 5; docs/operations.md, "Abuse limits"), in the
//! table so that restarts and Lambda instances share the counts:
//! - per recipient and kind ([`AccountMail`]), per hour and per day: beyond, the mail is skipped
//!   and the caller gets the very answer a sent mail gets, so the budget tells nobody who is
//!   registered and a victim's mailbox gets at most the budget, however many requests name it;
//! - per client address, per hour, over every kind: beyond, 429. That answer depends only on
//!   the client's own requests, never on the address it names. Only when the client's address
//!   is known ([`ClientInfo::address`]: `vitrine serve`; on AWS the WAF limits per client).
//!
//! Asking for a code (`forgot-password`, `resend-code`) does the same work whether the address is
//! registered or not: past the budgets, the request is queued and answered, and a worker has the
//! identity provider write and mail the code ([`App::start_code_mail_worker`], `vitrine serve`).
//! So neither the time an answer takes nor a failing mail server tells who is registered (issue
//! 18, finding 6). On AWS the function asks Cognito in the request, and Cognito's
//! `PreventUserExistenceErrors` answers unknown addresses alike.
//!
//! The name given at sign-up is shown to the recipient in the built-in identity provider's code
//! mail ("Olá, {name}!"), so an attacker could use it to put a link or a phone number in front
//! of anyone: [`check_sign_up_name`] refuses names that are not plainly a name.

use std::sync::Arc;

use tokio::sync::mpsc::error::TrySendError;
use vitrine_domain::contact::{Email, PersonName};

use crate::app::App;
use crate::auth::{Principal, StaffRole};
use crate::code_mails::{CODE_MAIL_QUEUE, CodeMail};
use crate::error::{AppError, AppResult};
use crate::ports::identity::{GROUP_CUSTOMER, IdentityError};
use crate::ports::{ClientInfo, Email as Mail, NewUser, Tokens};
use crate::store::budgets::{self, Budget, Taken};

/// The kinds of account mail, each with its own budget per recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountMail {
    /// What a sign-up sends: the confirmation code, or the "already registered" warning.
    SignUp,
    /// A code asked for again: a new confirmation code, or a password reset code.
    Code,
}

impl AccountMail {
    fn kind(self) -> &'static str {
        match self {
            AccountMail::SignUp => "signup-mail",
            AccountMail::Code => "code-mail",
        }
    }
}

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

/// The longest name a sign-up accepts: room for long Brazilian full names, not for a message.
pub const SIGN_UP_NAME_MAX_CHARS: usize = 80;

/// A sign-up's name must read as a name: letters (any script, with their combining accents),
/// spaces, apostrophes, hyphens, and dots that end an abbreviation (`J. Silva`, `Jr.`), at most
/// [`SIGN_UP_NAME_MAX_CHARS`]. So no link (`://`, `exemplo.com`), no markup (`<`, `>`), no
/// e-mail address and no phone number can ride in the greeting of a mail sent to someone else.
/// Refused rather than stripped: the name is kept (it becomes the profile's), and a silently
/// changed name would surprise its owner; a real name never trips this.
pub fn check_sign_up_name(name: &PersonName) -> Result<(), &'static str> {
    const RULE: &str = "a name has only letters, spaces, apostrophes, hyphens and abbreviation \
                        dots, at most 80 characters";
    let text = name.as_str();
    if text.chars().count() > SIGN_UP_NAME_MAX_CHARS {
        return Err(RULE);
    }
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let allowed = match c {
            '.' => chars.peek().is_none_or(|next| *next == ' '),
            ' ' | '\'' | '’' | '-' => true,
            // Combining diacritical marks (names typed in decomposed form).
            '\u{0300}'..='\u{036f}' => true,
            c => c.is_alphabetic(),
        };
        if !allowed {
            return Err(RULE);
        }
    }
    Ok(())
}

impl App {
    /// Count one account mail request of `client` and, when the client is within its budget,
    /// one mail of `kind` to `email`. `Err(TooManyRequests)` when the client's hourly budget is
    /// spent; `Ok(false)` when the recipient's is: skip the mail, answer as if sent.
    pub(crate) async fn admit_account_mail(
        &self,
        kind: AccountMail,
        email: &str,
        client: &ClientInfo,
    ) -> AppResult<bool> {
        let limits = &self.settings.send_limits;
        let table = &*self.ports.table;
        let now = self.ports.clock.now().secs();
        if let Some(address) = &client.address {
            let per_client = Budget {
                kind: "account-mail-client",
                limit: limits.account_mails_per_client_hour,
                window_secs: HOUR,
            };
            if let Taken::Spent { retry_after_secs } =
                budgets::take(table, &per_client, address, now).await?
            {
                return Err(AppError::TooManyRequests { retry_after_secs });
            }
        }
        let per_recipient = [
            Budget {
                kind: kind.kind(),
                limit: limits.account_mails_per_hour,
                window_secs: HOUR,
            },
            Budget {
                kind: kind.kind(),
                limit: limits.account_mails_per_day,
                window_secs: DAY,
            },
        ];
        let taken = budgets::take_all(table, &per_recipient, &normalise(email), now).await?;
        if !taken.granted() {
            tracing::info!(
                mail.kind = kind.kind(),
                "account mail skipped: recipient budget spent"
            );
        }
        Ok(taken.granted())
    }

    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        name: &str,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let email = Email::parse(email).map_err(|e| AppError::field("email", e.to_string()))?;
        let name = PersonName::parse(name).map_err(|e| AppError::field("name", e.to_string()))?;
        check_sign_up_name(&name).map_err(|rule| AppError::field("name", rule))?;
        if !self
            .admit_account_mail(AccountMail::SignUp, email.as_str(), client)
            .await?
        {
            // Neither the code nor the warning may go out: create nothing either, since the
            // account's code could not be sent. The answer is a sent mail's.
            return Ok(());
        }
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

    pub async fn resend_code(&self, email: &str, client: &ClientInfo) -> AppResult<()> {
        if !self
            .admit_account_mail(AccountMail::Code, email, client)
            .await?
        {
            return Ok(());
        }
        self.ask_for_code(CodeMail::SignUp(normalise(email))).await
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

    pub async fn forgot_password(&self, email: &str, client: &ClientInfo) -> AppResult<()> {
        if !self
            .admit_account_mail(AccountMail::Code, email, client)
            .await?
        {
            return Ok(());
        }
        self.ask_for_code(CodeMail::Reset(normalise(email))).await
    }

    /// Start sending code mails from a background worker (`vitrine serve`): from then on a
    /// request for a code answers once it is queued, after the same work whether the address is
    /// registered or not. Without the worker (a Lambda function, whose work ends with its
    /// answer) the identity provider is asked in the request.
    pub fn start_code_mail_worker(self: &Arc<Self>) {
        let (queue, mut asked) = tokio::sync::mpsc::channel(CODE_MAIL_QUEUE);
        if self.code_mails.set(queue).is_err() {
            return;
        }
        let app = Arc::clone(self);
        self.spawn_worker("code-mails", move |stop| async move {
            let stop = stop.requested();
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    job = asked.recv() => match job {
                        Some(job) => app.send_code_mail(job).await,
                        None => return,
                    },
                    () = &mut stop => break,
                }
            }
            // What was asked for before the stop is still sent (within the stop's grace).
            asked.close();
            while let Some(job) = asked.recv().await {
                app.send_code_mail(job).await;
            }
        });
    }

    /// Queue `job` for the code-mail worker; without one, or when its queue is full (a flood
    /// the per-client budget did not stop), send it here.
    async fn ask_for_code(&self, job: CodeMail) -> AppResult<()> {
        let job = match self.code_mails.get() {
            Some(queue) => match queue.try_send(job) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(job) | TrySendError::Closed(job)) => job,
            },
            None => job,
        };
        self.code_mail(job).await
    }

    async fn send_code_mail(&self, job: CodeMail) {
        if let Err(e) = self.code_mail(job).await {
            tracing::warn!(error = %e, "code mail not sent");
        }
    }

    /// Have the identity provider write a new code and mail it; an unknown address is not an
    /// error (nothing is sent, and the caller was answered alike).
    async fn code_mail(&self, job: CodeMail) -> AppResult<()> {
        let identity = &self.ports.identity;
        let sent = match &job {
            CodeMail::SignUp(email) => identity.resend_code(email).await,
            CodeMail::Reset(email) => identity.forgot_password(email).await,
        };
        match sent {
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
        let role = admin.then_some(StaffRole::Owner);
        self.create_user_as(email, password, name, role).await
    }

    /// [`App::create_user`], as a customer who is also `role` of the staff (or not staff).
    pub async fn create_user_as(
        &self,
        email: &str,
        password: &str,
        name: &str,
        role: Option<StaffRole>,
    ) -> AppResult<String> {
        let email = Email::parse(email).map_err(|e| AppError::field("email", e.to_string()))?;
        let name = PersonName::parse(name).map_err(|e| AppError::field("name", e.to_string()))?;
        let mut groups = vec![GROUP_CUSTOMER];
        groups.extend(role.map(StaffRole::group));
        let user = NewUser {
            email: email.as_str().to_owned(),
            password: password.to_owned(),
            name: name.as_str().to_owned(),
        };
        let sub = self.ports.identity.admin_create_user(user, &groups).await?;
        // Accounts are keyed by the fully lowercased e-mail; the profile says the same.
        self.ensure_profile(&sub, &normalise(email.as_str()), name.as_str())
            .await?;
        Ok(sub)
    }
}

fn normalise(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str) -> Result<(), &'static str> {
        check_sign_up_name(&PersonName::parse(name).unwrap())
    }

    #[test]
    fn real_names_pass() {
        for name in [
            "Maria d'Ávila-Souza",
            "João Pedro dos Santos Oliveira de Souza Pereira",
            "J. Silva",
            "Antônio Carlos Jr.",
            "Ana Maria O’Neil",
            "Jose\u{301} Ange\u{301}lica",
            "李小龍",
            "Bia",
        ] {
            assert_eq!(check(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn links_markup_addresses_and_numbers_are_refused() {
        for name in [
            "Ganhe um prêmio em https://golpe.example",
            "golpe.example",
            "visite www.golpe.example já",
            "<a href=x>Ana</a>",
            "Ana <b>",
            "ligue 0800 123 4567",
            "ana@golpe.example",
            "Ana; Bia",
            &"a".repeat(SIGN_UP_NAME_MAX_CHARS + 1),
        ] {
            assert!(check(name).is_err(), "{name}");
        }
        assert!(check(&"a".repeat(SIGN_UP_NAME_MAX_CHARS)).is_ok());
    }
}
