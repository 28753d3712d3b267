//! The `journey` scenario: virtual shoppers, each repeating the whole path a customer takes —
//! browse the catalog, search, open a product, sign in, add to the cart, check out, pay by Pix
//! (the charge, then the provider's signed webhook) — for a warm-up and a measured period.
//! Prints, per step, the throughput, p50/p95/p99 latency and the errors; any error fails the
//! run. The setup (an admin, the shoppers, a product with a large stock) uses the `vitrine`
//! binary on the server's data folder, as the `checkout` scenario does; the webhook is signed
//! with the secret the server keeps in that folder (`keys/payments-webhook.secret`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::{Value, json};
use vitrine_app::payments::sandbox::{SIGNATURE_HEADER, WebhookSigner};

use crate::common::{
    ADMIN_EMAIL, PASSWORD, RunArgs, create_users, customer_email, sign_in, write_summary,
};

/// The steps, in the order a shopper takes them.
pub const STEPS: [&str; 8] = [
    "browse",
    "search",
    "product",
    "sign_in",
    "add_to_cart",
    "checkout",
    "pix_charge",
    "pix_paid",
];

#[derive(Default, Clone)]
struct StepStats {
    latencies_us: Vec<u32>,
    measured: u64,
    errors: u64,
    samples: Vec<String>,
}

struct Shopper {
    http: reqwest::Client,
    base: String,
    email: String,
    slug: String,
    sku: String,
    signer: Arc<WebhookSigner>,
    run_id: u128,
    index: usize,
}

/// What one step answered: the status and the JSON body (`Null` when not JSON).
type Answer = (reqwest::StatusCode, Value);

impl Shopper {
    async fn call(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Answer> {
        let res = req.send().await?;
        let status = res.status();
        let text = res.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// One step, timed; `Err` with a description when the answer is not the expected one.
    async fn step(
        &self,
        stats: &mut [StepStats],
        i: usize,
        window: (Instant, Instant),
        expect: u16,
        req: reqwest::RequestBuilder,
    ) -> Result<Value, ()> {
        let t0 = Instant::now();
        let result = self.call(req).await;
        let t1 = Instant::now();
        let s = &mut stats[i];
        match result {
            Ok((status, body)) if status.as_u16() == expect => {
                if t1 >= window.0 && t1 < window.1 {
                    s.measured += 1;
                    s.latencies_us
                        .push((t1 - t0).as_micros().min(u128::from(u32::MAX)) as u32);
                }
                Ok(body)
            }
            other => {
                s.errors += 1;
                if s.samples.len() < 3 {
                    s.samples.push(match other {
                        Ok((status, body)) => format!("{status}: {body}"),
                        Err(e) => format!("{e:#}"),
                    });
                }
                Err(())
            }
        }
    }

    async fn journey(
        &self,
        stats: &mut [StepStats],
        window: (Instant, Instant),
        seq: u64,
    ) -> Result<(), ()> {
        let b = &self.base;
        let h = &self.http;
        self.step(
            stats,
            0,
            window,
            200,
            h.get(format!("{b}/api/v1/products?limit=20&sort=price_asc")),
        )
        .await?;
        self.step(
            stats,
            1,
            window,
            200,
            h.get(format!("{b}/api/v1/products?q=carga&limit=20")),
        )
        .await?;
        self.step(
            stats,
            2,
            window,
            200,
            h.get(format!("{b}/api/v1/products/{}", self.slug)),
        )
        .await?;
        let tokens = self
            .step(
                stats,
                3,
                window,
                200,
                h.post(format!("{b}/api/v1/auth/sign-in"))
                    .json(&json!({ "email": self.email, "password": PASSWORD })),
            )
            .await?;
        let token = tokens["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.step(
            stats,
            4,
            window,
            200,
            h.post(format!("{b}/api/v1/cart/items"))
                .bearer_auth(&token)
                .json(&json!({ "sku": self.sku, "quantity": 1 })),
        )
        .await?;
        let order = self
            .step(stats, 5, window, 201, h.post(format!("{b}/api/v1/orders"))
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("journey-{}-{}-{seq}", self.run_id, self.index))
                .json(&json!({
                    "shipping_address": {
                        "recipient": "Cliente Carga", "street": "Av Paulista", "number": "1000",
                        "district": "Bela Vista", "city": "São Paulo", "uf": "SP", "cep": "01310-100"
                    },
                    "shipping_method": "pac",
                    "payment_method": "pix",
                    "tax_id": "529.982.247-25"
                })))
            .await?;
        let id = order["id"].as_str().unwrap_or_default().to_owned();
        let payment = self
            .step(
                stats,
                6,
                window,
                200,
                h.post(format!("{b}/api/v1/orders/{id}/payment"))
                    .bearer_auth(&token)
                    .json(&json!({ "method": "pix" })),
            )
            .await?;
        let notice = json!({
            "id": format!("N-{}-{}-{seq}", self.run_id, self.index),
            "type": "pix.paid",
            "txid": payment["pix"]["txid"],
            "amount_centavos": order["total_centavos"],
            "end_to_end_id": format!("E-{}-{}-{seq}", self.run_id, self.index),
        })
        .to_string();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.step(
            stats,
            7,
            window,
            200,
            h.post(format!("{b}/api/v1/payments/webhooks/pix"))
                .header("content-type", "application/json")
                .header(SIGNATURE_HEADER, self.signer.sign(now, notice.as_bytes()))
                .body(notice),
        )
        .await?;
        Ok(())
    }
}

/// Run the scenario; `Ok(false)` when any step failed.
pub async fn run(
    run: &RunArgs,
    base: &str,
    vitrine: &PathBuf,
    data_dir: &PathBuf,
    no_create_users: bool,
) -> anyhow::Result<bool> {
    let shoppers = run.connections;
    let base = base.trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(shoppers)
        .build()?;
    let setup = Instant::now();
    if !no_create_users {
        create_users(vitrine, data_dir, shoppers).await?;
    }
    let admin = sign_in(&http, &base, ADMIN_EMAIL).await?;
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let slug = format!("carga-{run_id}");
    let sku = format!("CARGA-{run_id}");
    let res = http
        .post(format!("{base}/api/v1/admin/products"))
        .bearer_auth(&admin)
        .json(&json!({
            "slug": slug,
            "name": "Camiseta de carga",
            "description": "Produto do teste de carga",
            "variants": [{ "sku": sku, "price_centavos": 4990, "weight_g": 300, "stock": 1_000_000 }],
        }))
        .send()
        .await?;
    ensure!(
        res.status() == reqwest::StatusCode::CREATED,
        "creating the product: {}",
        res.text().await?
    );
    let signer = Arc::new(read_signer(data_dir)?);
    println!(
        "setup: {shoppers} shoppers, product {slug} ({:.1} s)\nscenario journey {base}\n{}",
        setup.elapsed().as_secs_f64(),
        run.describe()
    );

    let start = Instant::now();
    let from = start + Duration::from_secs_f64(run.warmup.max(0.0));
    let end = from + Duration::from_secs_f64(run.duration);
    let tasks: Vec<_> = (0..shoppers)
        .map(|index| {
            let shopper = Shopper {
                http: http.clone(),
                base: base.clone(),
                email: customer_email(index),
                slug: slug.clone(),
                sku: sku.clone(),
                signer: signer.clone(),
                run_id,
                index,
            };
            tokio::spawn(async move {
                let mut stats = vec![StepStats::default(); STEPS.len()];
                let mut seq = 0;
                while Instant::now() < end {
                    if shopper.journey(&mut stats, (from, end), seq).await.is_err() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    seq += 1;
                }
                stats
            })
        })
        .collect();
    let mut total = vec![StepStats::default(); STEPS.len()];
    for task in tasks {
        for (t, s) in total.iter_mut().zip(task.await?) {
            t.latencies_us.extend(s.latencies_us);
            t.measured += s.measured;
            t.errors += s.errors;
            for e in s.samples {
                if t.samples.len() < 3 {
                    t.samples.push(e);
                }
            }
        }
    }
    let mut summary = String::new();
    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "step", "count", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"
    );
    let mut errors = 0;
    for (name, s) in STEPS.iter().zip(total.iter_mut()) {
        s.latencies_us.sort_unstable();
        let pct = |p: f64| {
            if s.latencies_us.is_empty() {
                return f64::NAN;
            }
            let rank = ((p / 100.0) * s.latencies_us.len() as f64).ceil() as usize;
            f64::from(s.latencies_us[rank.clamp(1, s.latencies_us.len()) - 1]) / 1000.0
        };
        let rps = s.measured as f64 / run.duration;
        println!(
            "{name:<12} {:>9} {rps:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>7}",
            s.measured,
            pct(50.0),
            pct(95.0),
            pct(99.0),
            s.errors
        );
        for e in &s.samples {
            println!("  e.g. {e}");
        }
        summary.push_str(&format!(
            "{name}_count={}\n{name}_rps={rps:.1}\n{name}_p50_ms={:.2}\n{name}_p95_ms={:.2}\n{name}_p99_ms={:.2}\n{name}_errors={}\n",
            s.measured,
            pct(50.0),
            pct(95.0),
            pct(99.0),
            s.errors
        ));
        errors += s.errors;
    }
    let journeys = total[STEPS.len() - 1].measured;
    println!(
        "journeys completed in the measured period: {journeys} ({:.1}/s); errors: {errors}",
        journeys as f64 / run.duration
    );
    summary.push_str(&format!("journeys={journeys}\nerrors={errors}\n"));
    write_summary(run, &summary)?;
    Ok(errors == 0)
}

fn read_signer(data_dir: &Path) -> anyhow::Result<WebhookSigner> {
    let path = data_dir.join("keys").join("payments-webhook.secret");
    let secret = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (start the server on this data folder first)",
            path.display()
        )
    })?;
    WebhookSigner::new(secret.trim().as_bytes().to_vec()).map_err(anyhow::Error::msg)
}
