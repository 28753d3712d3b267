//! The application's background work (the event dispatcher, the expiry sweep, …) and its
//! orderly stop: every worker is told to stop, then awaited, so that nothing the app started is
//! still writing once [`Workers::stop`] returns. `vitrine serve` stops through here on SIGTERM
//! and Ctrl-C, and so do the tests that run the server in process.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long [`Workers::stop`] lets workers finish what they are doing before cutting them short.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// A worker's view of the stop request: await [`StopSignal::requested`] beside its work.
#[derive(Clone)]
pub struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// Completes once a stop has been requested (at once if it already was).
    pub async fn requested(mut self) {
        // An error means the sender is gone, which also means: stop.
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Whether a stop has been requested.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }
}

/// The running workers.
pub struct Workers {
    stop: watch::Sender<bool>,
    running: Mutex<Vec<(&'static str, JoinHandle<()>)>>,
}

impl Default for Workers {
    fn default() -> Self {
        Self {
            stop: watch::channel(false).0,
            running: Mutex::new(Vec::new()),
        }
    }
}

impl Workers {
    /// Start `work` (given the stop signal) as a task named `name`. A worker started after a
    /// stop was requested sees the request at once.
    pub fn spawn<F, Fut>(&self, name: &'static str, work: F)
    where
        F: FnOnce(StopSignal) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(work(StopSignal(self.stop.subscribe())));
        let mut running = self.lock();
        // Workers that came and went (a background rebuild) are not kept.
        running.retain(|(_, h)| !h.is_finished());
        running.push((name, handle));
    }

    /// Ask every worker to stop and wait for all of them: each gets `grace` to finish what it
    /// is doing, then is cut short (at its next await point) and awaited all the same.
    pub async fn stop(&self, grace: Duration) {
        self.stop.send_replace(true);
        let running = std::mem::take(&mut *self.lock());
        let deadline = tokio::time::Instant::now() + grace;
        for (name, mut handle) in running {
            match tokio::time::timeout_at(deadline, &mut handle).await {
                Ok(Ok(())) => tracing::debug!(worker = name, "worker stopped"),
                Ok(Err(e)) if e.is_panic() => tracing::error!(worker = name, "worker panicked"),
                Ok(Err(_)) => {}
                Err(_) => {
                    tracing::warn!(
                        worker = name,
                        grace_secs = grace.as_secs(),
                        "worker did not stop in time; cutting it short"
                    );
                    handle.abort();
                    let _ = handle.await;
                }
            }
        }
    }

    /// How many workers are running.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(&'static str, JoinHandle<()>)>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn stop_waits_for_the_work_in_hand_to_finish() {
        let workers = Workers::default();
        let done = Arc::new(AtomicUsize::new(0));
        let seen = done.clone();
        workers.spawn("slow", move |stop| async move {
            stop.requested().await;
            // Work that finishes after the request, before the worker returns.
            tokio::time::sleep(Duration::from_millis(50)).await;
            seen.fetch_add(1, Ordering::SeqCst);
        });
        workers.stop(STOP_GRACE).await;
        assert_eq!(
            done.load(Ordering::SeqCst),
            1,
            "stop returned before the worker finished"
        );
        assert!(workers.is_empty());
    }

    #[tokio::test]
    async fn a_worker_that_ignores_the_request_is_cut_short_after_the_grace() {
        let workers = Workers::default();
        let dropped = Arc::new(AtomicUsize::new(0));
        struct Guard(Arc<AtomicUsize>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let guard = Guard(dropped.clone());
        workers.spawn("stubborn", move |_stop| async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        workers.stop(Duration::from_millis(100)).await;
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            1,
            "the worker's state was released"
        );
    }

    #[tokio::test]
    async fn a_worker_started_after_stop_sees_it_at_once() {
        let workers = Workers::default();
        workers.stop(STOP_GRACE).await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        workers.spawn("late", move |stop| async move {
            let _ = tx.send(stop.is_requested());
        });
        assert!(rx.await.unwrap());
        workers.stop(STOP_GRACE).await;
    }
}
