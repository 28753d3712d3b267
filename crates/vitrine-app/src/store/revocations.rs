//! Revoked sessions: access tokens are verified offline and live an hour, so a sign-out or a
//! password reset is also written here, where every API process reads it (at most a minute
//! late: `crate::sessions`), until the tokens it concerns have expired.
//!
//! | item | pk | sk | |
//! |---|---|---|---|
//! | a signed-out session | `REVOKED` | `SESSION#{origin_jti}` | ttl: when its last token expires |
//! | a user's sessions before a time (password reset) | `REVOKED` | `RESET#{sub}` | `before` (s); ttl |

use std::sync::{Arc, Mutex};

use crate::error::AppResult;
use crate::ports::table::{TTL, is_expired};
use crate::ports::{Index, Item, Key, Query, Table, WriteOp};

use super::Pager;

const PARTITION: &str = "REVOKED";
const SESSION: &str = "SESSION#";
// Sorted before the sessions, so that a cap on what is read never hides a password reset.
const USER: &str = "RESET#";
const BEFORE: &str = "before";

/// What is revoked now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revoked {
    /// Sessions (`origin_jti`) signed out.
    pub sessions: std::collections::HashSet<String>,
    /// Users whose tokens issued before a time (s) are refused.
    pub users: std::collections::HashMap<String, i64>,
}

/// Revoke the session `origin_jti` until `until` (s, when its tokens have expired).
pub async fn revoke_session(table: &dyn Table, origin_jti: &str, until: i64) -> AppResult<()> {
    let item = Item::new(Key::new(PARTITION, format!("{SESSION}{origin_jti}"))).with(TTL, until);
    table.write(vec![WriteOp::put(item)]).await?;
    Ok(())
}

/// Refuse the tokens of user `sub` issued before `before` (s), until `until` (s).
pub async fn revoke_user_before(
    table: &dyn Table,
    sub: &str,
    before: i64,
    until: i64,
) -> AppResult<()> {
    let item = Item::new(Key::new(PARTITION, format!("{USER}{sub}")))
        .with(BEFORE, before)
        .with(TTL, until);
    table.write(vec![WriteOp::put(item)]).await?;
    Ok(())
}

/// Everything revoked and not yet expired at `now` (s), reading at most `max` items.
pub async fn load(table: &dyn Table, now: i64, max: usize) -> AppResult<Revoked> {
    let mut revoked = Revoked::default();
    let mut pages = Pager::new(table, Query::new(Index::Primary, PARTITION).limit(500));
    let mut read = 0;
    while let Some(items) = pages.next_page().await? {
        for item in items {
            read += 1;
            if is_expired(&item, now) {
                continue;
            }
            if let Some(session) = item.key.sk.strip_prefix(SESSION) {
                revoked.sessions.insert(session.to_owned());
            } else if let Some(sub) = item.key.sk.strip_prefix(USER) {
                revoked
                    .users
                    .insert(sub.to_owned(), item.num(BEFORE).unwrap_or(0));
            }
        }
        if read >= max {
            tracing::warn!(
                read,
                "more revoked sessions than the cache reads; the rest expire with their tokens"
            );
            break;
        }
    }
    Ok(revoked)
}

/// The revoked sessions in memory, for `crate::sessions`: read at most every minute.
#[derive(Debug, Default)]
pub struct RevokedCache {
    state: Mutex<Option<(i64, Arc<Revoked>)>>,
    pub(crate) reading: tokio::sync::Mutex<()>,
}

impl RevokedCache {
    /// The list when it was read less than `max_age` seconds before `now`.
    pub(crate) fn fresh(&self, now: i64, max_age: i64) -> Option<Arc<Revoked>> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .as_ref()
            .filter(|(at, _)| now - at < max_age)
            .map(|(_, list)| list.clone())
    }

    pub(crate) fn store(&self, now: i64, list: Revoked) -> Arc<Revoked> {
        let list = Arc::new(list);
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some((now, list.clone()));
        list
    }

    /// Add to the list in memory (what this process revoked counts at once).
    pub(crate) fn add(&self, edit: impl FnOnce(&mut Revoked)) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, list)) = state.as_mut() {
            edit(Arc::make_mut(list));
        }
    }
}
