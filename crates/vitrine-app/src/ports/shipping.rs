//! The Shipping port: quotes for a parcel to a CEP, and (for carriers that sell them) labels and
//! tracking.
//!
//! Adapters: the shop's own rate table (`vitrine_app::shipping::TableShipping`, the default: quotes
//! only) and Melhor Envio (`vitrine-shipping`: quotes across Correios and private carriers, label
//! purchase, tracking). The checkout quotes again at the moment of the order and charges the
//! chosen option's price as quoted then: a price shown earlier is never trusted.

use async_trait::async_trait;
use vitrine_domain::Cep;
use vitrine_domain::money::Money;
use vitrine_domain::shipping::Quote;

/// One parcel: what it weighs and the box it travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parcel {
    pub weight_g: u64,
    pub length_cm: u32,
    pub width_cm: u32,
    pub height_cm: u32,
}

/// What a quote is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRequest {
    pub to: Cep,
    pub parcel: Parcel,
    /// The goods' value: declared for insurance, and what free shipping is judged on.
    pub subtotal: Money,
}

/// Who a label is from and to, and what it carries: what a carrier needs to sell one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRequest {
    /// The option chosen at checkout ([`Quote::method_id`]).
    pub method_id: String,
    /// The store's order id (the carrier's reference).
    pub order_id: String,
    pub recipient: Recipient,
    pub parcel: Parcel,
    pub declared: Money,
    /// The order's NF-e access key (44 digits), when it has one.
    pub invoice_key: Option<String>,
}

/// The addressee of a parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub name: String,
    pub tax_id: String,
    pub email: String,
    pub phone: Option<String>,
    pub street: String,
    pub number: String,
    pub complement: Option<String>,
    pub district: String,
    pub city: String,
    pub uf: String,
    pub cep: Cep,
}

/// A label bought: the carrier's id for it, the tracking code (when assigned), and where to print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub id: String,
    pub tracking_code: Option<String>,
    pub print_url: Option<String>,
    pub price: Money,
}

/// Where a parcel is, as the carrier says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackingState {
    /// Bought, not yet handed to the carrier.
    Pending,
    Posted,
    Delivered,
    /// Cancelled, returned or lost: a person looks at it.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    pub state: TrackingState,
    pub tracking_code: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ShippingError {
    /// This adapter does not do that (the rate table sells no labels).
    #[error("{0}")]
    Unsupported(&'static str),
    /// The carrier refused the request (bad CEP, parcel too large, no balance, …); the message is
    /// the carrier's, for the admin.
    #[error("the carrier refused: {0}")]
    Refused(String),
    /// The carrier did not answer, or answered what it should not.
    #[error("the carrier is unavailable")]
    Unavailable(#[source] anyhow::Error),
}

#[async_trait]
pub trait Shipping: Send + Sync {
    /// A short name for logs and the admin (`table`, `melhorenvio`).
    fn name(&self) -> &'static str;
    /// The options for the parcel, cheapest first; none when nothing serves the CEP.
    async fn quote(&self, request: &QuoteRequest) -> Result<Vec<Quote>, ShippingError>;
    /// Buy the label for an order shipped by `request.method_id`.
    async fn buy_label(&self, request: &LabelRequest) -> Result<Label, ShippingError>;
    /// Where the label `id` is now.
    async fn track(&self, label_id: &str) -> Result<Tracking, ShippingError>;
}
