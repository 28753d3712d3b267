//! `vitrine import`: products from CSV.
//!
//! One row per variant; rows with the same `slug` form one product (its name, description and
//! category come from the first row). Every row is checked before anything is written. A product
//! is imported whole or not at all: one bad row rejects its whole product, and the report names
//! each rejected row (line number) with the reason. Products already in the catalog (same slug)
//! are rejected, not overwritten, and so is a product with a SKU that an earlier product of the
//! file has. The checked products are written [`WRITES_AT_ONCE`] at a time.
//!
//! Columns (header required, order free): `slug, name, description, category, sku, options,
//! price, compare_at, stock, weight_g, length_cm, width_cm, height_cm, ncm, cfop, origin`.
//! `options` is `name=value;name=value`; prices are decimals in reais (`49,90` or `49.90`);
//! `category` is a category slug; empty optional cells take defaults.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use vitrine_app::{App, AppError};
use vitrine_domain::Money;
use vitrine_domain::catalog::{
    Dimensions, Fiscal, ProductDraft, Sku, Slug, Variant, find_category,
};

#[derive(Debug, Deserialize)]
struct Row {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    category: String,
    sku: String,
    #[serde(default)]
    options: String,
    price: String,
    #[serde(default)]
    compare_at: String,
    #[serde(default)]
    stock: String,
    #[serde(default)]
    weight_g: String,
    #[serde(default)]
    length_cm: String,
    #[serde(default)]
    width_cm: String,
    #[serde(default)]
    height_cm: String,
    #[serde(default)]
    ncm: String,
    #[serde(default)]
    cfop: String,
    #[serde(default)]
    origin: String,
}

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub slug: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub products: usize,
    pub variants: usize,
    pub rejected: Vec<Rejected>,
}

struct Group {
    lines: Vec<u64>,
    slug: String,
    name: String,
    description: String,
    category: String,
    variants: Vec<Variant>,
    stock: HashMap<Sku, i64>,
    /// The first problem found in the group's rows (line, reason).
    problems: Vec<(u64, String)>,
}

fn number<T: std::str::FromStr>(cell: &str, what: &str, default: T) -> Result<T, String> {
    let c = cell.trim();
    if c.is_empty() {
        Ok(default)
    } else {
        c.parse()
            .map_err(|_| format!("{what} must be a whole number, got {c:?}"))
    }
}

fn variant(row: &Row) -> Result<(Variant, i64), String> {
    let sku = Sku::parse(&row.sku).map_err(|e| format!("sku: {e}"))?;
    let mut options = BTreeMap::new();
    for pair in row
        .options
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("options: {pair:?} is not name=value"))?;
        options.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    let price = Money::parse_decimal(&row.price).map_err(|e| format!("price: {e}"))?;
    let compare_at = match row.compare_at.trim() {
        "" => None,
        c => Some(Money::parse_decimal(c).map_err(|e| format!("compare_at: {e}"))?),
    };
    let stock = number(&row.stock, "stock", 0i64)?;
    let defaults = Fiscal::default();
    let v = Variant {
        sku,
        options,
        price,
        compare_at,
        dimensions: Dimensions {
            weight_g: number(&row.weight_g, "weight_g", 0)?,
            length_cm: number(&row.length_cm, "length_cm", 0)?,
            width_cm: number(&row.width_cm, "width_cm", 0)?,
            height_cm: number(&row.height_cm, "height_cm", 0)?,
        },
        fiscal: Fiscal {
            ncm: if row.ncm.trim().is_empty() {
                defaults.ncm
            } else {
                row.ncm.trim().to_owned()
            },
            cfop: if row.cfop.trim().is_empty() {
                defaults.cfop
            } else {
                row.cfop.trim().to_owned()
            },
            origin: number(&row.origin, "origin", 0u8)?,
        },
    };
    Ok((v, stock))
}

/// Read and group the file; returns the groups (in file order) and rows unreadable as CSV.
fn read_groups(input: impl Read) -> anyhow::Result<(Vec<Group>, Vec<Rejected>)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(input);
    let headers = reader.headers()?.clone();
    for required in ["slug", "name", "sku", "price"] {
        if !headers.iter().any(|h| h == required) {
            anyhow::bail!(
                "the CSV header has no {required:?} column (found: {})",
                headers.iter().collect::<Vec<_>>().join(", ")
            );
        }
    }
    let slug_col = headers.iter().position(|h| h == "slug").unwrap_or(0);
    let mut groups: Vec<Group> = Vec::new();
    // Where each SKU first appears: a later product with the same SKU is rejected here, so
    // which one is imported does not depend on which write finishes first.
    let mut sku_lines: HashMap<Sku, (usize, u64)> = HashMap::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut unreadable = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                // Not even cells (bad UTF-8, I/O): there is no slug to tie the row to.
                let line = e.position().map_or(i as u64 + 2, |p| p.line());
                unreadable.push(Rejected {
                    line,
                    slug: String::new(),
                    reason: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        // The line in the file where the row starts (a quoted cell may span lines).
        let line = record.position().map_or(i as u64 + 2, |p| p.line());
        let slug = record.get(slug_col).unwrap_or("").trim().to_owned();
        let row: Result<Row, String> = if record.len() == headers.len() {
            record
                .deserialize(Some(&headers))
                .map_err(|e| format!("unreadable row: {e}"))
        } else {
            Err(format!(
                "the row has {} cells but the header has {}",
                record.len(),
                headers.len()
            ))
        };
        let g = *index.entry(slug.clone()).or_insert_with(|| {
            let (name, description, category) = match &row {
                Ok(r) => (
                    r.name.clone(),
                    r.description.clone(),
                    r.category.trim().to_owned(),
                ),
                Err(_) => Default::default(),
            };
            groups.push(Group {
                lines: vec![],
                slug: slug.clone(),
                name,
                description,
                category,
                variants: vec![],
                stock: HashMap::new(),
                problems: vec![],
            });
            groups.len() - 1
        });
        let group = &mut groups[g];
        group.lines.push(line);
        match row.and_then(|r| variant(&r)) {
            Ok((v, stock)) => match sku_lines.get(&v.sku) {
                Some(&(other, first)) if other != g => group.problems.push((
                    line,
                    format!(
                        "sku: {} is also on line {first}, of another product",
                        v.sku.as_str()
                    ),
                )),
                _ => {
                    sku_lines.entry(v.sku.clone()).or_insert((g, line));
                    group.stock.insert(v.sku.clone(), stock);
                    group.variants.push(v);
                }
            },
            Err(reason) => group.problems.push((line, reason)),
        }
    }
    Ok((groups, unreadable))
}

/// Products written at once: each is a durable commit, and the database's writer commits the
/// ones that wait together (group commit), so an import goes at many products per disk flush.
pub const WRITES_AT_ONCE: usize = 64;

/// A group's rows as rejected, each with its own problem or `reason`.
fn reject_all(group: &Group, reason: &str, rejected: &mut Vec<Rejected>) {
    for line in &group.lines {
        let own = group
            .problems
            .iter()
            .find(|(l, _)| l == line)
            .map(|(_, r)| r.clone());
        rejected.push(Rejected {
            line: *line,
            slug: group.slug.clone(),
            reason: own.unwrap_or_else(|| format!("not imported: {reason}")),
        });
    }
}

/// The product a group makes, or why it is rejected (its rows are added to `rejected`).
fn checked(
    mut group: Group,
    categories: &[vitrine_domain::catalog::Category],
    rejected: &mut Vec<Rejected>,
) -> Option<(Group, ProductDraft)> {
    if !group.problems.is_empty() {
        let first = group.problems[0].0;
        reject_all(
            &group,
            &format!("line {first} of the same product is invalid"),
            rejected,
        );
        return None;
    }
    let slug = match Slug::parse(&group.slug) {
        Ok(s) => s,
        Err(e) => {
            group.problems = group
                .lines
                .iter()
                .map(|l| (*l, format!("slug: {e}")))
                .collect();
            reject_all(&group, "bad slug", rejected);
            return None;
        }
    };
    let category_id = match group.category.as_str() {
        "" => None,
        c => match find_category(categories, c) {
            Some(cat) => Some(cat.id.clone()),
            None => {
                reject_all(&group, &format!("no category with slug {c:?}"), rejected);
                return None;
            }
        },
    };
    let draft = ProductDraft {
        slug: Some(slug),
        name: group.name.clone(),
        description: group.description.clone(),
        category_id,
        images: vec![],
        variants: std::mem::take(&mut group.variants),
        active: true,
    };
    Some((group, draft))
}

/// Import a CSV file into the catalog. `progress` shows a bar on the terminal. Every product is
/// checked first; then [`WRITES_AT_ONCE`] are written at a time.
pub async fn import(app: &App, input: impl Read, progress: bool) -> anyhow::Result<Report> {
    use futures::StreamExt as _;

    let (groups, mut rejected) = read_groups(input)?;
    let categories = app.categories().await?;
    let bar = if progress {
        ProgressBar::new(groups.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} products {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut writes = Vec::with_capacity(groups.len());
    for group in groups {
        match checked(group, &categories, &mut rejected) {
            Some(write) => writes.push(write),
            None => bar.inc(1),
        }
    }
    let mut report = Report::default();
    let mut written = futures::stream::iter(writes)
        .map(|(group, draft)| async move {
            let variants = draft.variants.len();
            let result = app.create_product(draft, &group.stock).await;
            (group, variants, result)
        })
        .buffer_unordered(WRITES_AT_ONCE);
    while let Some((group, variants, result)) = written.next().await {
        bar.inc(1);
        match result {
            Ok(_) => {
                report.products += 1;
                report.variants += variants;
            }
            Err(AppError::Invalid(errors)) => {
                let reason = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                reject_all(&group, &reason, &mut rejected);
            }
            Err(AppError::Conflict(reason)) => reject_all(&group, &reason, &mut rejected),
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("importing product {}", group.slug))
                );
            }
        }
    }
    bar.finish_and_clear();
    rejected.sort_by_key(|r| r.line);
    report.rejected = rejected;
    Ok(report)
}

/// The rejected rows as CSV (line, slug, reason).
pub fn rejected_csv(rejected: &[Rejected]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["line", "slug", "reason"])?;
    for r in rejected {
        w.write_record([r.line.to_string(), r.slug.clone(), r.reason.clone()])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
