//! Invoicing: the `invoices` consumer issues an NF-e (signed, schema-valid by `xmllint`, stored
//! in Blobs) for every paid order, numbered 1, 2, 3… with no gap and no repeat, also when
//! issuers race.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::UtcOffset;
use time::macros::datetime;
use vitrine_app::events::dispatch::Dispatcher;
use vitrine_app::invoices::{Fiscal, Invoices, Issued};
use vitrine_app::ports::SignedNotTransmitted;
use vitrine_domain::order::OrderStatus;
use vitrine_nfe::{
    Address, Cnpj, Emitter, Environment, ItemTaxes, SigningCertificate, TaxRegime,
    TechnicalResponsible, Uf, Xmllint,
};

use crate::world::World;

/// The demo emitter of `vitrine serve` (a CNPJ that belongs to no one's store), homologation,
/// with a fresh self-signed certificate and `xmllint` as the schema validator.
fn fiscal() -> Arc<Fiscal> {
    const PASSWORD: &str = "senha-do-certificado";
    let cnpj = Cnpj::parse("11222333000181").unwrap();
    let name = "LOJA DEMONSTRACAO VITRINE LTDA";
    let p12 = vitrine_nfe::demo::demo_pkcs12(
        &cnpj,
        name,
        datetime!(2020-01-01 00:00 UTC),
        20 * 365,
        PASSWORD,
    )
    .unwrap();
    Arc::new(Fiscal {
        environment: Environment::Homologation,
        series: 1,
        emitter: Emitter {
            cnpj: cnpj.clone(),
            ie: "110042490114".into(),
            regime: TaxRegime::SimplesNacional,
            name: name.into(),
            trade_name: Some("vitrine demo".into()),
            address: Address {
                street: "Avenida Paulista".into(),
                number: "1000".into(),
                complement: None,
                district: "Bela Vista".into(),
                municipality_code: 3_550_308,
                municipality_name: "São Paulo".into(),
                uf: Uf::parse("SP").unwrap(),
                cep: "01310100".into(),
                phone: None,
            },
        },
        item_taxes: ItemTaxes::SimplesNacional,
        technical_responsible: TechnicalResponsible {
            cnpj,
            contact: "Suporte da loja".into(),
            email: "suporte@vitrine.invalid".into(),
            phone: "11999999999".into(),
        },
        certificate: SigningCertificate::from_pkcs12(&p12, PASSWORD).unwrap(),
        validator: Arc::new(Xmllint::new().expect("xmllint is installed (scripts/test.sh)")),
        authority: Arc::new(SignedNotTransmitted),
        utc_offset: UtcOffset::from_hms(-3, 0, 0).unwrap(),
        nature_of_operation: "VENDA DE MERCADORIA".into(),
        contingency_check: std::time::Duration::from_secs(60),
    })
}

/// `n` orders of different customers, each paid by Pix: (customer, order id).
async fn paid_orders(w: &World, n: usize) -> Vec<(vitrine_app::auth::Principal, String)> {
    w.product("nota", "NOTA-1", 1_000).await;
    let mut out = Vec::new();
    for i in 0..n {
        let who = w.customer(&format!("cliente{i}@example.com")).await;
        let order = w
            .place(&who, "NOTA-1", 1 + (i % 3) as u32, &format!("nota-{i}"))
            .await
            .unwrap()
            .order;
        w.pay(&who, &order.id).await;
        out.push((who, order.id));
    }
    out
}

#[tokio::test]
async fn the_invoices_consumer_invoices_every_paid_order_with_gapless_numbers() {
    const ORDERS: usize = 6;
    let w = World::with_fiscal(Some(fiscal()));
    let orders = paid_orders(&w, ORDERS).await;

    let invoices: Arc<dyn vitrine_app::events::Consumer> = Arc::new(Invoices::new(w.app.clone()));
    let dispatcher = Arc::new(Dispatcher::new(w.app.clone(), vec![invoices]));
    // Bounded: one pass fans the events out and delivers them; the rest must find nothing.
    let mut delivered = 0;
    for _ in 0..5 {
        let pass = dispatcher.clone().pass().await.unwrap();
        assert_eq!(
            (pass.retried, pass.dead_lettered),
            (0, 0),
            "every invoice issued at once: {pass:?}"
        );
        delivered += pass.delivered;
    }
    assert_eq!(
        delivered, ORDERS,
        "one order.paid per order, each delivered once"
    );

    let mut numbers = Vec::new();
    for (who, id) in &orders {
        let order = w.app.order_for(who, id).await.unwrap();
        assert_eq!(order.status, OrderStatus::Invoiced, "order {id}");
        let invoice = w.app.invoice_for(who, id).await.unwrap();
        assert_eq!(invoice.access_key, order.invoice_key);
        assert_eq!((invoice.environment, invoice.series), (2, 1));
        numbers.push(invoice.number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=ORDERS as u32).collect::<Vec<_>>());
    assert_eq!(
        w.blobs_ending("invoices/", "-nfe.xml").await,
        ORDERS,
        "one signed XML per order"
    );
    assert_eq!(
        w.blobs_ending("invoices/", "-danfe.pdf").await,
        ORDERS,
        "its DANFE beside each"
    );
    assert_eq!(w.blobs_under("invoices/").await, 2 * ORDERS, "nothing else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_issuers_give_each_order_one_number_with_no_gap() {
    const ORDERS: usize = 8;
    let w = World::with_fiscal(Some(fiscal()));
    let orders = paid_orders(&w, ORDERS).await;

    // Every order issued twice at once, as racing Lambda instances would.
    let tasks: Vec<_> = orders
        .iter()
        .chain(orders.iter())
        .map(|(_, id)| {
            let app = w.app.clone();
            let id = id.clone();
            tokio::spawn(async move { app.issue_invoice(&id).await })
        })
        .collect();
    for task in tasks {
        match task.await.unwrap() {
            Ok(Issued::Issued(_)) => {}
            other => panic!("not issued: {other:?}"),
        }
    }
    let mut numbers = BTreeSet::new();
    for (who, id) in &orders {
        let invoice = w.app.invoice_for(who, id).await.unwrap();
        assert!(
            numbers.insert(invoice.number),
            "number {} twice",
            invoice.number
        );
    }
    assert_eq!(
        numbers.into_iter().collect::<Vec<_>>(),
        (1..=ORDERS as u32).collect::<Vec<_>>()
    );
    assert_eq!(w.blobs_ending("invoices/", "-nfe.xml").await, ORDERS);
    assert_eq!(
        w.blobs_under("invoices/").await,
        2 * ORDERS,
        "each with its DANFE"
    );
}
