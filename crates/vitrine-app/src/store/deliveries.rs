//! Deliveries: the local dispatcher's persisted queues, one per subscriber, filled from the
//! outbox (what SNS with filtered SQS subscriptions does on AWS). How deliveries move —
//! fan-out, retries with backoff, dead letters, replay — is decided in
//! `crate::events::dispatch`; this is how they are stored.
//!
//! | item | pk | sk | indexes |
//! |---|---|---|---|
//! | delivery | `DELIVERY#{subscriber}` | `{event id}` | gsi1 `QUEUE#{subscriber}` while pending, `DEAD#{subscriber}` once dead / `{event id}`; none, with a `ttl`, once done. Deliveries to a subscriber of [`BY_CUSTOMER`] of an event with a customer: also gsi2 `DELIVERY#{subscriber}#CUSTOMER#{sub}` / `{event id}`, for their whole life (the same item: the same `ttl`) |
//!
//! Beside the event (in `data`), a delivery carries `status` (`pending`, `done` or `dead`),
//! `event_type`, `subject`, `customer` (when the event has one), `attempts`, `due` (ms: not
//! before) and, after a failure, `last_error`.
//!
//! A reconnecting realtime client asks for the deliveries after the last event id it saw: a
//! customer reads their own index partition ([`to_customer_after`]), an admin the subscriber's
//! whole partition ([`to_subscriber_after`]); both by key range, so nothing of anyone else is
//! read and filtered away.

use vitrine_domain::Event;

use super::{
    Batch, OUTBOX, Part, customer_deliveries, data_item, dead_letters, delivery,
    delivery_partition, event, queue, with_gsi1, with_gsi2,
};
use crate::error::AppResult;
use crate::ports::table::{GSI1_PK, GSI1_SK, TTL};
use crate::ports::{Condition, Index, Item, Query, SortKey, Update, Value, WriteOp};

const STATUS: &str = "status";
const EVENT_TYPE: &str = "event_type";
const SUBJECT: &str = "subject";
const CUSTOMER: &str = "customer";
const ATTEMPTS: &str = "attempts";
const DUE: &str = "due";
const LAST_ERROR: &str = "last_error";

const PENDING: &str = "pending";
const DONE: &str = "done";
const DEAD: &str = "dead";

/// The events not yet fanned out, oldest first.
pub fn outbox() -> Query {
    Query::new(Index::Gsi1, OUTBOX)
}

/// `subscriber`'s pending deliveries (its queue), in event-id order.
pub fn pending(subscriber: &str) -> Query {
    Query::new(Index::Gsi1, queue(subscriber))
}

/// `subscriber`'s dead letters, in event-id order.
pub fn dead(subscriber: &str) -> Query {
    Query::new(Index::Gsi1, dead_letters(subscriber))
}

/// The subscribers whose deliveries are findable by customer ([`to_customer_after`]): the
/// realtime pusher's, which a customer's reconnecting browser resumes from. Others (e-mail,
/// SMS…) are never read by customer, so their items stay out of the index.
pub const BY_CUSTOMER: [&str; 1] = ["realtime"];

/// Every delivery to `subscriber` still kept (pending, done or dead) after the event id `after`,
/// in event-id order.
pub fn to_subscriber_after(subscriber: &str, after: &str) -> Query {
    Query::new(Index::Primary, delivery_partition(subscriber)).sk(SortKey::Gt(after.to_owned()))
}

/// The deliveries to `subscriber` (one of [`BY_CUSTOMER`]) of events of `customer` still kept,
/// after the event id `after`, in event-id order: that customer's items only.
pub fn to_customer_after(subscriber: &str, customer: &str, after: &str) -> Query {
    Query::new(Index::Gsi2, customer_deliveries(subscriber, customer))
        .sk(SortKey::Gt(after.to_owned()))
}

/// A delivery as read from the table: what the dispatcher decides on, and the event.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub event_id: String,
    /// Empty when missing.
    pub event_type: String,
    /// Empty when missing.
    pub subject: String,
    pub customer: Option<String>,
    /// Attempts made so far (0 when missing).
    pub attempts: i64,
    /// Not to be delivered before this (ms; 0 when missing).
    pub due: i64,
    /// Why the last attempt failed (empty when none did).
    pub last_error: String,
    item: Item,
}

impl DeliveryRecord {
    /// The event delivered.
    pub fn event(&self) -> AppResult<Event> {
        super::decode(&self.item)
    }
}

impl From<Item> for DeliveryRecord {
    fn from(item: Item) -> Self {
        Self {
            event_id: item.key.sk.clone(),
            event_type: item.str(EVENT_TYPE).unwrap_or_default().to_owned(),
            subject: item.str(SUBJECT).unwrap_or_default().to_owned(),
            customer: item.str(CUSTOMER).map(str::to_owned),
            attempts: item.num(ATTEMPTS).unwrap_or(0),
            due: item.num(DUE).unwrap_or(0),
            last_error: item.str(LAST_ERROR).unwrap_or_default().to_owned(),
            item,
        }
    }
}

/// Whether a delivery item read from the table is one its subscriber is done with.
pub fn is_done(item: &Item) -> bool {
    item.str(STATUS) == Some(DONE)
}

/// The pending delivery of `ev` (id `event_id`) to `subscriber`, due at `now_ms`.
fn delivery_item(subscriber: &str, event_id: &str, ev: &Event, now_ms: i64) -> AppResult<Item> {
    let mut item = data_item(delivery(subscriber, event_id), ev)?
        .with(STATUS, PENDING)
        .with(EVENT_TYPE, ev.event_type.clone())
        .with(SUBJECT, ev.subject.clone())
        .with(ATTEMPTS, 0i64)
        .with(DUE, now_ms);
    if let Some(customer) = &ev.customer_id {
        item = item.with(CUSTOMER, customer.clone());
        if BY_CUSTOMER.contains(&subscriber) {
            item = with_gsi2(item, customer_deliveries(subscriber, customer), event_id);
        }
    }
    Ok(with_gsi1(item, queue(subscriber), event_id))
}

/// Whether the delivery is still in `subscriber`'s queue (not handled by someone else, not
/// replayed meanwhile).
fn still_queued(subscriber: &str) -> Option<Condition> {
    Some(Condition::Eq(GSI1_PK.into(), Value::S(queue(subscriber))))
}

impl Batch {
    /// Queue `ev` (id `event_id`) for `subscriber`, due at `now_ms`: fails on
    /// [`Part::Delivery`] when it is queued already.
    pub fn queue_delivery(
        &mut self,
        subscriber: &str,
        event_id: &str,
        ev: &Event,
        now_ms: i64,
    ) -> AppResult<()> {
        self.put_new(
            Part::Delivery,
            delivery_item(subscriber, event_id, ev, now_ms)?,
        );
        Ok(())
    }

    /// Take the event `event_id` out of the outbox (it is fanned out): fails on
    /// [`Part::Outbox`] when it is no longer there (fanned out by someone else).
    pub fn take_out_of_outbox(&mut self, event_id: &str) {
        self.push(
            Part::Outbox,
            WriteOp::Update {
                key: event(event_id),
                updates: vec![
                    Update::Remove(GSI1_PK.into()),
                    Update::Remove(GSI1_SK.into()),
                ],
                condition: Some(Condition::Eq(GSI1_PK.into(), Value::S(OUTBOX.into()))),
            },
        );
    }

    /// `subscriber`'s consumer handled `event_id` at its `attempts`-th attempt: out of the
    /// queue, done, kept until `keep_until` (s). Fails on [`Part::Delivery`] when it is no
    /// longer queued.
    pub fn delivery_done(
        &mut self,
        subscriber: &str,
        event_id: &str,
        attempts: u32,
        keep_until: i64,
    ) {
        self.update_queued(
            subscriber,
            event_id,
            vec![
                Update::Set(ATTEMPTS.into(), Value::N(i64::from(attempts))),
                Update::Set(STATUS.into(), Value::S(DONE.into())),
                Update::Remove(GSI1_PK.into()),
                Update::Remove(GSI1_SK.into()),
                Update::Set(TTL.into(), Value::N(keep_until)),
            ],
        );
    }

    /// `subscriber`'s consumer failed `event_id` at its `attempts`-th attempt with `error`: it
    /// stays queued, due again at `due_ms`. Fails on [`Part::Delivery`] when it is no longer
    /// queued.
    pub fn delivery_retry(
        &mut self,
        subscriber: &str,
        event_id: &str,
        attempts: u32,
        due_ms: i64,
        error: String,
    ) {
        self.update_queued(
            subscriber,
            event_id,
            vec![
                Update::Set(ATTEMPTS.into(), Value::N(i64::from(attempts))),
                Update::Set(DUE.into(), Value::N(due_ms)),
                Update::Set(LAST_ERROR.into(), Value::S(error)),
            ],
        );
    }

    /// `subscriber`'s consumer failed `event_id` for good at its `attempts`-th attempt with
    /// `error`: from the queue to the dead letters. Fails on [`Part::Delivery`] when it is no
    /// longer queued.
    pub fn delivery_dead(
        &mut self,
        subscriber: &str,
        event_id: &str,
        attempts: u32,
        error: String,
    ) {
        self.update_queued(
            subscriber,
            event_id,
            vec![
                Update::Set(ATTEMPTS.into(), Value::N(i64::from(attempts))),
                Update::Set(STATUS.into(), Value::S(DEAD.into())),
                Update::Set(GSI1_PK.into(), Value::S(dead_letters(subscriber))),
                Update::Set(LAST_ERROR.into(), Value::S(error)),
            ],
        );
    }

    fn update_queued(&mut self, subscriber: &str, event_id: &str, updates: Vec<Update>) {
        self.push(
            Part::Delivery,
            WriteOp::Update {
                key: delivery(subscriber, event_id),
                updates,
                condition: still_queued(subscriber),
            },
        );
    }

    /// Put `subscriber`'s dead letter `event_id` back in its queue, due at `now_ms`, with its
    /// attempts reset: fails on [`Part::Delivery`] when it is not a dead letter.
    pub fn replay_dead_letter(&mut self, subscriber: &str, event_id: &str, now_ms: i64) {
        self.push(
            Part::Delivery,
            WriteOp::Update {
                key: delivery(subscriber, event_id),
                updates: vec![
                    Update::Set(STATUS.into(), Value::S(PENDING.into())),
                    Update::Set(GSI1_PK.into(), Value::S(queue(subscriber))),
                    Update::Set(ATTEMPTS.into(), Value::N(0)),
                    Update::Set(DUE.into(), Value::N(now_ms)),
                ],
                condition: Some(Condition::Eq(
                    GSI1_PK.into(),
                    Value::S(dead_letters(subscriber)),
                )),
            },
        );
    }

    /// Record that `subscriber` handled `ev` (id `event_id`) at its `attempts`-th attempt
    /// outside the local dispatcher: the very item the dispatcher leaves behind for a delivery
    /// it is done with (done, in no queue, kept until `keep_until` s), whatever was there.
    pub fn record_delivered(
        &mut self,
        subscriber: &str,
        event_id: &str,
        ev: &Event,
        attempts: u32,
        now_ms: i64,
        keep_until: i64,
    ) -> AppResult<()> {
        let mut item = delivery_item(subscriber, event_id, ev, now_ms)?
            .with(STATUS, DONE)
            .with(ATTEMPTS, i64::from(attempts))
            .with(TTL, keep_until);
        item.attrs.remove(GSI1_PK);
        item.attrs.remove(GSI1_SK);
        self.put(Part::Delivery, item);
        Ok(())
    }
}
