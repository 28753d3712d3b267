//! Time and identifiers come through ports so tests are deterministic.

use std::sync::atomic::{AtomicI64, Ordering};

use vitrine_domain::Timestamp;

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        Timestamp::from_millis(ms)
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        Self(AtomicI64::new(at.millis()))
    }
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// Time-sortable unique identifiers (ULIDs: 26 characters, Crockford base32).
pub trait Ids: Send + Sync {
    fn new_id(&self) -> String;
}

/// ULIDs from the system clock and the thread RNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct UlidIds;

/// One generator for the process: ids increase even within a millisecond, so events made one
/// after another (an order placed, then paid) sort — and are delivered — in the order they were
/// made. A plain `Ulid::new()` draws the low 80 bits at random and may sort them backwards.
static ULIDS: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());

impl Ids for UlidIds {
    fn new_id(&self) -> String {
        let next = ULIDS.lock().unwrap_or_else(|e| e.into_inner()).generate();
        // Overflow needs 2^80 ids in one millisecond; fall back to a random one all the same.
        next.unwrap_or_else(|_| ulid::Ulid::new()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_one_after_another_sort_in_that_order() {
        let ids: Vec<String> = (0..10_000).map(|_| UlidIds.new_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids.iter().all(|id| id.len() == 26));
    }
}
