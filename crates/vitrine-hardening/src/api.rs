//! The few API calls the hardening run makes, over HTTP.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use reqwest::Client;
use serde_json::{Value, json};

use crate::server::Server;

/// Statuses whose units are still taken from stock.
pub fn holds_stock(status: &str) -> bool {
    matches!(
        status,
        "pending_payment" | "paid" | "invoiced" | "shipped" | "delivered"
    )
}

/// Sign in with the harness's password: the whole token answer.
pub async fn sign_in(c: &Client, s: &Server, email: &str) -> anyhow::Result<Value> {
    s.sign_in(c, email).await
}

pub fn access(tokens: &Value) -> String {
    tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A Pix checkout of `qty` of `sku`, delivered to São Paulo.
pub fn buy_now(sku: &str, qty: i64) -> Value {
    json!({
        "items": [{ "sku": sku, "quantity": qty }],
        "shipping_address": {
            "recipient": "Ana Souza", "street": "Avenida Paulista", "number": "1000",
            "complement": "ap 12", "district": "Bela Vista", "city": "São Paulo", "uf": "SP",
            "cep": "01310-100"
        },
        "shipping_method": "pac",
        "payment_method": "pix",
        "tax_id": "529.982.247-25"
    })
}

/// Create a product with one variant.
pub async fn create_product(
    c: &Client,
    s: &Server,
    admin: &str,
    slug: &str,
    sku: &str,
    stock: i64,
) -> anyhow::Result<Value> {
    let res = c
        .post(s.url("/api/v1/admin/products"))
        .bearer_auth(admin)
        .json(&json!({
            "slug": slug,
            "name": format!("Produto {slug}"),
            "variants": [{ "sku": sku, "options": { "tamanho": "M" }, "price_centavos": 5000,
                "weight_g": 300, "stock": stock }]
        }))
        .send()
        .await?;
    let status = res.status();
    let body: Value = res.json().await?;
    if status != 201 {
        bail!("creating product {slug}: {status} {body}");
    }
    Ok(body)
}

/// Units of `sku` available.
pub async fn stock(c: &Client, s: &Server, admin: &str, sku: &str) -> anyhow::Result<i64> {
    let res = c
        .get(s.url(&format!("/api/v1/admin/stock/{sku}")))
        .bearer_auth(admin)
        .send()
        .await?;
    let body: Value = res.json().await?;
    body["available"]
        .as_i64()
        .with_context(|| format!("stock of {sku}: {body}"))
}

/// One order as the hardening checks see it.
#[derive(Debug, Clone)]
pub struct OrderView {
    pub status: String,
    pub units: i64,
    pub invoice_key: Option<String>,
}

/// Every order, in every status, by id.
pub async fn all_orders(
    c: &Client,
    s: &Server,
    admin: &str,
) -> anyhow::Result<BTreeMap<String, OrderView>> {
    let mut out = BTreeMap::new();
    for o in s.admin_orders(c, admin).await? {
        let units = o["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| l["quantity"].as_i64().unwrap_or(0))
            .sum();
        out.insert(
            o["id"].as_str().unwrap_or_default().to_owned(),
            OrderView {
                status: o["status"].as_str().unwrap_or_default().to_owned(),
                units,
                invoice_key: o["invoice_key"].as_str().map(str::to_owned),
            },
        );
    }
    Ok(out)
}

/// Events not yet delivered (outbox plus pending deliveries) and dead letters, as the server
/// reports them.
pub async fn undelivered(c: &Client, s: &Server, admin: &str) -> anyhow::Result<(u64, u64)> {
    let res = c
        .get(s.url("/api/v1/admin/events"))
        .bearer_auth(admin)
        .send()
        .await?;
    let body: Value = res.json().await?;
    let queues = body["queues"].as_array().cloned().unwrap_or_default();
    let pending: u64 = queues
        .iter()
        .map(|q| q["pending"].as_u64().unwrap_or(0))
        .sum();
    let dead: u64 = queues.iter().map(|q| q["dead"].as_u64().unwrap_or(0)).sum();
    Ok((body["outbox"].as_u64().unwrap_or(0) + pending, dead))
}

/// Wait (bounded, 3 minutes) until every event is delivered; the last counts seen.
pub async fn wait_for_deliveries(
    c: &Client,
    s: &Server,
    admin: &str,
) -> anyhow::Result<(u64, u64)> {
    let mut last = (0, 0);
    for _ in 0..1_800 {
        last = undelivered(c, s, admin).await?;
        if last == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(last)
}

/// The invoice number (`nNF`) inside an NF-e access key: digits 26 to 34 (the key's layout is
/// in ../shared/nfe/NOTES.md: cUF, AAMM, CNPJ, mod, serie, nNF, tpEmis, cNF, cDV).
pub fn invoice_number(key: &str) -> Option<u64> {
    key.get(25..34)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invoice_number_is_read_from_the_access_key() {
        // The signed sample of ../shared/nfe/NOTES.md: series 001, nNF 000046320, check digit 7.
        let key = "41170706117473000150550010000463201612756527";
        assert_eq!(invoice_number(key), Some(46_320));
        assert_eq!(invoice_number("123"), None);
    }
}
