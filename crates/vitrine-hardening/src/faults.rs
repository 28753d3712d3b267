//! Faults: SIGKILL under mixed load, repeated, and checks of what survived.
//!
//! One data folder lives through every round. A round runs buyers (checkouts with
//! Idempotency-Keys), payers (Pix charges confirmed by signed webhooks), an admin renaming the
//! product (with If-Match) and an admin adding stock, then kills the server with SIGKILL at a
//! random moment, restarts it, waits for it to deliver every event, and checks:
//!
//! - every order the server acknowledged (201 with a whole body) exists;
//! - every payment it acknowledged (webhook answered `paid`) left its order paid or later;
//! - stock = initial + adjustments − units of orders that hold stock, where an adjustment whose
//!   answer was cut off by the kill may or may not have happened (the check admits both, and
//!   nothing else);
//! - the product's name is the last acknowledged rename or a later one;
//! - every event is delivered (empty outbox and queues, no dead letters);
//! - the invoice numbers of the paid orders are 1..n: no gap, no repeat;
//! - no request got a 5xx.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use rand::Rng as _;
use reqwest::Client;
use serde_json::{Value, json};
use vitrine_app::payments::sandbox::{SIGNATURE_HEADER, WebhookSigner};

use crate::api::{self, holds_stock};
use crate::server::{NO_SEED, Server, USER_NAME, client, key_file, vitrine};

const SKU: &str = "FAULT-1";
const INITIAL_STOCK: i64 = 1_000_000;
const CUSTOMERS: usize = 4;
const BUYERS_PER_CUSTOMER: usize = 2;
const PAYERS: usize = 2;

/// What the fault rounds found.
#[derive(Debug, Default, Clone)]
pub struct FaultReport {
    pub rounds: usize,
    pub orders_acked: usize,
    pub orders_lost: usize,
    pub payments_acked: usize,
    pub payments_lost: usize,
    pub edits_acked: usize,
    pub edits_lost: usize,
    pub stock_checks: usize,
    pub stock_mismatches: usize,
    pub invoices: usize,
    pub invoice_gaps: usize,
    pub events_undelivered: u64,
    pub dead_letters: u64,
    pub responses_5xx: u64,
    pub problems: Vec<String>,
}

/// What every round adds to, shared by the load tasks.
#[derive(Default)]
struct Ledger {
    /// Acknowledged orders: id, customer index, total.
    orders: Mutex<Vec<(String, usize, i64)>>,
    /// Acknowledged orders not yet taken by a payer.
    to_pay: Mutex<Vec<(String, usize, i64)>>,
    paid: Mutex<BTreeSet<String>>,
    adjustments_acked: AtomicU64,
    adjustments_unknown: AtomicU64,
    last_rename_acked: AtomicU64,
    renames_acked: AtomicU64,
    next_rename: AtomicU64,
    responses_5xx: AtomicU64,
    next_key: AtomicU64,
    next_notice: AtomicU64,
}

struct Ctx {
    c: Client,
    base: String,
    admin: String,
    customers: Vec<String>,
    product_id: String,
    signer: WebhookSigner,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
}

impl Ctx {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn saw(&self, status: reqwest::StatusCode) {
        if status.is_server_error() {
            self.ledger.responses_5xx.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn buyer(ctx: Arc<Ctx>, customer: usize) {
    while !ctx.stop.load(Ordering::SeqCst) {
        let n = ctx.ledger.next_key.fetch_add(1, Ordering::SeqCst);
        let qty = 1 + (n % 3) as i64;
        let res = ctx
            .c
            .post(ctx.url("/api/v1/orders"))
            .bearer_auth(&ctx.customers[customer])
            .header("Idempotency-Key", format!("fault-order-{n}"))
            .json(&api::buy_now(SKU, qty))
            .send()
            .await;
        let Ok(res) = res else { break };
        ctx.saw(res.status());
        if res.status() == 201
            && let Ok(body) = res.json::<Value>().await
            && let (Some(id), Some(total)) = (body["id"].as_str(), body["total_centavos"].as_i64())
        {
            let entry = (id.to_owned(), customer, total);
            ctx.ledger.orders.lock().unwrap().push(entry.clone());
            // Every other order is paid.
            if n.is_multiple_of(2) {
                ctx.ledger.to_pay.lock().unwrap().push(entry);
            }
        }
    }
}

async fn payer(ctx: Arc<Ctx>) {
    while !ctx.stop.load(Ordering::SeqCst) {
        let next = ctx.ledger.to_pay.lock().unwrap().pop();
        let Some((id, customer, total)) = next else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let res = ctx
            .c
            .post(ctx.url(&format!("/api/v1/orders/{id}/payment")))
            .bearer_auth(&ctx.customers[customer])
            .json(&json!({ "method": "pix" }))
            .send()
            .await;
        let Ok(res) = res else { break };
        ctx.saw(res.status());
        let Ok(payment) = res.json::<Value>().await else {
            break;
        };
        let Some(txid) = payment["pix"]["txid"].as_str() else {
            continue;
        };
        let notice = ctx.ledger.next_notice.fetch_add(1, Ordering::SeqCst);
        let body = json!({
            "id": format!("fault-notice-{notice}"), "type": "pix.paid", "txid": txid,
            "amount_centavos": total, "end_to_end_id": format!("EFAULT{notice}")
        })
        .to_string();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let res = ctx
            .c
            .post(ctx.url("/api/v1/payments/webhooks/pix"))
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, ctx.signer.sign(now, body.as_bytes()))
            .body(body)
            .send()
            .await;
        let Ok(res) = res else { break };
        ctx.saw(res.status());
        if res.status() == 200
            && let Ok(answer) = res.json::<Value>().await
            && answer["result"] == "paid"
        {
            ctx.ledger.paid.lock().unwrap().insert(id);
        }
    }
}

/// Renames the product, "Produto renomeado N" with N growing, each with the current ETag.
async fn renamer(ctx: Arc<Ctx>) {
    let path = format!("/api/v1/admin/products/{}", ctx.product_id);
    while !ctx.stop.load(Ordering::SeqCst) {
        let Ok(res) = ctx
            .c
            .get(ctx.url(&path))
            .bearer_auth(&ctx.admin)
            .send()
            .await
        else {
            break;
        };
        ctx.saw(res.status());
        let Some(etag) = res.headers().get("etag").cloned() else {
            continue;
        };
        let n = ctx.ledger.next_rename.fetch_add(1, Ordering::SeqCst) + 1;
        let res = ctx
            .c
            .put(ctx.url(&path))
            .bearer_auth(&ctx.admin)
            .header("if-match", etag)
            .json(&json!({ "name": format!("Produto renomeado {n}"),
                "variants": [{ "sku": SKU, "price_centavos": 5000 }] }))
            .send()
            .await;
        let Ok(res) = res else { break };
        ctx.saw(res.status());
        if res.status() == 200 && res.bytes().await.is_ok() {
            ctx.ledger.last_rename_acked.fetch_max(n, Ordering::SeqCst);
            ctx.ledger.renames_acked.fetch_add(1, Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Adds one unit of stock at a time.
async fn restocker(ctx: Arc<Ctx>) {
    while !ctx.stop.load(Ordering::SeqCst) {
        let res = ctx
            .c
            .post(ctx.url(&format!("/api/v1/admin/stock/{SKU}/adjustments")))
            .bearer_auth(&ctx.admin)
            .json(&json!({ "delta": 1, "reason": "reposição" }))
            .send()
            .await;
        match res {
            Ok(res) => {
                ctx.saw(res.status());
                let ok = res.status() == 200;
                match res.bytes().await {
                    Ok(_) if ok => {
                        ctx.ledger.adjustments_acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(_) => {
                        ctx.ledger
                            .adjustments_unknown
                            .fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                }
            }
            Err(_) => {
                // Sent, answer lost: it may have been applied.
                ctx.ledger
                    .adjustments_unknown
                    .fetch_add(1, Ordering::SeqCst);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Run `rounds` rounds on a fresh data folder under `work`.
pub async fn run(
    bin: &std::path::Path,
    work: &std::path::Path,
    rounds: usize,
) -> anyhow::Result<FaultReport> {
    let data_dir = work.join("faults-data");
    let v = vitrine(bin, &data_dir, &work.join("faults-logs"));
    v.add_user("admin@loja.test", USER_NAME, true)?;
    for i in 0..CUSTOMERS {
        v.add_user(&format!("cliente{i}@loja.test"), USER_NAME, false)?;
    }
    let c = client();
    let mut server = v.start("setup", NO_SEED).await?;
    let admin = api::access(&api::sign_in(&c, &server, "admin@loja.test").await?);
    let mut customers = Vec::new();
    for i in 0..CUSTOMERS {
        customers.push(api::access(
            &api::sign_in(&c, &server, &format!("cliente{i}@loja.test")).await?,
        ));
    }
    let product = api::create_product(
        &c,
        &server,
        &admin,
        "produto-das-falhas",
        SKU,
        INITIAL_STOCK,
    )
    .await?;
    let product_id = product["id"].as_str().unwrap_or_default().to_owned();
    let secret = std::fs::read_to_string(key_file(&data_dir, "payments-webhook.secret"))
        .context("reading the webhook secret")?;
    let ledger = Arc::new(Ledger::default());
    let mut report = FaultReport::default();
    let mut rng = rand::thread_rng();

    for round in 1..=rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let ctx = Arc::new(Ctx {
            c: c.clone(),
            base: server.base.clone(),
            admin: admin.clone(),
            customers: customers.clone(),
            product_id: product_id.clone(),
            signer: WebhookSigner::new(secret.trim().as_bytes().to_vec())
                .map_err(anyhow::Error::msg)?,
            ledger: ledger.clone(),
            stop: stop.clone(),
        });
        let mut tasks = Vec::new();
        for customer in 0..CUSTOMERS {
            for _ in 0..BUYERS_PER_CUSTOMER {
                tasks.push(tokio::spawn(buyer(ctx.clone(), customer)));
            }
        }
        for _ in 0..PAYERS {
            tasks.push(tokio::spawn(payer(ctx.clone())));
        }
        tasks.push(tokio::spawn(renamer(ctx.clone())));
        tasks.push(tokio::spawn(restocker(ctx.clone())));
        // A random moment: the kill lands anywhere in the work.
        let after = rng.gen_range(400..2_500);
        tokio::time::sleep(Duration::from_millis(after)).await;
        server.kill()?;
        stop.store(true, Ordering::SeqCst);
        for t in tasks {
            let _ = t.await;
        }
        // Whatever was waiting to be paid belongs to the dead server's round.
        ledger.to_pay.lock().unwrap().clear();

        server = v.start(&format!("round-{round}"), NO_SEED).await?;
        check(
            &c,
            &server,
            &admin,
            &product_id,
            &ledger,
            &mut report,
            round,
        )
        .await?;
        report.rounds = round;
    }
    report.orders_acked = ledger.orders.lock().unwrap().len();
    report.payments_acked = ledger.paid.lock().unwrap().len();
    report.edits_acked = ledger.renames_acked.load(Ordering::SeqCst) as usize
        + ledger.adjustments_acked.load(Ordering::SeqCst) as usize;
    report.responses_5xx = ledger.responses_5xx.load(Ordering::SeqCst);
    server.stop().await?;
    Ok(report)
}

async fn check(
    c: &Client,
    s: &Server,
    admin: &str,
    product_id: &str,
    ledger: &Ledger,
    report: &mut FaultReport,
    round: usize,
) -> anyhow::Result<()> {
    let (undelivered, dead) = api::wait_for_deliveries(c, s, admin).await?;
    report.events_undelivered += undelivered;
    report.dead_letters += dead;
    if undelivered + dead > 0 {
        report.problems.push(format!(
            "round {round}: {undelivered} events undelivered, {dead} dead letters"
        ));
    }
    let orders = api::all_orders(c, s, admin).await?;

    let lost: Vec<String> = ledger
        .orders
        .lock()
        .unwrap()
        .iter()
        .filter(|(id, _, _)| !orders.contains_key(id))
        .map(|(id, _, _)| id.clone())
        .collect();
    if !lost.is_empty() {
        report
            .problems
            .push(format!("round {round}: orders lost: {lost:?}"));
    }
    report.orders_lost = report.orders_lost.max(lost.len());

    let unpaid: Vec<String> = ledger
        .paid
        .lock()
        .unwrap()
        .iter()
        .filter(|id| {
            !orders.get(*id).is_some_and(|o| {
                matches!(
                    o.status.as_str(),
                    "paid" | "invoiced" | "shipped" | "delivered"
                )
            })
        })
        .cloned()
        .collect();
    if !unpaid.is_empty() {
        report
            .problems
            .push(format!("round {round}: payments lost: {unpaid:?}"));
    }
    report.payments_lost = report.payments_lost.max(unpaid.len());

    let sold: i64 = orders
        .values()
        .filter(|o| holds_stock(&o.status))
        .map(|o| o.units)
        .sum();
    let base = INITIAL_STOCK + ledger.adjustments_acked.load(Ordering::SeqCst) as i64 - sold;
    let maybe = ledger.adjustments_unknown.load(Ordering::SeqCst) as i64;
    let available = api::stock(c, s, admin, SKU).await?;
    report.stock_checks += 1;
    if !(base..=base + maybe).contains(&available) {
        report.stock_mismatches += 1;
        report.problems.push(format!(
            "round {round}: stock {available}, expected {base} (+ up to {maybe} unacknowledged adjustments)"
        ));
    }

    {
        let product: Value = c
            .get(s.url(&format!("/api/v1/admin/products/{product_id}")))
            .bearer_auth(admin)
            .send()
            .await?
            .json()
            .await?;
        let shown: u64 = product["name"]
            .as_str()
            .and_then(|n| n.strip_prefix("Produto renomeado "))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let acked = ledger.last_rename_acked.load(Ordering::SeqCst);
        if shown < acked {
            report.edits_lost += 1;
            report.problems.push(format!(
                "round {round}: the product is named #{shown}, but rename #{acked} was acknowledged"
            ));
        }
    }

    let mut numbers: Vec<u64> = orders
        .values()
        .filter_map(|o| o.invoice_key.as_deref().and_then(api::invoice_number))
        .collect();
    numbers.sort_unstable();
    report.invoices = numbers.len();
    let expected: Vec<u64> = (1..=numbers.len() as u64).collect();
    if numbers != expected {
        let distinct: BTreeSet<u64> = numbers.iter().copied().collect();
        let max = numbers.last().copied().unwrap_or(0);
        let gaps = (max as usize).saturating_sub(distinct.len()) + (numbers.len() - distinct.len());
        report.invoice_gaps = report.invoice_gaps.max(gaps.max(1));
        report.problems.push(format!(
            "round {round}: invoice numbers are not 1..{}: {numbers:?}",
            numbers.len()
        ));
    }
    let not_invoiced = orders.values().filter(|o| o.status == "paid").count();
    if not_invoiced > 0 {
        report.problems.push(format!(
            "round {round}: {not_invoiced} paid orders have no invoice after every event was delivered"
        ));
        report.invoice_gaps = report.invoice_gaps.max(not_invoiced);
    }
    Ok(())
}
