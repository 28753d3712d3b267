//! The abandoned cart sweep's access pattern as a Table conformance case (run by
//! `table_conformance!` on every adapter): carts touched long ago, lately and in between are
//! written through the store's own use cases, then a sweep runs through a [`CountingTable`]. It
//! mails exactly the carts idle in its window, and of all the carts it reads only those: one
//! range of the carts' index, not the table — what a scan would read is every cart and more.
//!
//! Like the admin's search cases, this one writes the store's fixed partitions
//! (`CARTS#TOUCHED`, …): every adapter gives each case a table of its own.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use vitrine_app::cart::CartOwner;
use vitrine_app::ports::table::Table;
use vitrine_app::ports::{Clock, ManualClock, UlidIds};
use vitrine_app::uploads::SignedUploads;
use vitrine_app::{App, Ports, Settings};
use vitrine_domain::Timestamp;
use vitrine_domain::cart::Quantity;
use vitrine_domain::catalog::Sku;

use crate::catalog;
use crate::counting_table::CountingTable;
use crate::doubles::{MemBlobs, RecordingMailer, RecordingSms, Users};

/// 2026-11-01T03:00:00Z.
const START_MS: i64 = 1_793_502_000_000;
const HOUR_SECS: i64 = 3_600;

/// An app on `table` and `clock`, with in-memory doubles for every other port.
fn app_on(
    table: Arc<dyn Table>,
    clock: Arc<ManualClock>,
    mailer: Arc<RecordingMailer>,
) -> Arc<App> {
    let ports = Ports {
        table,
        blobs: Arc::new(MemBlobs::default()),
        identity: Arc::new(Users::default()),
        mailer,
        sms: Arc::new(RecordingSms::default()),
        clock,
        ids: Arc::new(UlidIds),
        payments: Vec::new(),
        fiscal: None,
        uploads: Arc::new(SignedUploads::random()),
        shipping: None,
    };
    App::new(ports, Settings::default())
}

/// Four customers' carts touched 8 days before the sweep, four 25 hours before, four an hour
/// before (the reminder comes after 24 hours, none after a week): the sweep mails the four in
/// between, and the only carts it reads are theirs.
pub async fn cart_sweep_reads_one_index_range_and_mails_the_idle_carts(table: Arc<dyn Table>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START_MS)));
    let mailer = Arc::new(RecordingMailer::default());
    let counting = Arc::new(CountingTable::new(table));
    let app = app_on(counting.clone(), clock.clone(), mailer.clone());
    let sku = Sku::parse("LEMB-1").expect("a SKU");
    let draft = catalog::draft("Caneca".into(), vec![catalog::variant("LEMB-1", 3_500)]);
    app.create_product(draft, &HashMap::from([(sku.clone(), 100)]))
        .await
        .expect("product");

    // Touched at 0 h (8 days before the sweep), at 167 h (25 h before) and at 191 h (1 h).
    let sweep_at = 192 * HOUR_SECS;
    let mut groups: Vec<BTreeSet<String>> = Vec::new();
    for (group, at) in [0, 167 * HOUR_SECS, 191 * HOUR_SECS]
        .into_iter()
        .enumerate()
    {
        clock.set(Timestamp::from_millis(START_MS + at * 1000));
        let mut subs = BTreeSet::new();
        for i in 0..4 {
            let sub = app
                .create_user(
                    &format!("cliente{group}{i}@example.com"),
                    "senha-forte-123",
                    "Cliente Teste",
                    false,
                )
                .await
                .expect("customer");
            app.add_to_cart(
                Some(CartOwner::Customer(sub.clone())),
                sku.clone(),
                Quantity::parse(1).expect("a quantity"),
            )
            .await
            .expect("add to cart");
            subs.insert(sub);
        }
        groups.push(subs);
    }
    clock.set(Timestamp::from_millis(START_MS + sweep_at * 1000));
    counting.take_partitions();

    let run = app
        .remind_abandoned_carts(clock.now(), "https://loja.example")
        .await
        .expect("sweep");

    assert_eq!(run.sent, 4, "{run:?}");
    let mailed: BTreeSet<String> = mailer.sent().into_iter().map(|m| m.to).collect();
    let idle_emails: BTreeSet<String> =
        (0..4).map(|i| format!("cliente1{i}@example.com")).collect();
    assert_eq!(mailed, idle_emails);
    let carts_read: Vec<String> = counting
        .take_partitions()
        .into_iter()
        .filter_map(|pk| pk.strip_prefix("CART#C#").map(str::to_owned))
        .collect();
    let carts_read_set: BTreeSet<String> = carts_read.iter().cloned().collect();
    assert_eq!(
        carts_read_set, groups[1],
        "the sweep read carts outside its window (a scan, or the wrong range)"
    );
    assert_eq!(
        carts_read.len(),
        4,
        "each idle cart read once: {carts_read:?}"
    );

    // Swept again: the reminded carts left the index; nothing is read, nothing is sent.
    let again = app
        .remind_abandoned_carts(clock.now(), "https://loja.example")
        .await
        .expect("sweep");
    assert_eq!(again.sent, 0);
    assert!(
        counting
            .take_partitions()
            .iter()
            .all(|pk| !pk.starts_with("CART#")),
        "no cart is read once the window's are reminded"
    );
    assert_eq!(mailer.sent().len(), 4);
}
