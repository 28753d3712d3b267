//! Checkout and orders: the order, its lines and status history, listings, and the admin's
//! lifecycle moves.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vitrine_domain::br::TaxId;
use vitrine_domain::order::{Order, PaymentMethod};

use super::cart::CartItemInput;
use super::customers::AddressDto;
use super::{CURRENCY, rfc3339};

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
    /// Who takes the money: `sandbox` (no money moves), `bcb`, `mercadopago`; `null` for orders
    /// placed before it was recorded.
    #[schema(example = "mercadopago")]
    pub payment_provider: Option<String>,
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
    /// Once delivered: the last instant the buyer may withdraw (CDC art. 49, 7 days).
    pub withdrawal_until: Option<String>,
    /// The buyer's returns, oldest first.
    pub returns: Vec<super::ReturnDto>,
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
            payment_provider: Some(o.payment_provider.clone()).filter(|p| !p.is_empty()),
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
            withdrawal_until: (o.status == vitrine_domain::order::OrderStatus::Delivered)
                .then(|| o.withdrawal_deadline().map(rfc3339))
                .flatten(),
            returns: super::ReturnDto::all_of(o),
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
    /// One order's id.
    pub id: Option<String>,
    /// The customer's `sub`.
    pub customer: Option<String>,
    /// The buyer's CPF or CNPJ, punctuated or not.
    #[param(example = "529.982.247-25")]
    pub tax_id: Option<String>,
    /// One of pending_payment, paid, invoiced, shipped, delivered, cancelled, expired, payment_failed.
    pub status: Option<String>,
    /// pix, card or boleto.
    pub method: Option<String>,
    /// The first day (São Paulo) of the order's creation, inclusive.
    #[param(example = "2026-12-01")]
    pub from: Option<String>,
    /// The last day (São Paulo), inclusive.
    #[param(example = "2026-12-31")]
    pub to: Option<String>,
    pub min_total_centavos: Option<i64>,
    pub max_total_centavos: Option<i64>,
    pub limit: Option<usize>,
    pub after: Option<String>,
}

impl AdminOrderParams {
    pub fn search(&self) -> vitrine_app::admin_search::OrderSearchInput {
        vitrine_app::admin_search::OrderSearchInput {
            id: self.id.clone(),
            customer: self.customer.clone(),
            tax_id: self.tax_id.clone(),
            status: self.status.clone(),
            method: self.method.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            min_total_centavos: self.min_total_centavos,
            max_total_centavos: self.max_total_centavos,
        }
    }
}

/// The columns of an order export, in order.
pub const ORDER_CSV_HEADER: &str = "id,created_at,status,customer_id,buyer_name,buyer_email,buyer_tax_id,payment_method,units,subtotal_brl,discount_brl,shipping_brl,total_brl,uf,city,tracking_code,invoice_key";

/// Orders as CSV (RFC 4180, CRLF), with the header line.
pub fn orders_csv(orders: &[vitrine_domain::order::Order]) -> String {
    use std::fmt::Write as _;
    use vitrine_domain::text::csv_field;
    let mut out = format!("{ORDER_CSV_HEADER}\r\n");
    for o in orders {
        let units: u64 = o.lines.iter().map(|l| u64::from(l.quantity)).sum();
        let fields = [
            csv_field(&o.id),
            rfc3339(o.created_at),
            o.status.as_str().to_owned(),
            csv_field(&o.customer_id),
            csv_field(&o.buyer.name),
            csv_field(&o.buyer.email),
            csv_field(o.buyer.tax_id.as_str()),
            o.payment_method.as_str().to_owned(),
            units.to_string(),
            o.subtotal.format_plain(),
            o.discount.format_plain(),
            o.shipping_total.format_plain(),
            o.total.format_plain(),
            o.shipping_address.uf.as_str().to_owned(),
            csv_field(&o.shipping_address.city),
            csv_field(o.tracking_code.as_deref().unwrap_or_default()),
            csv_field(o.invoice_key.as_deref().unwrap_or_default()),
        ];
        let _ = write!(out, "{}\r\n", fields.join(","));
    }
    out
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
