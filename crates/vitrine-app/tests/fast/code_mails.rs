//! Code mails (issue 18, finding 6): with the worker started (`vitrine serve`), a request for a
//! code is answered once queued, before the identity provider writes and mails the code, for a
//! registered address and an unknown one alike; stopping the app still sends what was asked
//! for. Without the worker (a Lambda function) the request asks the provider itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Semaphore;
use vitrine_app::ports::identity::{IdentityError, UserInfo};
use vitrine_app::ports::{ClientInfo, Identity, NewUser, Tokens};
use vitrine_app::workers::STOP_GRACE;
use vitrine_testkit::doubles::Unused;

use crate::world::World;

const KNOWN: &str = "cadastrada@example.com";
const UNKNOWN: &str = "ninguem@example.com";

/// An identity provider whose code mails wait for `gate`: what was asked of it, and what it
/// finished, in order.
struct SlowMails {
    asked: Mutex<Vec<String>>,
    done: Mutex<Vec<String>>,
    gate: Semaphore,
}

impl Default for SlowMails {
    /// The gate closed.
    fn default() -> Self {
        Self {
            asked: Mutex::default(),
            done: Mutex::default(),
            gate: Semaphore::new(0),
        }
    }
}

impl SlowMails {
    async fn code(&self, what: &str, email: &str) -> Result<(), IdentityError> {
        let entry = format!("{what} {email}");
        self.asked.lock().unwrap().push(entry.clone());
        let _turn = self.gate.acquire().await.unwrap();
        self.done.lock().unwrap().push(entry);
        if email == KNOWN {
            Ok(())
        } else {
            Err(IdentityError::UserNotFound)
        }
    }

    fn done(&self) -> Vec<String> {
        self.done.lock().unwrap().clone()
    }
}

#[async_trait]
impl Identity for SlowMails {
    async fn sign_up(&self, user: NewUser) -> Result<String, IdentityError> {
        Unused.sign_up(user).await
    }
    async fn confirm_sign_up(&self, email: &str, code: &str) -> Result<(), IdentityError> {
        Unused.confirm_sign_up(email, code).await
    }
    async fn resend_code(&self, email: &str) -> Result<(), IdentityError> {
        self.code("code", email).await
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
        self.code("reset", email).await
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
        Unused.admin_create_user(user, groups).await
    }
    async fn admin_add_to_group(&self, email: &str, group: &str) -> Result<(), IdentityError> {
        Unused.admin_add_to_group(email, group).await
    }
    async fn admin_get_user(&self, email: &str) -> Result<UserInfo, IdentityError> {
        Unused.admin_get_user(email).await
    }
    async fn admin_delete_user(&self, email: &str) -> Result<(), IdentityError> {
        Unused.admin_delete_user(email).await
    }
}

/// A guard against a hang, not a measure: a request that waited for the provider would wait
/// forever on the closed gate.
async fn answered<F: std::future::Future>(request: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), request)
        .await
        .expect("the request waited for the identity provider's mail")
}

#[tokio::test]
async fn with_the_worker_a_code_request_is_answered_before_the_code_is_written_or_mailed() {
    let slow = Arc::new(SlowMails::default());
    let world = World::with_identity(slow.clone());
    let app = &world.app;
    app.start_code_mail_worker();
    let client = ClientInfo::default();
    for email in [KNOWN, UNKNOWN] {
        answered(app.forgot_password(email, &client)).await.unwrap();
        answered(app.resend_code(email, &client)).await.unwrap();
    }
    assert!(
        slow.done().is_empty(),
        "nothing was sent before the answers"
    );
    // The stop sends what was asked for, in order.
    slow.gate.add_permits(100);
    app.stop_workers(STOP_GRACE).await;
    assert_eq!(
        slow.done(),
        [
            format!("reset {KNOWN}"),
            format!("code {KNOWN}"),
            format!("reset {UNKNOWN}"),
            format!("code {UNKNOWN}"),
        ]
    );
    assert_eq!(*slow.asked.lock().unwrap(), slow.done());
}

#[tokio::test]
async fn without_the_worker_the_request_asks_the_provider_itself() {
    let slow = Arc::new(SlowMails::default());
    slow.gate.add_permits(100);
    let world = World::with_identity(slow.clone());
    world
        .app
        .forgot_password(KNOWN, &ClientInfo::default())
        .await
        .unwrap();
    assert_eq!(slow.done(), [format!("reset {KNOWN}")]);
}
