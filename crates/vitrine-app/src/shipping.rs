//! Shipping through the Shipping port: the shop's own rate table as its default adapter
//! ([`TableShipping`]: quotes only), the parcel an order's goods travel in, and the quote the
//! checkout charges.

use async_trait::async_trait;
use vitrine_domain::catalog::Dimensions;
use vitrine_domain::shipping::{Quote, RateTable};

use crate::ports::shipping::{Label, LabelRequest, Tracking};
use crate::ports::{Parcel, QuoteRequest, Shipping, ShippingError};

/// Quotes from the shop's rate table (`[shipping]` in the settings): priced by CEP range and
/// weight; it sells no labels (tracking codes are typed by the admin when shipping).
pub struct TableShipping {
    table: RateTable,
}

impl TableShipping {
    pub fn new(table: RateTable) -> Self {
        Self { table }
    }
}

#[async_trait]
impl Shipping for TableShipping {
    fn name(&self) -> &'static str {
        "table"
    }

    async fn quote(&self, request: &QuoteRequest) -> Result<Vec<Quote>, ShippingError> {
        Ok(self
            .table
            .quote(&request.to, request.parcel.weight_g, request.subtotal))
    }

    async fn buy_label(&self, _: &LabelRequest) -> Result<Label, ShippingError> {
        Err(ShippingError::Unsupported(
            "the shop's rate table sells no labels: type the tracking code when shipping",
        ))
    }

    async fn track(&self, _: &str) -> Result<Tracking, ShippingError> {
        Err(ShippingError::Unsupported(
            "the shop's rate table tracks no parcels",
        ))
    }
}

/// The parcel of units of these sizes (each with how many): [`vitrine_domain::shipping::pack`].
pub fn parcel_of(units: &[(Dimensions, u32)]) -> Parcel {
    let d = vitrine_domain::shipping::pack(units);
    Parcel {
        weight_g: u64::from(d.weight_g),
        length_cm: d.length_cm,
        width_cm: d.width_cm,
        height_cm: d.height_cm,
    }
}

impl crate::app::App {
    /// The Shipping port's adapter in use: the one given (`Ports::shipping`), or the shop's rate
    /// table.
    pub fn carrier(&self) -> &std::sync::Arc<dyn Shipping> {
        self.carrier.get_or_init(|| {
            self.ports.shipping.clone().unwrap_or_else(|| {
                std::sync::Arc::new(TableShipping::new(self.settings.rate_table.clone()))
            })
        })
    }

    /// The shipping options for `request`, cheapest first (the Shipping port). A carrier that
    /// refuses the parcel or the CEP quotes nothing; one that does not answer is a 503.
    pub async fn quote_shipping(
        &self,
        request: &QuoteRequest,
    ) -> crate::error::AppResult<Vec<Quote>> {
        match self.carrier().quote(request).await {
            Ok(mut quotes) => {
                quotes.sort_by_key(|q| (q.price, q.days));
                // The shop's free-shipping threshold holds whoever quotes.
                if let (Some(limit), Some(cheapest)) = (
                    self.settings.rate_table.free_above_centavos,
                    quotes.first_mut(),
                ) && request.subtotal.centavos() >= limit
                {
                    cheapest.price = vitrine_domain::Money::from_centavos(0);
                }
                Ok(quotes)
            }
            Err(ShippingError::Refused(why)) => {
                tracing::info!(carrier = self.carrier().name(), %why, "no shipping quote");
                Ok(Vec::new())
            }
            Err(ShippingError::Unsupported(what)) => {
                Err(crate::error::AppError::Rule(what.to_owned()))
            }
            Err(ShippingError::Unavailable(e)) => Err(crate::error::AppError::Unavailable(
                e.context(format!("shipping quotes from {}", self.carrier().name())),
            )),
        }
    }
}
