//! The catalog: products with variants, stock-keeping units and categories.
//!
//! Invariants: a product has at least one variant; SKUs are unique within a product (the
//! repository makes them unique store-wide); prices are positive centavos and a compare-at price,
//! when present, is higher than the price; slugs are lowercase ASCII words joined by hyphens.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, FieldError};
use crate::money::Money;
use crate::time::Timestamp;

/// A stock-keeping unit: 1..=64 characters of `A-Z 0-9 - _ .`, stored uppercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_uppercase();
        if s.is_empty() || s.len() > 64 {
            return Err("a SKU has 1 to 64 characters".into());
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err("a SKU may hold only letters, digits, '-', '_' and '.'".into());
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sku {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Sku::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A URL-friendly name: `[a-z0-9]+(-[a-z0-9]+)*`, at most 96 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 96
            && s.split('-').all(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err("a slug is lowercase letters and digits in words joined by single hyphens".into())
        }
    }

    /// Make a slug from a human name: accents folded, everything else turned into hyphens.
    pub fn from_name(name: &str) -> Option<Self> {
        let mut out = String::with_capacity(name.len());
        for c in name.chars().map(crate::text::fold_accent) {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        let mut trimmed = out.trim_end_matches('-').to_owned();
        trimmed.truncate(96);
        Slug::parse(trimmed.trim_end_matches('-')).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Slug::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Physical size of a shipped unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Dimensions {
    pub weight_g: u32,
    pub length_cm: u32,
    pub width_cm: u32,
    pub height_cm: u32,
}

/// What the NF-e needs to know about a good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fiscal {
    /// Mercosur common nomenclature: 8 digits.
    pub ncm: String,
    /// Fiscal operation code: 4 digits (5102 = sale within the state).
    pub cfop: String,
    /// Goods origin, 0..=8 (0 = national).
    pub origin: u8,
}

impl Default for Fiscal {
    fn default() -> Self {
        Self {
            ncm: "61091000".into(),
            cfop: "5102".into(),
            origin: 0,
        }
    }
}

impl Fiscal {
    pub fn validate(&self, errors: &mut Vec<FieldError>, field: &str) {
        if self.ncm.len() != 8 || !self.ncm.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(FieldError::new(
                format!("{field}.ncm"),
                "NCM has exactly 8 digits",
            ));
        }
        if self.cfop.len() != 4 || !self.cfop.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(FieldError::new(
                format!("{field}.cfop"),
                "CFOP has exactly 4 digits",
            ));
        }
        if self.origin > 8 {
            errors.push(FieldError::new(
                format!("{field}.origin"),
                "origin is a digit from 0 to 8",
            ));
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub sku: Sku,
    /// Option values such as `{"tamanho": "M", "cor": "Azul"}`.
    pub options: BTreeMap<String, String>,
    pub price: Money,
    pub compare_at: Option<Money>,
    pub dimensions: Dimensions,
    pub fiscal: Fiscal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    pub slug: Slug,
    pub name: String,
    pub description: String,
    pub category_id: Option<String>,
    /// Blob keys of the product's images, first is the cover.
    pub images: Vec<String>,
    pub variants: Vec<Variant>,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Optimistic concurrency: bumped by every edit.
    pub version: u64,
}

/// The editable part of a product, as an admin or an import submits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDraft {
    pub slug: Option<Slug>,
    pub name: String,
    pub description: String,
    pub category_id: Option<String>,
    pub images: Vec<String>,
    pub variants: Vec<Variant>,
    pub active: bool,
}

pub const MAX_VARIANTS: usize = 50;

impl ProductDraft {
    /// Check the draft's own rules; every problem is reported with its field.
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut errors = Vec::new();
        let name_len = self.name.trim().chars().count();
        if name_len == 0 || name_len > 200 {
            errors.push(FieldError::new(
                "name",
                "a product name has 1 to 200 characters",
            ));
        }
        if self.description.chars().count() > 10_000 {
            errors.push(FieldError::new(
                "description",
                "a description has at most 10000 characters",
            ));
        }
        if self.variants.is_empty() {
            errors.push(FieldError::new(
                "variants",
                "a product needs at least one variant",
            ));
        }
        if self.variants.len() > MAX_VARIANTS {
            errors.push(FieldError::new(
                "variants",
                format!("a product has at most {MAX_VARIANTS} variants"),
            ));
        }
        let mut seen = HashMap::new();
        for (i, v) in self.variants.iter().enumerate() {
            let field = format!("variants[{i}]");
            if seen.insert(v.sku.clone(), i).is_some() {
                errors.push(FieldError::new(
                    format!("{field}.sku"),
                    format!("SKU {} appears twice", v.sku),
                ));
            }
            if v.price.centavos() <= 0 {
                errors.push(FieldError::new(
                    format!("{field}.price_centavos"),
                    "the price must be positive",
                ));
            }
            if let Some(c) = v.compare_at
                && c.centavos() <= v.price.centavos()
            {
                errors.push(FieldError::new(
                    format!("{field}.compare_at_centavos"),
                    "the compare-at price must be higher than the price",
                ));
            }
            if v.options.len() > 5 {
                errors.push(FieldError::new(
                    format!("{field}.options"),
                    "a variant has at most 5 options",
                ));
            }
            for (k, val) in &v.options {
                if k.trim().is_empty() || k.len() > 40 || val.trim().is_empty() || val.len() > 80 {
                    errors.push(FieldError::new(
                        format!("{field}.options"),
                        "option names have 1 to 40 characters and values 1 to 80",
                    ));
                }
            }
            v.fiscal.validate(&mut errors, &field);
        }
        if self.images.len() > 20 {
            errors.push(FieldError::new("images", "a product has at most 20 images"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(errors))
        }
    }

    /// The slug to use: the given one, or one made from the name.
    pub fn slug_or_default(&self) -> Result<Slug, DomainError> {
        match &self.slug {
            Some(s) => Ok(s.clone()),
            None => Slug::from_name(&self.name).ok_or_else(|| {
                DomainError::Invalid(vec![FieldError::new(
                    "slug",
                    "cannot make a slug from this name; give one",
                )])
            }),
        }
    }
}

impl Product {
    pub fn variant(&self, sku: &Sku) -> Option<&Variant> {
        self.variants.iter().find(|v| &v.sku == sku)
    }
    /// The lowest variant price (what listings show and sort by).
    pub fn price_from(&self) -> Money {
        self.variants
            .iter()
            .map(|v| v.price)
            .min()
            .unwrap_or(Money::from_centavos(0))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub id: String,
    pub slug: Slug,
    pub name: String,
    pub parent_id: Option<String>,
    pub position: u32,
    /// Optimistic concurrency: bumped by every edit.
    #[serde(default)]
    pub version: u64,
}

/// A category with its children, for menus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryNode {
    #[serde(flatten)]
    pub category: Category,
    pub children: Vec<CategoryNode>,
}

/// Arrange flat categories into a forest ordered by position then name. Categories whose parent
/// is unknown become roots, so a dangling reference never hides a category.
pub fn category_tree(categories: &[Category]) -> Vec<CategoryNode> {
    let ids: std::collections::HashSet<&str> = categories.iter().map(|c| c.id.as_str()).collect();
    fn build(
        parent: Option<&str>,
        all: &[Category],
        ids: &std::collections::HashSet<&str>,
        depth: usize,
    ) -> Vec<CategoryNode> {
        if depth > 16 {
            return Vec::new();
        }
        let mut nodes: Vec<CategoryNode> = all
            .iter()
            .filter(|c| {
                let p = c
                    .parent_id
                    .as_deref()
                    .filter(|p| ids.contains(p) && *p != c.id);
                p == parent
            })
            .map(|c| CategoryNode {
                category: c.clone(),
                children: build(Some(&c.id), all, ids, depth + 1),
            })
            .collect();
        nodes.sort_by(|a, b| {
            (a.category.position, &a.category.name).cmp(&(b.category.position, &b.category.name))
        });
        nodes
    }
    build(None, categories, &ids, 0)
}

/// The category with this id or slug.
pub fn find_category<'a>(categories: &'a [Category], id_or_slug: &str) -> Option<&'a Category> {
    categories
        .iter()
        .find(|c| c.id == id_or_slug || c.slug.as_str() == id_or_slug)
}

/// The ids of a category and all its descendants (for "products in this category").
pub fn category_with_descendants(categories: &[Category], root: &str) -> Vec<String> {
    let mut out = vec![root.to_owned()];
    let mut i = 0;
    while i < out.len() && out.len() <= categories.len() {
        let current = out[i].clone();
        for c in categories {
            if c.parent_id.as_deref() == Some(current.as_str()) && !out.contains(&c.id) {
                out.push(c.id.clone());
            }
        }
        i += 1;
    }
    out
}

/// Would making `parent` the parent of `id` create a cycle?
pub fn creates_cycle(categories: &[Category], id: &str, parent: &str) -> bool {
    category_with_descendants(categories, id)
        .iter()
        .any(|d| d == parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(id: &str, parent: Option<&str>) -> Category {
        Category {
            id: id.into(),
            slug: Slug::parse(id).unwrap(),
            name: id.into(),
            parent_id: parent.map(Into::into),
            position: 0,
            version: 1,
        }
    }

    #[test]
    fn skus_are_uppercased_and_restricted() {
        assert_eq!(Sku::parse(" cam-az-m ").unwrap().as_str(), "CAM-AZ-M");
        assert!(Sku::parse("a b").is_err());
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse(&"X".repeat(65)).is_err());
    }

    #[test]
    fn slugs_are_made_from_portuguese_names() {
        assert_eq!(
            Slug::from_name("Camiseta Básica — Algodão")
                .unwrap()
                .as_str(),
            "camiseta-basica-algodao"
        );
        assert!(Slug::from_name("!!!").is_none());
        assert!(Slug::parse("Bad Slug").is_err());
        assert!(Slug::parse("a--b").is_err());
    }

    #[test]
    fn a_category_tree_nests_children_and_survives_dangling_parents() {
        let cats = vec![
            cat("roupas", None),
            cat("camisetas", Some("roupas")),
            cat("orfa", Some("sumiu")),
        ];
        let tree = category_tree(&cats);
        assert_eq!(tree.len(), 2);
        let roupas = tree.iter().find(|n| n.category.id == "roupas").unwrap();
        assert_eq!(roupas.children[0].category.id, "camisetas");
        assert!(creates_cycle(&cats, "roupas", "camisetas"));
        assert!(!creates_cycle(&cats, "camisetas", "orfa"));
        assert_eq!(
            category_with_descendants(&cats, "roupas"),
            vec!["roupas".to_string(), "camisetas".to_string()]
        );
    }

    #[test]
    fn a_draft_reports_every_bad_field() {
        let draft = ProductDraft {
            slug: None,
            name: " ".into(),
            description: String::new(),
            category_id: None,
            images: vec![],
            variants: vec![Variant {
                sku: Sku::parse("A").unwrap(),
                options: BTreeMap::new(),
                price: Money::from_centavos(100),
                compare_at: Some(Money::from_centavos(50)),
                dimensions: Dimensions::default(),
                fiscal: Fiscal {
                    ncm: "1".into(),
                    cfop: "5102".into(),
                    origin: 0,
                },
            }],
            active: true,
        };
        let DomainError::Invalid(errors) = draft.validate().unwrap_err() else {
            panic!()
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"name"));
        assert!(fields.contains(&"variants[0].compare_at_centavos"));
        assert!(fields.contains(&"variants[0].ncm"));
    }
}
