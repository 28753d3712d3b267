//! Test doubles for the notification consumers: the in-memory Table, a recording Mailer and
//! Sms, and a harness that stores real orders moved by the domain's own state machine.
//!
//! `MemTable` and the port doubles are vitrine-testkit's (`vitrine_testkit::mem_table`, which
//! runs the Table conformance suite, and `vitrine_testkit::doubles`), compiled here from their
//! files: unit tests of this crate cannot use a type of a crate that depends on it (the
//! testkit), nor the adapters of `vitrine-local`.

use std::sync::Arc;

use vitrine_domain::br::{Cep, TaxId, Uf};
use vitrine_domain::catalog::{Fiscal, Sku};
use vitrine_domain::contact::Phone;
use vitrine_domain::order::{
    Address, Buyer, Channels, NewOrder, Order, OrderLine, PaymentMethod, ShippingChoice,
};
use vitrine_domain::{Event, Money, Timestamp};

use crate::app::{App, Ports, Settings};
use crate::customers::{Language, ProfileUpdate};
use crate::events::Delivery;
use crate::ports::ManualClock;
use crate::store::Batch;
use crate::store::invoices::{Invoice, InvoiceStatus};

pub const ORDER_ID: &str = "01JQ8Z6V3N4K5M6P7R8S9T0VWX";
pub const CUSTOMER: &str = "c0ffee00-0000-4000-8000-000000000001";
pub const BUYER_EMAIL: &str = "ana.souza@example.com";
pub const TRACKING: &str = "AA123456789BR";
pub const INVOICE_KEY: &str = "35250100000000000100550010000000011000000010";
const T0: i64 = 1_750_000_000;

#[path = "../../../vitrine-testkit/src/mem_table.rs"]
mod mem_table;
pub use mem_table::MemTable;

#[allow(dead_code)] // take_partitions: the unit tests count items, not which.
#[path = "../../../vitrine-testkit/src/counting_table.rs"]
mod counting_table;
pub use counting_table::CountingTable;

#[allow(dead_code)] // Users, RecordingConsumer: not needed by the consumers.
#[path = "../../../vitrine-testkit/src/doubles.rs"]
mod doubles;
pub use doubles::{Failure, MemBlobs, RecordingMailer, RecordingSms, Unused};

pub fn delivery(event_id: &str, event: Event) -> Delivery {
    Delivery {
        event_id: event_id.to_owned(),
        event,
        attempt: 1,
    }
}

/// An [`App`] on the in-memory table and blob store, with the recording transports.
pub struct Harness {
    pub app: Arc<App>,
    pub table: Arc<MemTable>,
    pub blobs: Arc<MemBlobs>,
    pub mailer: Arc<RecordingMailer>,
    pub sms: Arc<RecordingSms>,
    pub clock: Arc<ManualClock>,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_settings(Settings::default())
    }

    pub fn with_settings(settings: Settings) -> Self {
        Self::build(settings, None, None)
    }

    /// A harness whose Shipping port is `shipping` (a carrier that sells labels).
    pub fn with_shipping(shipping: Arc<dyn crate::ports::Shipping>) -> Self {
        Self::build(Settings::default(), None, Some(shipping))
    }

    /// A harness whose blob store is down: every call fails as unavailable.
    pub fn without_blob_store() -> Self {
        Self::build(Settings::default(), Some(Arc::new(Unused)), None)
    }

    fn build(
        settings: Settings,
        blobs_down: Option<Arc<Unused>>,
        shipping: Option<Arc<dyn crate::ports::Shipping>>,
    ) -> Self {
        let blobs = Arc::new(MemBlobs::default());
        let blob_port: Arc<dyn crate::ports::Blobs> = match blobs_down {
            Some(down) => down,
            None => blobs.clone(),
        };
        let clock = Arc::new(ManualClock::new(Timestamp::from_secs(T0)));
        let table = Arc::new(MemTable::with_clock(clock.clone()));
        let mailer = Arc::new(RecordingMailer::default());
        let sms = Arc::new(RecordingSms::default());
        let ports = Ports {
            table: table.clone(),
            blobs: blob_port,
            identity: Arc::new(Unused),
            mailer: mailer.clone(),
            sms: sms.clone(),
            clock: clock.clone(),
            ids: Arc::new(crate::ports::UlidIds),
            payments: Vec::new(),
            fiscal: None,
            uploads: Arc::new(crate::uploads::SignedUploads::random()),
            shipping,
        };
        Self {
            app: App::new(ports, settings),
            table,
            blobs,
            mailer,
            sms,
            clock,
        }
    }

    /// Another app on the same table, blobs, transports and clock: a second process or
    /// function instance, with caches of its own.
    pub fn second_instance(&self) -> Arc<App> {
        let ports = Ports {
            table: self.table.clone(),
            blobs: self.blobs.clone(),
            identity: Arc::new(Unused),
            mailer: self.mailer.clone(),
            sms: self.sms.clone(),
            clock: self.clock.clone(),
            ids: Arc::new(crate::ports::UlidIds),
            payments: Vec::new(),
            fiscal: None,
            uploads: Arc::new(crate::uploads::SignedUploads::random()),
            shipping: None,
        };
        App::new(ports, self.app.settings.clone())
    }

    /// The buyer's profile, through the profile use cases. With a phone, opted in to texts.
    pub async fn customer(&self, language: Language, phone: Option<&str>) {
        self.app
            .ensure_profile(CUSTOMER, BUYER_EMAIL, "Ana Souza")
            .await
            .unwrap();
        let phone = phone.map(|p| Phone::parse(p).unwrap());
        self.app
            .update_profile(
                CUSTOMER,
                ProfileUpdate {
                    marketing_emails: None,
                    cart_reminders: None,
                    name: "Ana Souza".into(),
                    tax_id: None,
                    sms_opt_in: phone.is_some(),
                    phone,
                    language,
                },
            )
            .await
            .unwrap();
    }

    pub async fn opt_out_of_sms(&self) {
        let profile = self.app.profile(CUSTOMER).await.unwrap();
        self.app
            .update_profile(
                CUSTOMER,
                ProfileUpdate {
                    marketing_emails: None,
                    cart_reminders: None,
                    name: profile.name,
                    tax_id: profile.tax_id,
                    phone: profile.phone,
                    sms_opt_in: false,
                    language: profile.language,
                },
            )
            .await
            .unwrap();
    }

    /// Store the standard order moved to the state of `event_type`; return that move's event.
    pub async fn order_reaching(&self, event_type: &str) -> Event {
        self.order_with("Camiseta Básica", "Ana Souza", event_type)
            .await
    }

    /// The standard order, with a product and a buyer named as given.
    pub async fn order_with(&self, product: &str, buyer: &str, event_type: &str) -> Event {
        let mut order = placed_order(product, buyer);
        let event = advance(&mut order, event_type, TRACKING);
        self.store(&order).await;
        event
    }

    pub async fn order_shipped_with(&self, tracking_code: &str) -> Event {
        let mut order = placed_order("Camiseta Básica", "Ana Souza");
        let event = advance(&mut order, "order.shipped", tracking_code);
        self.store(&order).await;
        event
    }

    pub async fn order_cancelled_unpaid(&self) -> Event {
        let mut order = placed_order("Camiseta Básica", "Ana Souza");
        let (event, _) = order
            .cancel(Timestamp::from_secs(T0 + 60), "changed my mind")
            .unwrap();
        self.store(&order).await;
        event
    }

    /// Store the standard order's invoice record as the app keeps an issued one, under `key`
    /// (with `protocol` when SEFAZ authorised it); its files are the test's to put.
    pub async fn invoice(&self, key: &str, protocol: Option<&str>) -> String {
        let file = format!("invoices/2025/06/{key}-nfe.xml");
        let invoice = Invoice {
            order_id: ORDER_ID.into(),
            environment: 2,
            series: 1,
            number: 1,
            cnf: "00000001".into(),
            issued_at: Timestamp::from_secs(T0 + 120),
            status: InvoiceStatus::Issued,
            access_key: Some(key.into()),
            file: Some(file.clone()),
            transmission: Some(
                if protocol.is_some() {
                    "authorized"
                } else {
                    "signed-not-transmitted"
                }
                .into(),
            ),
            protocol: protocol.map(str::to_owned),
            version: 1,
            pending_key: None,
            contingency: None,
            rejection: None,
            authorized_at: None,
            cancellation: None,
            corrections: Vec::new(),
            voiding: None,
            trade_name: None,
        };
        let mut batch = Batch::new();
        batch.take_invoice_number(&invoice, None).unwrap();
        self.app.write(batch).await.unwrap();
        file
    }

    pub async fn order(&self) -> Order {
        self.app.load_order(ORDER_ID).await.unwrap()
    }

    pub async fn delete_order(&self) {
        let mut batch = Batch::new();
        batch.delete_order(ORDER_ID);
        self.app.write(batch).await.unwrap();
    }

    async fn store(&self, order: &Order) {
        let mut batch = Batch::new();
        batch.put_order(order).unwrap();
        self.app.write(batch).await.unwrap();
    }
}

/// 2 × R$ 500,00 + 1 × R$ 200,00, shipping R$ 34,56: R$ 1.234,56, paid by Pix.
fn placed_order(product: &str, buyer: &str) -> Order {
    let line =
        |sku: &str, name: &str, price: i64, quantity: u32, options: &[(&str, &str)]| OrderLine {
            sku: Sku::parse(sku).unwrap(),
            product_id: format!("p-{sku}"),
            name: name.to_owned(),
            options: options
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            unit_price: Money::from_centavos(price),
            quantity,
            weight_g: 300,
            fiscal: Fiscal::default(),
        };
    let (order, _) = Order::place(NewOrder {
        id: ORDER_ID.into(),
        customer_id: CUSTOMER.into(),
        lines: vec![
            line("CAM-M", product, 50_000, 2, &[("Tamanho", "M")]),
            line("CANECA", "Caneca", 20_000, 1, &[]),
        ],
        buyer: Buyer {
            name: buyer.to_owned(),
            email: BUYER_EMAIL.into(),
            tax_id: TaxId::parse("52998224725").unwrap(),
            phone: None,
        },
        shipping_address: Address {
            recipient: buyer.to_owned(),
            street: "Av. Paulista".into(),
            number: "1000".into(),
            complement: Some("apto 42".into()),
            district: "Bela Vista".into(),
            city: "São Paulo".into(),
            uf: Uf::parse("SP").unwrap(),
            cep: Cep::parse("01310100").unwrap(),
        },
        shipping: ShippingChoice {
            method_id: "sedex".into(),
            name: "SEDEX".into(),
            price: Money::from_centavos(3_456),
            days: 2,
        },
        coupon: None,
        payment_method: PaymentMethod::Pix,
        payment_provider: "sandbox".into(),
        now: Timestamp::from_secs(T0),
        pay_within_secs: 1_800,
        channels: Channels::default(),
    })
    .unwrap();
    order
}

/// Move a placed order along the happy path up to `event_type` (a paid order for
/// `order.cancelled`, so it is refunded); the last move's event.
fn advance(order: &mut Order, event_type: &str, tracking_code: &str) -> Event {
    let at = |s: i64| Timestamp::from_secs(T0 + s);
    match event_type {
        "order.placed" => order.event("order.placed"),
        "order.expired" => order.expire(order.pay_by).unwrap().0,
        _ => {
            let paid = order.pay(at(60), "pix-e2e-1").unwrap();
            match event_type {
                "order.paid" => paid,
                "order.cancelled" => order.cancel(at(120), "out of stock").unwrap().0,
                _ => {
                    let invoiced = order.invoice(at(120), INVOICE_KEY).unwrap();
                    if event_type == "order.invoiced" {
                        return invoiced;
                    }
                    let shipped = order.ship(at(180), tracking_code).unwrap();
                    match event_type {
                        "order.shipped" => shipped,
                        "order.delivered" => order.deliver(at(240)).unwrap(),
                        other => advance_return(order, other, at(240)),
                    }
                }
            }
        }
    }
}

/// A delivered order's whole return taken to the step of `event_type`.
fn advance_return(order: &mut Order, event_type: &str, at: Timestamp) -> Event {
    order.deliver(at).unwrap();
    let wanted: Vec<_> = order
        .lines
        .iter()
        .map(|l| vitrine_domain::returns::ReturnWanted {
            sku: l.sku.to_string(),
            quantity: l.quantity,
        })
        .collect();
    let requested = order
        .request_return("01JRETURN", &wanted, "não serviu", at.plus_secs(60))
        .unwrap();
    match event_type {
        "order.return_requested" => requested,
        "order.return_refused" => {
            order
                .refuse_return("01JRETURN", "produto usado", at.plus_secs(120))
                .unwrap()
                .0
        }
        _ => {
            let received = order
                .receive_return("01JRETURN", at.plus_secs(120))
                .unwrap()
                .0;
            match event_type {
                "order.return_received" => received,
                "order.return_approved" => {
                    order
                        .approve_return("01JRETURN", "01JREFUND", at.plus_secs(180))
                        .unwrap()
                        .0
                }
                other => panic!("no such order event: {other}"),
            }
        }
    }
}
