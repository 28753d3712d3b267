//! Payment settlement: a sandbox Pix charge confirmed by its signed webhook pays the order,
//! once, however often the provider repeats the notice.

use std::sync::Arc;

use vitrine_app::AppError;
use vitrine_app::events::dispatch::Dispatcher;
use vitrine_app::payments::{PaymentStatus, Settlement};
use vitrine_domain::order::OrderStatus;
use vitrine_testkit::doubles::RecordingConsumer;

use crate::world::World;

#[tokio::test]
async fn a_confirmed_pix_payment_pays_the_order_once() {
    let w = World::new();
    w.product("camiseta", "CAM-M", 10).await;
    let ana = w.customer("ana@example.com").await;
    let order = w.place(&ana, "CAM-M", 2, "pedido-pix").await.unwrap().order;

    // The notice, the same payment under another notice id, the first notice again.
    let settled = w.pay_by_pix(&ana, &order.id, &["N1", "N2", "N1"]).await;
    assert!(
        matches!(
            settled[..],
            [
                Ok(Settlement::Paid),
                Ok(Settlement::AlreadyPaid),
                Err(AppError::Conflict(_))
            ]
        ),
        "{settled:?}"
    );
    let paid = w.app.order_for(&ana, &order.id).await.unwrap();
    assert_eq!(paid.status, OrderStatus::Paid);
    let payment = w.app.payment_for(&ana, &order.id).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Confirmed);
    assert_eq!(payment.amount, order.total);
    assert_eq!(
        payment.reference.as_deref(),
        Some(format!("E{}", order.id).as_str())
    );
    // Stock was taken once, at checkout; paying takes no more.
    assert_eq!(w.available("CAM-M").await, 8);

    // One `order.paid` event, however many notices came.
    // As the `invoices` subscriber, which gets `order.paid`.
    let recorder = RecordingConsumer::new("invoices", 0);
    let dispatcher = Arc::new(Dispatcher::new(w.app.clone(), vec![recorder.clone()]));
    dispatcher.clone().pass().await.unwrap();
    dispatcher.pass().await.unwrap();
    let events: Vec<(String, String)> = recorder
        .seen()
        .into_iter()
        .map(|(_, kind, subject)| (kind, subject))
        .collect();
    assert_eq!(events, [("order.paid".to_owned(), order.id.clone())]);
}
