//! Shipping quotes.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vitrine_domain::br::Cep;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuoteParams {
    #[param(value_type = String, example = "01310-100")]
    pub cep: Cep,
    pub weight_g: u64,
    /// The box (the cart's `parcel`); the smallest box carriers take when absent.
    pub length_cm: Option<u32>,
    pub width_cm: Option<u32>,
    pub height_cm: Option<u32>,
    /// For free-shipping thresholds, and declared to the carrier.
    pub subtotal_centavos: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteDto {
    pub method_id: String,
    pub name: String,
    pub price_centavos: i64,
    pub days: u32,
}
