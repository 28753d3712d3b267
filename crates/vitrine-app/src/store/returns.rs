//! Returns (withdrawals): each lives inside its order (`Order::returns`), moved and saved with
//! it under the order's version condition. Beside the order, one entry per return is kept in the
//! same write for the admin's list: gsi1 `RETURNS`, sorted open ones first, then by request.

use serde::{Deserialize, Serialize};
use vitrine_domain::order::Order;
use vitrine_domain::returns::Return;

use super::{Batch, Part, RETURNS, data_item, order_return, with_gsi1};
use crate::error::AppResult;
use crate::ports::{Index, Query};

/// One return as the admin's list shows it: the return and whose order it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnEntry {
    pub order_id: String,
    /// The order's version when the entry was written.
    pub order_version: u64,
    /// The access key of the order's NF-e.
    #[serde(default)]
    pub invoice_key: Option<String>,
    #[serde(rename = "return")]
    pub ret: Return,
}

/// Every return, open ones (requested, received) first, oldest request first within each.
pub fn listing() -> Query {
    Query::new(Index::Gsi1, RETURNS)
}

impl Batch {
    /// Write the entry of `order`'s return `return_id` as it now is (in the batch that saves
    /// the order).
    pub fn put_return_entry(&mut self, order: &Order, return_id: &str) -> AppResult<()> {
        let Some(ret) = order.find_return(return_id) else {
            return Ok(());
        };
        let entry = ReturnEntry {
            order_id: order.id.clone(),
            order_version: order.version,
            invoice_key: order.invoice_key.clone(),
            ret: ret.clone(),
        };
        let rank = if ret.status.is_open() { 0 } else { 1 };
        let sort = format!(
            "{rank}#{:015}#{}#{}",
            ret.requested_at.millis(),
            order.id,
            ret.id
        );
        let item = with_gsi1(
            data_item(order_return(&order.id, return_id), &entry)?,
            RETURNS,
            sort,
        );
        self.put(Part::ReturnEntry, item);
        Ok(())
    }
}
