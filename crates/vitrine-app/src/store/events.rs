//! The outbox: an event is appended in the same batch as the change that caused it.

use vitrine_domain::Event;

use super::{Batch, OUTBOX, Part, data_item, event, with_gsi1};
use crate::error::AppResult;
use crate::ports::{Item, Table};

/// The outbox item for an event, carrying the current trace id when the event has none.
pub fn event_item(id: &str, ev: &Event, at_millis: i64) -> AppResult<Item> {
    let traced;
    let ev = match (&ev.trace_id, crate::trace::current()) {
        (None, Some(trace_id)) => {
            traced = Event {
                trace_id: Some(trace_id),
                ..ev.clone()
            };
            &traced
        }
        _ => ev,
    };
    let item = data_item(event(id), ev)?
        .with("event_type", ev.event_type.clone())
        .with("created_at", at_millis);
    Ok(with_gsi1(item, OUTBOX, id))
}

/// When the oldest event still in the outbox was committed (milliseconds), if there is one.
pub async fn oldest_in_outbox(table: &dyn Table) -> AppResult<Option<i64>> {
    let page = table.query(super::deliveries::outbox().limit(1)).await?;
    Ok(page.items.first().and_then(|i| i.num("created_at")))
}

impl Batch {
    /// Append `ev` (id `id`, committed at `at_millis`) to the outbox.
    pub fn append_event(&mut self, id: &str, ev: &Event, at_millis: i64) -> AppResult<()> {
        self.put_new(Part::Event, event_item(id, ev, at_millis)?);
        Ok(())
    }
}
