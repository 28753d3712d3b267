//! The API's wire types. Requests reject unknown fields and parse into domain values here
//! (`TryFrom`), so handlers receive valid input. Money is integer centavos in `*_centavos`
//! fields; times are RFC 3339 strings.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vitrine_app::cart::{CartView, PricedLine};
use vitrine_app::catalog::ProductView;
use vitrine_app::customers::{Language, Profile, SavedAddress};
use vitrine_domain::br::{Cep, TaxId, Uf};
use vitrine_domain::catalog::{
    Category, CategoryNode, Dimensions, Fiscal, Product, ProductDraft, Sku, Slug, Variant,
};
use vitrine_domain::contact::Phone;
use vitrine_domain::coupon::{Coupon, Discount};
use vitrine_domain::order::{Address, Order, PaymentMethod};
use vitrine_domain::{FieldError, Money, Timestamp};

pub fn rfc3339(t: Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.millis()) * 1_000_000)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub fn parse_rfc3339(field: &str, s: &str) -> Result<Timestamp, FieldError> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|d| Timestamp::from_millis((d.unix_timestamp_nanos() / 1_000_000) as i64))
        .map_err(|_| {
            FieldError::new(
                field,
                "expected an RFC 3339 time like 2026-12-01T00:00:00-03:00",
            )
        })
}

pub const CURRENCY: &str = "BRL";

// ----- catalog -----

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
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductListParams {
    /// Category id or slug (includes its subcategories).
    pub category: Option<String>,
    pub min_price_centavos: Option<i64>,
    pub max_price_centavos: Option<i64>,
    /// Words searched in name and description, accents and case ignored.
    pub q: Option<String>,
    /// `newest` (default), `price_asc`, `price_desc` or `name`.
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

fn yes() -> bool {
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

// ----- shipping -----

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuoteParams {
    #[param(value_type = String, example = "01310-100")]
    pub cep: Cep,
    pub weight_g: u64,
    /// For free-shipping thresholds.
    pub subtotal_centavos: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteDto {
    pub method_id: String,
    pub name: String,
    pub price_centavos: i64,
    pub days: u32,
}

// ----- cart -----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartItemInput {
    #[schema(value_type = String)]
    pub sku: Sku,
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantityInput {
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    pub cart_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartLineDto {
    pub sku: String,
    pub quantity: u32,
    pub product_id: Option<String>,
    pub name: Option<String>,
    pub slug: Option<String>,
    pub options: BTreeMap<String, String>,
    pub image: Option<String>,
    /// Absent when the product is no longer sold.
    pub unit_price_centavos: Option<i64>,
    pub line_total_centavos: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartDto {
    /// The anonymous cart's token: send it back as `X-Cart-Token`.
    pub token: Option<String>,
    pub lines: Vec<CartLineDto>,
    pub currency: &'static str,
    pub subtotal_centavos: i64,
    pub weight_g: u64,
}

impl From<CartView> for CartDto {
    fn from(v: CartView) -> Self {
        let line = |l: PricedLine| {
            let variant = l.product.as_ref().and_then(|p| p.variant(&l.line.sku));
            CartLineDto {
                sku: l.line.sku.to_string(),
                quantity: l.line.quantity.get(),
                product_id: l.product.as_ref().map(|p| p.id.clone()),
                name: l.product.as_ref().map(|p| p.name.clone()),
                slug: l.product.as_ref().map(|p| p.slug.to_string()),
                options: variant.map(|v| v.options.clone()).unwrap_or_default(),
                image: l.product.as_ref().and_then(|p| p.images.first().cloned()),
                unit_price_centavos: l.unit_price.map(Money::centavos),
                line_total_centavos: l
                    .unit_price
                    .and_then(|p| p.checked_mul(l.line.quantity.get()))
                    .map(Money::centavos),
            }
        };
        Self {
            token: v.token,
            lines: v.lines.into_iter().map(line).collect(),
            currency: CURRENCY,
            subtotal_centavos: v.subtotal.centavos(),
            weight_g: v.weight_g,
        }
    }
}

// ----- customers -----

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressDto {
    pub recipient: String,
    pub street: String,
    pub number: String,
    pub complement: Option<String>,
    pub district: String,
    pub city: String,
    #[schema(value_type = String, example = "SP")]
    pub uf: Uf,
    #[schema(value_type = String, example = "01310-100")]
    pub cep: Cep,
}

impl From<AddressDto> for Address {
    fn from(a: AddressDto) -> Self {
        Address {
            recipient: a.recipient,
            street: a.street,
            number: a.number,
            complement: a.complement,
            district: a.district,
            city: a.city,
            uf: a.uf,
            cep: a.cep,
        }
    }
}

impl From<&Address> for AddressDto {
    fn from(a: &Address) -> Self {
        AddressDto {
            recipient: a.recipient.clone(),
            street: a.street.clone(),
            number: a.number.clone(),
            complement: a.complement.clone(),
            district: a.district.clone(),
            city: a.city.clone(),
            uf: a.uf,
            cep: a.cep.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedAddressInput {
    pub label: Option<String>,
    #[serde(flatten)]
    pub address: AddressDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SavedAddressDto {
    pub id: String,
    pub label: Option<String>,
    #[serde(flatten)]
    pub address: AddressDto,
}

impl From<&SavedAddress> for SavedAddressDto {
    fn from(s: &SavedAddress) -> Self {
        Self {
            id: s.id.clone(),
            label: s.label.clone(),
            address: (&s.address).into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileDto {
    pub id: String,
    pub email: String,
    pub name: String,
    /// CPF or CNPJ, digits only.
    pub tax_id: Option<String>,
    pub phone: Option<String>,
    pub sms_opt_in: bool,
    #[schema(example = "pt-BR")]
    pub language: String,
    pub groups: Vec<String>,
}

impl ProfileDto {
    pub fn new(p: &Profile, groups: &[String]) -> Self {
        Self {
            id: p.sub.clone(),
            email: p.email.clone(),
            name: p.name.clone(),
            tax_id: p.tax_id.as_ref().map(|t| t.as_str().to_owned()),
            phone: p.phone.as_ref().map(|t| t.as_str().to_owned()),
            sms_opt_in: p.sms_opt_in,
            language: p.language.as_str().to_owned(),
            groups: groups.to_vec(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    pub name: String,
    #[schema(value_type = Option<String>, example = "529.982.247-25")]
    pub tax_id: Option<TaxId>,
    #[schema(value_type = Option<String>, example = "+5511987654321")]
    pub phone: Option<Phone>,
    #[serde(default)]
    pub sms_opt_in: bool,
    #[schema(value_type = Option<String>, example = "pt-BR")]
    pub language: Option<Language>,
}

// ----- auth -----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpInput {
    pub email: String,
    pub password: String,
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmInput {
    pub email: String,
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailInput {
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInInput {
    pub email: String,
    pub password: String,
    /// An anonymous cart to merge into the customer's cart.
    pub cart_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshInput {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetInput {
    pub email: String,
    pub code: String,
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokensDto {
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
    pub token_type: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDto {
    pub message: String,
}

// ----- orders -----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutInputDto {
    /// "Buy now" lines; omit to order the cart.
    pub items: Option<Vec<CartItemInput>>,
    /// A new address, or give `address_id`.
    pub shipping_address: Option<AddressDto>,
    pub address_id: Option<String>,
    #[schema(example = "pac")]
    pub shipping_method: String,
    pub coupon: Option<String>,
    #[schema(value_type = String, example = "pix")]
    pub payment_method: PaymentMethod,
    /// CPF or CNPJ of the buyer; defaults to the profile's.
    #[schema(value_type = Option<String>, example = "529.982.247-25")]
    pub tax_id: Option<TaxId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLineDto {
    pub sku: String,
    pub product_id: String,
    pub name: String,
    pub options: BTreeMap<String, String>,
    pub unit_price_centavos: i64,
    pub quantity: u32,
    pub line_total_centavos: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusChangeDto {
    pub status: String,
    pub at: String,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDto {
    pub id: String,
    pub customer_id: String,
    #[schema(example = "pending_payment")]
    pub status: String,
    pub lines: Vec<OrderLineDto>,
    pub shipping_address: AddressDto,
    pub shipping_method: String,
    pub shipping_name: String,
    pub shipping_days: u32,
    pub coupon: Option<String>,
    pub payment_method: String,
    pub currency: &'static str,
    pub subtotal_centavos: i64,
    pub discount_centavos: i64,
    pub shipping_centavos: i64,
    pub total_centavos: i64,
    pub created_at: String,
    pub updated_at: String,
    pub pay_by: String,
    pub tracking_code: Option<String>,
    pub invoice_key: Option<String>,
    pub history: Vec<StatusChangeDto>,
    pub version: u64,
}

impl From<&Order> for OrderDto {
    fn from(o: &Order) -> Self {
        Self {
            id: o.id.clone(),
            customer_id: o.customer_id.clone(),
            status: o.status.as_str().to_owned(),
            lines: o
                .lines
                .iter()
                .map(|l| OrderLineDto {
                    sku: l.sku.to_string(),
                    product_id: l.product_id.clone(),
                    name: l.name.clone(),
                    options: l.options.clone(),
                    unit_price_centavos: l.unit_price.centavos(),
                    quantity: l.quantity,
                    line_total_centavos: l.total().centavos(),
                })
                .collect(),
            shipping_address: (&o.shipping_address).into(),
            shipping_method: o.shipping.method_id.clone(),
            shipping_name: o.shipping.name.clone(),
            shipping_days: o.shipping.days,
            coupon: o.coupon.clone(),
            payment_method: o.payment_method.as_str().to_owned(),
            currency: CURRENCY,
            subtotal_centavos: o.subtotal.centavos(),
            discount_centavos: o.discount.centavos(),
            shipping_centavos: o.shipping_total.centavos(),
            total_centavos: o.total.centavos(),
            created_at: rfc3339(o.created_at),
            updated_at: rfc3339(o.updated_at),
            pay_by: rfc3339(o.pay_by),
            tracking_code: o.tracking_code.clone(),
            invoice_key: o.invoice_key.clone(),
            history: o
                .history
                .iter()
                .map(|h| StatusChangeDto {
                    status: h.status.as_str().into(),
                    at: rfc3339(h.at),
                    note: h.note.clone(),
                })
                .collect(),
            version: o.version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderListDto {
    pub items: Vec<OrderDto>,
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    pub limit: Option<usize>,
    pub after: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AdminOrderParams {
    /// One of pending_payment, paid, invoiced, shipped, delivered, cancelled, expired, payment_failed.
    pub status: String,
    pub limit: Option<usize>,
    pub after: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipInput {
    pub tracking_code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelInput {
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkPaidInput {
    /// The payment's reference (bank transfer id, receipt).
    pub reference: String,
}

// ----- coupons -----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponInput {
    #[schema(example = "BEMVINDO10")]
    pub code: String,
    /// `percent` or `fixed`.
    pub kind: String,
    /// For `percent`: basis points (1000 = 10 %).
    pub basis_points: Option<u32>,
    /// For `fixed`.
    pub amount_centavos: Option<i64>,
    #[serde(default)]
    pub min_subtotal_centavos: i64,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub usage_limit: Option<u32>,
    #[serde(default = "yes")]
    pub active: bool,
}

impl CouponInput {
    pub fn into_coupon(self) -> Result<Coupon, Vec<FieldError>> {
        let mut errors = Vec::new();
        let discount = match (self.kind.as_str(), self.basis_points, self.amount_centavos) {
            ("percent", Some(bp), None) => Some(Discount::Percent { basis_points: bp }),
            ("fixed", None, Some(a)) => Some(Discount::Fixed {
                amount: Money::from_centavos(a),
            }),
            ("percent", _, _) => {
                errors.push(FieldError::new(
                    "basis_points",
                    "a percent coupon needs basis_points and no amount_centavos",
                ));
                None
            }
            ("fixed", _, _) => {
                errors.push(FieldError::new(
                    "amount_centavos",
                    "a fixed coupon needs amount_centavos and no basis_points",
                ));
                None
            }
            _ => {
                errors.push(FieldError::new("kind", "kind is percent or fixed"));
                None
            }
        };
        let mut time = |field: &str, v: &Option<String>| match v {
            None => None,
            Some(s) => match parse_rfc3339(field, s) {
                Ok(t) => Some(t),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
        };
        let starts_at = time("starts_at", &self.starts_at);
        let ends_at = time("ends_at", &self.ends_at);
        match discount {
            Some(discount) if errors.is_empty() => Ok(Coupon {
                code: self.code,
                discount,
                min_subtotal: Money::from_centavos(self.min_subtotal_centavos),
                starts_at,
                ends_at,
                usage_limit: self.usage_limit,
                used: 0,
                active: self.active,
                version: 0,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CouponDto {
    pub code: String,
    pub kind: String,
    pub basis_points: Option<u32>,
    pub amount_centavos: Option<i64>,
    pub min_subtotal_centavos: i64,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub usage_limit: Option<u32>,
    pub used: u32,
    pub active: bool,
    pub version: u64,
}

impl From<&Coupon> for CouponDto {
    fn from(c: &Coupon) -> Self {
        let (kind, basis_points, amount_centavos) = match c.discount {
            Discount::Percent { basis_points } => ("percent", Some(basis_points), None),
            Discount::Fixed { amount } => ("fixed", None, Some(amount.centavos())),
        };
        Self {
            code: c.code.clone(),
            kind: kind.into(),
            basis_points,
            amount_centavos,
            min_subtotal_centavos: c.min_subtotal.centavos(),
            starts_at: c.starts_at.map(rfc3339),
            ends_at: c.ends_at.map(rfc3339),
            usage_limit: c.usage_limit,
            used: c.used,
            active: c.active,
            version: c.version,
        }
    }
}
