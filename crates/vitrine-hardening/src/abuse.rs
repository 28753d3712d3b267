//! The store's own features turned on someone (issue 18), against the real binary: each attack
//! of the review performed as an abuser would, counted as attempts made and successes (which
//! must be 0), beside a control that shows the legitimate user it must not hurt is served, or
//! the refusals would prove nothing.
//!
//! Two servers, both with the limits as shipped:
//! - **behind a proxy** (`trusted_proxies = 127.0.0.1`, so each attack speaks as its own client
//!   through `X-Forwarded-For`; the general per-minute request limit off, so that only the
//!   abuse limits answer; real argon2 parameters, for the sign-up flood);
//! - **facing clients** (no trusted proxy, the general request limit on): a forged
//!   `X-Forwarded-For`, `/media/` floods, and a failing mail folder.
//!
//! Then `vitrine restore` is handed archives with a link and a path out of the data folder, and
//! the data folder's permissions are read.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::{Client, Response};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use vitrine_testkit::mail::{codes_once_mailed, read_mail_folder};
use vitrine_testkit::process::{PUBLIC_URL, peak_rss_kib};

use crate::api;
use crate::server::{PASSWORD, Server, USER_NAME, Vitrine, client};

/// One attack: what was tried, how many attempts, how many succeeded (must be 0).
#[derive(Debug, Clone)]
pub struct Attack {
    pub finding: u8,
    pub what: &'static str,
    pub attempts: usize,
    pub successes: usize,
    /// What the attempts met, for the reader (e.g. "30 answered, then 429").
    pub detail: String,
}

#[derive(Debug, Default, Clone)]
pub struct AbuseReport {
    pub attacks: Vec<Attack>,
}

impl AbuseReport {
    fn add(
        &mut self,
        finding: u8,
        what: &'static str,
        attempts: usize,
        successes: usize,
        detail: impl Into<String>,
    ) {
        self.attacks.push(Attack {
            finding,
            what,
            attempts,
            successes,
            detail: detail.into(),
        });
    }

    pub fn successes(&self) -> usize {
        self.attacks.iter().map(|a| a.successes).sum()
    }
}

const ADMIN: &str = "admin@abuso.test";
const WRONG: &str = "chute-errado-1";
const NEW_PASSWORD: &str = "nova-senha-forte-9";
/// Accounts whose reset codes one client guesses at.
const GUESSED: usize = 8;
/// The victim of the mail flood.
const VICTIM: &str = "vitima@abuso.test";
/// The mobile number an attacker's orders would text.
const MOBILE: &str = "+55 11 98765-4321";

pub async fn run(bin: &Path, work: &Path) -> anyhow::Result<AbuseReport> {
    let mut report = AbuseReport::default();
    behind_a_proxy(bin, work, &mut report).await?;
    facing_clients(bin, work, &mut report).await?;
    restore(bin, work, &mut report)?;
    Ok(report)
}

/// A request as the client at `from` (behind the trusted proxy).
fn from(
    c: &Client,
    s: &Server,
    method: reqwest::Method,
    path: &str,
    who: &str,
) -> reqwest::RequestBuilder {
    c.request(method, s.url(path))
        .header("x-forwarded-for", who)
}

async fn post(
    c: &Client,
    s: &Server,
    path: &str,
    who: &str,
    body: Value,
) -> anyhow::Result<Response> {
    Ok(from(c, s, reqwest::Method::POST, path, who)
        .json(&body)
        .send()
        .await?)
}

async fn sign_in(
    c: &Client,
    s: &Server,
    who: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<Response> {
    post(
        c,
        s,
        "/api/v1/auth/sign-in",
        who,
        json!({ "email": email, "password": password }),
    )
    .await
}

/// The `nth` code mailed to `to` with `subject` in its subject, waiting for it (code mails
/// leave from a worker).
async fn nth_code(data: &Path, to: &str, subject: &str, nth: usize) -> anyhow::Result<String> {
    Ok(codes_once_mailed(
        &data.join("mail"),
        |m| m.to.contains(to) && m.subject.contains(subject),
        nth + 1,
    )
    .await
    .swap_remove(nth))
}

fn a_code_other_than(code: &str, n: u32) -> String {
    let c: u32 = code.parse().unwrap_or(0);
    format!("{:06}", (c + 1 + n) % 1_000_000)
}

async fn behind_a_proxy(bin: &Path, work: &Path, report: &mut AbuseReport) -> anyhow::Result<()> {
    let data = work.join("abuse-proxy-data");
    let v = Vitrine::new(bin)
        .data_dir(&data)
        .args(["--public-url", PUBLIC_URL, "--rate-limit-per-minute", "0"])
        .env("VITRINE_LOG", "warn")
        .env("VITRINE_TRUSTED_PROXIES", "127.0.0.1")
        .logs(&work.join("abuse-logs"));
    v.add_user(ADMIN, USER_NAME, true)?;
    for i in 0..GUESSED {
        v.add_user(&format!("guessed{i}@abuso.test"), USER_NAME, false)?;
    }
    for who in [
        "rerolled",
        "owner",
        "other",
        "hoarder",
        "units",
        "coupons",
        "victim-buyer",
        "watcher",
        "sessions",
        "pumping",
    ] {
        v.add_user(&format!("{who}@abuso.test"), USER_NAME, false)?;
    }
    v.add_user(VICTIM, USER_NAME, false)?;
    let c = client();
    let mut s = v.start("abuse-proxy", &[]).await?;
    reset_codes(&c, &s, &data, report).await?;
    lock_out(&c, &s, report).await?;
    hoarding(&c, &s, report).await?;
    realtime(&c, &s, report).await?;
    floods(&c, &s, &data, report).await?;
    sessions(&c, &s, report).await?;
    sign_up_flood(&c, &s, report).await?;
    // The stop sends the code mails the worker still holds: every mail there will be is in.
    s.stop().await?;
    let sent = read_mail_folder(&data.join("mail"))
        .iter()
        .filter(|m| m.to.contains(VICTIM))
        .count();
    report.add(
        5,
        "50 sign-ups and 50 reset requests naming one address (3 mails of each kind an hour)",
        100,
        sent.saturating_sub(6),
        format!("{sent} mails reached it"),
    );
    permissions(&data, report);
    Ok(())
}

/// Finding 1: one client guesses reset codes across accounts, then tries the right code; and a
/// new code asked for after five wrong guesses.
async fn reset_codes(
    c: &Client,
    s: &Server,
    data: &Path,
    report: &mut AbuseReport,
) -> anyhow::Result<()> {
    let attacker = "203.0.113.11";
    let mut attempts: usize = 0;
    let mut answered: usize = 0;
    for i in 0..GUESSED {
        let email = format!("guessed{i}@abuso.test");
        post(
            c,
            s,
            "/api/v1/auth/forgot-password",
            attacker,
            json!({ "email": email }),
        )
        .await?;
        let code = nth_code(data, &email, "redefinir", 0).await?;
        for n in 0..5 {
            attempts += 1;
            let res = post(
                c,
                s,
                "/api/v1/auth/reset-password",
                attacker,
                json!({ "email": email, "code": a_code_other_than(&code, n), "new_password": NEW_PASSWORD }),
            )
            .await?;
            if res.status() != 429 {
                answered += 1;
            }
        }
    }
    // The lucky guess, once the client's budget is spent: the right code of an account whose
    // own tries are untouched.
    let last = format!("guessed{}@abuso.test", GUESSED - 1);
    let code = nth_code(data, &last, "redefinir", 0).await?;
    attempts += 1;
    let lucky = post(
        c,
        s,
        "/api/v1/auth/reset-password",
        attacker,
        json!({ "email": last, "code": code, "new_password": NEW_PASSWORD }),
    )
    .await?
    .status();
    // Control: the owner, from their own address, uses the code.
    let owner = post(
        c,
        s,
        "/api/v1/auth/reset-password",
        "198.51.100.21",
        json!({ "email": last, "code": code, "new_password": NEW_PASSWORD }),
    )
    .await?
    .status();
    if !owner.is_success() {
        bail!("control: the owner's own reset code was refused ({owner})");
    }
    report.add(
        1,
        "reset-code guesses across accounts from one client, then the right code",
        attempts,
        usize::from(lucky.is_success()) + answered.saturating_sub(30),
        format!("{answered} guesses checked (limit 30), the right code then answered {lucky}; the owner's {owner}"),
    );

    let email = "rerolled@abuso.test";
    let who = "203.0.113.12";
    post(
        c,
        s,
        "/api/v1/auth/forgot-password",
        who,
        json!({ "email": email }),
    )
    .await?;
    let first = nth_code(data, email, "redefinir", 0).await?;
    for n in 0..5 {
        post(
            c,
            s,
            "/api/v1/auth/reset-password",
            who,
            json!({ "email": email, "code": a_code_other_than(&first, n), "new_password": NEW_PASSWORD }),
        )
        .await?;
    }
    post(
        c,
        s,
        "/api/v1/auth/forgot-password",
        who,
        json!({ "email": email }),
    )
    .await?;
    let second = nth_code(data, email, "redefinir", 1).await?;
    let sixth = post(
        c,
        s,
        "/api/v1/auth/reset-password",
        who,
        json!({ "email": email, "code": second, "new_password": NEW_PASSWORD }),
    )
    .await?
    .status();
    report.add(
        1,
        "a new reset code to buy guesses past the five of the hour",
        6,
        usize::from(sixth.is_success()),
        format!("the sixth guess (the new code itself) answered {sixth}"),
    );
    Ok(())
}

/// Finding 2: an attacker locks an account and a client address; the owner on their device, and
/// another client behind the same proxy, sign in. An IPv6 client walks its /64.
async fn lock_out(c: &Client, s: &Server, report: &mut AbuseReport) -> anyhow::Result<()> {
    let owner = "owner@abuso.test";
    let home = "198.51.100.7";
    let first = sign_in(c, s, home, owner, PASSWORD).await?;
    if first.status() != 200 {
        bail!(
            "control: the owner could not sign in before the attack ({})",
            first.status()
        );
    }
    let device: Value = first.json().await?;
    let device = device["device_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let attacker = "203.0.113.13";
    let mut stopped_at = None;
    for i in 0..40 {
        if sign_in(c, s, attacker, owner, WRONG).await?.status() == 429 && stopped_at.is_none() {
            stopped_at = Some(i);
        }
    }
    let on_device = post(
        c,
        s,
        "/api/v1/auth/sign-in",
        home,
        json!({ "email": owner, "password": PASSWORD, "device_token": device }),
    )
    .await?
    .status();
    let other = sign_in(c, s, "198.51.100.8", "other@abuso.test", PASSWORD)
        .await?
        .status();
    report.add(
        2,
        "40 wrong passwords to lock the owner (and the proxy's other clients) out",
        40,
        usize::from(on_device != 200) + usize::from(other != 200),
        format!(
            "guesses stopped after {}; the owner on their device then answered {on_device}, another client {other}",
            stopped_at.map_or("none".into(), |i| i.to_string())
        ),
    );

    let mut answered: usize = 0;
    for i in 0..60 {
        let email = format!("nobody{i}@abuso.test");
        let res = sign_in(c, s, &format!("2001:db8:66:66::{:x}", i + 1), &email, WRONG).await?;
        if res.status() != 429 {
            answered += 1;
        }
    }
    report.add(
        2,
        "an IPv6 client walking its /64 past the 30 sign-in failures per address",
        60,
        answered.saturating_sub(30),
        format!("{answered} answered before 429"),
    );
    Ok(())
}

/// An access token of `email`, signed in from its own address.
async fn token(c: &Client, s: &Server, email: &str) -> anyhow::Result<String> {
    let res = sign_in(
        c,
        s,
        &format!("198.51.100.{}", 100 + email.len()),
        email,
        PASSWORD,
    )
    .await?;
    let status = res.status();
    let body: Value = res.json().await?;
    if status != 200 {
        bail!("signing {email} in: {status} {body}");
    }
    Ok(api::access(&body))
}

async fn checkout(
    c: &Client,
    s: &Server,
    token: &str,
    body: &Value,
    key: &str,
) -> anyhow::Result<(u16, Value)> {
    let res = c
        .post(s.url("/api/v1/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await?;
    let status = res.status().as_u16();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

async fn cancel(c: &Client, s: &Server, token: &str, order: &Value) -> anyhow::Result<u16> {
    let id = order["id"].as_str().unwrap_or_default();
    Ok(c.post(s.url(&format!("/api/v1/orders/{id}/cancel")))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await?
        .status()
        .as_u16())
}

const SKU: &str = "ABUSO-1";

/// Finding 3: unpaid orders held past the caps, and a limited coupon's uses.
async fn hoarding(c: &Client, s: &Server, report: &mut AbuseReport) -> anyhow::Result<()> {
    let admin = token(c, s, ADMIN).await?;
    api::create_product(c, s, &admin, "abuso", SKU, 100_000).await?;
    let hoarder = token(c, s, "hoarder@abuso.test").await?;
    let mut placed: usize = 0;
    for n in 0..10 {
        let (status, _) =
            checkout(c, s, &hoarder, &api::buy_now(SKU, 1), &format!("hoard-{n}")).await?;
        if status == 201 {
            placed += 1;
        }
    }
    report.add(
        3,
        "unpaid orders held by one customer past the cap (3)",
        10,
        placed.saturating_sub(3),
        format!("{placed} placed"),
    );

    let units = token(c, s, "units@abuso.test").await?;
    let (first, _) = checkout(c, s, &units, &api::buy_now(SKU, 60), "units-1").await?;
    let (second, _) = checkout(c, s, &units, &api::buy_now(SKU, 50), "units-2").await?;
    if first != 201 {
        bail!("control: an order of 60 units was refused ({first})");
    }
    report.add(
        3,
        "units reserved by one customer's unpaid orders past the cap (100)",
        2,
        usize::from(second == 201),
        format!("60 units: {first}; 50 more: {second}"),
    );

    for (code, limit) in [
        ("UMAVEZ", "usage_limit"),
        ("UMAPORCLIENTE", "per_customer_limit"),
    ] {
        let res = c
            .post(s.url("/api/v1/admin/coupons"))
            .bearer_auth(&admin)
            .json(&json!({ "code": code, "kind": "fixed", "amount_centavos": 500, limit: 1 }))
            .send()
            .await?;
        if res.status() != 201 {
            bail!(
                "creating coupon {code}: {} {}",
                res.status(),
                res.text().await?
            );
        }
    }
    let attacker = token(c, s, "coupons@abuso.test").await?;
    let mut once = api::buy_now(SKU, 1);
    once["coupon"] = json!("UMAVEZ");
    let mut cancelled: usize = 0;
    for n in 0..3 {
        let (status, order) = checkout(c, s, &attacker, &once, &format!("coupon-{n}")).await?;
        if status == 201 && cancel(c, s, &attacker, &order).await? == 200 {
            cancelled += 1;
        }
    }
    let buyer = token(c, s, "victim-buyer@abuso.test").await?;
    let (status, _) = checkout(c, s, &buyer, &once, "coupon-buyer").await?;
    report.add(
        3,
        "a limited coupon used up by orders then cancelled",
        3,
        usize::from(status != 201),
        format!("{cancelled} orders placed and cancelled; a customer then used it: {status}"),
    );
    let mut per_customer = api::buy_now(SKU, 1);
    per_customer["coupon"] = json!("UMAPORCLIENTE");
    let mut used: usize = 0;
    for n in 0..3 {
        let (status, _) =
            checkout(c, s, &attacker, &per_customer, &format!("per-customer-{n}")).await?;
        if status == 201 {
            used += 1;
        }
    }
    report.add(
        3,
        "a one-per-customer coupon used again by the same customer",
        3,
        used.saturating_sub(1),
        format!("{used} of 3 accepted"),
    );
    Ok(())
}

/// Finding 4 and part of 7: a customer's WebSocket resume from the beginning reads someone
/// else's events; a token in the URL or an `Authorization` header opens a socket.
async fn realtime(c: &Client, s: &Server, report: &mut AbuseReport) -> anyhow::Result<()> {
    let admin = token(c, s, ADMIN).await?;
    // The hoarder's orders made events; wait until they are delivered (and recorded).
    api::wait_for_deliveries(c, s, &admin).await?;
    let watcher = token(c, s, "watcher@abuso.test").await?;
    let theirs = replayed(s, &watcher).await?;
    // Control: the customer whose orders made the events gets them back.
    let hoarder = token(c, s, "hoarder@abuso.test").await?;
    let own = replayed(s, &hoarder).await?;
    if own == 0 {
        bail!("control: a customer's resume from the start replayed none of their own events");
    }
    report.add(
        4,
        "a customer's resume from the start reading the other customers' events",
        1,
        theirs,
        format!("{theirs} events of others replayed; the buyer got {own} of their own"),
    );

    let good = token(c, s, "watcher@abuso.test").await?;
    let plain = s.url("/api/v1/ws").replacen("http://", "ws://", 1);
    let in_url = format!("{plain}?access_token={good}");
    let mut in_header = plain.as_str().into_client_request()?;
    in_header
        .headers_mut()
        .insert("authorization", format!("Bearer {good}").parse()?);
    let mut opened: usize = 0;
    for request in [in_url.as_str().into_client_request()?, in_header] {
        if tokio_tungstenite::connect_async(request).await.is_ok() {
            opened += 1;
        }
    }
    report.add(
        7,
        "a WebSocket opened with the token in the URL or an Authorization header",
        2,
        opened,
        "only the subprotocol list carries it",
    );
    Ok(())
}

/// How many events a socket of `token` opened with `after=0` gets before `ready`.
async fn replayed(s: &Server, token: &str) -> anyhow::Result<usize> {
    use futures::StreamExt as _;
    let ws = s.url("/api/v1/ws?after=0").replacen("http://", "ws://", 1);
    let mut request = ws.as_str().into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("bearer, {token}").parse()?,
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("control: a customer's own socket")?;
    let mut events = 0;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .context("no ready frame in 10 s")?
            .context("the socket closed before ready")??;
        let Ok(text) = frame.to_text() else { continue };
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            continue;
        };
        match message["type"].as_str() {
            Some("ready") => return Ok(events),
            Some("event") => events += 1,
            _ => {}
        }
    }
}

/// Finding 5: sign-ups and reset requests naming one victim, from fifty clients; a link in a
/// sign-up's name; texts to a foreign number and to one number on every cancelled order.
async fn floods(
    c: &Client,
    s: &Server,
    data: &Path,
    report: &mut AbuseReport,
) -> anyhow::Result<()> {
    for i in 0..50 {
        let who = format!("198.18.0.{}", i + 1);
        post(
            c,
            s,
            "/api/v1/auth/sign-up",
            &who,
            json!({ "email": VICTIM, "password": PASSWORD, "name": "Ana" }),
        )
        .await?;
        post(
            c,
            s,
            "/api/v1/auth/forgot-password",
            &who,
            json!({ "email": VICTIM }),
        )
        .await?;
    }
    let named = post(
        c,
        s,
        "/api/v1/auth/sign-up",
        "198.18.1.1",
        json!({ "email": "alguem@abuso.test", "password": PASSWORD, "name": "Ganhe um premio em golpe.example" }),
    )
    .await?
    .status();
    report.add(
        5,
        "a sign-up whose name carries a link into someone's code mail",
        1,
        usize::from(named.is_success()),
        format!("answered {named}"),
    );

    let pumping = token(c, s, "pumping@abuso.test").await?;
    let phone = |number: &str| {
        c.put(s.url("/api/v1/me"))
            .bearer_auth(&pumping)
            .json(&json!({ "name": USER_NAME, "phone": number, "sms_opt_in": true }))
            .send()
    };
    let foreign = phone("+1 202 555 0143").await?.status();
    let mobile = phone(MOBILE).await?.status();
    if mobile != 200 {
        bail!("control: a Brazilian mobile could not opt in ({mobile})");
    }
    report.add(
        5,
        "texts opted in for a number outside Brazil (SMS pumping)",
        1,
        usize::from(foreign.is_success()),
        format!("answered {foreign}"),
    );
    for n in 0..14 {
        let (status, order) =
            checkout(c, s, &pumping, &api::buy_now(SKU, 1), &format!("pump-{n}")).await?;
        if status == 201 {
            cancel(c, s, &pumping, &order).await?;
        }
    }
    let admin = token(c, s, ADMIN).await?;
    api::wait_for_deliveries(c, s, &admin).await?;
    let digits: String = MOBILE
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    let texts = std::fs::read_dir(data.join("mail"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "sms"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter(|t| t.lines().next() == Some(&format!("To: {digits}")))
        .count();
    report.add(
        5,
        "14 cancelled orders texting one number (daily budget 10)",
        14,
        texts.saturating_sub(10),
        format!("{texts} texts sent"),
    );

    Ok(())
}

/// Part of finding 7: a signed-out session's access token.
async fn sessions(c: &Client, s: &Server, report: &mut AbuseReport) -> anyhow::Result<()> {
    let res = sign_in(c, s, "198.51.100.30", "sessions@abuso.test", PASSWORD).await?;
    let tokens: Value = res.json().await?;
    let access = api::access(&tokens);
    let out = c
        .post(s.url("/api/v1/auth/sign-out"))
        .bearer_auth(&access)
        .json(&json!({ "refresh_token": tokens["refresh_token"] }))
        .send()
        .await?
        .status();
    if out != 204 {
        bail!("control: sign-out answered {out}");
    }
    let mut accepted = 0;
    for path in ["/api/v1/me", "/api/v1/orders", "/api/v1/cart"] {
        if c.get(s.url(path))
            .bearer_auth(&access)
            .send()
            .await?
            .status()
            != 401
        {
            accepted += 1;
        }
    }
    report.add(
        7,
        "a signed-out session's access token, within its hour",
        3,
        accepted,
        "",
    );
    Ok(())
}

/// The peak resident memory of process `pid`, in MiB.
fn peak_mib(pid: u32) -> anyhow::Result<u64> {
    Ok(peak_rss_kib(pid)? / 1024)
}

/// Finding 6: 150 sign-ups at once from 150 clients, each password hash 19 MiB of argon2.
async fn sign_up_flood(c: &Client, s: &Server, report: &mut AbuseReport) -> anyhow::Result<()> {
    let before = peak_mib(s.pid())?;
    let flood = (0..150).map(|i| async move {
        let who = format!("198.19.0.{}", i + 1);
        post(
            c,
            s,
            "/api/v1/auth/sign-up",
            &who,
            json!({ "email": format!("enxurrada{i}@abuso.test"), "password": PASSWORD, "name": "Ana" }),
        )
        .await
    });
    let answers = futures::future::join_all(flood).await;
    let mut retry: usize = 0;
    for res in answers {
        if res?.status() == 429 {
            retry += 1;
        }
    }
    let grown = peak_mib(s.pid())?.saturating_sub(before);
    // As many hashes at once as the cores, each in working memory the identity keeps and
    // reuses: one 19 MiB buffer per hash at once, whatever the flood; the rest of the margin is
    // the 150 connections and their requests.
    let cores = std::thread::available_parallelism().map_or(2, usize::from) as u64;
    let bound = 100 + cores * 19 * 4;
    report.add(
        6,
        "150 sign-ups at once (argon2, 19 MiB each: 2.8 GiB unbounded)",
        150,
        usize::from(grown > bound),
        format!("the server's peak memory grew {grown} MiB (bound {bound}); {retry} told to retry"),
    );
    Ok(())
}

/// Finding 7: the data folder's entries readable by others.
fn permissions(data: &Path, report: &mut AbuseReport) {
    use std::os::unix::fs::PermissionsExt as _;
    let mut loose = Vec::new();
    let mut checked = 0;
    let mut entries: Vec<PathBuf> = vec![
        data.to_path_buf(),
        data.join("mail"),
        data.join("keys"),
        data.join("vitrine.db"),
    ];
    for dir in [data.join("mail"), data.join("keys")] {
        if let Ok(list) = std::fs::read_dir(&dir) {
            entries.extend(list.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    for path in entries {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        checked += 1;
        if meta.permissions().mode() & 0o077 != 0 {
            loose.push(path.display().to_string());
        }
    }
    report.add(
        7,
        "data folder entries (database, keys, mail copies) open to other users",
        checked,
        loose.len(),
        match loose.len() {
            0 => "all 0700/0600".to_owned(),
            n => format!("{n}, such as {}", loose[..n.min(3)].join(", ")),
        },
    );
}

async fn facing_clients(bin: &Path, work: &Path, report: &mut AbuseReport) -> anyhow::Result<()> {
    let data = work.join("abuse-direct-data");
    let v = Vitrine::new(bin)
        .data_dir(&data)
        .args(["--public-url", PUBLIC_URL, "--argon2-memory-kib", "64"])
        .env("VITRINE_LOG", "warn")
        .logs(&work.join("abuse-logs"));
    v.add_user("registered@abuso.test", USER_NAME, false)?;
    let c = client();
    let mut s = v.start("abuse-direct", &["--no-seed"]).await?;
    let started = Instant::now();

    let mut answered: usize = 0;
    for i in 0..60 {
        let res = sign_in(
            &c,
            &s,
            &format!("198.51.100.{i}"),
            &format!("dodge{i}@abuso.test"),
            WRONG,
        )
        .await?;
        if res.status() != 429 {
            answered += 1;
        }
    }
    report.add(
        2,
        "a client writing its own X-Forwarded-For to dodge the 30 failures per address",
        60,
        answered.saturating_sub(30),
        format!("{answered} answered before 429"),
    );

    // A failing mail folder: the code mail of a registered address fails, an unknown one's is
    // never written. The answers must not tell them apart.
    let mail = data.join("mail");
    std::fs::remove_dir_all(&mail)?;
    std::fs::write(&mail, b"not a folder")?;
    let mut differ: usize = 0;
    for path in ["/api/v1/auth/forgot-password", "/api/v1/auth/resend-code"] {
        let mut answers = Vec::new();
        for email in ["registered@abuso.test", "unknown@abuso.test"] {
            let res = c
                .post(s.url(path))
                .json(&json!({ "email": email }))
                .send()
                .await?;
            answers.push((res.status(), res.text().await?));
        }
        if answers[0] != answers[1] {
            differ += 1;
        }
    }
    std::fs::remove_file(&mail)?;
    std::fs::create_dir(&mail)?;
    report.add(
        6,
        "telling a registered address from an unknown one by a code request (mail failing)",
        4,
        differ,
        "",
    );

    let images = 1_000;
    let mut served: usize = 0;
    for i in 0..images {
        let status = c
            .get(s.url(&format!("/media/products/flood-{}.jpg", i % 7)))
            .send()
            .await?
            .status();
        if status != 429 {
            served += 1;
        }
    }
    // The limit's allowance: a burst of 120, then 10 a second since the server started.
    let allowance = 120 + (started.elapsed().as_secs_f64() * 10.0).ceil() as usize;
    report.add(
        6,
        "1000 image requests from one client (600 a minute, bursts of 120)",
        images,
        served.saturating_sub(allowance),
        format!("{served} answered, allowance {allowance}"),
    );
    s.stop().await?;
    Ok(())
}

/// Finding 7: `vitrine restore` of a real backup with one more entry: a symbolic link, and a
/// path out of the data folder.
fn restore(bin: &Path, work: &Path, report: &mut AbuseReport) -> anyhow::Result<()> {
    let source = work.join("abuse-restore-source");
    let v = Vitrine::new(bin)
        .data_dir(&source)
        .args(["--argon2-memory-kib", "64"]);
    v.add_user("backup@abuso.test", USER_NAME, false)?;
    let archive = work.join("abuse-backup.tar");
    let out = v.run(["backup", archive.to_str().unwrap_or_default()])?;
    if !out.status.success() {
        bail!(
            "control: backup failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let outside = work.join("abuse-outside");
    let _ = std::fs::remove_dir_all(&outside);
    let staging = work.join("abuse-staging");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(staging.join("blobs"))?;
    std::os::unix::fs::symlink("/etc/passwd", staging.join("blobs/link"))?;
    std::fs::write(staging.join("escape"), b"written outside")?;
    let mut made: usize = 0;
    let mut attempts: usize = 0;
    for (name, args) in [
        (
            "link",
            vec!["-C", staging.to_str().unwrap_or_default(), "blobs/link"],
        ),
        (
            "escape",
            vec![
                "-P",
                "-C",
                staging.to_str().unwrap_or_default(),
                "--transform",
                "s,^escape,../abuse-outside/escape,",
                "escape",
            ],
        ),
    ] {
        attempts += 1;
        let evil = work.join(format!("abuse-{name}.tar"));
        std::fs::copy(&archive, &evil)?;
        let status = std::process::Command::new("tar")
            .arg("-rf")
            .arg(&evil)
            .args(&args)
            .status()
            .context("running tar")?;
        if !status.success() {
            bail!("tar could not append the {name} entry");
        }
        let target = work.join(format!("abuse-restored-{name}"));
        let _ = std::fs::remove_dir_all(&target);
        let out = Vitrine::new(bin)
            .data_dir(&target)
            .run(["restore", evil.to_str().unwrap_or_default()])?;
        let linked = std::fs::symlink_metadata(target.join("blobs/link")).is_ok();
        let escaped = outside.join("escape").exists();
        if out.status.success() || linked || escaped {
            made += 1;
        }
    }
    report.add(
        7,
        "restore of a backup carrying a symbolic link, or a path out of the data folder",
        attempts,
        made,
        "",
    );
    Ok(())
}
