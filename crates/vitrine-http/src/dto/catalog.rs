//! Catalog wire types: products and their variants, listings, categories, stock, and the
//! admin's product and category input.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vitrine_app::catalog::{ProductView, SearchPage};
use vitrine_domain::Money;
use vitrine_domain::catalog::{
    Category, CategoryNode, Dimensions, Fiscal, Product, ProductDraft, Sku, Slug, Variant,
};

use super::{CURRENCY, rfc3339};

#[derive(Debug, Serialize, ToSchema)]
pub struct VariantDto {
    #[schema(example = "CAM-AZUL-M")]
    pub sku: String,
    pub options: BTreeMap<String, String>,
    pub price_centavos: i64,
    pub compare_at_centavos: Option<i64>,
    pub weight_g: u32,
    pub length_cm: u32,
    pub width_cm: u32,
    pub height_cm: u32,
    pub ncm: String,
    pub cfop: String,
    pub origin: u8,
    /// Units available now (product detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductDto {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category_id: Option<String>,
    pub images: Vec<String>,
    pub currency: &'static str,
    /// The lowest variant price.
    pub price_from_centavos: i64,
    pub variants: Vec<VariantDto>,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl ProductDto {
    pub fn from_product(p: &Product, stock: Option<&HashMap<Sku, i64>>) -> Self {
        Self {
            id: p.id.clone(),
            slug: p.slug.to_string(),
            name: p.name.clone(),
            description: p.description.clone(),
            category_id: p.category_id.clone(),
            images: p.images.clone(),
            currency: CURRENCY,
            price_from_centavos: p.price_from().centavos(),
            variants: p
                .variants
                .iter()
                .map(|v| VariantDto {
                    sku: v.sku.to_string(),
                    options: v.options.clone(),
                    price_centavos: v.price.centavos(),
                    compare_at_centavos: v.compare_at.map(Money::centavos),
                    weight_g: v.dimensions.weight_g,
                    length_cm: v.dimensions.length_cm,
                    width_cm: v.dimensions.width_cm,
                    height_cm: v.dimensions.height_cm,
                    ncm: v.fiscal.ncm.clone(),
                    cfop: v.fiscal.cfop.clone(),
                    origin: v.fiscal.origin,
                    available: stock.map(|s| s.get(&v.sku).copied().unwrap_or(0)),
                })
                .collect(),
            active: p.active,
            created_at: rfc3339(p.created_at),
            updated_at: rfc3339(p.updated_at),
            version: p.version,
        }
    }

    pub fn from_view(v: &ProductView) -> Self {
        Self::from_product(&v.product, Some(&v.stock))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductListDto {
    pub items: Vec<ProductDto>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next: Option<String>,
    /// Searches with words (`q`): how many products match in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    /// Searches with words (`q`): counts over all the products that match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<FacetsDto>,
}

/// Counts over all the products a search matches, with the current filters applied. Only
/// counts above zero are listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacetsDto {
    /// A category's count includes its subcategories'.
    pub categories: Vec<CategoryFacetDto>,
    /// Option names (as `tamanho`, `cor`) and their values.
    pub options: Vec<OptionFacetDto>,
    /// Price ranges of the lowest variant price.
    pub prices: Vec<PriceFacetDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryFacetDto {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OptionFacetDto {
    /// The option's name as filtered by (lowercase, no accents).
    #[schema(example = "cor")]
    pub name: String,
    /// The name as the catalog writes it.
    #[schema(example = "Cor")]
    pub label: String,
    pub values: Vec<OptionValueDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OptionValueDto {
    /// What `options` takes: `{name}:{key}`.
    #[schema(example = "azul")]
    pub key: String,
    #[schema(example = "Azul")]
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceFacetDto {
    pub min_centavos: i64,
    /// Inclusive; absent for the highest range.
    pub max_centavos: Option<i64>,
    pub count: u64,
}

impl FacetsDto {
    pub fn from_search(page: &SearchPage) -> Self {
        let f = &page.facets;
        Self {
            categories: f
                .categories
                .iter()
                .filter_map(|(id, count)| {
                    let c = page.categories.iter().find(|c| &c.id == id)?;
                    Some(CategoryFacetDto {
                        id: c.id.clone(),
                        slug: c.slug.as_str().to_owned(),
                        name: c.name.clone(),
                        parent_id: c.parent_id.clone(),
                        count: *count,
                    })
                })
                .collect(),
            options: f
                .options
                .iter()
                .map(|o| OptionFacetDto {
                    name: o.name.clone(),
                    label: o.label.clone(),
                    values: o
                        .values
                        .iter()
                        .map(|v| OptionValueDto {
                            key: v.key.clone(),
                            value: v.label.clone(),
                            count: v.count,
                        })
                        .collect(),
                })
                .collect(),
            prices: f
                .prices
                .iter()
                .map(|&(min, max, count)| PriceFacetDto {
                    min_centavos: min,
                    max_centavos: max,
                    count,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductListParams {
    /// Category id or slug (includes its subcategories).
    pub category: Option<String>,
    pub min_price_centavos: Option<i64>,
    pub max_price_centavos: Option<i64>,
    /// Words searched in name and description: accents and case ignored, plurals and other
    /// forms of a word found (`canecas` finds "Caneca"), one typo forgiven in words of five
    /// letters or more. The answer then has `total` and `facets`.
    pub q: Option<String>,
    /// Searches with words: option filters, `name:value` pairs separated by semicolons
    /// (`cor:azul;tamanho:m`; a value may hold commas, as `1,5 l`), as the facets name them;
    /// values of one name are alternatives, every name must match.
    pub options: Option<String>,
    /// `relevance` (the default with `q`), `newest` (the default without), `price_asc`,
    /// `price_desc` or `name`.
    pub sort: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<usize>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryDto {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub position: u32,
    /// The ETag to send in `If-Match` when editing.
    pub version: u64,
    #[schema(no_recursion)]
    pub children: Vec<CategoryDto>,
}

impl From<&CategoryNode> for CategoryDto {
    fn from(n: &CategoryNode) -> Self {
        let c = &n.category;
        Self {
            id: c.id.clone(),
            slug: c.slug.to_string(),
            name: c.name.clone(),
            parent_id: c.parent_id.clone(),
            position: c.position,
            version: c.version,
            children: n.children.iter().map(Into::into).collect(),
        }
    }
}

impl From<&Category> for CategoryDto {
    fn from(c: &Category) -> Self {
        CategoryDto::from(&CategoryNode {
            category: c.clone(),
            children: vec![],
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    pub name: String,
    #[schema(value_type = Option<String>)]
    pub slug: Option<Slug>,
    pub parent_id: Option<String>,
    #[serde(default)]
    pub position: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantInput {
    #[schema(value_type = String, example = "CAM-AZUL-M")]
    pub sku: Sku,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    pub price_centavos: i64,
    pub compare_at_centavos: Option<i64>,
    #[serde(default)]
    pub weight_g: u32,
    #[serde(default)]
    pub length_cm: u32,
    #[serde(default)]
    pub width_cm: u32,
    #[serde(default)]
    pub height_cm: u32,
    #[schema(example = "61091000")]
    pub ncm: Option<String>,
    #[schema(example = "5102")]
    pub cfop: Option<String>,
    pub origin: Option<u8>,
    /// Initial stock for a new variant (ignored for existing ones: use stock adjustments).
    pub stock: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    #[schema(value_type = Option<String>)]
    pub slug: Option<Slug>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub category_id: Option<String>,
    #[serde(default)]
    pub images: Vec<String>,
    #[serde(default = "yes")]
    pub active: bool,
    pub variants: Vec<VariantInput>,
}

pub(super) fn yes() -> bool {
    true
}

impl ProductInput {
    /// The draft and the initial stock of each variant.
    pub fn into_draft(self) -> (ProductDraft, HashMap<Sku, i64>) {
        let default_fiscal = Fiscal::default();
        let mut stock = HashMap::new();
        let variants = self
            .variants
            .into_iter()
            .map(|v| {
                if let Some(s) = v.stock {
                    stock.insert(v.sku.clone(), s);
                }
                Variant {
                    sku: v.sku,
                    options: v.options,
                    price: Money::from_centavos(v.price_centavos),
                    compare_at: v.compare_at_centavos.map(Money::from_centavos),
                    dimensions: Dimensions {
                        weight_g: v.weight_g,
                        length_cm: v.length_cm,
                        width_cm: v.width_cm,
                        height_cm: v.height_cm,
                    },
                    fiscal: Fiscal {
                        ncm: v.ncm.unwrap_or_else(|| default_fiscal.ncm.clone()),
                        cfop: v.cfop.unwrap_or_else(|| default_fiscal.cfop.clone()),
                        origin: v.origin.unwrap_or(default_fiscal.origin),
                    },
                }
            })
            .collect();
        let draft = ProductDraft {
            slug: self.slug,
            name: self.name,
            description: self.description,
            category_id: self.category_id,
            images: self.images,
            variants,
            active: self.active,
        };
        (draft, stock)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockAdjustment {
    /// Units to add (positive) or remove (negative).
    pub delta: i64,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StockDto {
    pub sku: String,
    pub available: i64,
}
