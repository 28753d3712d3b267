//! Send budgets: how many messages of one kind went to one recipient (an e-mail address, a phone
//! number) or were asked for by one client address, counted in the table so that a restart of
//! `vitrine serve` or a fleet of Lambda instances shares one count.
//!
//! A budget is a fixed window: the item `BUDGET#{kind}#{subject}` / `W#{secs}#{index}` counts the
//! sends of window number `index` (time since the epoch divided by the window's length). Each
//! window is its own item, so an expired window that the engine has not removed yet (DynamoDB
//! deletes expired items lazily) is never counted on; its `ttl` lets the engine drop it.
//!
//! The subject is kept only as a SHA-256 digest: the table holds no address or number in clear
//! for these counters, and the key length does not depend on the input.
//!
//! Taking is one conditional update (`count < limit`, or a new window), so concurrent senders
//! can never spend more than the limit together.

use sha2::{Digest, Sha256};

use crate::error::AppResult;
use crate::ports::table::TTL;
use crate::ports::{Condition, Key, Table, TableError, Update, Value};

/// The attribute holding a window's count.
const COUNT: &str = "count";

/// One budget: at most `limit` sends per `window_secs` for each subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// What is counted (`signup-mail`, `sms`, …): part of the key.
    pub kind: &'static str,
    pub limit: i64,
    pub window_secs: i64,
}

/// The answer of [`take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// One send was counted.
    Granted,
    /// The window's budget is spent; it renews in this many seconds.
    Spent { retry_after_secs: u64 },
}

impl Taken {
    pub fn granted(self) -> bool {
        self == Taken::Granted
    }
}

/// The item counting `subject`'s sends of `budget` in the window holding `now_secs`.
fn window_key(budget: &Budget, subject: &str, now_secs: i64) -> (Key, i64) {
    let window = budget.window_secs.max(1);
    let index = now_secs.div_euclid(window);
    let digest = Sha256::digest(subject.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    let key = super::keys::budget_window(budget.kind, &hex, window, index);
    (key, (index + 1) * window)
}

/// Count one send of `budget` for `subject` at `now_secs`, unless the window's budget is spent.
pub async fn take(
    table: &dyn Table,
    budget: &Budget,
    subject: &str,
    now_secs: i64,
) -> AppResult<Taken> {
    let (key, window_end) = window_key(budget, subject, now_secs);
    let result = table
        .update_returning(
            key,
            vec![
                Update::Add(COUNT.into(), 1),
                // Kept a minute past the window's end: clocks of several instances differ.
                Update::Set(TTL.into(), Value::N(window_end + 60)),
            ],
            Some(Condition::Or(vec![
                Condition::NotExists,
                Condition::Lt(COUNT.into(), Value::N(budget.limit)),
            ])),
        )
        .await;
    match result {
        Ok(_) => Ok(Taken::Granted),
        Err(TableError::ConditionFailed { .. }) => Ok(Taken::Spent {
            retry_after_secs: u64::try_from(window_end - now_secs).unwrap_or(1).max(1),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Take every one of `budgets` for `subject`, all or none: the first spent one answers, and the
/// ones already counted keep their count (a refused attempt still counts against the shorter
/// windows, which is what a budget against flooding wants).
pub async fn take_all(
    table: &dyn Table,
    budgets: &[Budget],
    subject: &str,
    now_secs: i64,
) -> AppResult<Taken> {
    for budget in budgets {
        let taken = take(table, budget, subject, now_secs).await?;
        if !taken.granted() {
            return Ok(taken);
        }
    }
    Ok(Taken::Granted)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOURLY: Budget = Budget {
        kind: "test",
        limit: 3,
        window_secs: 3600,
    };

    #[test]
    fn a_window_is_named_by_its_index_and_the_subject_only_by_a_digest() {
        let (key, end) = window_key(&HOURLY, "ana@example.com", 7_200 + 5);
        assert_eq!(key.sk, "W#3600#2");
        assert_eq!(end, 10_800);
        assert!(key.pk.starts_with("BUDGET#test#"));
        assert!(!key.pk.contains("ana"));
        assert_eq!(key.pk.len(), "BUDGET#test#".len() + 32);
        let (next, _) = window_key(&HOURLY, "ana@example.com", 10_800);
        assert_eq!(next.sk, "W#3600#3");
        let (other, _) = window_key(&HOURLY, "bia@example.com", 7_200);
        assert_ne!(other.pk, key.pk);
    }

    #[tokio::test]
    async fn parallel_takes_never_spend_more_than_the_limit_and_the_next_window_starts_afresh() {
        use crate::notify::testing::MemTable;
        let table = std::sync::Arc::new(MemTable::default());
        let now = 1_800_000_000 - 10; // ten seconds before a window's end
        let takes = (0..10).map(|_| {
            let table = table.clone();
            tokio::spawn(async move { take(&*table, &HOURLY, "ana@example.com", now).await })
        });
        let mut granted = 0;
        for handle in takes {
            match handle.await.unwrap().unwrap() {
                Taken::Granted => granted += 1,
                Taken::Spent { retry_after_secs } => assert_eq!(retry_after_secs, 10),
            }
        }
        assert_eq!(granted, 3);
        // Another subject has its own budget; the next window starts from zero.
        assert!(
            take(&*table, &HOURLY, "bia@example.com", now)
                .await
                .unwrap()
                .granted()
        );
        assert!(
            take(&*table, &HOURLY, "ana@example.com", now + 10)
                .await
                .unwrap()
                .granted()
        );
        // take_all stops at the first spent budget.
        let daily = Budget {
            kind: "test-day",
            limit: 1,
            window_secs: 86_400,
        };
        let both = [HOURLY, daily];
        assert!(
            take_all(&*table, &both, "caio@example.com", now)
                .await
                .unwrap()
                .granted()
        );
        assert!(
            !take_all(&*table, &both, "caio@example.com", now)
                .await
                .unwrap()
                .granted()
        );
    }
}
