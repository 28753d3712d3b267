//! Sessions that end before their tokens do. Access tokens are verified offline (their
//! signature and expiry) and live an hour; a sign-out or a password reset must stop them
//! sooner. Each is written to the table ([`crate::store::revocations`]) until the tokens it
//! concerns expire, and every API process keeps what is revoked in memory, read again at most
//! every [`REFRESH_SECS`] seconds: a revocation takes effect within a minute everywhere (at once
//! in the process that wrote it), for the cost of one small query a minute per process, not a
//! read per request.
//!
//! Both shapes: locally the built-in identity provider also revokes the refresh token; on AWS
//! Cognito does (`RevokeToken`), and this list stops the access tokens Cognito cannot recall.

use std::sync::Arc;

use crate::app::App;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::store::revocations::{self, Revoked};

/// How old the in-memory list may get before it is read again.
pub const REFRESH_SECS: i64 = 60;
/// How long a revocation is kept: the access tokens' lifetime (an hour, both providers), with a
/// margin for clocks.
pub const KEEP_SECS: i64 = 3600 + 300;
/// The most revocation items one read takes in (they live an hour).
const MAX_READ: usize = 50_000;

impl App {
    /// Whether `who`'s token belongs to a session that was signed out, or was issued before
    /// its user's password was reset.
    pub async fn is_revoked(&self, who: &Principal) -> AppResult<bool> {
        let list = self.revoked_list().await?;
        let session = who
            .session
            .as_ref()
            .is_some_and(|s| list.sessions.contains(s));
        let reset = list
            .users
            .get(&who.sub)
            // `iat` has whole seconds: a token of the reset's own second is let through, so that
            // signing in right after a reset works.
            .is_some_and(|before| who.issued_at < *before);
        Ok(session || reset)
    }

    async fn revoked_list(&self) -> AppResult<Arc<Revoked>> {
        let now = self.ports.clock.now().secs();
        if let Some(list) = self.revoked.fresh(now, REFRESH_SECS) {
            return Ok(list);
        }
        // One read at a time; the others wait for it instead of reading too.
        let _reading = self.revoked.reading.lock().await;
        if let Some(list) = self.revoked.fresh(now, REFRESH_SECS) {
            return Ok(list);
        }
        let list = revocations::load(&*self.ports.table, now, MAX_READ).await?;
        Ok(self.revoked.store(now, list))
    }

    /// End the session `who` signed in as (its access tokens refused from now on).
    pub async fn revoke_session(&self, who: &Principal) -> AppResult<()> {
        let Some(session) = who.session.clone() else {
            return Ok(());
        };
        let now = self.ports.clock.now().secs();
        revocations::revoke_session(&*self.ports.table, &session, now + KEEP_SECS).await?;
        self.revoked.add(|list| {
            list.sessions.insert(session);
        });
        Ok(())
    }

    /// Refuse every token of `sub` issued until now (after a password reset).
    pub async fn revoke_user_tokens(&self, sub: &str) -> AppResult<()> {
        let now = self.ports.clock.now().secs();
        revocations::revoke_user_before(&*self.ports.table, sub, now, now + KEEP_SECS).await?;
        self.revoked.add(|list| {
            list.users.insert(sub.to_owned(), now);
        });
        Ok(())
    }
}
