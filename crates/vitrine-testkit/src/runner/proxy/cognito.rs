//! Cognito's own mails, which the emulator does not send: the sign-up and password-reset codes.
//!
//! After a forwarded `SignUp`, `ResendConfirmationCode` or `ForgotPassword` succeeds, the proxy
//! makes a six-digit code, keeps it per pool, user and purpose, and mails the pool's
//! verification message (`VerificationMessageTemplate`, else `EmailVerificationSubject` and
//! `EmailVerificationMessage`, `{####}` replaced by the code) through the emulator's SES, from
//! the pool's `EmailConfiguration.From` (`DEVELOPER`) or Cognito's own
//! `no-reply@verificationemail.com` (`COGNITO_DEFAULT`, an identity the proxy verifies first)
//! (<https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-email.html>). A test
//! reads the mail back from the emulator's sent messages.
//!
//! `ConfirmSignUp` and `ConfirmForgotPassword` are checked here: the emulator accepts any code
//! that does not start with `moto-confirmation-code:` (moto/cognitoidp/models.py), so a wrong
//! code is answered `CodeMismatchException` without forwarding, and the right one is forwarded
//! (and then spent).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use rand::Rng;
use serde_json::Value;

use crate::runner::Resolved;

/// Cognito's sender for pools that send through Cognito (`COGNITO_DEFAULT`).
pub const COGNITO_DEFAULT_FROM: &str = "no-reply@verificationemail.com";

/// What a code is for: confirming a sign-up, or resetting a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    SignUp,
    Reset,
}

/// A user pool's mail settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub logical_id: String,
    pub subject: String,
    /// The message, with `{####}` where the code goes.
    pub message: String,
    pub from: String,
    /// Cognito's own sender (the proxy verifies it on the emulator's SES before sending).
    pub cognito_default: bool,
}

impl Pool {
    /// The pool's settings from its `AWS::Cognito::UserPool` properties.
    pub fn from_properties(logical_id: &str, p: &Value) -> Pool {
        let text = |pointer: &str| {
            p.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let subject = text("/VerificationMessageTemplate/EmailSubject")
            .or_else(|| text("/EmailVerificationSubject"))
            .unwrap_or_else(|| "Your verification code".into());
        let message = text("/VerificationMessageTemplate/EmailMessage")
            .or_else(|| text("/EmailVerificationMessage"))
            .unwrap_or_else(|| "Your verification code is {####}.".into());
        let developer =
            text("/EmailConfiguration/EmailSendingAccount").as_deref() == Some("DEVELOPER");
        let from = if developer {
            text("/EmailConfiguration/From")
                .or_else(|| {
                    text("/EmailConfiguration/SourceArn")
                        .and_then(|arn| arn.rsplit_once("identity/").map(|(_, id)| id.to_owned()))
                })
                .unwrap_or_else(|| COGNITO_DEFAULT_FROM.into())
        } else {
            COGNITO_DEFAULT_FROM.into()
        };
        Pool {
            logical_id: logical_id.to_owned(),
            subject,
            message,
            cognito_default: !developer,
            from,
        }
    }
}

/// Why a confirmation is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch;

pub struct CognitoMail {
    /// By pool id.
    pools: BTreeMap<String, Pool>,
    /// Pool id by app client id.
    clients: BTreeMap<String, String>,
    codes: Mutex<HashMap<(String, String, Purpose), String>>,
    verified: tokio::sync::Mutex<BTreeSet<String>>,
    ses: aws_sdk_sesv2::Client,
    idp: aws_sdk_cognitoidentityprovider::Client,
}

fn field<'v>(body: &'v Value, name: &str) -> Option<&'v str> {
    body.get(name).and_then(Value::as_str)
}

/// Usernames of the template's pools are e-mail addresses compared without case.
fn user_key(username: &str) -> String {
    username.to_lowercase()
}

impl CognitoMail {
    pub fn new(resolved: &Resolved, config: &aws_config::SdkConfig) -> Self {
        let pools = resolved
            .of_kind("AWS::Cognito::UserPool")
            .map(|(id, r)| {
                (
                    r.physical_id.clone(),
                    Pool::from_properties(id, &r.properties),
                )
            })
            .collect();
        let clients = resolved
            .of_kind("AWS::Cognito::UserPoolClient")
            .filter_map(|(_, r)| {
                let pool = r.properties.get("UserPoolId")?.as_str()?;
                Some((r.physical_id.clone(), pool.to_owned()))
            })
            .collect();
        Self {
            pools,
            clients,
            codes: Mutex::new(HashMap::new()),
            verified: tokio::sync::Mutex::new(BTreeSet::new()),
            ses: aws_sdk_sesv2::Client::new(config),
            idp: aws_sdk_cognitoidentityprovider::Client::new(config),
        }
    }

    fn pool_of(&self, body: &Value) -> Option<(&str, &Pool)> {
        let pool_id = self.clients.get(field(body, "ClientId")?)?;
        self.pools
            .get_key_value(pool_id)
            .map(|(k, v)| (k.as_str(), v))
    }

    fn purpose(operation: &str) -> Option<Purpose> {
        match operation {
            "SignUp" | "ResendConfirmationCode" | "ConfirmSignUp" => Some(Purpose::SignUp),
            "ForgotPassword" | "ConfirmForgotPassword" => Some(Purpose::Reset),
            _ => None,
        }
    }

    /// Before forwarding: a confirmation with a code other than the one mailed is refused.
    /// Operations of other pools than the template's are not checked.
    pub fn check(&self, operation: &str, body: &Value) -> Result<(), Mismatch> {
        if !matches!(operation, "ConfirmSignUp" | "ConfirmForgotPassword") {
            return Ok(());
        }
        let (Some((pool_id, _)), Some(purpose)) = (self.pool_of(body), Self::purpose(operation))
        else {
            return Ok(());
        };
        let user = user_key(field(body, "Username").unwrap_or(""));
        let given = field(body, "ConfirmationCode").unwrap_or("");
        let codes = self.codes.lock().expect("the codes lock is never poisoned");
        match codes.get(&(pool_id.to_owned(), user, purpose)) {
            Some(code) if code == given => Ok(()),
            _ => Err(Mismatch),
        }
    }

    /// After a successful forward: a confirmation spends its code; a sign-up, a resend or a
    /// reset mails a new one. Returns the pool's logical id when a mail was sent.
    pub async fn after(&self, operation: &str, body: &Value) -> anyhow::Result<Option<String>> {
        let (Some((pool_id, pool)), Some(purpose)) = (self.pool_of(body), Self::purpose(operation))
        else {
            return Ok(None);
        };
        let username = field(body, "Username").unwrap_or("").to_owned();
        let key = (pool_id.to_owned(), user_key(&username), purpose);
        if operation.starts_with("Confirm") {
            self.codes
                .lock()
                .expect("the codes lock is never poisoned")
                .remove(&key);
            return Ok(None);
        }
        let to = match self.email_of(pool_id, &username, body).await {
            Some(address) => address,
            None => anyhow::bail!(
                "user {username} of pool {} has no e-mail address to send the code to",
                pool.logical_id
            ),
        };
        let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        self.codes
            .lock()
            .expect("the codes lock is never poisoned")
            .insert(key, code.clone());
        if pool.cognito_default {
            self.verify(&pool.from).await?;
        }
        let text = |s: &str| {
            Content::builder()
                .data(s.replace("{####}", &code))
                .charset("UTF-8")
                .build()
        };
        let message = Message::builder()
            .subject(text(&pool.subject)?)
            .body(Body::builder().text(text(&pool.message)?).build())
            .build();
        self.ses
            .send_email()
            .from_email_address(&pool.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "sending pool {}'s code from {}: {}",
                    pool.logical_id,
                    pool.from,
                    aws_sdk_sesv2::error::DisplayErrorContext(e)
                )
            })?;
        Ok(Some(pool.logical_id.clone()))
    }

    /// The address a user's codes go to: the sign-up's `email` attribute, or the user's.
    async fn email_of(&self, pool_id: &str, username: &str, body: &Value) -> Option<String> {
        let from_request = body
            .get("UserAttributes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|a| field(a, "Name") == Some("email"))
            .and_then(|a| field(a, "Value"))
            .map(str::to_owned);
        if from_request.is_some() {
            return from_request;
        }
        let user = self
            .idp
            .admin_get_user()
            .user_pool_id(pool_id)
            .username(username)
            .send()
            .await
            .ok();
        user.and_then(|u| {
            u.user_attributes()
                .iter()
                .find(|a| a.name() == "email")
                .and_then(|a| a.value().map(str::to_owned))
        })
        .or_else(|| username.contains('@').then(|| username.to_owned()))
    }

    /// Cognito's own sender verified on the emulator's SES (once).
    async fn verify(&self, from: &str) -> anyhow::Result<()> {
        let mut verified = self.verified.lock().await;
        if verified.contains(from) {
            return Ok(());
        }
        let created = self
            .ses
            .create_email_identity()
            .email_identity(from)
            .send()
            .await;
        if let Err(e) = created {
            let exists = e
                .as_service_error()
                .is_some_and(|s| s.is_already_exists_exception());
            if !exists {
                anyhow::bail!(
                    "verifying {from} on the emulator's SES: {}",
                    aws_sdk_sesv2::error::DisplayErrorContext(e)
                );
            }
        }
        verified.insert(from.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pool_mails_its_verification_template_from_its_sender() {
        let developer = Pool::from_properties(
            "UserPool",
            &json!({
                "VerificationMessageTemplate": {"EmailSubject": "Seu código", "EmailMessage": "Código: {####}"},
                "EmailVerificationMessage": "old {####}",
                "EmailConfiguration": {"EmailSendingAccount": "DEVELOPER", "From": "Loja <loja@example.com>", "SourceArn": "arn:aws:ses:us-east-1:1:identity/example.com"}
            }),
        );
        assert_eq!(
            developer,
            Pool {
                logical_id: "UserPool".into(),
                subject: "Seu código".into(),
                message: "Código: {####}".into(),
                from: "Loja <loja@example.com>".into(),
                cognito_default: false,
            }
        );
        let default = Pool::from_properties(
            "P",
            &json!({"EmailConfiguration": {"EmailSendingAccount": "COGNITO_DEFAULT"}}),
        );
        assert_eq!(
            (default.from.as_str(), default.cognito_default),
            (COGNITO_DEFAULT_FROM, true)
        );
        assert_eq!(default.message, "Your verification code is {####}.");
        let legacy = Pool::from_properties(
            "P",
            &json!({"EmailVerificationSubject": "S", "EmailVerificationMessage": "M {####}"}),
        );
        assert_eq!(
            (legacy.subject.as_str(), legacy.message.as_str()),
            ("S", "M {####}")
        );
        let by_arn = Pool::from_properties(
            "P",
            &json!({"EmailConfiguration": {"EmailSendingAccount": "DEVELOPER", "SourceArn": "arn:aws:ses:us-east-1:1:identity/shop@example.com"}}),
        );
        assert_eq!(by_arn.from, "shop@example.com");
    }
}
