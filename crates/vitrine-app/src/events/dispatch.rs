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

/// What a reconnecting realtime client missed ([`App::order_events_after`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MissedEvents {
    /// `(event id, event)`, oldest first.
    pub events: Vec<(String, Event)>,
    /// The client missed more than `events`: more than the limit, or events before the window.
    pub truncated: bool,
}

/// The smallest event id of the resume window ending at `now_ms`: event ids are ULIDs, whose
/// first 48 bits are the time they were made (ms), so every id made at or after
/// `now_ms - window_secs` sorts at or after this one.
fn resume_floor(now_ms: i64, window_secs: i64) -> String {
    let start = now_ms
        .saturating_sub(window_secs.saturating_mul(1000))
        .max(0);
    ulid::Ulid::from_parts(start as u64, 0).to_string()
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

    /// The order events a reconnecting realtime client missed: those after the event id `after`,
    /// oldest first — of `customer` only, or every one for `None` (admins) — read from the
    /// realtime subscriber's deliveries ([`KEEP_DELIVERED_SECS`]).
    ///
    /// Bounded whatever the client sends: at most `limit` events, and never more than the
    /// setting [`realtime_resume_max_events`](crate::settings::Settings::realtime_resume_max_events),
    /// reading at most one item more than that (to tell whether more were missed) plus one when
    /// `after` predates the window; nothing older than
    /// [`realtime_resume_secs`](crate::settings::Settings::realtime_resume_secs) (an older
    /// `after`, or `0`, replays the window only). A customer's events are read from their own
    /// index partition, so other customers' events cost nothing. `truncated` says the client
    /// missed more than it is sent (more events than the limit, or some before the window): it
    /// reloads its orders over REST.
    pub async fn order_events_after(
        &self,
        after: &str,
        customer: Option<&str>,
        limit: usize,
    ) -> AppResult<MissedEvents> {
        // The realtime pusher's deliveries (`notify::RealtimePusher::NAME`), the subscriber the store
        // indexes by customer.
        const REALTIME: &str = deliveries::BY_CUSTOMER[0];
        let take = limit.min(self.settings.realtime_resume_max_events);
        let window_start = resume_floor(
            self.ports.clock.now().millis(),
            self.settings.realtime_resume_secs,
        );
        let from = if *after < *window_start {
            &window_start
        } else {
            after
        };
        let query = |after: &str| match customer {
            Some(customer) => deliveries::to_customer_after(REALTIME, customer, after),
            None => deliveries::to_subscriber_after(REALTIME, after),
        };
        let table = &*self.ports.table;
        let items = Pager::new(table, query(from)).first(take + 1).await?;
        let mut truncated = items.len() > take;
        if !truncated && from != after {
            // Anything between `after` and the window is lost to this client: say so.
            let before = Pager::new(table, query(after)).first(1).await?;
            truncated = before.first().is_some_and(|i| *i.key.sk < *window_start);
        }
        let mut events = Vec::with_capacity(items.len().min(take));
        for delivered in items.into_iter().take(take).map(DeliveryRecord::from) {
            let event = delivered.event()?;
            events.push((delivered.event_id, event));
        }
        Ok(MissedEvents { events, truncated })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Settings;
    use crate::notify::testing::{CountingTable, Harness};

    const ANA: &str = "c0ffee00-0000-4000-8000-0000000000a1";

    struct World {
        _harness: Harness,
        app: Arc<App>,
        table: Arc<CountingTable>,
        now_ms: u64,
    }

    impl World {
        fn new() -> Self {
            let harness = Harness::new();
            let table = Arc::new(CountingTable::new(harness.app.ports.table.clone()));
            let ports = crate::app::Ports {
                table: table.clone(),
                ..harness.app.ports.clone()
            };
            let now_ms = harness.app.ports.clock.now().millis() as u64;
            Self {
                app: App::new(ports, Settings::default()),
                _harness: harness,
                table,
                now_ms,
            }
        }

        /// An event id made `ago_secs` before now (ULIDs carry their time), `n`-th of that ms.
        fn id(&self, ago_secs: u64, n: u128) -> String {
            ulid::Ulid::from_parts(self.now_ms - ago_secs * 1000, n).to_string()
        }

        /// The realtime subscriber is recorded done with an order event of `customer`.
        async fn delivered(&self, id: &str, customer: &str) -> Event {
            let event = Event::new(
                "order.placed",
                format!("ORDER-{id}"),
                serde_json::json!({ "order_id": format!("ORDER-{id}") }),
            )
            .for_customer(customer);
            self.app
                .record_delivered("realtime", id, &event, 1)
                .await
                .unwrap();
            event
        }

        /// `order_events_after`, and how many items it read.
        async fn resume(
            &self,
            after: &str,
            customer: Option<&str>,
            limit: usize,
        ) -> (MissedEvents, usize) {
            self.table.take();
            let missed = self
                .app
                .order_events_after(after, customer, limit)
                .await
                .unwrap();
            (missed, self.table.take())
        }
    }

    fn ids(missed: &MissedEvents) -> Vec<&str> {
        missed.events.iter().map(|(id, _)| id.as_str()).collect()
    }

    #[tokio::test]
    async fn a_customers_resume_after_0_reads_their_own_events_of_the_window_only() {
        let w = World::new();
        // Two days ago (outside the window): one of Ana's.
        w.delivered(&w.id(2 * 24 * 3600, 0), ANA).await;
        // The last hour: 1,000 events of other customers, and 3 of Ana's among them.
        let mut own = Vec::new();
        for n in 0..1_000u128 {
            let id = w.id(3600 - (n as u64) * 3, n);
            w.delivered(&id, &format!("other-{}", n % 50)).await;
            if n % 400 == 7 {
                let id = w.id(3600 - (n as u64) * 3, 5_000 + n);
                w.delivered(&id, ANA).await;
                own.push(id);
            }
        }
        assert_eq!(own.len(), 3);

        let (missed, read) = w.resume("0", Some(ANA), 1_000).await;
        assert_eq!(
            ids(&missed),
            own,
            "Ana's events of the window, oldest first"
        );
        assert!(
            missed.truncated,
            "the one before the window is not replayed"
        );
        // Her 3 events, and one item to learn that one came before the window.
        assert_eq!(read, 4, "items read for one customer's resume");
    }

    #[tokio::test]
    async fn a_customer_who_missed_three_events_gets_exactly_those() {
        let w = World::new();
        let seen = w.id(600, 0);
        w.delivered(&seen, ANA).await;
        let mut missed_ids = Vec::new();
        for n in 1..=3u128 {
            w.delivered(&w.id(600 - n as u64 * 60, 1), "someone-else")
                .await;
            let id = w.id(600 - n as u64 * 60, 2);
            let event = w.delivered(&id, ANA).await;
            missed_ids.push((id, event));
        }
        let (missed, read) = w.resume(&seen, Some(ANA), 200).await;
        assert_eq!(missed.events, missed_ids);
        assert!(!missed.truncated);
        assert_eq!(read, 3);
    }

    #[tokio::test]
    async fn an_admins_resume_is_capped_in_events_and_items_read() {
        let w = World::new();
        let cap = Settings::default().realtime_resume_max_events;
        let total = cap + 100;
        for n in 0..total as u128 {
            w.delivered(&w.id(3600, n), &format!("c-{}", n % 7)).await;
        }
        let (missed, read) = w.resume("0", None, 1_000).await;
        assert_eq!(missed.events.len(), cap);
        assert!(missed.truncated);
        assert_eq!(read, cap + 1, "the cap, and one to know more exist");
        assert_eq!(missed.events[0].0, w.id(3600, 0), "oldest first");

        // The caller's own limit, when lower.
        let (missed, read) = w.resume("0", None, 200).await;
        assert_eq!(
            (missed.events.len(), missed.truncated, read),
            (200, true, 201)
        );

        // Everything seen: nothing to send, nothing more read.
        let last = w.id(3600, total as u128 - 1);
        let (missed, read) = w.resume(&last, None, 1_000).await;
        assert_eq!((missed.events.len(), missed.truncated, read), (0, false, 0));
    }

    #[tokio::test]
    async fn a_delivery_the_dispatcher_finishes_stays_findable_by_its_customer() {
        let w = World::new();
        let id = w.id(10, 0);
        let event = Event::new("order.paid", "ORDER-1", serde_json::json!({})).for_customer(ANA);
        let now = w.app.ports.clock.now();
        let mut batch = Batch::new();
        batch
            .queue_delivery("realtime", &id, &event, now.millis())
            .unwrap();
        batch
            .queue_delivery("email", &id, &event, now.millis())
            .unwrap();
        w.app.write(batch).await.unwrap();
        let before = w
            .app
            .ports
            .table
            .get(&store::delivery("email", &id))
            .await
            .unwrap();
        assert_eq!(
            before.unwrap().get(crate::ports::table::GSI2_PK),
            None,
            "only realtime deliveries are indexed by customer"
        );
        let mut batch = Batch::new();
        batch.delivery_done("realtime", &id, 1, now.secs() + KEEP_DELIVERED_SECS);
        w.app.write(batch).await.unwrap();
        let (missed, _) = w.resume("0", Some(ANA), 10).await;
        assert_eq!(missed.events, [(id, event)]);
    }

    #[test]
    fn the_window_floor_sorts_before_every_id_made_in_the_window() {
        let now = 1_750_000_000_000i64;
        let floor = resume_floor(now, 3600);
        let at_start = ulid::Ulid::from_parts((now - 3_600_000) as u64, 0).to_string();
        let just_before =
            ulid::Ulid::from_parts((now - 3_600_001) as u64, u128::MAX >> 48).to_string();
        assert!(floor <= at_start && just_before < floor);
        assert_eq!(resume_floor(1_000, 3600), "00000000000000000000000000");
    }
}
