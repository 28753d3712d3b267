//! Withdrawal and returns (CDC art. 49): a return as the buyer and the admin see it, with what
//! an accountant needs for the entry NF-e (devolução).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vitrine_app::store::returns::ReturnEntry;
use vitrine_domain::order::Order;
use vitrine_domain::returns::{Return, ReturnLine};

use super::rfc3339;

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnLineDto {
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub unit_price_centavos: i64,
    /// The quantity's value, net of its share of the order's discount.
    pub value_centavos: i64,
    /// NCM of the product as sold.
    #[schema(example = "61091000")]
    pub ncm: String,
    /// CFOP of the original sale, as its NF-e carried it.
    #[schema(example = "5102")]
    pub cfop: String,
}

impl From<&ReturnLine> for ReturnLineDto {
    fn from(l: &ReturnLine) -> Self {
        Self {
            sku: l.sku.to_string(),
            name: l.name.clone(),
            quantity: l.quantity,
            unit_price_centavos: l.unit_price.centavos(),
            value_centavos: l.value.centavos(),
            ncm: l.ncm.clone(),
            cfop: l.cfop.clone(),
        }
    }
}

/// What the accountant needs to issue the entry NF-e (devolução) of a return. The store does
/// not issue it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnFiscalDto {
    /// The access key of the order's NF-e, the one the entry NF-e refers to.
    pub original_invoice_key: Option<String>,
    /// When the goods came back (the entry's date).
    pub received_at: Option<String>,
    /// Returned lines: SKU, NCM, CFOP of the original, quantity and value.
    pub lines: Vec<ReturnLineDto>,
    /// The shipping given back with a whole order.
    pub shipping_centavos: i64,
    pub total_centavos: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnDto {
    pub id: String,
    /// `requested`, `received`, `approved` or `refused`.
    #[schema(example = "requested")]
    pub status: String,
    /// The buyer's reason.
    pub reason: String,
    pub lines: Vec<ReturnLineDto>,
    /// Every unit of the order is returned: the shipping is given back too.
    pub whole_order: bool,
    pub shipping_centavos: i64,
    /// What is refunded on approval.
    pub amount_centavos: i64,
    pub requested_at: String,
    pub received_at: Option<String>,
    pub decided_at: Option<String>,
    /// Why the shop refused it.
    pub refusal: Option<String>,
    /// The partial refund on the order's payment (`GET /orders/{id}/payment`).
    pub refund_id: Option<String>,
    pub fiscal: ReturnFiscalDto,
}

impl ReturnDto {
    pub fn new(r: &Return, invoice_key: Option<&str>) -> Self {
        let lines: Vec<ReturnLineDto> = r.lines.iter().map(Into::into).collect();
        Self {
            id: r.id.clone(),
            status: r.status.as_str().to_owned(),
            reason: r.reason.clone(),
            whole_order: r.whole_order,
            shipping_centavos: r.shipping.centavos(),
            amount_centavos: r.amount.centavos(),
            requested_at: rfc3339(r.requested_at),
            received_at: r.received_at.map(rfc3339),
            decided_at: r.decided_at.map(rfc3339),
            refusal: r.refusal.clone(),
            refund_id: r.refund_id.clone(),
            fiscal: ReturnFiscalDto {
                original_invoice_key: invoice_key.map(str::to_owned),
                received_at: r.received_at.map(rfc3339),
                lines: r.lines.iter().map(Into::into).collect(),
                shipping_centavos: r.shipping.centavos(),
                total_centavos: r.amount.centavos(),
            },
            lines,
        }
    }

    pub fn all_of(o: &Order) -> Vec<Self> {
        o.returns
            .iter()
            .map(|r| Self::new(r, o.invoice_key.as_deref()))
            .collect()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineInput {
    pub sku: String,
    pub quantity: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnInput {
    /// The lines and quantities to return.
    pub lines: Vec<ReturnLineInput>,
    #[schema(example = "não serviu")]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefuseReturnInput {
    #[schema(example = "produto com sinais de uso")]
    pub reason: String,
}

/// One return in the admin's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnEntryDto {
    pub order_id: String,
    #[serde(rename = "return")]
    pub ret: ReturnDto,
}

impl From<&ReturnEntry> for ReturnEntryDto {
    fn from(e: &ReturnEntry) -> Self {
        Self {
            order_id: e.order_id.clone(),
            ret: ReturnDto::new(&e.ret, e.invoice_key.as_deref()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnListDto {
    /// Open returns (requested, received) first, oldest request first; then decided ones.
    pub items: Vec<ReturnEntryDto>,
    pub next: Option<String>,
}
