//! [`Batch`]: the operations of one atomic write, each tagged with what it is ([`Part`]), so
//! that a failed condition is explained in the caller's terms. The typed builders that fill a
//! batch live beside the aggregate they write (`orders.rs`, `stock.rs`, `events.rs`, …).

use crate::error::AppError;
use crate::ports::{Condition, Item, TableError, Value, WriteOp};

use super::VERSION;

/// What one operation of a batch is about: the answer to "which condition failed?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// The Idempotency-Key record of a checkout.
    Idempotency,
    Order,
    /// The stock of this SKU.
    Stock(String),
    Coupon,
    /// One customer's use count of a coupon.
    CouponUse,
    /// What a customer's unpaid orders hold (their number and units).
    UnpaidHolds,
    Cart,
    /// The key the store signs its e-mail links with.
    LinkKey,
    /// An event appended to the outbox.
    Event,
    Product,
    /// A product's listing entries, or its record in the change feed.
    Listing,
    /// A product's slug reservation.
    Slug,
    /// A SKU item (created or deleted with its product).
    Sku(String),
    Category,
    CategorySlug,
    Profile,
    Address,
    Payment,
    PixTxid,
    Notice,
    Invoice,
    /// A return's entry in the admin's list.
    ReturnEntry,
    /// An order's shipping label (its purchase claim, then the label).
    Label,
    NfeCounter,
    /// The store's NF-e authoriser mode (normal or contingency).
    FiscalMode,
    /// A subscriber's delivery of an event.
    Delivery,
    /// An event's place in the outbox.
    Outbox,
    Connection,
    /// The shop's look.
    ShopLook,
}

/// The operations of one atomic write, in order.
#[derive(Debug, Default)]
#[must_use = "a batch does nothing until it is written"]
pub struct Batch {
    ops: Vec<WriteOp>,
    parts: Vec<Part>,
}

/// Why a batch was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteFailed {
    /// The condition on `part` did not hold; nothing was written.
    #[error("the condition on {part:?} (operation {index}) did not hold")]
    Condition { part: Part, index: usize },
    #[error(transparent)]
    Table(TableError),
}

impl WriteFailed {
    /// The part whose condition failed, if that is why.
    pub fn part(&self) -> Option<&Part> {
        match self {
            WriteFailed::Condition { part, .. } => Some(part),
            WriteFailed::Table(_) => None,
        }
    }
}

impl From<WriteFailed> for AppError {
    fn from(e: WriteFailed) -> Self {
        match e {
            WriteFailed::Condition { index, .. } => TableError::ConditionFailed { index }.into(),
            WriteFailed::Table(e) => e.into(),
        }
    }
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Self {
            ops: Vec::with_capacity(n),
            parts: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Add an operation (for the builders in `store/`).
    pub(crate) fn push(&mut self, part: Part, op: WriteOp) {
        self.ops.push(op);
        self.parts.push(part);
    }

    /// Put `item`, which must not exist yet.
    pub(crate) fn put_new(&mut self, part: Part, item: Item) {
        self.push(part, WriteOp::put_new(item));
    }

    /// Put `item` whatever is there.
    pub(crate) fn put(&mut self, part: Part, item: Item) {
        self.push(part, WriteOp::put(item));
    }

    /// Put `item` over the version `read` that was read (or as new when `None`).
    pub(crate) fn put_versioned(&mut self, part: Part, item: Item, read: Option<u64>) {
        let condition = match read {
            Some(v) => Condition::Eq(VERSION.into(), Value::N(v as i64)),
            None => Condition::NotExists,
        };
        self.push(
            part,
            WriteOp::Put {
                item,
                condition: Some(condition),
            },
        );
    }

    /// Append every operation of `other`.
    pub fn extend(&mut self, other: Batch) {
        self.ops.extend(other.ops);
        self.parts.extend(other.parts);
    }

    /// Whether the batch appends an event to the outbox.
    pub fn appends_event(&self) -> bool {
        self.parts.contains(&Part::Event)
    }

    /// Explain a failed write of this batch in its parts' terms.
    pub fn explain(parts: &[Part], error: TableError) -> WriteFailed {
        match error {
            TableError::ConditionFailed { index } if index < parts.len() => {
                WriteFailed::Condition {
                    part: parts[index].clone(),
                    index,
                }
            }
            other => WriteFailed::Table(other),
        }
    }

    /// The operations and what each is, for the one place that writes them (`App::write`).
    pub(crate) fn into_parts(self) -> (Vec<WriteOp>, Vec<Part>) {
        (self.ops, self.parts)
    }
}
