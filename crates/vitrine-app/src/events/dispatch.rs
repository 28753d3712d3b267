//! The local shape's event dispatcher: from the outbox to one persisted queue per subscriber,
//! and from each queue to its consumer — what SNS with filtered SQS subscriptions does on AWS.
//!
//! Two steps, each an atomic batch on the Table port, so a crash at any point loses nothing
//! (the items are in [`crate::store::deliveries`]):
//! 1. **Fan-out**: an outbox event becomes one delivery per subscriber whose filter policy
//!    admits it, queued for that subscriber, and leaves the outbox, in the same batch.
//! 2. **Delivery**: each queue is read in event-id order and handed to its consumer. Success
//!    takes the delivery out of the queue (it is kept a week, marked done: the realtime replay
//!    reads it). A temporary failure retries with exponential backoff; after [`MAX_ATTEMPTS`],
//!    or at once for a permanent failure, the delivery moves to the subscriber's dead-letter
//!    list, which admins list and replay.
//!
//! Invariants:
//! - At-least-once: a delivery leaves its queue only after its consumer succeeded. A crash
//!   between the two re-delivers it, which is why consumers are idempotent by event id.
//! - In order per subject (order id, SKU) and subscriber: while an event waits for a retry,
//!   later events of the same subject wait behind it in that queue; other subjects go on.
//! - One pass at a time per process; queues are delivered concurrently within a pass, so a slow
//!   mail server does not hold up realtime pushes.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use vitrine_domain::Event;

use super::{ConsumeError, Consumer, Delivery, Subscription, subscriptions};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::ports::{Item, Query};
use crate::store::deliveries::{self, DeliveryRecord};
use crate::store::{self, Batch, Pager, WriteFailed};

/// Attempts before a delivery is dead-lettered.
pub const MAX_ATTEMPTS: u32 = 8;
/// How long delivered items are kept (the realtime replay window).
pub const KEEP_DELIVERED_SECS: i64 = 7 * 24 * 3600;
/// The dispatcher looks at the outbox at least this often, even when not woken.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// A consumer that takes longer than this on one delivery has failed it (retried).
pub const CONSUMER_TIMEOUT: Duration = Duration::from_secs(30);
/// Items read per page, and at most this many pages per queue per pass.
const PAGE: usize = 100;
const PAGES_PER_PASS: usize = 10;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// Outbox events fanned out.
    pub fanned_out: usize,
    /// Deliveries handled successfully.
    pub delivered: usize,
    /// Deliveries that failed and will be retried.
    pub retried: usize,
    /// Deliveries moved to a dead-letter list.
    pub dead_lettered: usize,
    /// The earliest time (ms) a waiting retry falls due, if any.
    pub next_due_ms: Option<i64>,
}

impl Pass {
    fn add(&mut self, other: Pass) {
        self.fanned_out += other.fanned_out;
        self.delivered += other.delivered;
        self.retried += other.retried;
        self.dead_lettered += other.dead_lettered;
        self.next_due_ms = match (self.next_due_ms, other.next_due_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// A delivery in a dead-letter list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub subscriber: String,
    pub event_id: String,
    pub event_type: String,
    pub subject: String,
    pub attempts: u32,
    pub last_error: String,
}

/// How many deliveries wait in, and have died out of, one subscriber's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueStatus {
    pub subscriber: String,
    pub pending: usize,
    pub dead: usize,
}

/// Runs the consumers of this process over the outbox.
pub struct Dispatcher {
    app: Arc<App>,
    /// The subscriptions that have a consumer here, with it.
    routes: Vec<(Subscription, Arc<dyn Consumer>)>,
    /// The first retry waits this long; each next one twice as long, up to [`Self::max_backoff`].
    base_backoff: Duration,
    max_backoff: Duration,
}

impl Dispatcher {
    /// A dispatcher for `consumers`, each matched by name to its subscription. A consumer without
    /// a subscription is a programming error (panics at start-up); a subscription without a
    /// consumer here gets no deliveries from this dispatcher.
    pub fn new(app: Arc<App>, consumers: Vec<Arc<dyn Consumer>>) -> Self {
        let mut by_name: HashMap<&'static str, Arc<dyn Consumer>> =
            consumers.into_iter().map(|c| (c.name(), c)).collect();
        let routes: Vec<_> = subscriptions(&app.settings)
            .into_iter()
            .filter_map(|s| by_name.remove(s.name).map(|c| (s, c)))
            .collect();
        let unknown: Vec<_> = by_name.keys().collect();
        assert!(
            unknown.is_empty(),
            "consumers without a subscription: {unknown:?}"
        );
        Self {
            app,
            routes,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
        }
    }

    /// Retry after `base`, `2 × base`, … up to `max` (tests use milliseconds).
    pub fn with_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_backoff = base;
        self.max_backoff = max;
        self
    }

    /// Dispatch until `shutdown` completes: a pass whenever an event is committed, whenever a
    /// retry falls due, and every [`POLL_EVERY`] regardless (events written by another process,
    /// such as the CLI). A failing pass is logged and retried on the next tick.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let wait = match Arc::clone(&self).pass().await {
                Ok(pass) => {
                    if pass != Pass::default() {
                        tracing::debug!(?pass, "event dispatch pass");
                    }
                    let now = self.app.ports.clock.now().millis();
                    pass.next_due_ms
                        .map(|due| Duration::from_millis(due.saturating_sub(now).max(1) as u64))
                        .map_or(POLL_EVERY, |d| d.min(POLL_EVERY))
                }
                Err(err) => {
                    tracing::error!(error = %format!("{err:#}"), "event dispatch pass failed");
                    POLL_EVERY
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = self.app.outbox_written.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One pass: fan the outbox out, then deliver every queue once (concurrently).
    pub async fn pass(self: Arc<Self>) -> AppResult<Pass> {
        let mut total = Pass {
            fanned_out: self.fan_out().await?,
            ..Pass::default()
        };
        let mut queues = tokio::task::JoinSet::new();
        for index in 0..self.routes.len() {
            let this = Arc::clone(&self);
            queues.spawn(async move { this.deliver_queue(index).await });
        }
        let mut first_error = None;
        while let Some(joined) = queues.join_next().await {
            match joined {
                Ok(Ok(pass)) => total.add(pass),
                Ok(Err(err)) => first_error = first_error.or(Some(err)),
                Err(panic) => {
                    first_error = first_error.or(Some(AppError::Internal(anyhow::anyhow!(
                        "a delivery task failed: {panic}"
                    ))));
                }
            }
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(total),
        }
    }

    /// Move outbox events into the queues of the subscribers that want them.
    async fn fan_out(&self) -> AppResult<usize> {
        let mut moved = 0;
        let mut pages = Pager::new(&*self.app.ports.table, deliveries::outbox().limit(PAGE));
        for _ in 0..PAGES_PER_PASS {
            let Some(items) = pages.next_page().await? else {
                break;
            };
            for item in &items {
                self.fan_out_one(item).await?;
                moved += 1;
            }
        }
        Ok(moved)
    }

    async fn fan_out_one(&self, item: &Item) -> AppResult<()> {
        let event_id = store::event_id(&item.key)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("{} is not an event", item.key.pk)))?
            .to_owned();
        let event: Event = store::decode(item)?;
        let span = tracing::debug_span!(
            "outbox.fan_out",
            event.id = %event_id,
            event.r#type = %event.event_type,
            trace_id = event.trace_id.as_deref().unwrap_or_default(),
        );
        tracing::Instrument::instrument(self.fan_out_event(event_id, event), span).await
    }

    async fn fan_out_event(&self, event_id: String, event: Event) -> AppResult<()> {
        let now = self.app.ports.clock.now().millis();
        let mut batch = Batch::new();
        for (s, _) in self
            .routes
            .iter()
            .filter(|(s, _)| s.admits(&event.attributes, &event.data))
        {
            batch.queue_delivery(s.name, &event_id, &event, now)?;
        }
        let subscribers = batch.len();
        // Out of the outbox in the same batch; the condition makes a concurrent fan-out of the
        // same event (another process) fail as a whole instead of queueing it twice.
        batch.take_out_of_outbox(&event_id);
        match self.app.write(batch).await {
            Ok(()) => {
                tracing::debug!(event.id = %event_id, event.r#type = %event.event_type, subscribers, "event fanned out");
                Ok(())
            }
            Err(WriteFailed::Condition { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Hand the due deliveries of one queue to its consumer, in event-id order.
    async fn deliver_queue(&self, index: usize) -> AppResult<Pass> {
        let (subscription, consumer) = &self.routes[index];
        let name = subscription.name;
        let mut pass = Pass::default();
        // Subjects with an earlier delivery still waiting: later ones wait behind it.
        let mut blocked: HashSet<String> = HashSet::new();
        let mut pages = Pager::new(
            &*self.app.ports.table,
            deliveries::pending(name).limit(PAGE),
        );
        for _ in 0..PAGES_PER_PASS {
            let Some(items) = pages.next_page().await? else {
                break;
            };
            for delivery in items.into_iter().map(DeliveryRecord::from) {
                let subject = delivery.subject.clone();
                if blocked.contains(&subject) {
                    continue;
                }
                let due = delivery.due;
                let now = self.app.ports.clock.now().millis();
                if due > now {
                    pass.add(Pass {
                        next_due_ms: Some(due),
                        ..Pass::default()
                    });
                    blocked.insert(subject);
                    continue;
                }
                match self.deliver_one(name, consumer.as_ref(), &delivery).await? {
                    Outcome::Delivered => pass.delivered += 1,
                    Outcome::Retry { due } => {
                        pass.retried += 1;
                        pass.add(Pass {
                            next_due_ms: Some(due),
                            ..Pass::default()
                        });
                        blocked.insert(subject);
                    }
                    Outcome::Dead => pass.dead_lettered += 1,
                }
            }
        }
        Ok(pass)
    }

    async fn deliver_one(
        &self,
        name: &str,
        consumer: &dyn Consumer,
        queued: &DeliveryRecord,
    ) -> AppResult<Outcome> {
        let event_id = queued.event_id.clone();
        let attempt = u32::try_from(queued.attempts).unwrap_or(u32::MAX - 1) + 1;
        let result = match queued.event() {
            Ok(event) => {
                let delivery = Delivery {
                    event_id: event_id.clone(),
                    event,
                    attempt,
                };
                let handled = super::handle_in_trace(consumer, &delivery);
                match tokio::time::timeout(CONSUMER_TIMEOUT, handled).await {
                    Ok(result) => result,
                    Err(_) => Err(ConsumeError::Retry(anyhow::anyhow!(
                        "no answer within {} s",
                        CONSUMER_TIMEOUT.as_secs()
                    ))),
                }
            }
            Err(err) => Err(ConsumeError::Reject(anyhow::anyhow!(
                "the stored event cannot be read: {err}"
            ))),
        };
        let now = self.app.ports.clock.now();
        let mut batch = Batch::new();
        let outcome = match result {
            Ok(()) => {
                batch.delivery_done(name, &event_id, attempt, now.secs() + KEEP_DELIVERED_SECS);
                Outcome::Delivered
            }
            Err(ConsumeError::Retry(err)) if attempt < MAX_ATTEMPTS => {
                let due = now.millis() + self.backoff(attempt).as_millis() as i64;
                tracing::warn!(
                    subscriber = name, event.id = %event_id, attempt, error = %format!("{err:#}"),
                    "delivery failed; will retry"
                );
                batch.delivery_retry(name, &event_id, attempt, due, format!("{err:#}"));
                Outcome::Retry { due }
            }
            Err(ConsumeError::Retry(err) | ConsumeError::Reject(err)) => {
                tracing::error!(
                    subscriber = name, event.id = %event_id, attempt, error = %format!("{err:#}"),
                    "delivery dead-lettered"
                );
                batch.delivery_dead(name, &event_id, attempt, format!("{err:#}"));
                Outcome::Dead
            }
        };
        match self.app.write(batch).await {
            // Replayed or handled by someone else meanwhile: theirs stands.
            Ok(()) | Err(WriteFailed::Condition { .. }) => Ok(outcome),
            Err(e) => Err(e.into()),
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.base_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

enum Outcome {
    Delivered,
    Retry { due: i64 },
    Dead,
}

impl App {
    /// The names of every subscriber.
    pub fn subscriber_names(&self) -> Vec<&'static str> {
        subscriptions(&self.settings)
            .iter()
            .map(|s| s.name)
            .collect()
    }

    fn check_subscriber(&self, subscriber: &str) -> AppResult<&'static str> {
        self.subscriber_names()
            .into_iter()
            .find(|n| *n == subscriber)
            .ok_or(AppError::NotFound("subscriber"))
    }

    /// Deliveries that failed for good, oldest first, for one subscriber or all.
    pub async fn dead_letters(&self, subscriber: Option<&str>) -> AppResult<Vec<DeadLetter>> {
        let names = match subscriber {
            Some(s) => vec![self.check_subscriber(s)?],
            None => self.subscriber_names(),
        };
        let mut out = Vec::new();
        for name in names {
            for item in self.all_in(deliveries::dead(name)).await? {
                let dead = DeliveryRecord::from(item);
                out.push(DeadLetter {
                    subscriber: name.to_owned(),
                    event_id: dead.event_id,
                    event_type: dead.event_type,
                    subject: dead.subject,
                    attempts: u32::try_from(dead.attempts).unwrap_or(0),
                    last_error: dead.last_error,
                });
            }
        }
        Ok(out)
    }

    /// Put a dead-lettered delivery back in its queue, due now, with its attempts reset.
    pub async fn replay_dead_letter(&self, subscriber: &str, event_id: &str) -> AppResult<()> {
        let name = self.check_subscriber(subscriber)?;
        let now = self.ports.clock.now().millis();
        let mut batch = Batch::new();
        batch.replay_dead_letter(name, event_id, now);
        match self.write(batch).await {
            Ok(()) => {
                tracing::info!(subscriber = name, event.id = %event_id, "dead letter replayed");
                self.outbox_written.notify_one();
                Ok(())
            }
            Err(WriteFailed::Condition { .. }) => Err(AppError::NotFound("dead letter")),
            Err(e) => Err(e.into()),
        }
    }

    /// Replay every dead letter of one subscriber or all; returns how many.
    pub async fn replay_dead_letters(&self, subscriber: Option<&str>) -> AppResult<usize> {
        let mut replayed = 0;
        for dead in self.dead_letters(subscriber).await? {
            match self
                .replay_dead_letter(&dead.subscriber, &dead.event_id)
                .await
            {
                Ok(()) => replayed += 1,
                Err(AppError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(replayed)
    }

    /// Pending and dead deliveries per subscriber.
    pub async fn event_queues(&self) -> AppResult<Vec<QueueStatus>> {
        let mut out = Vec::new();
        for name in self.subscriber_names() {
            out.push(QueueStatus {
                subscriber: name.to_owned(),
                pending: self.all_in(deliveries::pending(name)).await?.len(),
                dead: self.all_in(deliveries::dead(name)).await?.len(),
            });
        }
        Ok(out)
    }

    /// Events not yet fanned out to their subscribers.
    pub async fn outbox_len(&self) -> AppResult<usize> {
        Ok(self.all_in(deliveries::outbox()).await?.len())
    }

    /// Order events after `after` (an event id; `None`: the oldest kept), oldest first, at most
    /// `limit`: those of `customer` only, or every one for `None` (admins). Read from the
    /// realtime subscriber's deliveries, kept [`KEEP_DELIVERED_SECS`]; a client that reconnects
    /// asks for what it missed with the last id it saw.
    pub async fn order_events_after(
        &self,
        after: Option<&str>,
        customer: Option<&str>,
        limit: usize,
    ) -> AppResult<Vec<(String, Event)>> {
        let mut out = Vec::new();
        let mut pages = Pager::new(
            &*self.ports.table,
            deliveries::to_subscriber_after("realtime", after).limit(PAGE),
        );
        while let Some(items) = pages.next_page().await? {
            for delivered in items.into_iter().map(DeliveryRecord::from) {
                if customer.is_some_and(|c| delivered.customer.as_deref() != Some(c)) {
                    continue;
                }
                let event = delivered.event()?;
                out.push((delivered.event_id, event));
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    /// Every item of a queue, a dead-letter list or the outbox (they are small).
    async fn all_in(&self, query: Query) -> AppResult<Vec<Item>> {
        Pager::new(&*self.ports.table, query.limit(PAGE))
            .all()
            .await
    }
}

impl App {
    /// Record that `subscriber` has handled `event` outside the local dispatcher — on AWS, where
    /// each subscriber's queue feeds its own function — with the very item the dispatcher leaves
    /// behind for a delivery it is done with (`Batch::record_delivered`): status `done`, out of
    /// every queue, kept [`KEEP_DELIVERED_SECS`]. For `realtime` that is what
    /// [`App::order_events_after`] reads, so a client reconnecting on AWS is sent what it missed
    /// exactly as locally. Idempotent: a re-delivered event rewrites the same item.
    pub async fn record_delivered(
        &self,
        subscriber: &str,
        event_id: &str,
        event: &Event,
        attempt: u32,
    ) -> AppResult<()> {
        let name = self.check_subscriber(subscriber)?;
        let now = self.ports.clock.now();
        let mut batch = Batch::new();
        batch.record_delivered(
            name,
            event_id,
            event,
            attempt,
            now.millis(),
            now.secs() + KEEP_DELIVERED_SECS,
        )?;
        self.write(batch).await?;
        Ok(())
    }

    /// Whether `subscriber` is recorded as done with the event `event_id`
    /// ([`App::record_delivered`], or a delivery the local dispatcher finished), within the
    /// [`KEEP_DELIVERED_SECS`] such a record is kept.
    pub async fn was_delivered(&self, subscriber: &str, event_id: &str) -> AppResult<bool> {
        let name = self.check_subscriber(subscriber)?;
        let item = self
            .ports
            .table
            .get(&store::delivery(name, event_id))
            .await
            .map_err(AppError::from)?;
        Ok(item.as_ref().is_some_and(deliveries::is_done))
    }
}
