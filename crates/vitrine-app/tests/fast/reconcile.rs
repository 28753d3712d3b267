//! A real provider's webhooks are hints: the store reads each payment back, settles once, skips
//! what is not its own, settles by reconciliation what no webhook told, withdraws the charges of
//! orders that ended unpaid, and reports (and alerts on) any difference in money.
//!
//! The provider here is [`Bank`], an in-memory double of a bank's Pix API behind the port (the
//! HTTP adapters are held to the real specs by their contract tests in vitrine-payments).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use vitrine_app::events::dispatch::Dispatcher;
use vitrine_app::payments::{PayInput, PaymentStatus, Refunds, Settlement, WebhookInput};
use vitrine_app::ports::Clock as _;
use vitrine_app::ports::payments::{
    Charge, ChargeKey, ChargeMethod, ChargeRequest, NoticeItem, PaymentError, PaymentProvider,
    ProviderPayment, ProviderStatus, Refunded, WebhookError, WebhookRequest,
};
use vitrine_domain::order::{OrderStatus, PaymentMethod};
use vitrine_domain::{Money, Timestamp};
use vitrine_testkit::doubles::RecordingConsumer;

use crate::world::World;

/// A bank's Pix API in memory: charges by txid, received Pix by end-to-end id.
#[derive(Default)]
struct Bank {
    state: Mutex<BankState>,
}

#[derive(Default)]
struct BankState {
    /// txid → (amount, withdrawn)
    charges: BTreeMap<String, (Money, bool)>,
    /// e2eid → (txid, amount, refunded, received at)
    received: BTreeMap<String, (String, Money, Money, Timestamp)>,
    lookups: usize,
}

impl Bank {
    /// A payer pays the charge `txid` with `amount`: the new end-to-end id.
    fn pay(&self, txid: &str, amount: Money, at: Timestamp) -> String {
        let mut s = self.state.lock().unwrap();
        let e2e = format!("E{:031}", s.received.len() + 1);
        s.received
            .insert(e2e.clone(), (txid.to_owned(), amount, Money::ZERO, at));
        e2e
    }

    fn refund_outside_the_store(&self, e2e: &str, amount: Money) {
        let mut s = self.state.lock().unwrap();
        s.received.get_mut(e2e).unwrap().2 = amount;
    }

    fn withdrawn(&self, txid: &str) -> bool {
        self.state.lock().unwrap().charges[txid].1
    }

    fn lookups(&self) -> usize {
        self.state.lock().unwrap().lookups
    }

    fn payment(&self, e2e: &str) -> Option<ProviderPayment> {
        let s = self.state.lock().unwrap();
        let (txid, amount, refunded, _) = s.received.get(e2e)?;
        Some(ProviderPayment {
            reference: e2e.to_owned(),
            charge: ChargeKey::Txid(txid.clone()),
            status: ProviderStatus::Paid,
            amount: *amount,
            refunded: *refunded,
            authorization: None,
            card: None,
        })
    }
}

#[async_trait]
impl PaymentProvider for Bank {
    fn name(&self) -> &'static str {
        "bank"
    }

    fn methods(&self) -> &'static [PaymentMethod] {
        &[PaymentMethod::Pix]
    }

    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let ChargeMethod::Pix { .. } = request.method else {
            return Err(PaymentError::Invalid("Pix only".into()));
        };
        let txid = format!("T{}", request.order_id);
        self.state
            .lock()
            .unwrap()
            .charges
            .insert(txid.clone(), (request.amount, false));
        Ok(Charge::PixPending {
            br_code: format!("copia-e-cola-{txid}"),
            reference: txid.clone(),
            txid,
        })
    }

    async fn refund(
        &self,
        reference: &str,
        amount: Money,
        refund_id: &str,
    ) -> Result<Refunded, PaymentError> {
        let mut s = self.state.lock().unwrap();
        let Some(entry) = s.received.get_mut(reference) else {
            return Err(PaymentError::Invalid("no such Pix".into()));
        };
        entry.2 = Money::from_centavos(entry.2.centavos() + amount.centavos());
        Ok(Refunded {
            reference: format!("D{refund_id}"),
        })
    }

    async fn cancel(&self, reference: &str) -> Result<(), PaymentError> {
        if let Some(c) = self.state.lock().unwrap().charges.get_mut(reference) {
            c.1 = true;
        }
        Ok(())
    }

    async fn webhook(&self, request: &WebhookRequest<'_>) -> Result<Vec<NoticeItem>, WebhookError> {
        let body: serde_json::Value = serde_json::from_slice(request.body)
            .map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let items = body["pix"]
            .as_array()
            .ok_or_else(|| WebhookError::Malformed("no pix list".into()))?;
        Ok(items
            .iter()
            .filter_map(|p| p["endToEndId"].as_str())
            .map(|e2e| NoticeItem {
                notice_id: e2e.to_owned(),
                reference: e2e.to_owned(),
                verified: None,
            })
            .collect())
    }

    async fn lookup(&self, reference: &str) -> Result<Option<ProviderPayment>, PaymentError> {
        self.state.lock().unwrap().lookups += 1;
        Ok(self.payment(reference))
    }

    async fn received(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ProviderPayment>, PaymentError> {
        let keys: Vec<String> = self
            .state
            .lock()
            .unwrap()
            .received
            .iter()
            .filter(|(_, (_, _, _, at))| *at >= from && *at < to)
            .map(|(k, _)| k.clone())
            .collect();
        Ok(keys.iter().filter_map(|k| self.payment(k)).collect())
    }
}

async fn notify(w: &World, e2e: &str) -> Vec<Settlement> {
    let body = serde_json::json!({ "pix": [{ "endToEndId": e2e }] }).to_string();
    w.app
        .payment_webhook(&WebhookInput {
            provider: "bank",
            subpath: "pix",
            header: &|_: &str| None,
            query: &|_: &str| None,
            body: body.as_bytes(),
        })
        .await
        .unwrap()
}

/// A store whose Pix goes through [`Bank`], with one order of `quantity` cups charged by Pix:
/// the world, the bank, the buyer, the order and its txid.
async fn charged_order(
    quantity: u32,
) -> (
    World,
    Arc<Bank>,
    vitrine_app::auth::Principal,
    vitrine_domain::order::Order,
    String,
) {
    let bank = Arc::new(Bank::default());
    let w = World::with_pix(bank.clone());
    w.product("caneca", "CAN-1", 5).await;
    let ana = w.customer("ana@example.com").await;
    let order = w
        .place(&ana, "CAN-1", quantity, "pedido")
        .await
        .unwrap()
        .order;
    let payment = w
        .app
        .pay_order(&ana, &order.id, PayInput::Pix)
        .await
        .unwrap();
    let txid = payment.txid.unwrap();
    (w, bank, ana, order, txid)
}

#[tokio::test]
async fn a_webhook_is_read_back_settles_once_and_a_foreign_one_changes_nothing() {
    let (w, bank, ana, order, txid) = charged_order(1).await;

    // A notice naming a Pix the bank does not know (someone else's, or forged): nothing.
    assert_eq!(
        notify(&w, "E0000000000000000000000000000099").await,
        [Settlement::Ignored]
    );
    let e2e = bank.pay(&txid, order.total, w.clock.now());
    assert_eq!(notify(&w, &e2e).await, [Settlement::Paid]);
    // The same notice again (banks resend): already paid, not an error.
    assert_eq!(notify(&w, &e2e).await, [Settlement::AlreadyPaid]);
    assert_eq!(
        bank.lookups(),
        3,
        "every notice was read back from the bank"
    );
    let paid = w.app.order_for(&ana, &order.id).await.unwrap();
    assert_eq!(paid.status, OrderStatus::Paid);
    let payment = w.app.payment_for(&ana, &order.id).await.unwrap();
    assert_eq!(payment.reference.as_deref(), Some(e2e.as_str()));
    assert_eq!(payment.provider, "bank");
}

#[tokio::test]
async fn a_payment_whose_webhook_never_came_is_settled_by_reconciliation() {
    let (w, bank, ana, order, txid) = charged_order(2).await;
    bank.pay(&txid, order.total, w.clock.now());
    w.clock.advance_secs(60);

    let now = w.clock.now();
    let from = Timestamp::from_millis(now.millis() - 3_600_000);
    let run = w.app.reconcile_payments(from, now).await.unwrap();
    assert_eq!((run.checked, run.settled, run.late), (1, 1, 0));
    assert!(run.differences.is_empty(), "{:?}", run.differences);
    assert_eq!(
        w.app.order_for(&ana, &order.id).await.unwrap().status,
        OrderStatus::Paid
    );
    // Once: a second pass finds it settled.
    let again = w.app.reconcile_payments(from, now).await.unwrap();
    assert_eq!((again.checked, again.settled), (1, 0));

    // The daily report: no difference, no alert.
    let (daily, key) = w.app.daily_reconciliation().await.unwrap().unwrap();
    assert!(daily.differences.is_empty());
    assert!(key.starts_with("reports/reconciliation-"), "{key}");
    let alerts = RecordingConsumer::new("admin-alerts", 0);
    Arc::new(Dispatcher::new(w.app.clone(), vec![alerts.clone()]))
        .pass()
        .await
        .unwrap();
    assert!(
        alerts
            .seen()
            .iter()
            .all(|(_, kind, _)| kind != "payments.difference")
    );
}

#[tokio::test]
async fn money_the_store_does_not_know_about_is_reported_and_alerted() {
    let (w, bank, _, order, txid) = charged_order(1).await;
    let e2e = bank.pay(&txid, order.total, w.clock.now());
    assert_eq!(notify(&w, &e2e).await, [Settlement::Paid]);
    // Someone gave part of it back from the bank's own app: the store still counts it all.
    bank.refund_outside_the_store(&e2e, Money::from_centavos(1_000));
    w.clock.advance_secs(60);

    let (run, key) = w.app.daily_reconciliation().await.unwrap().unwrap();
    assert_eq!(run.differences.len(), 1, "{:?}", run.differences);
    let d = &run.differences[0];
    assert_eq!(d.order_id.as_deref(), Some(order.id.as_str()));
    assert_eq!(d.store_net, order.total);
    assert_eq!(
        d.provider_net,
        Money::from_centavos(order.total.centavos() - 1_000)
    );
    let csv = {
        use vitrine_app::ports::Blobs as _;
        let blob = w.blobs.get(&key).await.unwrap().unwrap();
        String::from_utf8(blob.bytes.to_vec()).unwrap()
    };
    assert!(csv.lines().count() == 2 && csv.contains(&e2e), "{csv}");

    let alerts = RecordingConsumer::new("admin-alerts", 0);
    Arc::new(Dispatcher::new(w.app.clone(), vec![alerts.clone()]))
        .pass()
        .await
        .unwrap();
    assert_eq!(
        alerts
            .seen()
            .iter()
            .filter(|(_, kind, _)| kind == "payments.difference")
            .count(),
        1
    );
}

#[tokio::test]
async fn an_expired_orders_charge_is_withdrawn_and_money_arriving_later_goes_back() {
    let (w, bank, ana, order, txid) = charged_order(1).await;
    w.clock
        .set(Timestamp::from_millis(order.pay_by.millis() + 1_000));
    assert_eq!(w.app.expire_overdue().await.unwrap(), 1);

    // The `payments` subscriber gets order.expired and withdraws the charge at the bank.
    let dispatcher = Arc::new(Dispatcher::new(
        w.app.clone(),
        vec![Arc::new(Refunds::new(w.app.clone()))],
    ));
    dispatcher.clone().pass().await.unwrap();
    assert!(bank.withdrawn(&txid));
    let withdrawn = w.app.payment_for(&ana, &order.id).await.unwrap();
    assert_eq!(withdrawn.status, PaymentStatus::Withdrawn);
    assert_eq!(w.available("CAN-1").await, 5, "stock back once");

    // A payer who paid anyway (a bank that raced the withdrawal): late, refunded in full.
    let e2e = bank.pay(&txid, order.total, w.clock.now());
    assert!(matches!(notify(&w, &e2e).await[..], [Settlement::Late(_)]));
    dispatcher.pass().await.unwrap();
    let after = w.app.payment_for(&ana, &order.id).await.unwrap();
    assert!(after.late[0].refund.is_some(), "{after:?}");
    assert_eq!(bank.payment(&e2e).unwrap().refunded, order.total);
    assert_eq!(w.available("CAN-1").await, 5);
}

#[tokio::test]
async fn partial_refunds_then_a_cancellation_give_back_exactly_what_was_paid() {
    let (w, bank, ana, order, txid) = charged_order(2).await;
    let e2e = bank.pay(&txid, order.total, w.clock.now());
    assert_eq!(notify(&w, &e2e).await, [Settlement::Paid]);
    let dispatcher = Arc::new(Dispatcher::new(
        w.app.clone(),
        vec![Arc::new(Refunds::new(w.app.clone()))],
    ));

    let part = Money::from_centavos(1_250);
    w.app
        .request_refund(&order.id, part, "uma caneca chegou lascada")
        .await
        .unwrap();
    // More than is left is refused before anything is asked of the bank.
    let too_much = Money::from_centavos(order.total.centavos() - 1_250 + 1);
    assert!(matches!(
        w.app.request_refund(&order.id, too_much, "erro").await,
        Err(vitrine_app::AppError::Invalid(_))
    ));
    dispatcher.clone().pass().await.unwrap();
    dispatcher.clone().pass().await.unwrap();
    assert_eq!(bank.payment(&e2e).unwrap().refunded, part, "made once");
    let payment = w.app.payment_for(&ana, &order.id).await.unwrap();
    assert!(payment.partial_refunds[0].reference.is_some());

    // Cancelling the paid order gives back the rest, not the whole again.
    let current = w.app.order_for(&ana, &order.id).await.unwrap();
    w.app
        .move_order(
            &order.id,
            Some(current.version),
            vitrine_app::orders::OrderMove::Cancel {
                reason: "a loja cancelou".into(),
            },
        )
        .await
        .unwrap();
    dispatcher.pass().await.unwrap();
    assert_eq!(bank.payment(&e2e).unwrap().refunded, order.total);
    let refunded = w.app.payment_for(&ana, &order.id).await.unwrap();
    assert_eq!(refunded.status, PaymentStatus::Refunded);

    // The provider's net and the store's agree: nothing to report.
    w.clock.advance_secs(60);
    let (run, _) = w.app.daily_reconciliation().await.unwrap().unwrap();
    assert!(run.differences.is_empty(), "{:?}", run.differences);
}
