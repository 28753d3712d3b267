//! The local dispatcher: each outbox event reaches each subscriber that admits it once, in
//! event order per subject; a consumer that fails is retried with backoff, and one that keeps
//! failing is dead-lettered, from where a replay delivers it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use vitrine_app::events::Consumer;
use vitrine_app::events::dispatch::{Dispatcher, MAX_ATTEMPTS};
use vitrine_testkit::doubles::RecordingConsumer as Recorder;

use crate::world::World;

fn dispatcher(w: &World, consumers: Vec<Arc<dyn Consumer>>) -> Arc<Dispatcher> {
    Arc::new(
        Dispatcher::new(w.app.clone(), consumers)
            .with_backoff(Duration::from_secs(1), Duration::from_secs(8)),
    )
}

/// Passes until one changes nothing (bounded), moving the clock past any retry's backoff.
async fn drain(w: &World, d: &Arc<Dispatcher>) {
    for _ in 0..50 {
        let pass = d.clone().pass().await.unwrap();
        if pass.fanned_out + pass.delivered + pass.retried + pass.dead_lettered == 0
            && pass.next_due_ms.is_none()
        {
            return;
        }
        w.clock.advance_secs(10);
    }
    panic!("the dispatcher did not settle in 50 passes");
}

#[tokio::test]
async fn every_subscriber_gets_each_event_it_admits_once_in_order() {
    let w = World::new();
    w.product("camiseta", "CAM-M", 50).await;
    let ana = w.customer("ana@example.com").await;
    let bia = w.customer("bia@example.com").await;
    let first = w.place(&ana, "CAM-M", 1, "a-1").await.unwrap().order;
    let second = w.place(&bia, "CAM-M", 2, "b-1").await.unwrap().order;
    w.pay(&ana, &first.id).await;

    // `realtime` admits every order event, `invoices` only `order.paid`.
    let realtime = Recorder::new("realtime", 0);
    let invoices = Recorder::new("invoices", 0);
    let d = dispatcher(&w, vec![realtime.clone(), invoices.clone()]);
    drain(&w, &d).await;
    // Nothing is delivered twice by later passes either.
    drain(&w, &d).await;

    let seen = |r: &Recorder| -> Vec<(String, String)> {
        r.handled()
            .iter()
            .map(|d| (d.event.subject.clone(), d.event.event_type.clone()))
            .collect()
    };
    let mut by_order: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (subject, kind) in seen(&realtime) {
        by_order.entry(subject).or_default().push(kind);
    }
    assert_eq!(
        by_order.get(&first.id).map(Vec::as_slice),
        Some(["order.placed".to_owned(), "order.paid".to_owned()].as_slice()),
        "in the order they happened"
    );
    assert_eq!(
        by_order.get(&second.id).map(Vec::as_slice),
        Some(["order.placed".to_owned()].as_slice())
    );
    assert_eq!(
        seen(&invoices),
        [(first.id.clone(), "order.paid".to_owned())]
    );

    // Each event once per subscriber, handed over in event-id order, on the first attempt.
    let ids: Vec<String> = realtime
        .handled()
        .iter()
        .map(|d| d.event_id.clone())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted, "event-id order, no repeat");
    assert!(realtime.handled().iter().all(|d| d.attempt == 1));
    assert!(w.app.dead_letters(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failing_consumer_is_retried_with_backoff_then_delivered() {
    let w = World::new();
    w.product("camiseta", "CAM-M", 50).await;
    let ana = w.customer("ana@example.com").await;
    let order = w.place(&ana, "CAM-M", 1, "a-1").await.unwrap().order;
    w.pay(&ana, &order.id).await;

    let flaky = Recorder::new("invoices", 2);
    let d = dispatcher(&w, vec![flaky.clone()]);
    let pass = d.clone().pass().await.unwrap();
    assert_eq!((pass.delivered, pass.retried), (0, 1));
    // Not due again before its backoff.
    let pass = d.clone().pass().await.unwrap();
    assert_eq!((pass.delivered, pass.retried), (0, 0));
    assert!(pass.next_due_ms.is_some());
    drain(&w, &d).await;

    let handled = flaky.handled();
    assert_eq!(handled.len(), 1, "delivered once");
    assert_eq!(handled[0].attempt, 3);
    assert_eq!(handled[0].event.event_type, "order.paid");
    assert_eq!(flaky.attempts(), 3);
    assert!(w.app.dead_letters(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_consumer_that_keeps_failing_is_dead_lettered_and_a_replay_delivers() {
    let w = World::new();
    w.product("camiseta", "CAM-M", 50).await;
    let ana = w.customer("ana@example.com").await;
    let order = w.place(&ana, "CAM-M", 1, "a-1").await.unwrap().order;
    w.pay(&ana, &order.id).await;

    let broken = Recorder::new("invoices", u32::MAX);
    let d = dispatcher(&w, vec![broken.clone()]);
    drain(&w, &d).await;
    assert_eq!(broken.attempts(), MAX_ATTEMPTS as usize);
    assert!(broken.handled().is_empty());
    let dead = w.app.dead_letters(Some("invoices")).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].event_type, "order.paid");
    assert_eq!(dead[0].subject, order.id);
    assert_eq!(dead[0].attempts, MAX_ATTEMPTS);
    assert!(
        dead[0].last_error.contains("down"),
        "{:?}",
        dead[0].last_error
    );

    // Fixed, and replayed by an admin: delivered once, and out of the dead letters.
    let fixed = Recorder::new("invoices", 0);
    let d = dispatcher(&w, vec![fixed.clone()]);
    w.app
        .replay_dead_letter("invoices", &dead[0].event_id)
        .await
        .unwrap();
    drain(&w, &d).await;
    let handled = fixed.handled();
    assert_eq!(handled.len(), 1);
    assert_eq!(handled[0].event_id, dead[0].event_id);
    assert!(w.app.dead_letters(None).await.unwrap().is_empty());
}
