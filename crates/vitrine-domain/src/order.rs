//! Orders and their lifecycle, as a pure state machine:
//!
//! ```text
//! pending_payment → paid → invoiced → shipped → delivered
//!        │  │         └──→ cancelled (refund)
//!        │  └→ payment_failed → paid | cancelled | expired
//!        ├──→ cancelled
//!        └──→ expired (past its payment deadline)
//! ```
//!
//! Every move is a method that checks the current state, changes the order and returns the event
//! it yields (and, for moves that end an order, whether stock goes back and money is refunded).
//! Illegal moves are errors. Lines are snapshots: later catalog edits never change an order.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::br::{Cep, TaxId, Uf};
use crate::catalog::{Fiscal, Sku};
use crate::error::{DomainError, FieldError};
use crate::events::{Event, EventAttr};
use crate::ibge;
use crate::money::Money;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Invoiced,
    Shipped,
    Delivered,
    Cancelled,
    Expired,
    PaymentFailed,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::PendingPayment,
        OrderStatus::Paid,
        OrderStatus::Invoiced,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
        OrderStatus::PaymentFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Invoiced => "invoiced",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
            OrderStatus::PaymentFailed => "payment_failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Unpaid states: the order holds stock and waits for money.
    pub fn awaits_payment(self) -> bool {
        matches!(
            self,
            OrderStatus::PendingPayment | OrderStatus::PaymentFailed
        )
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Pix,
    Card,
    Boleto,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Pix => "pix",
            PaymentMethod::Card => "card",
            PaymentMethod::Boleto => "boleto",
        }
    }
}

/// What erased personal data reads as.
pub const ERASED: &str = "(dados removidos)";
/// The e-mail of an erased buyer: the reserved `.invalid` domain (RFC 2606) receives nothing.
pub const ERASED_EMAIL: &str = "removido@dados-removidos.invalid";
/// The base of an erased buyer's tax id: an alphanumeric CNPJ (`REMOVIDOLGPD` and its check
/// digits), valid in form, a marker no registry holds.
pub const ERASED_TAX_ID_BASE: &[u8; 12] = b"REMOVIDOLGPD";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub recipient: String,
    pub street: String,
    pub number: String,
    pub complement: Option<String>,
    pub district: String,
    pub city: String,
    pub uf: Uf,
    pub cep: Cep,
}

impl Address {
    /// Check the free-text fields, then that the address can be invoiced: its city must be a
    /// municipality of its UF in IBGE's table (the NF-e needs that municipality's code, and an
    /// order accepted without one would be paid and never invoiced, so never shipped), and its
    /// CEP must lie in the UF's Correios ranges. Errors name `{field}.city` or `{field}.cep`
    /// (`field` is the prefix the request uses, e.g. `shipping_address`; empty for a body that
    /// is the address itself), and carry the codes `city-not-in-uf` (params `city`, `uf`,
    /// `suggestions`: up to 3 close names of the UF, `found_in`: the UFs that do have a
    /// municipality of that name) and `cep-not-in-uf` (params `cep`, `uf`, `cep_uf`: the UF
    /// whose range holds the CEP, when one does).
    pub fn validate(&self, field: &str) -> Result<(), DomainError> {
        let name_of = |name: &str| {
            if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            }
        };
        let mut errors = Vec::new();
        let mut check = |name: &str, value: &str, max: usize| {
            let n = value.trim().chars().count();
            let ok = !(n == 0 || n > max || value.chars().any(char::is_control));
            if !ok {
                errors.push(FieldError::new(
                    name_of(name),
                    format!("required, at most {max} characters"),
                ));
            }
            ok
        };
        check("recipient", &self.recipient, 120);
        check("street", &self.street, 120);
        check("number", &self.number, 20);
        check("district", &self.district, 80);
        if check("city", &self.city, 80) {
            errors.extend(self.city_problem(name_of("city")));
        }
        if let Some(c) = &self.complement
            && (c.chars().count() > 80 || c.chars().any(char::is_control))
        {
            errors.push(FieldError::new(
                name_of("complement"),
                "at most 80 characters",
            ));
        }
        errors.extend(self.cep_problem(name_of("cep")));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(errors))
        }
    }

    /// Why the city is not a municipality of the UF, if it is not.
    fn city_problem(&self, field: String) -> Option<FieldError> {
        let uf = self.uf;
        if ibge::municipality_code(uf, &self.city).is_some() {
            return None;
        }
        let city = self.city.trim();
        let found_in = ibge::ufs_of(city);
        let suggestions = ibge::closest_municipalities(uf, city, 3);
        let mut message = format!("\"{city}\" is not a municipality of {uf}");
        if !found_in.is_empty() {
            let ufs: Vec<&str> = found_in.iter().map(|u| u.as_str()).collect();
            message.push_str(&format!(" (there is one in {})", either(&ufs)));
        }
        if !suggestions.is_empty() {
            message.push_str(&format!("; did you mean {}?", either(&suggestions)));
        }
        Some(
            FieldError::new(field, message)
                .with_code("city-not-in-uf")
                .with_param("city", city)
                .with_param("uf", uf.as_str())
                .with_param("suggestions", suggestions)
                .with_param(
                    "found_in",
                    found_in.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
                ),
        )
    }

    /// Why the CEP is not one of the UF's, if it is not.
    fn cep_problem(&self, field: String) -> Option<FieldError> {
        let uf = self.uf;
        if self.cep.is_in(uf) {
            return None;
        }
        let cep = self.cep.formatted();
        let cep_uf = self.cep.uf();
        let message = match cep_uf {
            Some(other) => format!("CEP {cep} is in {other}, not in {uf}"),
            None => format!("CEP {cep} is in no state's range, so not in {uf}"),
        };
        let error = FieldError::new(field, message)
            .with_code("cep-not-in-uf")
            .with_param("cep", cep)
            .with_param("uf", uf.as_str());
        Some(match cep_uf {
            Some(other) => error.with_param("cep_uf", other.as_str()),
            None => error,
        })
    }
}

/// `A`, `A or B`, `A, B or C`.
fn either(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A snapshot of one bought variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: Sku,
    pub product_id: String,
    pub name: String,
    pub options: BTreeMap<String, String>,
    pub unit_price: Money,
    pub quantity: u32,
    pub weight_g: u32,
    pub fiscal: Fiscal,
}

impl OrderLine {
    pub fn total(&self) -> Money {
        self.unit_price
            .checked_mul(self.quantity)
            .unwrap_or(Money::from_centavos(i64::MAX))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    pub name: String,
    pub email: String,
    pub tax_id: TaxId,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingChoice {
    pub method_id: String,
    pub name: String,
    pub price: Money,
    pub days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: OrderStatus,
    pub at: Timestamp,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub customer_id: String,
    pub status: OrderStatus,
    pub lines: Vec<OrderLine>,
    pub buyer: Buyer,
    pub shipping_address: Address,
    pub shipping: ShippingChoice,
    pub coupon: Option<String>,
    pub payment_method: PaymentMethod,
    /// The provider chosen for the payment method when the order was placed (`sandbox`, `bcb`,
    /// `mercadopago`): who takes its money. Empty on orders placed before it was recorded.
    #[serde(default)]
    pub payment_provider: String,
    pub subtotal: Money,
    pub discount: Money,
    pub shipping_total: Money,
    pub total: Money,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Unpaid past this instant, the order expires and gives its stock back.
    pub pay_by: Timestamp,
    pub tracking_code: Option<String>,
    pub invoice_key: Option<String>,
    pub history: Vec<StatusChange>,
    /// How the buyer wants to hear about this order, as chosen when it was placed.
    #[serde(default)]
    pub channels: Channels,
    /// When the buyer's personal data was erased from this order (LGPD): [`Order::erase_buyer`].
    #[serde(default)]
    pub erased_at: Option<Timestamp>,
    /// The buyer's withdrawals and returns after delivery (`returns.rs`), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returns: Vec<Return>,
    pub version: u64,
}

/// The buyer's notification preferences, copied onto the order at checkout: its events carry
/// them as message attributes, so subscriptions filter on them (`language`, `sms_opt_in`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channels {
    /// `pt-BR` or `en`.
    pub language: String,
    /// Text messages wanted (and a phone number given).
    pub sms_opt_in: bool,
}

impl Default for Channels {
    fn default() -> Self {
        Self {
            language: "pt-BR".into(),
            sms_opt_in: false,
        }
    }
}

/// Everything needed to place an order, already validated and priced from the catalog.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: String,
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    pub buyer: Buyer,
    pub shipping_address: Address,
    pub shipping: ShippingChoice,
    pub coupon: Option<(String, Money)>,
    pub payment_method: PaymentMethod,
    /// The provider that takes `payment_method` in this store.
    pub payment_provider: String,
    pub now: Timestamp,
    pub pay_within_secs: i64,
    pub channels: Channels,
}

/// What a move that ends or unwinds an order obliges the caller to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unwind {
    /// Give the reserved units back to stock.
    pub restock: bool,
    /// Return the money through the payment provider.
    pub refund: bool,
}

pub const MAX_TRACKING_LEN: usize = 40;

impl Order {
    /// Price and open a new order; yields `order.placed`.
    pub fn place(new: NewOrder) -> Result<(Order, Event), DomainError> {
        if new.lines.is_empty() {
            return Err(DomainError::Rule("an order needs at least one item".into()));
        }
        let overflow = || DomainError::Rule("the order total is too large".into());
        let mut subtotal = Money::from_centavos(0);
        for line in &new.lines {
            let t = line
                .unit_price
                .checked_mul(line.quantity)
                .ok_or_else(overflow)?;
            subtotal = subtotal.checked_add(t).ok_or_else(overflow)?;
        }
        let (coupon, discount) = match new.coupon {
            Some((code, d)) => (Some(code), d.min(subtotal)),
            None => (None, Money::from_centavos(0)),
        };
        let shipping_total = new.shipping.price;
        let total = subtotal
            .checked_sub(discount)
            .and_then(|m| m.checked_add(shipping_total))
            .ok_or_else(overflow)?;
        let order = Order {
            id: new.id,
            customer_id: new.customer_id,
            status: OrderStatus::PendingPayment,
            lines: new.lines,
            buyer: new.buyer,
            shipping_address: new.shipping_address,
            shipping: new.shipping,
            coupon,
            payment_method: new.payment_method,
            payment_provider: new.payment_provider,
            subtotal,
            discount,
            shipping_total,
            total,
            created_at: new.now,
            updated_at: new.now,
            pay_by: new.now.plus_secs(new.pay_within_secs),
            tracking_code: None,
            invoice_key: None,
            history: vec![StatusChange {
                status: OrderStatus::PendingPayment,
                at: new.now,
                note: None,
            }],
            channels: new.channels,
            erased_at: None,
            returns: Vec::new(),
            version: 1,
        };
        let event = order.event("order.placed");
        Ok((order, event))
    }

    /// Whether the order still needs its buyer's data: it is on its way to them (paid, invoiced,
    /// shipped), waits for their money, or has a return not yet decided.
    pub fn in_progress(&self) -> bool {
        matches!(
            self.status,
            OrderStatus::PendingPayment
                | OrderStatus::PaymentFailed
                | OrderStatus::Paid
                | OrderStatus::Invoiced
                | OrderStatus::Shipped
        ) || self
            .returns
            .iter()
            .any(|r| matches!(r.status, ReturnStatus::Requested | ReturnStatus::Received))
    }

    /// Erase who bought (LGPD): name, e-mail, CPF/CNPJ, phone and the street address are
    /// replaced; what was sold, for how much, when, and the city and state it went to (what
    /// reports count) stay. The NF-e, if any, is the fiscal record and is kept apart from the
    /// order. The tax id becomes the CNPJ of [`ERASED_TAX_ID_BASE`].
    pub fn erase_buyer(&mut self, at: Timestamp) {
        self.buyer = Buyer {
            name: ERASED.into(),
            email: ERASED_EMAIL.into(),
            tax_id: crate::br::Cnpj::from_base(ERASED_TAX_ID_BASE)
                .map(TaxId::Cnpj)
                .unwrap_or_else(|_| self.buyer.tax_id.clone()),
            phone: None,
        };
        let a = &mut self.shipping_address;
        a.recipient = ERASED.into();
        a.street = ERASED.into();
        a.number = "0".into();
        a.complement = None;
        a.district = ERASED.into();
        // The CEP's region (its first five digits) is not a person's address.
        if let Ok(cep) = Cep::parse(&format!("{}000", &a.cep.as_str()[..5])) {
            a.cep = cep;
        }
        // What the buyer typed (and the shop answered) about their returns is theirs too.
        for r in &mut self.returns {
            r.reason = ERASED.into();
            if r.refusal.is_some() {
                r.refusal = Some(ERASED.into());
            }
        }
        self.erased_at = Some(at);
        self.version += 1;
    }

    fn move_to(&mut self, status: OrderStatus, at: Timestamp, note: Option<String>) {
        self.status = status;
        self.updated_at = at;
        self.version += 1;
        self.history.push(StatusChange { status, at, note });
    }

    fn illegal(&self, action: &'static str) -> DomainError {
        DomainError::IllegalTransition {
            action,
            from: self.status.as_str(),
        }
    }

    /// Payment confirmed. Yields `order.paid`.
    pub fn pay(&mut self, at: Timestamp, reference: &str) -> Result<Event, DomainError> {
        if !self.status.awaits_payment() {
            return Err(self.illegal("pay"));
        }
        self.move_to(OrderStatus::Paid, at, Some(format!("payment {reference}")));
        Ok(self.event("order.paid"))
    }

    /// A payment attempt failed; the order keeps its stock until it expires or is paid.
    pub fn fail_payment(&mut self, at: Timestamp, reason: &str) -> Result<Event, DomainError> {
        if self.status != OrderStatus::PendingPayment {
            return Err(self.illegal("fail the payment of"));
        }
        self.move_to(OrderStatus::PaymentFailed, at, Some(reason.to_owned()));
        Ok(self.event("order.payment_failed"))
    }

    /// The NF-e was issued. Yields `order.invoiced`.
    pub fn invoice(&mut self, at: Timestamp, access_key: &str) -> Result<Event, DomainError> {
        if self.status != OrderStatus::Paid {
            return Err(self.illegal("invoice"));
        }
        self.invoice_key = Some(access_key.to_owned());
        self.move_to(OrderStatus::Invoiced, at, None);
        Ok(self.event("order.invoiced"))
    }

    /// Handed to the carrier. Goods may only travel with their invoice, so only from `invoiced`.
    pub fn ship(&mut self, at: Timestamp, tracking_code: &str) -> Result<Event, DomainError> {
        let code = tracking_code.trim();
        if code.is_empty()
            || code.len() > MAX_TRACKING_LEN
            || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(DomainError::field(
                "tracking_code",
                format!("a tracking code has 1 to {MAX_TRACKING_LEN} letters, digits or '-'"),
            ));
        }
        if self.status != OrderStatus::Invoiced {
            return Err(self.illegal("ship"));
        }
        self.tracking_code = Some(code.to_ascii_uppercase());
        self.move_to(OrderStatus::Shipped, at, None);
        Ok(self.event("order.shipped"))
    }

    pub fn deliver(&mut self, at: Timestamp) -> Result<Event, DomainError> {
        if self.status != OrderStatus::Shipped {
            return Err(self.illegal("mark as delivered"));
        }
        self.move_to(OrderStatus::Delivered, at, None);
        Ok(self.event("order.delivered"))
    }

    /// Cancel: unpaid orders just give stock back; paid ones also need a refund.
    pub fn cancel(&mut self, at: Timestamp, reason: &str) -> Result<(Event, Unwind), DomainError> {
        let unwind = match self.status {
            s if s.awaits_payment() => Unwind {
                restock: true,
                refund: false,
            },
            OrderStatus::Paid => Unwind {
                restock: true,
                refund: true,
            },
            OrderStatus::Invoiced => {
                return Err(DomainError::Rule(
                    "an invoiced order is cancelled by cancelling its NF-e (within 24 hours of its authorisation); the order follows".into(),
                ));
            }
            _ => return Err(self.illegal("cancel")),
        };
        self.move_to(
            OrderStatus::Cancelled,
            at,
            Some(reason.chars().take(200).collect()),
        );
        let event = self.event("order.cancelled").attr(
            "refund",
            EventAttr::String(if unwind.refund { "yes" } else { "no" }.into()),
        );
        Ok((event, unwind))
    }

    /// Cancel an invoiced order whose NF-e the tax authority has just cancelled: the goods never
    /// left, so the stock comes back and the money is refunded. (An invoiced order is cancelled
    /// only this way: its NF-e first.)
    pub fn cancel_invoiced(
        &mut self,
        at: Timestamp,
        reason: &str,
    ) -> Result<(Event, Unwind), DomainError> {
        if self.status != OrderStatus::Invoiced {
            return Err(self.illegal("cancel the invoice of"));
        }
        self.move_to(
            OrderStatus::Cancelled,
            at,
            Some(reason.chars().take(200).collect()),
        );
        let event = self
            .event("order.cancelled")
            .attr("refund", EventAttr::String("yes".into()));
        Ok((
            event,
            Unwind {
                restock: true,
                refund: true,
            },
        ))
    }

    /// Unpaid past the deadline: expire and give the stock back.
    pub fn expire(&mut self, at: Timestamp) -> Result<(Event, Unwind), DomainError> {
        if !self.status.awaits_payment() {
            return Err(self.illegal("expire"));
        }
        if at < self.pay_by {
            return Err(DomainError::Rule(
                "the order's payment deadline has not passed".into(),
            ));
        }
        self.move_to(OrderStatus::Expired, at, None);
        Ok((
            self.event("order.expired"),
            Unwind {
                restock: true,
                refund: false,
            },
        ))
    }

    /// An event about this order with the attributes subscriptions filter on.
    pub fn event(&self, event_type: &str) -> Event {
        Event::new(
            event_type,
            self.id.clone(),
            serde_json::json!({
                "order_id": self.id,
                "status": self.status,
                "total_centavos": self.total.centavos(),
                "tracking_code": self.tracking_code,
                "version": self.version,
            }),
        )
        .for_customer(self.customer_id.clone())
        .attr("order_total", EventAttr::Number(self.total.centavos()))
        .attr(
            "payment_method",
            EventAttr::String(self.payment_method.as_str().into()),
        )
        .attr("status", EventAttr::String(self.status.as_str().into()))
        .attr(
            "language",
            EventAttr::String(self.channels.language.clone()),
        )
        .attr(
            "sms_opt_in",
            EventAttr::String(self.channels.sms_opt_in.to_string()),
        )
    }
}

// ----- returns (withdrawal, CDC art. 49) -----
// The data of a return lives here, with the order that holds it; its rules (the 7-day window,
// the amounts, its state machine) are in `returns.rs`.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnStatus {
    Requested,
    Received,
    Approved,
    Refused,
}

impl ReturnStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnStatus::Requested => "requested",
            ReturnStatus::Received => "received",
            ReturnStatus::Approved => "approved",
            ReturnStatus::Refused => "refused",
        }
    }

    /// Waiting for the shop: requested or received, not decided.
    pub fn is_open(self) -> bool {
        matches!(self, ReturnStatus::Requested | ReturnStatus::Received)
    }
}

impl fmt::Display for ReturnStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One returned line: what an accountant needs for the entry NF-e (devolução).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnLine {
    pub sku: Sku,
    pub name: String,
    pub quantity: u32,
    pub unit_price: Money,
    /// The quantity's value, net of its share of the order's discount.
    pub value: Money,
    /// NCM of the product as sold.
    pub ncm: String,
    /// CFOP of the original sale as the NF-e carried it (6xxx for a sale to another state).
    pub cfop: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Return {
    pub id: String,
    pub status: ReturnStatus,
    /// The buyer's reason.
    pub reason: String,
    pub lines: Vec<ReturnLine>,
    /// This return completes the order: every unit sold is returned, shipping included.
    pub whole_order: bool,
    /// The shipping given back (zero unless `whole_order`).
    pub shipping: Money,
    /// What is refunded on approval: the lines' value plus `shipping`.
    pub amount: Money,
    pub requested_at: Timestamp,
    pub received_at: Option<Timestamp>,
    pub decided_at: Option<Timestamp>,
    /// Why the shop refused it.
    pub refusal: Option<String>,
    /// The partial refund made on approval (its id on the payment).
    pub refund_id: Option<String>,
}

#[cfg(test)]
pub(crate) mod tests {

    #[test]
    fn erasing_the_buyer_keeps_what_was_sold_and_where_and_drops_who() {
        let mut o = sample_order();
        let before = o.clone();
        o.erase_buyer(Timestamp::from_secs(9_000));
        assert_eq!(o.buyer.name, ERASED);
        assert_eq!(o.buyer.email, ERASED_EMAIL);
        assert_eq!(o.buyer.phone, None);
        assert_ne!(o.buyer.tax_id, before.buyer.tax_id);
        let text = serde_json::to_string(&o).unwrap();
        for gone in [
            before.buyer.name.as_str(),
            before.buyer.email.as_str(),
            before.buyer.tax_id.as_str(),
            before.shipping_address.street.as_str(),
        ] {
            assert!(!text.contains(gone), "{gone} is still in the order");
        }
        // The stored order loads again, and keeps the sale.
        let back: Order = serde_json::from_str(&text).unwrap();
        assert_eq!(back.total, before.total);
        assert_eq!(back.lines, before.lines);
        assert_eq!(back.shipping_address.uf, before.shipping_address.uf);
        assert_eq!(back.shipping_address.city, before.shipping_address.city);
        assert_eq!(
            &back.shipping_address.cep.as_str()[..5],
            &before.shipping_address.cep.as_str()[..5]
        );
        assert_eq!(back.erased_at, Some(Timestamp::from_secs(9_000)));
        assert_eq!(back.version, before.version + 1);
    }

    use super::*;
    use proptest::prelude::*;

    pub(crate) fn sample_order() -> Order {
        let line = OrderLine {
            sku: Sku::parse("CAM-M").unwrap(),
            product_id: "p1".into(),
            name: "Camiseta".into(),
            options: BTreeMap::new(),
            unit_price: Money::from_centavos(5_000),
            quantity: 2,
            weight_g: 200,
            fiscal: Fiscal::default(),
        };
        let (order, _) = Order::place(NewOrder {
            id: "o1".into(),
            customer_id: "c1".into(),
            lines: vec![line],
            buyer: Buyer {
                name: "Ana".into(),
                email: "ana@example.com".into(),
                tax_id: TaxId::parse("52998224725").unwrap(),
                phone: None,
            },
            shipping_address: Address {
                recipient: "Ana".into(),
                street: "Av. Paulista".into(),
                number: "1000".into(),
                complement: None,
                district: "Bela Vista".into(),
                city: "São Paulo".into(),
                uf: Uf::parse("SP").unwrap(),
                cep: Cep::parse("01310100").unwrap(),
            },
            shipping: ShippingChoice {
                method_id: "pac".into(),
                name: "PAC".into(),
                price: Money::from_centavos(1_590),
                days: 3,
            },
            coupon: Some(("DEZ".into(), Money::from_centavos(1_000))),
            payment_method: PaymentMethod::Pix,
            payment_provider: "sandbox".into(),
            now: Timestamp::from_secs(1_000),
            pay_within_secs: 1_800,
            channels: Channels::default(),
        })
        .unwrap();
        order
    }

    fn address(city: &str, uf: &str, cep: &str) -> Address {
        Address {
            recipient: "Ana".into(),
            street: "Rua XV de Novembro".into(),
            number: "50".into(),
            complement: None,
            district: "Centro".into(),
            city: city.into(),
            uf: Uf::parse(uf).unwrap(),
            cep: Cep::parse(cep).unwrap(),
        }
    }

    fn problems(a: &Address, field: &str) -> Vec<FieldError> {
        match a.validate(field) {
            Ok(()) => Vec::new(),
            Err(DomainError::Invalid(errors)) => errors,
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn an_address_in_a_real_municipality_of_its_uf_is_accepted_whatever_the_accents_or_case() {
        for (city, uf, cep) in [
            ("São Paulo", "SP", "01310-100"),
            ("SAO PAULO", "SP", "01310-100"),
            ("sao paulo", "sp", "01310100"),
            ("Curitiba", "PR", "80020-310"),
            ("Brasília", "DF", "70040-010"),
            ("brasilia", "DF", "73010-000"),
            ("Luziânia", "GO", "72800-000"),
            ("Santa Bárbara d'Oeste", "SP", "13450-000"),
            ("Rio de Janeiro", "RJ", "20040-002"),
        ] {
            let a = address(city, uf, cep);
            assert_eq!(a.validate("shipping_address"), Ok(()), "{city}/{uf} {cep}");
        }
    }

    #[test]
    fn a_misspelt_city_is_refused_with_the_closest_names_of_its_uf() {
        let errors = problems(&address("Sao Paolo", "SP", "01310-100"), "shipping_address");
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = &errors[0];
        assert_eq!(e.field, "shipping_address.city");
        assert_eq!(
            e.message,
            "\"Sao Paolo\" is not a municipality of SP; did you mean São Paulo?"
        );
        assert_eq!(e.code, Some("city-not-in-uf"));
        assert_eq!(e.params["suggestions"], serde_json::json!(["São Paulo"]));
        assert_eq!(e.params["uf"], "SP");
        assert_eq!(e.params["city"], "Sao Paolo");
        assert_eq!(e.params["found_in"], serde_json::json!([]));
    }

    #[test]
    fn a_city_of_another_uf_is_refused_saying_where_it_is() {
        let errors = problems(&address("Curitiba", "SP", "01310-100"), "shipping_address");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "shipping_address.city");
        assert_eq!(
            errors[0].message,
            "\"Curitiba\" is not a municipality of SP (there is one in PR)"
        );
        assert_eq!(errors[0].params["found_in"], serde_json::json!(["PR"]));
        // A name nothing like any municipality: no guess at all.
        let errors = problems(&address("Cidade Que Não Existe", "SP", "01310-100"), "a");
        assert_eq!(
            errors[0].message,
            "\"Cidade Que Não Existe\" is not a municipality of SP"
        );
    }

    #[test]
    fn a_cep_of_another_state_is_refused_naming_the_state_it_belongs_to() {
        let errors = problems(&address("São Paulo", "SP", "20040-002"), "shipping_address");
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = &errors[0];
        assert_eq!(e.field, "shipping_address.cep");
        assert_eq!(e.message, "CEP 20040-002 is in RJ, not in SP");
        assert_eq!(e.code, Some("cep-not-in-uf"));
        assert_eq!(e.params["cep_uf"], "RJ");
        // Brasília with a CEP of Goiás next door.
        let errors = problems(&address("Brasília", "DF", "72800-000"), "shipping_address");
        assert_eq!(errors[0].message, "CEP 72800-000 is in GO, not in DF");
        // A CEP in no state's range.
        let errors = problems(&address("São Paulo", "SP", "00100-000"), "");
        assert_eq!(errors[0].field, "cep");
        assert_eq!(
            errors[0].message,
            "CEP 00100-000 is in no state's range, so not in SP"
        );
        assert!(!errors[0].params.contains_key("cep_uf"));
    }

    #[test]
    fn an_empty_prefix_names_the_bare_fields_and_every_problem_is_reported() {
        let mut a = address("Curitba", "PR", "01310-100");
        a.street = " ".into();
        let errors = problems(&a, "");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["street", "city", "cep"]);
        assert!(
            errors[1].message.ends_with("did you mean Curitiba?"),
            "{errors:?}"
        );
        // An empty city is reported once, as missing.
        let errors = problems(&address(" ", "PR", "80020-310"), "x");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].message, "required, at most 80 characters");
    }

    #[test]
    fn placing_an_order_prices_it_and_yields_order_placed() {
        let o = sample_order();
        assert_eq!(o.subtotal.centavos(), 10_000);
        assert_eq!(o.total.centavos(), 10_000 - 1_000 + 1_590);
        assert_eq!(o.status, OrderStatus::PendingPayment);
        assert_eq!(o.pay_by, Timestamp::from_secs(2_800));
        assert_eq!(
            o.event("order.placed").attributes["order_total"],
            EventAttr::Number(10_590)
        );
    }

    #[test]
    fn an_order_cannot_ship_before_it_is_invoiced() {
        let mut o = sample_order();
        assert!(matches!(
            o.ship(Timestamp::from_secs(1), "BR1"),
            Err(DomainError::IllegalTransition { .. })
        ));
        o.pay(Timestamp::from_secs(2), "pix-1").unwrap();
        assert!(o.ship(Timestamp::from_secs(3), "BR1").is_err());
        o.invoice(Timestamp::from_secs(4), "3517...").unwrap();
        let e = o.ship(Timestamp::from_secs(5), "br123456789br").unwrap();
        assert_eq!(e.event_type, "order.shipped");
        assert_eq!(o.tracking_code.as_deref(), Some("BR123456789BR"));
        o.deliver(Timestamp::from_secs(6)).unwrap();
        assert_eq!(o.history.len(), 5);
    }

    #[test]
    fn cancelling_a_paid_order_restocks_and_refunds() {
        let mut o = sample_order();
        o.pay(Timestamp::from_secs(2), "x").unwrap();
        let (_, unwind) = o.cancel(Timestamp::from_secs(3), "customer asked").unwrap();
        assert_eq!(
            unwind,
            Unwind {
                restock: true,
                refund: true
            }
        );
        assert!(o.cancel(Timestamp::from_secs(4), "again").is_err());
    }

    #[test]
    fn an_invoiced_order_is_cancelled_only_with_its_invoice_and_is_refunded() {
        let mut o = sample_order();
        o.pay(Timestamp::from_secs(2), "x").unwrap();
        assert!(o.cancel_invoiced(Timestamp::from_secs(3), "nf-e").is_err());
        o.invoice(Timestamp::from_secs(3), "3517...").unwrap();
        assert!(o.cancel(Timestamp::from_secs(4), "plain").is_err());
        let (event, unwind) = o
            .cancel_invoiced(Timestamp::from_secs(4), "NF-e cancelled")
            .unwrap();
        assert_eq!(event.event_type, "order.cancelled");
        assert_eq!(
            event.attributes.get("refund"),
            Some(&EventAttr::String("yes".into()))
        );
        assert_eq!(
            unwind,
            Unwind {
                restock: true,
                refund: true
            }
        );
        assert_eq!(o.status, OrderStatus::Cancelled);
        assert!(o.cancel_invoiced(Timestamp::from_secs(5), "again").is_err());
    }

    #[test]
    fn an_order_expires_only_unpaid_and_past_its_deadline() {
        let mut o = sample_order();
        assert!(o.expire(Timestamp::from_secs(2_799)).is_err());
        let (_, unwind) = o.expire(Timestamp::from_secs(2_800)).unwrap();
        assert!(unwind.restock);
        assert!(o.pay(Timestamp::from_secs(2_801), "late").is_err());
    }

    #[derive(Debug, Clone, Copy)]
    enum Move {
        Pay,
        Fail,
        Invoice,
        Ship,
        Deliver,
        Cancel,
        Expire,
    }

    fn apply(o: &mut Order, m: Move, at: Timestamp) -> Result<(), DomainError> {
        match m {
            Move::Pay => o.pay(at, "r").map(drop),
            Move::Fail => o.fail_payment(at, "r").map(drop),
            Move::Invoice => o.invoice(at, "k").map(drop),
            Move::Ship => o.ship(at, "T1").map(drop),
            Move::Deliver => o.deliver(at).map(drop),
            Move::Cancel => o.cancel(at, "r").map(drop),
            Move::Expire => o.expire(at).map(drop),
        }
    }

    fn allowed(from: OrderStatus, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (from, to),
            (PendingPayment, Paid | PaymentFailed | Cancelled | Expired)
                | (PaymentFailed, Paid | Cancelled | Expired)
                | (Paid, Invoiced | Cancelled)
                | (Invoiced, Shipped)
                | (Shipped, Delivered)
        )
    }

    proptest! {
        #[test]
        fn every_sequence_of_moves_follows_the_lifecycle(moves in proptest::collection::vec(0u8..7, 0..12)) {
            let mut o = sample_order();
            let mut at = Timestamp::from_secs(3_000);
            for m in moves {
                let m = [Move::Pay, Move::Fail, Move::Invoice, Move::Ship, Move::Deliver, Move::Cancel, Move::Expire][m as usize];
                let before = o.clone();
                at = at.plus_secs(1);
                match apply(&mut o, m, at) {
                    Ok(()) => {
                        prop_assert!(allowed(before.status, o.status), "{:?} -> {:?}", before.status, o.status);
                        prop_assert_eq!(o.version, before.version + 1);
                        prop_assert_eq!(o.history.len(), before.history.len() + 1);
                    }
                    Err(_) => prop_assert_eq!(&o, &before, "a refused move changes nothing"),
                }
            }
        }
    }
}
