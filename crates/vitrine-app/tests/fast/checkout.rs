//! Checkout: an order reserves its stock in the same batch; a retry with the same
//! Idempotency-Key finds the first order; concurrent buyers never oversell.

use std::sync::Arc;

use vitrine_app::AppError;
use vitrine_domain::order::OrderStatus;

use crate::world::World;

#[tokio::test]
async fn placing_an_order_reserves_its_stock() {
    let w = World::new();
    w.product("camiseta", "CAM-M", 10).await;
    let ana = w.customer("ana@example.com").await;

    let placed = w.place(&ana, "CAM-M", 3, "pedido-1").await.unwrap();
    assert!(!placed.replayed);
    let order = placed.order;
    assert_eq!(order.status, OrderStatus::PendingPayment);
    assert_eq!(order.customer_id, ana.sub);
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.lines[0].quantity, 3);
    assert_eq!(w.available("CAM-M").await, 7);
    // The owner reads it back as it was placed.
    assert_eq!(w.app.order_for(&ana, &order.id).await.unwrap(), order);
}

#[tokio::test]
async fn a_retry_with_the_same_key_returns_the_same_order_and_reserves_nothing_more() {
    let w = World::new();
    w.product("camiseta", "CAM-M", 10).await;
    let ana = w.customer("ana@example.com").await;

    let first = w.place(&ana, "CAM-M", 2, "pedido-repetido").await.unwrap();
    let again = w.place(&ana, "CAM-M", 2, "pedido-repetido").await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.order.id, first.order.id);
    assert_eq!(w.available("CAM-M").await, 8);

    // Another key is another order.
    let other = w.place(&ana, "CAM-M", 2, "outro-pedido").await.unwrap();
    assert_ne!(other.order.id, first.order.id);
    assert_eq!(w.available("CAM-M").await, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_buyers_of_the_last_units_never_oversell() {
    const STOCK: i64 = 5;
    const BUYERS: usize = 20;
    let w = Arc::new(World::new());
    w.product("ultima", "ULT-1", STOCK).await;
    let mut buyers = Vec::new();
    for i in 0..BUYERS {
        buyers.push(w.customer(&format!("cliente{i}@example.com")).await);
    }

    let tasks: Vec<_> = buyers
        .into_iter()
        .enumerate()
        .map(|(i, who)| {
            let w = w.clone();
            tokio::spawn(async move { w.place(&who, "ULT-1", 1, &format!("corrida-{i}")).await })
        })
        .collect();
    let (mut placed, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => placed += 1,
            Err(AppError::OutOfStock { sku, .. }) => {
                assert_eq!(sku, "ULT-1");
                refused += 1;
            }
            Err(other) => panic!("unexpected answer: {other:?}"),
        }
    }
    assert_eq!(placed, STOCK as usize, "every unit sold, none twice");
    assert_eq!(refused, BUYERS - STOCK as usize);
    assert_eq!(w.available("ULT-1").await, 0);
}
