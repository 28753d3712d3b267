//! Shipping labels: an order's label bought from the carrier, beside its order, and the index of
//! the labels still on their way. The rules (claim before buying, the sweep) are in
//! `crate::labels`; this is how they are stored.
//!
//! | item | pk | sk | |
//! |---|---|---|---|
//! | label | `ORDER#{id}` | `LABEL` | `data` (no personal data: ids, code, URL, price, times), `version`; while bought or posted: gsi1 `LABELS#OPEN` / `{last asked ms, 15 digits}#{order id}` |
//!
//! Every write of a label is conditioned on the version read (`None`: it must not exist), so
//! two buyers of one label, or a sweep and an admin, never both win: the claim that starts a
//! purchase is such a write. The index's sort key is when the carrier was last asked about the
//! label (when it was bought, at first), so a bounded sweep takes the labels asked about
//! longest ago and every open label gets its turn.

use serde::{Deserialize, Serialize};
use vitrine_domain::{Money, Timestamp};

use super::{Batch, LABELS_OPEN, Part, VERSION, data_item, label, with_gsi1};
use crate::error::AppResult;
use crate::ports::{Condition, Index, Item, Query, Table, Value, WriteOp};

/// Where a label is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelState {
    /// Claimed: the purchase is under way (or its outcome is unknown: `note` says so).
    Buying,
    /// The carrier refused the purchase (`note`: its message); another may be bought.
    Refused,
    /// Bought; not yet handed to the carrier.
    Bought,
    /// Handed to the carrier.
    Posted,
    Delivered,
    /// Cancelled, returned or lost, as the carrier says (`note`): a person looks at it.
    Failed,
}

impl LabelState {
    pub fn as_str(self) -> &'static str {
        match self {
            LabelState::Buying => "buying",
            LabelState::Refused => "refused",
            LabelState::Bought => "bought",
            LabelState::Posted => "posted",
            LabelState::Delivered => "delivered",
            LabelState::Failed => "failed",
        }
    }

    /// Whether the tracking sweep still asks the carrier about it.
    pub fn open(self) -> bool {
        matches!(self, LabelState::Bought | LabelState::Posted)
    }
}

/// An order's shipping label: its purchase claim, then what the carrier sold and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingLabel {
    pub order_id: String,
    pub state: LabelState,
    /// The Shipping adapter that sold it (`melhorenvio`).
    pub carrier: String,
    /// The option chosen at checkout.
    pub method_id: String,
    /// When the purchase was claimed, and by whom (an admin's e-mail).
    pub claimed_at: Timestamp,
    pub claimed_by: String,
    /// The carrier's id for the label.
    pub label_id: Option<String>,
    pub tracking_code: Option<String>,
    pub print_url: Option<String>,
    pub price: Option<Money>,
    pub bought_at: Option<Timestamp>,
    /// When the carrier was last asked where it is.
    pub checked_at: Option<Timestamp>,
    /// For the admin: the carrier's refusal, a purchase whose outcome is unknown, or why the
    /// parcel failed.
    pub note: Option<String>,
    pub version: u64,
}

/// The stored item of `l`, in the open labels' index while it is open.
pub fn label_item(l: &ShippingLabel) -> AppResult<Item> {
    let item = data_item(label(&l.order_id), l)?.with(VERSION, l.version as i64);
    if !l.state.open() {
        return Ok(item);
    }
    let asked = l.checked_at.or(l.bought_at).unwrap_or(l.claimed_at);
    Ok(with_gsi1(
        item,
        LABELS_OPEN,
        format!("{:015}#{}", asked.millis().max(0), l.order_id),
    ))
}

/// The label of order `order_id`, if one was ever claimed.
pub async fn load(table: &dyn Table, order_id: &str) -> AppResult<Option<ShippingLabel>> {
    match table.get(&label(order_id)).await? {
        Some(item) => Ok(Some(super::decode(&item)?)),
        None => Ok(None),
    }
}

/// The open labels, asked about longest ago first: at most `limit` (one page of the index).
pub fn open(limit: usize) -> Query {
    Query::new(Index::Gsi1, LABELS_OPEN).limit(limit)
}

impl Batch {
    /// Save `l` over the version `read` that was read (`None`: no label may exist yet): fails on
    /// [`Part::Label`] when someone else wrote it meanwhile. `l.version` is the new version.
    pub fn save_label(&mut self, l: &ShippingLabel, read: Option<u64>) -> AppResult<()> {
        self.put_versioned(Part::Label, label_item(l)?, read);
        Ok(())
    }

    /// Delete the label of `order_id` as it was read at version `read` (a purchase claim
    /// released): fails on [`Part::Label`] when it changed meanwhile.
    pub fn delete_label(&mut self, order_id: &str, read: u64) {
        self.push(
            Part::Label,
            WriteOp::Delete {
                key: label(order_id),
                condition: Some(Condition::Eq(VERSION.into(), Value::N(read as i64))),
            },
        );
    }
}
