//! `report_gen`: writes N sold orders into a vitrine data folder through the application's own
//! item layout (`App::order_item` on the SQLite adapter), for the report memory benchmark
//! (`bench/report-memory.sh`). Orders vary by day (spread over a year), payment method, UF,
//! product and quantity; all are paid. Prints the sums it wrote, for comparison.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use vitrine_app::ports::WriteOp;
use vitrine_domain::br::{Cep, TaxId, Uf};
use vitrine_domain::catalog::{Fiscal, Sku};
use vitrine_domain::money::Money;
use vitrine_domain::order::{
    Address, Buyer, Channels, NewOrder, Order, OrderLine, PaymentMethod, ShippingChoice,
};
use vitrine_domain::time::Timestamp;

#[path = "gen/data_folder.rs"]
mod data_folder;

#[derive(Debug, Parser)]
struct Args {
    /// The data folder (created when missing).
    #[arg(long)]
    data_dir: PathBuf,
    /// How many orders.
    #[arg(long)]
    orders: u64,
}

/// Real (city, UF, CEP) triples, as checkout would accept them.
const PLACES: [(&str, &str, &str); 5] = [
    ("São Paulo", "SP", "01310-100"),
    ("Rio de Janeiro", "RJ", "20040-002"),
    ("Belo Horizonte", "MG", "30130-010"),
    ("Porto Alegre", "RS", "90010-000"),
    ("Salvador", "BA", "40020-000"),
];
const BATCH: u64 = 100;

fn order(i: u64) -> anyhow::Result<Order> {
    let day0 = Timestamp::from_secs(1_735_700_400); // 2025-01-01 00:00 in São Paulo
    let at = day0.plus_secs((i % 365) as i64 * 86_400 + (i % 86_000) as i64);
    let sku = format!("GEN-{}", i % 50);
    let line = OrderLine {
        sku: Sku::parse(&sku).map_err(anyhow::Error::msg)?,
        product_id: format!("P{}", i % 50),
        name: format!("Produto {}", i % 50),
        options: Default::default(),
        unit_price: Money::from_centavos(1_000 + (i % 50) as i64 * 137),
        quantity: 1 + (i % 3) as u32,
        weight_g: 300,
        fiscal: Fiscal::default(),
    };
    let (city, uf, cep) = PLACES[(i % 5) as usize];
    let new = NewOrder {
        id: format!("01GEN{i:021}"),
        customer_id: format!("customer-{}", i % 1000),
        lines: vec![line],
        buyer: Buyer {
            name: "Cliente Gerado".into(),
            email: "gerado@example.com".into(),
            tax_id: TaxId::parse("529.982.247-25").map_err(|e| anyhow::anyhow!("{e:?}"))?,
            phone: None,
        },
        shipping_address: Address {
            recipient: "Cliente Gerado".into(),
            street: "Rua A".into(),
            number: "1".into(),
            complement: None,
            district: "Centro".into(),
            city: city.into(),
            uf: Uf::parse(uf).map_err(|e| anyhow::anyhow!("{e:?}"))?,
            cep: Cep::parse(cep).map_err(|e| anyhow::anyhow!("{e:?}"))?,
        },
        shipping: ShippingChoice {
            method_id: "pac".into(),
            name: "PAC".into(),
            price: Money::from_centavos(1_590),
            days: 5,
        },
        coupon: None,
        payment_method: if i.is_multiple_of(3) {
            PaymentMethod::Card
        } else {
            PaymentMethod::Pix
        },
        payment_provider: "sandbox".into(),
        now: at,
        pay_within_secs: 1800,
        channels: Channels::default(),
    };
    let (mut order, _) = Order::place(new).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    order
        .pay(at.plus_secs(60), &format!("E{i}"))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(order)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let app = data_folder::open(&args.data_dir)?;
    let (mut count, mut sum) = (0u64, 0i64);
    let mut i = 0;
    let mut writers = tokio::task::JoinSet::new();
    while i < args.orders {
        let end = (i + BATCH).min(args.orders);
        let mut ops = Vec::with_capacity(BATCH as usize);
        for n in i..end {
            let o = order(n)?;
            count += 1;
            sum += o.total.centavos();
            ops.push(WriteOp::put(vitrine_app::store::orders::order_item(&o)?));
        }
        let table = app.ports.table.clone();
        writers.spawn(async move { table.write(ops).await });
        while writers.len() >= 8 {
            writers.join_next().await.context("writer")???;
        }
        i = end;
        if i.is_multiple_of(100_000) {
            eprintln!("{i} orders written");
        }
    }
    while let Some(r) = writers.join_next().await {
        r??;
    }
    println!("orders={count}\nrevenue_centavos={sum}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_address_is_one_checkout_would_accept() {
        for i in 0..PLACES.len() as u64 {
            let o = order(i).unwrap();
            assert_eq!(o.shipping_address.validate("shipping_address"), Ok(()));
        }
    }
}
