//! The trace a piece of work belongs to, carried across the outbox: the HTTP layer runs each
//! request inside [`scope`] with the request's trace id; every event written meanwhile records it
//! (`store::event_item`); the dispatcher runs each consumer inside [`scope`] with the event's
//! trace id, so events a consumer writes (`order.invoiced` after `order.paid`) stay in the trace.

use std::future::Future;

tokio::task_local! {
    static TRACE_ID: Option<String>;
}

/// Run `f` as part of the trace `trace_id` (none: outside any trace).
pub async fn scope<F: Future>(trace_id: Option<String>, f: F) -> F::Output {
    TRACE_ID.scope(trace_id, f).await
}

/// The trace of the work being done, if any.
pub fn current() -> Option<String> {
    TRACE_ID.try_with(Clone::clone).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_trace_is_seen_inside_its_scope_only() {
        assert_eq!(current(), None);
        let inside = scope(Some("4bf92f3577b34da6a3ce929d0e0e4736".into()), async {
            tokio::task::yield_now().await;
            current()
        })
        .await;
        assert_eq!(inside.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(current(), None);
    }
}
