//! The cart and its lines.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vitrine_app::cart::{CartView, PricedLine};
use vitrine_domain::Money;
use vitrine_domain::catalog::Sku;

use super::CURRENCY;

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

/// The token of a cart reminder's link (`#/lembretes?token=…`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartRemindersOffInput {
    pub token: String,
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
    /// The box the goods travel in (cm): send it with the weight to `GET /shipping/quote`.
    pub parcel: ParcelDto,
}

/// A parcel's box, in centimetres.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParcelDto {
    pub length_cm: u32,
    pub width_cm: u32,
    pub height_cm: u32,
}

impl From<vitrine_app::ports::Parcel> for ParcelDto {
    fn from(p: vitrine_app::ports::Parcel) -> Self {
        Self {
            length_cm: p.length_cm,
            width_cm: p.width_cm,
            height_cm: p.height_cm,
        }
    }
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
            parcel: v.parcel.into(),
        }
    }
}
