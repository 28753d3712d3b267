//! Test doubles of the ports other than the Table: a Mailer and an Sms transport that keep what
//! they are given (and fail on cue), an in-memory Blobs, `Users` and `Unused` for a port a test
//! never calls; and an event consumer that records what it is handed.
//!
//! vitrine-app's own unit tests compile this very file, as they do `mem_table.rs` (see there).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use async_trait::async_trait;
use bytes::Bytes;
use vitrine_app::events::{ConsumeError, Consumer, Delivery};
use vitrine_app::ports::blobs::check_key;
use vitrine_app::ports::{
    Blob, BlobError, BlobMeta, Blobs, ClientInfo, Email, Identity, IdentityError, MailError,
    Mailer, NewUser, Sms, SmsError, SmsMessage, Tokens, UserInfo,
};

/// How a recording transport fails from now on.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    Unavailable,
    Invalid,
}

/// A Mailer that keeps what it is given, attachments included, after the checks every adapter
/// makes (idempotency key, attachment names and size).
#[derive(Default)]
pub struct RecordingMailer {
    sent: Mutex<Vec<Email>>,
    failure: Mutex<Option<Failure>>,
}

impl RecordingMailer {
    pub fn sent(&self) -> Vec<Email> {
        self.sent.lock().unwrap().clone()
    }

    /// How many different messages an adapter that honours idempotency keys would deliver.
    pub fn distinct_keys(&self) -> usize {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.idempotency_key.clone())
            .collect::<BTreeSet<_>>()
            .len()
    }

    pub fn fail_with(&self, failure: Failure) {
        *self.failure.lock().unwrap() = Some(failure);
    }

    /// Accept messages again after [`RecordingMailer::fail_with`].
    pub fn recover(&self) {
        *self.failure.lock().unwrap() = None;
    }
}

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, email: Email) -> Result<(), MailError> {
        match *self.failure.lock().unwrap() {
            Some(Failure::Unavailable) => Err(MailError::Unavailable(anyhow!("down (test)"))),
            Some(Failure::Invalid) => Err(MailError::Invalid("bad address (test)".into())),
            None => {
                email.checked_idempotency_key()?;
                email.check_attachments()?;
                self.sent.lock().unwrap().push(email);
                Ok(())
            }
        }
    }
}

/// An Sms transport that keeps what it is given.
#[derive(Default)]
pub struct RecordingSms {
    sent: Mutex<Vec<SmsMessage>>,
    failure: Mutex<Option<Failure>>,
}

impl RecordingSms {
    pub fn sent(&self) -> Vec<SmsMessage> {
        self.sent.lock().unwrap().clone()
    }

    pub fn fail_with(&self, failure: Failure) {
        *self.failure.lock().unwrap() = Some(failure);
    }
}

#[async_trait]
impl Sms for RecordingSms {
    async fn send(&self, message: SmsMessage) -> Result<(), SmsError> {
        match *self.failure.lock().unwrap() {
            Some(Failure::Unavailable) => Err(SmsError::Unavailable(anyhow!("down (test)"))),
            Some(Failure::Invalid) => Err(SmsError::Invalid("bad number (test)".into())),
            None => {
                self.sent.lock().unwrap().push(message);
                Ok(())
            }
        }
    }
}

/// A port a test never calls: every call fails as unavailable.
pub struct Unused;

fn unused_identity() -> IdentityError {
    IdentityError::Unavailable(anyhow!("no identity provider in these tests"))
}

fn unused_blobs() -> BlobError {
    BlobError::Unavailable(anyhow!("no blob store in these tests"))
}

#[async_trait]
impl Identity for Unused {
    async fn sign_up(&self, _: NewUser) -> Result<String, IdentityError> {
        Err(unused_identity())
    }
    async fn confirm_sign_up(&self, _: &str, _: &str) -> Result<(), IdentityError> {
        Err(unused_identity())
    }
    async fn resend_code(&self, _: &str) -> Result<(), IdentityError> {
        Err(unused_identity())
    }
    async fn sign_in(&self, _: &str, _: &str, _: &ClientInfo) -> Result<Tokens, IdentityError> {
        Err(unused_identity())
    }
    async fn refresh(&self, _: &str) -> Result<Tokens, IdentityError> {
        Err(unused_identity())
    }
    async fn sign_out(&self, _: &str) -> Result<(), IdentityError> {
        Err(unused_identity())
    }
    async fn forgot_password(&self, _: &str) -> Result<(), IdentityError> {
        Err(unused_identity())
    }
    async fn confirm_forgot_password(
        &self,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<(), IdentityError> {
        Err(unused_identity())
    }
    async fn admin_create_user(&self, _: NewUser, _: &[&str]) -> Result<String, IdentityError> {
        Err(unused_identity())
    }
    async fn admin_add_to_group(&self, _: &str, _: &str) -> Result<(), IdentityError> {
        Err(unused_identity())
    }
    async fn admin_delete_user(&self, _: &str) -> Result<(), IdentityError> {
        Err(unused_identity())
    }
    async fn admin_get_user(&self, _: &str) -> Result<UserInfo, IdentityError> {
        Err(unused_identity())
    }
}

#[async_trait]
impl Blobs for Unused {
    async fn put(&self, _: &str, _: Bytes, _: &str) -> Result<(), BlobError> {
        Err(unused_blobs())
    }
    async fn get(&self, _: &str) -> Result<Option<Blob>, BlobError> {
        Err(unused_blobs())
    }
    async fn list(&self, _: &str) -> Result<Vec<BlobMeta>, BlobError> {
        Err(unused_blobs())
    }
    async fn delete(&self, _: &str) -> Result<(), BlobError> {
        Err(unused_blobs())
    }
    async fn download_url(&self, _: &str, _: u64) -> Result<Option<String>, BlobError> {
        Err(unused_blobs())
    }
    async fn ping(&self) -> Result<(), BlobError> {
        Err(unused_blobs())
    }
}

/// The Blobs port in memory (keys checked as every adapter checks them).
#[derive(Default)]
pub struct MemBlobs {
    blobs: Mutex<BTreeMap<String, Blob>>,
}

#[async_trait]
impl Blobs for MemBlobs {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError> {
        check_key(key)?;
        let blob = Blob {
            bytes,
            content_type: content_type.to_owned(),
        };
        self.blobs.lock().unwrap().insert(key.to_owned(), blob);
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        check_key(key)?;
        Ok(self.blobs.lock().unwrap().get(key).cloned())
    }
    async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        Ok(self
            .blobs
            .lock()
            .unwrap()
            .iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .map(|(key, blob)| BlobMeta {
                key: key.clone(),
                size: blob.bytes.len() as u64,
            })
            .collect())
    }
    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        self.blobs.lock().unwrap().remove(key);
        Ok(())
    }
    async fn download_url(&self, key: &str, _: u64) -> Result<Option<String>, BlobError> {
        check_key(key)?;
        Ok(None)
    }
    async fn ping(&self) -> Result<(), BlobError> {
        Ok(())
    }
}

/// An Identity that only keeps the users a test makes with `admin_create_user` (confirmed, in
/// the given groups) and answers `admin_get_user` and `admin_add_to_group` for them; every
/// other call fails as [`Unused`] does. Enough for `App::create_user` to give a customer a
/// profile without an identity provider.
#[derive(Default)]
pub struct Users {
    users: Mutex<BTreeMap<String, UserInfo>>,
}

#[async_trait]
impl Identity for Users {
    async fn sign_up(&self, user: NewUser) -> Result<String, IdentityError> {
        Unused.sign_up(user).await
    }
    async fn confirm_sign_up(&self, email: &str, code: &str) -> Result<(), IdentityError> {
        Unused.confirm_sign_up(email, code).await
    }
    async fn resend_code(&self, email: &str) -> Result<(), IdentityError> {
        Unused.resend_code(email).await
    }
    async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<Tokens, IdentityError> {
        Unused.sign_in(email, password, client).await
    }
    async fn refresh(&self, token: &str) -> Result<Tokens, IdentityError> {
        Unused.refresh(token).await
    }
    async fn sign_out(&self, token: &str) -> Result<(), IdentityError> {
        Unused.sign_out(token).await
    }
    async fn forgot_password(&self, email: &str) -> Result<(), IdentityError> {
        Unused.forgot_password(email).await
    }
    async fn confirm_forgot_password(
        &self,
        email: &str,
        code: &str,
        password: &str,
    ) -> Result<(), IdentityError> {
        Unused.confirm_forgot_password(email, code, password).await
    }
    async fn admin_create_user(
        &self,
        user: NewUser,
        groups: &[&str],
    ) -> Result<String, IdentityError> {
        let mut users = self.users.lock().unwrap();
        if users.contains_key(&user.email) {
            return Err(IdentityError::UserExists);
        }
        let sub = ulid::Ulid::new().to_string().to_lowercase();
        let info = UserInfo {
            sub: sub.clone(),
            email: user.email.clone(),
            name: user.name,
            confirmed: true,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        };
        users.insert(user.email, info);
        Ok(sub)
    }
    async fn admin_add_to_group(&self, email: &str, group: &str) -> Result<(), IdentityError> {
        let mut users = self.users.lock().unwrap();
        let user = users.get_mut(email).ok_or(IdentityError::UserNotFound)?;
        if !user.groups.iter().any(|g| g == group) {
            user.groups.push(group.to_owned());
        }
        Ok(())
    }
    async fn admin_delete_user(&self, email: &str) -> Result<(), IdentityError> {
        self.users
            .lock()
            .unwrap()
            .remove(email)
            .map(|_| ())
            .ok_or(IdentityError::UserNotFound)
    }
    async fn admin_get_user(&self, email: &str) -> Result<UserInfo, IdentityError> {
        self.users
            .lock()
            .unwrap()
            .get(email)
            .cloned()
            .ok_or(IdentityError::UserNotFound)
    }
}

/// An event consumer, subscribed as `name`, that records the deliveries it handles; it fails
/// (temporarily, so the dispatcher retries) the first `failures` attempts at each delivery.
pub struct RecordingConsumer {
    pub name: &'static str,
    failures: u32,
    attempts: AtomicUsize,
    handled: Mutex<Vec<Delivery>>,
}

impl RecordingConsumer {
    pub fn new(name: &'static str, failures: u32) -> Arc<Self> {
        Arc::new(Self {
            name,
            failures,
            attempts: AtomicUsize::new(0),
            handled: Mutex::new(Vec::new()),
        })
    }

    /// Every attempt so far, failed or not.
    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }

    /// The deliveries handled successfully, in the order they came.
    pub fn handled(&self) -> Vec<Delivery> {
        self.handled.lock().unwrap().clone()
    }

    /// (event id, event type, subject) of every successful delivery, in delivery order.
    pub fn seen(&self) -> Vec<(String, String, String)> {
        self.handled()
            .into_iter()
            .map(|d| (d.event_id, d.event.event_type, d.event.subject))
            .collect()
    }

    /// The types of the events about `subject` handled, in delivery order.
    pub fn types_for(&self, subject: &str) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter(|(_, _, s)| s == subject)
            .map(|(_, t, _)| t)
            .collect()
    }
}

#[async_trait]
impl Consumer for RecordingConsumer {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn handle(&self, delivery: &Delivery) -> Result<(), ConsumeError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if delivery.attempt <= self.failures {
            return Err(ConsumeError::Retry(anyhow!(
                "{} is down (attempt {})",
                self.name,
                delivery.attempt
            )));
        }
        self.handled.lock().unwrap().push(delivery.clone());
        Ok(())
    }
}
