//! `edits`: a shop owner editing the catalog while a shopper browses. Each round an admin saves
//! the first product of a listing (its name changed back and forth) through the admin API and,
//! as soon as the save is answered, one client asks for the listing; between saves the same
//! client asks for it `between` times more. The listing right after a save is reported beside
//! the others (issue 19: within 2× their p99). The admin is created with `vitrine user create`
//! unless it can sign in already.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure};
use serde_json::{Map, Value, json};

use crate::common::{ADMIN_EMAIL, create_users, sign_in};

/// Fields of a variant as the admin API reads it that its writes take back.
const VARIANT_FIELDS: [&str; 11] = [
    "sku",
    "options",
    "price_centavos",
    "compare_at_centavos",
    "weight_g",
    "length_cm",
    "width_cm",
    "height_cm",
    "ncm",
    "cfop",
    "origin",
];

/// The body that saves `product` (as the admin API reads it) with `name`.
fn edit_body(product: &Value, name: &str) -> anyhow::Result<Value> {
    let variants = product["variants"]
        .as_array()
        .ok_or_else(|| anyhow!("a product without variants: {product}"))?
        .iter()
        .map(|v| {
            VARIANT_FIELDS
                .iter()
                .filter_map(|f| {
                    v.get(*f)
                        .filter(|x| !x.is_null())
                        .map(|x| (f.to_string(), x.clone()))
                })
                .collect::<Map<String, Value>>()
        })
        .collect::<Vec<_>>();
    Ok(json!({
        "slug": product["slug"],
        "name": name,
        "description": product["description"],
        "category_id": product["category_id"],
        "images": product["images"],
        "active": product["active"],
        "variants": variants,
    }))
}

/// Milliseconds at percentile `p` (nearest rank) of sorted `xs`.
fn pct(xs: &[Duration], p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * xs.len() as f64).ceil().max(1.0) as usize;
    xs[rank.min(xs.len()) - 1].as_secs_f64() * 1000.0
}

pub(crate) struct EditsArgs<'a> {
    pub url: &'a str,
    pub vitrine: &'a PathBuf,
    pub data_dir: &'a PathBuf,
    pub rounds: usize,
    pub between: usize,
}

/// Run the scenario; its figures as `key=value` lines.
pub(crate) async fn edits(a: EditsArgs<'_>) -> anyhow::Result<String> {
    ensure!(a.rounds > 0, "at least one round");
    let base = a
        .url
        .find("/api/")
        .map(|i| &a.url[..i])
        .ok_or_else(|| anyhow!("{}: not an API URL", a.url))?
        .to_owned();
    let http = reqwest::Client::new();
    // The admin, unless an earlier run on this data folder made it.
    let admin = match sign_in(&http, &base, ADMIN_EMAIL).await {
        Ok(token) => token,
        Err(_) => {
            create_users(a.vitrine, a.data_dir, 0).await?;
            sign_in(&http, &base, ADMIN_EMAIL).await?
        }
    };
    let listing = |http: &reqwest::Client| {
        let request = http.get(a.url);
        async move {
            let started = Instant::now();
            let res = request.send().await?;
            let status = res.status();
            let body = res.bytes().await?;
            ensure!(status.is_success(), "{}: {status}", a.url);
            Ok::<_, anyhow::Error>((started.elapsed(), body))
        }
    };
    let (_, first) = listing(&http).await?;
    let first: Value = serde_json::from_slice(&first)?;
    let id = first["items"][0]["id"]
        .as_str()
        .ok_or_else(|| anyhow!("{}: no product listed", a.url))?
        .to_owned();
    let product: Value = http
        .get(format!("{base}/api/v1/admin/products/{id}"))
        .bearer_auth(&admin)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let original = product["name"].as_str().unwrap_or("Produto").to_owned();
    let mut version = product["version"]
        .as_u64()
        .ok_or_else(|| anyhow!("no version in {product}"))?;
    println!(
        "scenario edits {}: {} rounds, {} listings between edits, one client; product {id}",
        a.url, a.rounds, a.between
    );

    let (mut after_edit, mut others, mut saves) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..a.rounds {
        let name = if round % 2 == 0 {
            format!("{original} (editado)")
        } else {
            original.clone()
        };
        let started = Instant::now();
        let res = http
            .put(format!("{base}/api/v1/admin/products/{id}"))
            .bearer_auth(&admin)
            .header("if-match", format!("\"{version}\""))
            .json(&edit_body(&product, &name)?)
            .send()
            .await?;
        let status = res.status();
        let saved: Value = res.json().await.unwrap_or(Value::Null);
        ensure!(status.is_success(), "saving {id}: {status} {saved}");
        saves.push(started.elapsed());
        version = saved["version"]
            .as_u64()
            .ok_or_else(|| anyhow!("no version in {saved}"))?;
        let (took, body) = listing(&http).await?;
        after_edit.push(took);
        // The listing shows the save (the product is on the page read).
        let body: Value = serde_json::from_slice(&body)?;
        let shown = body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["id"] == id.as_str());
        if let Some(p) = shown {
            ensure!(
                p["name"] == name.as_str(),
                "the listing after the save shows {}",
                p["name"]
            );
        }
        for _ in 0..a.between {
            others.push(listing(&http).await?.0);
        }
    }
    // Leave the product as it was.
    if a.rounds % 2 == 1 {
        http.put(format!("{base}/api/v1/admin/products/{id}"))
            .bearer_auth(&admin)
            .header("if-match", format!("\"{version}\""))
            .json(&edit_body(&product, &original)?)
            .send()
            .await?
            .error_for_status()?;
    }
    for xs in [&mut after_edit, &mut others, &mut saves] {
        xs.sort();
    }
    println!("| listing | requests | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|");
    for (what, xs) in [
        ("right after an edit", &after_edit),
        ("otherwise", &others),
        ("(the edit itself)", &saves),
    ] {
        println!(
            "| {what} | {} | {:.2} | {:.2} | {:.2} |",
            xs.len(),
            pct(xs, 50.0),
            pct(xs, 99.0),
            pct(xs, 100.0)
        );
    }
    let ratio = pct(&after_edit, 99.0) / pct(&others, 99.0).max(f64::MIN_POSITIVE);
    println!("p99 right after an edit / p99 otherwise: {ratio:.2} (target ≤ 2)");
    Ok(format!(
        "after_edit_p50_ms={:.3}\nafter_edit_p99_ms={:.3}\nother_p50_ms={:.3}\nother_p99_ms={:.3}\nedit_p50_ms={:.3}\nedit_p99_ms={:.3}\nratio_p99={ratio:.3}\n",
        pct(&after_edit, 50.0),
        pct(&after_edit, 99.0),
        pct(&others, 50.0),
        pct(&others, 99.0),
        pct(&saves, 50.0),
        pct(&saves, 99.0),
    ))
}
