//! Durability of the real `vitrine` binary: SIGKILL under a checkout load loses no acknowledged
//! order and leaves stock equal to the initial stock minus the units of the orders that exist;
//! SIGTERM finishes the request in flight, exits 0 and keeps what it answered.
//!
//! Every test runs the compiled binary (`CARGO_BIN_EXE_vitrine`) on its own temporary data
//! folder and talks to it over 127.0.0.1. Every wait is a bounded loop; no assertion depends on
//! how long something took.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::buy_now;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vitrine_testkit::process::{Server, Vitrine, client};

const BIN: &str = env!("CARGO_BIN_EXE_vitrine");
const SKU: &str = "CRASH-1";
const INITIAL_STOCK: i64 = 100_000;

// ----- the process -----

/// `vitrine` on `data_dir` (the fixed public URL keeps tokens valid across restarts), server
/// output in `logs`. A few buyers place thousands of orders back to back and leave them
/// unpaid: far past the cap on unpaid orders, which tests/checkout.rs covers.
fn vitrine(data_dir: &std::path::Path, logs: &std::path::Path) -> Vitrine {
    Vitrine::on_data_dir(BIN, data_dir)
        .args([
            "--max-unpaid-orders",
            "1000",
            "--max-unpaid-units",
            "1000000",
        ])
        .logs(logs)
}

fn create_user(v: &Vitrine, email: &str, admin: bool) {
    v.add_user(email, "Cliente Teste", admin).unwrap();
}

/// Start `vitrine serve` (no demo catalog) and wait until it listens.
async fn start(v: &Vitrine, name: &str) -> Server {
    v.start(name, &["--no-seed"]).await.unwrap()
}

// ----- the API -----

async fn sign_in(c: &Client, s: &Server, email: &str) -> String {
    let body = s.sign_in(c, email).await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn create_product(c: &Client, s: &Server, admin: &str) {
    let res = c
        .post(s.url("/api/v1/admin/products"))
        .bearer_auth(admin)
        .json(&json!({
            "slug": "produto-da-carga",
            "name": "Produto da carga",
            "variants": [{ "sku": SKU, "options": { "tamanho": "M" }, "price_centavos": 5000,
                "weight_g": 300, "stock": INITIAL_STOCK }]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

async fn stock(c: &Client, s: &Server, admin: &str) -> i64 {
    let res = c
        .get(s.url(&format!("/api/v1/admin/stock/{SKU}")))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["available"]
        .as_i64()
        .unwrap()
}

/// Units of `SKU` in an order body.
fn units(order: &Value) -> i64 {
    order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["sku"] == SKU)
        .map(|l| l["quantity"].as_i64().unwrap())
        .sum()
}

/// Every order in the database, in every status, id → units of `SKU`. Nothing here pays,
/// cancels or expires an order, so all must still be pending payment.
async fn all_orders(c: &Client, s: &Server, admin: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for o in s.admin_orders(c, admin).await.unwrap() {
        assert_eq!(
            o["status"], "pending_payment",
            "no order should have left pending_payment: {o}"
        );
        let id = o["id"].as_str().unwrap().to_owned();
        assert!(out.insert(id, units(&o)).is_none(), "order listed twice");
    }
    out
}

// ----- event delivery -----

/// Events in the outbox plus deliveries still queued, from `vitrine events status` run on the
/// data folder of a stopped server.
fn undelivered_events(v: &Vitrine) -> usize {
    let out = v.run(["events", "status"]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "events status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = text.lines();
    let outbox: usize = lines
        .next()
        .and_then(|l| l.strip_prefix("outbox: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected events status output: {text}"));
    // Then a header line, then `subscriber pending dead` rows.
    let pending: usize = lines
        .skip(1)
        .map(|row| {
            row.split_whitespace()
                .nth(1)
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or_else(|| panic!("unexpected events status row: {row}"))
        })
        .sum();
    outbox + pending
}

/// Wait (bounded) until the server has delivered every event: empty outbox and queues.
async fn wait_for_deliveries(c: &Client, s: &Server, admin: &str) {
    let mut last = Value::Null;
    for _ in 0..1_200 {
        let res = c
            .get(s.url("/api/v1/admin/events"))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        last = res.json().await.unwrap();
        let pending: u64 = last["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["pending"].as_u64().unwrap() + q["dead"].as_u64().unwrap())
            .sum();
        if last["outbox"] == 0 && pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("events still undelivered after 2 minutes: {last}");
}

// ----- the checkout load -----

/// What the client learnt of one checkout request.
#[derive(Debug, Clone)]
enum Answer {
    /// 201 with the whole body read: the order is acknowledged.
    Acked(String),
    /// No complete answer: the server died with the request in flight.
    Unanswered,
    /// Any other answer (none is expected).
    Other(u16, String),
}

#[derive(Debug, Clone)]
struct Attempt {
    customer: usize,
    key: String,
    qty: i64,
    answer: Answer,
}

/// One buyer: checkouts back to back until `stop`, at most `max` of them.
async fn buyer(
    c: Client,
    base: String,
    token: String,
    customer: usize,
    tag: String,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
) -> Vec<Attempt> {
    const MAX: usize = 5_000;
    let mut attempts = Vec::new();
    for n in 0..MAX {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let key = format!("{tag}-{n}");
        let qty = 1 + (n % 3) as i64;
        let res = c
            .post(format!("{base}/api/v1/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", &key)
            .json(&buy_now(SKU, qty))
            .send()
            .await;
        let answer = match res {
            Ok(r) if r.status() == StatusCode::CREATED => match r.json::<Value>().await {
                Ok(body) => {
                    assert_eq!(units(&body), qty, "the order body: {body}");
                    acked.fetch_add(1, Ordering::SeqCst);
                    Answer::Acked(body["id"].as_str().unwrap().to_owned())
                }
                Err(_) => Answer::Unanswered,
            },
            Ok(r) => {
                let status = r.status().as_u16();
                Answer::Other(status, r.text().await.unwrap_or_default())
            }
            Err(_) => Answer::Unanswered,
        };
        attempts.push(Attempt {
            customer,
            key,
            qty,
            answer,
        });
    }
    attempts
}

/// Rounds of load → SIGKILL → restart → check.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_checkout_load_loses_no_acknowledged_order_and_keeps_stock_exact() {
    const CUSTOMERS: usize = 8;
    const BUYERS: usize = 16;
    const ROUNDS: usize = 3;
    /// Kill after this many acknowledged orders in a round, or after `LOAD_FOR`.
    const ACKS_PER_ROUND: usize = 400;
    const LOAD_FOR: Duration = Duration::from_millis(1500);

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = vitrine(&data, dir.path());

    create_user(&v, "admin@loja.test", true);
    let emails: Vec<String> = (0..CUSTOMERS)
        .map(|i| format!("cliente{i}@example.com"))
        .collect();
    for e in &emails {
        create_user(&v, e, false);
    }

    let c = client();
    let mut server = start(&v, "start").await;
    let admin = sign_in(&c, &server, "admin@loja.test").await;
    let mut tokens = Vec::new();
    for e in &emails {
        tokens.push(sign_in(&c, &server, e).await);
    }
    create_product(&c, &server, &admin).await;
    assert_eq!(stock(&c, &server, &admin).await, INITIAL_STOCK);

    // id → units, for every order the client knows to exist (acknowledged, or found by retry).
    let mut known: BTreeMap<String, i64> = BTreeMap::new();
    let mut in_flight_total = 0;
    let mut committed_unacked_total = 0;
    // Events committed but not yet delivered to every subscriber when the process was killed.
    let mut undelivered_at_kills = 0;

    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..BUYERS)
            .map(|b| {
                let customer = b % CUSTOMERS;
                tokio::spawn(buyer(
                    c.clone(),
                    server.base.clone(),
                    tokens[customer].clone(),
                    customer,
                    format!("r{round}-b{b}"),
                    stop.clone(),
                    acked.clone(),
                ))
            })
            .collect();

        // Load for a while (or until enough orders), and at least until one is acknowledged,
        // so that the kill lands on a busy server.
        let started = Instant::now();
        for _ in 0..6_000 {
            let n = acked.load(Ordering::SeqCst);
            if n >= ACKS_PER_ROUND || (n > 0 && started.elapsed() >= LOAD_FOR) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            acked.load(Ordering::SeqCst) > 0,
            "no order was acknowledged"
        );
        // Stop starting new requests, then kill with the last ones in flight.
        stop.store(true, Ordering::SeqCst);
        server.kill().unwrap();
        undelivered_at_kills += undelivered_events(&v);

        let mut attempts = Vec::new();
        for t in tasks {
            attempts.extend(t.await.unwrap());
        }
        let others: Vec<String> = attempts
            .iter()
            .filter_map(|a| match &a.answer {
                Answer::Other(status, body) => Some(format!("{}: {status} {body}", a.key)),
                _ => None,
            })
            .collect();
        assert!(others.is_empty(), "unexpected answers: {others:?}");

        server = start(&v, &format!("restart{round}")).await;

        // Every acknowledged order is there, as its owner sees it, with the same quantity.
        for a in &attempts {
            let Answer::Acked(id) = &a.answer else {
                continue;
            };
            let res = c
                .get(server.url(&format!("/api/v1/orders/{id}")))
                .bearer_auth(&tokens[a.customer])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "acknowledged order {id} is lost");
            let order: Value = res.json().await.unwrap();
            assert_eq!(units(&order), a.qty, "order {id}: {order}");
            assert_eq!(order["status"], "pending_payment");
            assert!(known.insert(id.clone(), a.qty).is_none());
        }

        // A request cut off by the kill either committed (a retry with its key finds the same
        // order: 200) or left nothing behind (the retry places it now: 201).
        for a in &attempts {
            if !matches!(a.answer, Answer::Unanswered) {
                continue;
            }
            in_flight_total += 1;
            let res = c
                .post(server.url("/api/v1/orders"))
                .bearer_auth(&tokens[a.customer])
                .header("Idempotency-Key", &a.key)
                .json(&buy_now(SKU, a.qty))
                .send()
                .await
                .unwrap();
            let status = res.status();
            let order: Value = res.json().await.unwrap();
            assert!(
                status == 200 || status == 201,
                "retry of {}: {status} {order}",
                a.key
            );
            if status == 200 {
                committed_unacked_total += 1;
            }
            assert_eq!(units(&order), a.qty);
            let id = order["id"].as_str().unwrap().to_owned();
            assert!(
                known.insert(id, a.qty).is_none(),
                "a retry made a 2nd order"
            );
        }

        // The database holds exactly the known orders, and stock matches them to the unit.
        let in_db = all_orders(&c, &server, &admin).await;
        let missing: Vec<_> = known.keys().filter(|id| !in_db.contains_key(*id)).collect();
        let unknown: Vec<_> = in_db.keys().filter(|id| !known.contains_key(*id)).collect();
        assert!(missing.is_empty(), "orders lost: {missing:?}");
        assert!(unknown.is_empty(), "orders nobody asked for: {unknown:?}");
        assert_eq!(in_db, known);
        let sold: i64 = in_db.values().sum();
        assert_eq!(
            stock(&c, &server, &admin).await,
            INITIAL_STOCK - sold,
            "round {round}: stock does not match the {} orders",
            in_db.len()
        );
    }
    // Sanity of the scenario itself: the kills did cut requests off mid-flight, and found
    // events committed but not yet delivered.
    assert!(in_flight_total > 0, "no request was in flight at any kill");
    assert!(
        undelivered_at_kills > 0,
        "no event was waiting for delivery at any kill"
    );

    // After the restarts every event is delivered, and each order has exactly one
    // "order placed" e-mail: none lost to a kill, none sent twice by a re-delivery.
    wait_for_deliveries(&c, &server, &admin).await;
    let mut placed_mails: BTreeMap<String, usize> = BTreeMap::new();
    for mail in vitrine_testkit::mail::read_mail_folder(&data.join("mail")) {
        if let Some(id) = known.keys().find(|id| mail.subject.contains(id.as_str())) {
            *placed_mails.entry(id.clone()).or_default() += 1;
        }
    }
    let wrong: Vec<_> = known
        .keys()
        .filter(|id| placed_mails.get(*id) != Some(&1))
        .map(|id| (id, placed_mails.get(id).copied().unwrap_or(0)))
        .collect();
    assert!(
        wrong.is_empty(),
        "orders without exactly one e-mail: {wrong:?}"
    );
    eprintln!(
        "{} orders over {ROUNDS} kills; {in_flight_total} requests cut off, of which \
         {committed_unacked_total} had committed; {undelivered_at_kills} deliveries pending at \
         the kills",
        known.len()
    );
    server.kill().unwrap();
}

/// Read from `stream` until `buf` holds `\r\n\r\n` (bounded in bytes and reads).
async fn read_head(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 4096];
    for _ in 0..1000 {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return;
        }
        let n = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut chunk))
            .await
            .expect("no answer from the server")
            .unwrap();
        assert!(n > 0, "connection closed: {}", String::from_utf8_lossy(buf));
        buf.extend_from_slice(&chunk[..n]);
    }
    panic!("no end of headers in {}", String::from_utf8_lossy(buf));
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_exits_cleanly_and_keeps_its_order() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = vitrine(&data, dir.path());
    create_user(&v, "admin@loja.test", true);
    create_user(&v, "ana@example.com", false);

    let c = client();
    let mut server = start(&v, "first").await;
    let admin = sign_in(&c, &server, "admin@loja.test").await;
    let token = sign_in(&c, &server, "ana@example.com").await;
    create_product(&c, &server, &admin).await;

    // An order answered before the signal.
    let res = c
        .post(server.url("/api/v1/orders"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "before-sigterm")
        .json(&buy_now(SKU, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let before: Value = res.json().await.unwrap();

    // A checkout whose handler is running when SIGTERM arrives: `Expect: 100-continue` makes
    // the server say "100 Continue" only once the handler reads the body, which we then hold
    // back until the server has begun shutting down.
    let body = serde_json::to_vec(&buy_now(SKU, 2)).unwrap();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port()))
        .await
        .unwrap();
    let head = format!(
        "POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {token}\r\n\
         Idempotency-Key: during-sigterm\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        server.port(),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    read_head(&mut stream, &mut buf).await;
    let interim = String::from_utf8_lossy(&buf).into_owned();
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");

    server.terminate().unwrap();
    server
        .wait_log("shutting down: finishing in-flight requests")
        .await
        .unwrap();
    assert!(
        server.try_exit().unwrap().is_none(),
        "the server exited with a request in flight"
    );

    stream.write_all(&body).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut response))
        .await
        .expect("no answer from the server")
        .unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let (_, json) = response.split_once("\r\n\r\n").unwrap();
    let during: Value = serde_json::from_str(json).unwrap();
    assert_eq!(units(&during), 2);

    let status = server.wait_exit().await.unwrap();
    assert_eq!(status.code(), Some(0), "exit status {status}");
    let out = server.out();
    assert!(out.contains("vitrine stopped cleanly."), "{out}");
    drop(server);

    // Both answered orders survived, and stock moved exactly for them.
    let server = start(&v, "second").await;
    for (order, key, qty) in [
        (&before, "before-sigterm", 1),
        (&during, "during-sigterm", 2),
    ] {
        let id = order["id"].as_str().unwrap();
        let res = c
            .get(server.url(&format!("/api/v1/orders/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "order {id} lost");
        assert_eq!(units(&res.json::<Value>().await.unwrap()), qty);
        // Retrying with its key finds it again rather than buying twice.
        let res = c
            .post(server.url("/api/v1/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", key)
            .json(&buy_now(SKU, qty))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Value>().await.unwrap()["id"], id);
    }
    let in_db = all_orders(&c, &server, &admin).await;
    assert_eq!(in_db.len(), 2);
    assert_eq!(stock(&c, &server, &admin).await, INITIAL_STOCK - 3);
    server.kill().unwrap();
}
