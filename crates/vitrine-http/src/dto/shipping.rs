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

/// An order's shipping label as the admin sees it: whether the store's carrier sells labels,
/// the label (absent until one is bought or being bought), and whether a stuck purchase may be
/// released.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabelViewDto {
    /// The Shipping adapter in use: `table` (the shop's rate table) or `melhorenvio`.
    pub carrier: String,
    pub sells_labels: bool,
    pub label: Option<LabelDto>,
    /// A purchase claim whose end nobody heard: the admin checks the carrier's panel, then may
    /// release it.
    pub releasable: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LabelDto {
    /// `buying`, `refused`, `bought`, `posted`, `delivered` or `failed`.
    pub state: String,
    pub carrier: String,
    pub method_id: String,
    pub claimed_at: String,
    pub claimed_by: String,
    /// The carrier's id for the label.
    pub label_id: Option<String>,
    pub tracking_code: Option<String>,
    pub print_url: Option<String>,
    pub price_centavos: Option<i64>,
    pub bought_at: Option<String>,
    pub checked_at: Option<String>,
    /// The carrier's refusal, a purchase whose outcome is unknown, or why the parcel failed.
    pub note: Option<String>,
}

impl From<&vitrine_app::store::labels::ShippingLabel> for LabelDto {
    fn from(l: &vitrine_app::store::labels::ShippingLabel) -> Self {
        Self {
            state: l.state.as_str().to_owned(),
            carrier: l.carrier.clone(),
            method_id: l.method_id.clone(),
            claimed_at: super::rfc3339(l.claimed_at),
            claimed_by: l.claimed_by.clone(),
            label_id: l.label_id.clone(),
            tracking_code: l.tracking_code.clone(),
            print_url: l.print_url.clone(),
            price_centavos: l.price.map(|p| p.centavos()),
            bought_at: l.bought_at.map(super::rfc3339),
            checked_at: l.checked_at.map(super::rfc3339),
            note: l.note.clone(),
        }
    }
}

impl From<&vitrine_app::labels::LabelView> for LabelViewDto {
    fn from(v: &vitrine_app::labels::LabelView) -> Self {
        Self {
            carrier: v.carrier.to_owned(),
            sells_labels: v.sells_labels,
            label: v.label.as_ref().map(LabelDto::from),
            releasable: v.releasable,
        }
    }
}
