//! `catalog_gen`: fills a vitrine data folder with a generated catalog of N products, through
//! the application's own catalog writes (`App::create_product`, many at once so that the
//! database's group commit carries them), for the catalog scale benchmark
//! (`bench/catalog-scale.sh`). A tree of categories (departments and their sections), product
//! names from Portuguese words with accents, one to three variants (size or colour) each, prices
//! spread from R$ 9,90 to about R$ 1.000. Deterministic: product `i` is the same in every run.
//! Prints the products written and the rate.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use vitrine_app::App;
use vitrine_domain::catalog::{Dimensions, Fiscal, ProductDraft, Sku, Variant};
use vitrine_domain::money::Money;

#[path = "gen/data_folder.rs"]
mod data_folder;
#[path = "gen/words.rs"]
mod words;

use words::{ADJECTIVES, COLOURS, MATERIALS, NOUNS};

#[derive(Debug, Parser)]
struct Args {
    /// The data folder (created when missing).
    #[arg(long, required_unless_present = "csv", conflicts_with = "csv")]
    data_dir: Option<PathBuf>,
    /// Instead of writing a data folder, write the same products as a `vitrine import` file
    /// (no categories: the store importing it may not have these), for `bench/import-speed.sh`.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// How many products.
    #[arg(long)]
    products: u64,
    /// Products written at once.
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
}

/// Departments and their sections: (department, sections).
const TREE: [(&str, &[&str]); 5] = [
    ("Roupas", &["Camisetas", "Calças", "Vestidos", "Jaquetas"]),
    ("Casa", &["Cozinha", "Banho", "Decoração"]),
    ("Papelaria", &["Cadernos", "Canetas"]),
    ("Calçados", &["Tênis", "Sandálias"]),
    ("Acessórios", &["Bolsas", "Óculos", "Relógios"]),
];
const SIZES: [&str; 4] = ["P", "M", "G", "GG"];

/// A small deterministic mix, so that product `i` looks random but is the same in every run.
fn mix(i: u64, salt: u64) -> u64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 29)
}

fn pick<'a>(list: &[&'a str], i: u64, salt: u64) -> &'a str {
    list[(mix(i, salt) % list.len() as u64) as usize]
}

fn draft(i: u64, section: &str) -> anyhow::Result<ProductDraft> {
    let name = format!(
        "{} {} {} {}",
        pick(&NOUNS, i, 1),
        pick(&MATERIALS, i, 2),
        pick(&ADJECTIVES, i, 3),
        i
    );
    let price = 990 + (mix(i, 4) % 100_000) as i64;
    let variants = 1 + (mix(i, 5) % 3) as usize;
    let (option, values): (&str, &[&str]) = if mix(i, 6).is_multiple_of(2) {
        ("tamanho", &SIZES)
    } else {
        ("cor", &COLOURS)
    };
    let variants = (0..variants)
        .map(|v| {
            Ok(Variant {
                sku: Sku::parse(&format!("GEN-{i}-{v}")).map_err(anyhow::Error::msg)?,
                options: BTreeMap::from([(option.to_owned(), values[v].to_owned())]),
                price: Money::from_centavos(price + v as i64 * 500),
                compare_at: None,
                dimensions: Dimensions {
                    weight_g: 100 + (mix(i, 7) % 2_000) as u32,
                    length_cm: 20,
                    width_cm: 15,
                    height_cm: 5,
                },
                fiscal: Fiscal::default(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ProductDraft {
        slug: None,
        name,
        description: format!(
            "{} {} para o dia a dia. Feito no Brasil, seção {section}.",
            pick(&NOUNS, i, 1),
            pick(&MATERIALS, i, 2).to_lowercase()
        ),
        category_id: None,
        images: vec![],
        variants,
        active: !mix(i, 8).is_multiple_of(20),
    })
}

/// The category tree, created when missing: the ids of the sections (products go there).
async fn sections(app: &App) -> anyhow::Result<Vec<(String, String)>> {
    let existing = app.categories().await?;
    let mut out = Vec::new();
    for (position, (department, children)) in TREE.iter().enumerate() {
        let parent = match existing.iter().find(|c| c.name == *department) {
            Some(c) => c.id.clone(),
            None => {
                app.create_category(department, None, None, position as u32)
                    .await?
                    .id
            }
        };
        for (k, child) in children.iter().enumerate() {
            let id = match existing.iter().find(|c| c.name == *child) {
                Some(c) => c.id.clone(),
                None => {
                    app.create_category(child, None, Some(parent.clone()), k as u32)
                        .await?
                        .id
                }
            };
            out.push((id, (*child).to_owned()));
        }
    }
    Ok(out)
}

/// Which section product `i` goes in: an index into the sections in [`TREE`]'s order (the order
/// [`sections`] returns them in).
fn section_of(i: u64) -> usize {
    let count: usize = TREE.iter().map(|(_, children)| children.len()).sum();
    (mix(i, 9) % count as u64) as usize
}

/// The stock product `i`'s variants start with.
fn stock(i: u64) -> i64 {
    10 + (mix(i, 10) % 90) as i64
}

/// Products `0..n` as a `vitrine import` file (one row per variant).
fn write_csv(path: &std::path::Path, n: u64) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    w.write_record([
        "slug",
        "name",
        "description",
        "sku",
        "options",
        "price",
        "stock",
        "weight_g",
        "length_cm",
        "width_cm",
        "height_cm",
    ])?;
    for i in 0..n {
        let section = TREE
            .iter()
            .flat_map(|(_, children)| children.iter())
            .nth(section_of(i))
            .context("section")?;
        let d = draft(i, section)?;
        for v in &d.variants {
            let c = v.price.centavos();
            let options: Vec<String> = v.options.iter().map(|(k, x)| format!("{k}={x}")).collect();
            w.write_record([
                format!("gerado-{i}"),
                d.name.clone(),
                d.description.clone(),
                v.sku.as_str().to_owned(),
                options.join(";"),
                format!("{},{:02}", c / 100, c % 100),
                stock(i).to_string(),
                v.dimensions.weight_g.to_string(),
                v.dimensions.length_cm.to_string(),
                v.dimensions.width_cm.to_string(),
                v.dimensions.height_cm.to_string(),
            ])?;
        }
    }
    w.flush()?;
    println!("products={n}\nfile={}", path.display());
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let data_dir = match (&args.csv, &args.data_dir) {
        (Some(csv), _) => return write_csv(csv, args.products),
        (None, Some(dir)) => dir,
        (None, None) => anyhow::bail!("--data-dir or --csv"),
    };
    let app = data_folder::open(data_dir)?;
    vitrine::compose::ensure_listings(&app).await?;
    let sections = Arc::new(sections(&app).await?);
    let started = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..args.products {
        let (app, sections) = (app.clone(), sections.clone());
        writers.spawn(async move {
            let (id, name) = &sections[section_of(i)];
            let mut d = draft(i, name)?;
            d.category_id = Some(id.clone());
            let stock: HashMap<Sku, i64> = d
                .variants
                .iter()
                .map(|v| (v.sku.clone(), stock(i)))
                .collect();
            app.create_product(d, &stock)
                .await
                .with_context(|| format!("product {i}"))?;
            anyhow::Ok(())
        });
        while writers.len() >= args.concurrency {
            writers.join_next().await.context("writer")???;
        }
        if (i + 1).is_multiple_of(50_000) {
            eprintln!(
                "{} products, {:.0}/s",
                i + 1,
                (i + 1) as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    while let Some(r) = writers.join_next().await {
        r??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "products={}\nseconds={secs:.1}\nper_second={:.0}",
        args.products,
        args.products as f64 / secs
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_product_is_one_the_admin_would_accept() {
        for i in 0..200 {
            draft(i, "Camisetas").unwrap().validate().unwrap();
        }
    }
}
