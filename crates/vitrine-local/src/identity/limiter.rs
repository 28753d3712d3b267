//! The in-memory sign-in and code-mail rate limits: sliding windows per e-mail or address.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use vitrine_domain::Timestamp;

use super::RateLimit;

/// Sliding-window counters in memory, keyed by e-mail or address.
#[derive(Debug)]
pub(super) struct Limiter {
    limit: RateLimit,
    state: Mutex<LimiterState>,
}

#[derive(Debug, Default)]
struct LimiterState {
    hits: HashMap<String, VecDeque<i64>>,
    /// Map size at which stale keys are swept next; doubles with the live size so sweeping stays
    /// amortised O(1) per event even under a flood of distinct keys.
    sweep_at: usize,
}

const LIMITER_MIN_SWEEP: usize = 1024;

impl Limiter {
    pub(super) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            state: Mutex::new(LimiterState {
                hits: HashMap::new(),
                sweep_at: LIMITER_MIN_SWEEP,
            }),
        }
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.limit.window.as_millis()).unwrap_or(i64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        // The state is a cache of counters: after a panic elsewhere it is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Count one event for `key` at `now`, or refuse with `Err(seconds to wait)` — without
    /// counting — when its budget is used up. Checking and counting under one lock is what makes
    /// the limit hold for concurrent requests.
    pub(super) fn take(&self, key: &str, now: Timestamp) -> Result<(), u64> {
        self.count(key, now, true)
    }

    /// Count one event for `key` at `now`, even over the budget.
    pub(super) fn record(&self, key: &str, now: Timestamp) {
        let _ = self.count(key, now, false);
    }

    fn count(&self, key: &str, now: Timestamp, refuse_over_budget: bool) -> Result<(), u64> {
        let window = self.window_ms();
        let max = self.limit.max as usize;
        let now = now.millis();
        let mut state = self.lock();
        if state.hits.len() >= state.sweep_at {
            state
                .hits
                .retain(|_, hits| hits.back().is_some_and(|&t| t > now - window));
            state.sweep_at = (state.hits.len() * 2).max(LIMITER_MIN_SWEEP);
        }
        let hits = state.hits.entry(key.to_owned()).or_default();
        while hits.front().is_some_and(|&t| t <= now - window) {
            hits.pop_front();
        }
        if refuse_over_budget && hits.len() >= max {
            let oldest = hits.front().copied().unwrap_or(now);
            let wait_ms = (oldest + window - now).max(1);
            return Err(u64::try_from(wait_ms).unwrap_or(u64::MAX).div_ceil(1000));
        }
        hits.push_back(now);
        // Only the newest `max` events can matter to `take`.
        while hits.len() > max {
            hits.pop_front();
        }
        Ok(())
    }

    /// Uncount one event counted at `at` (an attempt that turned out fine).
    pub(super) fn give_back(&self, key: &str, at: Timestamp) {
        let mut state = self.lock();
        if let Some(hits) = state.hits.get_mut(key)
            && let Some(i) = hits.iter().rposition(|&t| t == at.millis())
        {
            hits.remove(i);
            if hits.is_empty() {
                state.hits.remove(key);
            }
        }
    }

    pub(super) fn clear(&self, key: &str) {
        self.lock().hits.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_limiter_refuses_past_its_budget_until_the_window_slides() {
        let limiter = Limiter::new(RateLimit {
            max: 2,
            window: Duration::from_secs(60),
        });
        let t0 = Timestamp::from_secs(1_000);
        assert_eq!(limiter.take("k", t0), Ok(()));
        assert_eq!(limiter.take("k", t0.plus_secs(10)), Ok(()));
        assert_eq!(limiter.take("k", t0.plus_secs(10)), Err(50));
        assert_eq!(
            limiter.take("k", t0.plus_secs(59)),
            Err(1),
            "a refusal is not counted"
        );
        assert_eq!(limiter.take("other", t0), Ok(()));
        assert_eq!(
            limiter.take("k", t0.plus_secs(60)),
            Ok(()),
            "the first hit left the window"
        );
        limiter.clear("k");
        assert_eq!(limiter.take("k", t0.plus_secs(61)), Ok(()));
    }

    #[test]
    fn a_given_back_event_frees_its_place() {
        let limiter = Limiter::new(RateLimit {
            max: 1,
            window: Duration::from_secs(60),
        });
        let t0 = Timestamp::from_secs(1_000);
        limiter.take("k", t0).unwrap();
        limiter.give_back("k", t0);
        assert_eq!(limiter.take("k", t0), Ok(()));
        limiter.record("k", t0);
        assert!(
            limiter.take("k", t0).is_err(),
            "recorded events count even over the budget"
        );
    }

    #[test]
    fn the_limiter_forgets_stale_keys() {
        let limiter = Limiter::new(RateLimit {
            max: 1,
            window: Duration::from_secs(1),
        });
        for i in 0..10 * LIMITER_MIN_SWEEP {
            limiter.record(&i.to_string(), Timestamp::from_secs(i as i64));
        }
        assert!(limiter.lock().hits.len() <= LIMITER_MIN_SWEEP);
    }
}
