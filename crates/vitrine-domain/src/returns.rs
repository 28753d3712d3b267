//! Withdrawal and returns (Código de Defesa do Consumidor, art. 49): a buyer who bought online
//! may withdraw within 7 days of receiving the goods and get back what they paid.
//!
//! A return lives inside its order ([`Order::returns`]; its data types are in `order.rs`,
//! re-exported here), so every move of it is a move of the order, saved under the order's
//! version condition: two concurrent clicks never restock or refund twice (the second re-reads
//! and the state machine refuses it).
//!
//! ```text
//! requested → received → approved (refund)
//!     │           └────→ refused (the received units leave stock again)
//!     └────────────────→ refused
//! ```
//!
//! Amounts: the returned lines' value, net of their share of the order's discount (split in
//! proportion to the lines' value); the return that completes the whole order also gives back the
//! shipping, and is then exactly what is left of the order's total, so the returns of an order
//! never add up to more than was paid.

use crate::br::Uf;
use crate::catalog::Sku;
use crate::error::{DomainError, FieldError};
use crate::events::{Event, EventAttr};
use crate::money::Money;
use crate::order::{Order, OrderLine, OrderStatus};
pub use crate::order::{Return, ReturnLine, ReturnStatus};
use crate::time::Timestamp;

/// How long after delivery the buyer may withdraw (CDC art. 49: "7 dias a contar de sua
/// assinatura ou do ato de recebimento do produto").
pub const WITHDRAWAL_DAYS: i64 = 7;
/// The longest reason a buyer or an admin may give.
pub const MAX_REASON_CHARS: usize = 500;

/// One line the buyer wants to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnWanted {
    pub sku: String,
    pub quantity: u32,
}

fn reason_of(field: &str, reason: &str) -> Result<String, DomainError> {
    let reason = reason.trim();
    let n = reason.chars().count();
    if n == 0 || n > MAX_REASON_CHARS || reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(DomainError::field(
            field,
            format!("1 to {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(reason.to_owned())
}

/// The CFOP a line carried on the order's NF-e: the catalog's, moved to the 6xxx range when the
/// emitter (the first two digits of the access key, its IBGE state code) is in another state
/// than the buyer — what the invoice issuer does.
pub fn original_cfop(line: &OrderLine, invoice_key: Option<&str>, buyer_uf: Uf) -> String {
    let emitter = invoice_key
        .and_then(|k| k.get(..2))
        .and_then(|c| c.parse::<u8>().ok())
        .and_then(Uf::from_code);
    match (line.fiscal.cfop.parse::<u16>(), emitter) {
        (Ok(cfop), Some(uf)) if uf != buyer_uf && (5000..6000).contains(&cfop) => {
            (cfop + 1000).to_string()
        }
        _ => line.fiscal.cfop.clone(),
    }
}

impl Order {
    /// When the order was delivered (its last move to `delivered`).
    pub fn delivered_at(&self) -> Option<Timestamp> {
        self.history
            .iter()
            .rev()
            .find(|c| c.status == OrderStatus::Delivered)
            .map(|c| c.at)
    }

    /// The last instant the buyer may withdraw: [`WITHDRAWAL_DAYS`] after delivery.
    pub fn withdrawal_deadline(&self) -> Option<Timestamp> {
        self.delivered_at()
            .map(|at| at.plus_secs(WITHDRAWAL_DAYS * 24 * 3600))
    }

    /// Whether the buyer may open a return at `at`.
    pub fn may_withdraw(&self, at: Timestamp) -> bool {
        self.status == OrderStatus::Delivered && self.withdrawal_deadline().is_some_and(|d| at <= d)
    }

    /// Units of `sku` already in returns that are not refused.
    fn units_returned(&self, sku: &Sku) -> u32 {
        self.returns
            .iter()
            .filter(|r| r.status != ReturnStatus::Refused)
            .flat_map(|r| &r.lines)
            .filter(|l| &l.sku == sku)
            .map(|l| l.quantity)
            .sum()
    }

    pub fn find_return(&self, id: &str) -> Option<&Return> {
        self.returns.iter().find(|r| r.id == id)
    }

    /// The buyer withdraws: open return `id` for `wanted` at `at`. Yields
    /// `order.return_requested`.
    pub fn request_return(
        &mut self,
        id: &str,
        wanted: &[ReturnWanted],
        reason: &str,
        at: Timestamp,
    ) -> Result<Event, DomainError> {
        if self.status != OrderStatus::Delivered {
            return Err(DomainError::Rule(
                "a return is opened only for a delivered order".into(),
            ));
        }
        if !self.may_withdraw(at) {
            return Err(DomainError::Rule(format!(
                "the {WITHDRAWAL_DAYS}-day withdrawal period (CDC art. 49) ended; contact the shop"
            )));
        }
        let reason = reason_of("reason", reason)?;
        if wanted.is_empty() {
            return Err(DomainError::field("lines", "choose at least one item"));
        }
        let mut errors = Vec::new();
        let mut lines: Vec<ReturnLine> = Vec::new();
        for (i, w) in wanted.iter().enumerate() {
            let field = format!("lines[{i}].quantity");
            let Some(line) = self.lines.iter().find(|l| l.sku.as_str() == w.sku) else {
                errors.push(FieldError::new(
                    format!("lines[{i}].sku"),
                    "not an item of this order",
                ));
                continue;
            };
            let already = self.units_returned(&line.sku)
                + lines
                    .iter()
                    .filter(|l| l.sku == line.sku)
                    .map(|l| l.quantity)
                    .sum::<u32>();
            let left = line.quantity.saturating_sub(already);
            if w.quantity == 0 || w.quantity > left {
                errors.push(FieldError::new(
                    field,
                    format!("1 to {left} (bought {}, returned {already})", line.quantity),
                ));
                continue;
            }
            lines.push(ReturnLine {
                sku: line.sku.clone(),
                name: line.name.clone(),
                quantity: w.quantity,
                unit_price: line.unit_price,
                value: Money::ZERO,
                ncm: line.fiscal.ncm.clone(),
                cfop: original_cfop(line, self.invoice_key.as_deref(), self.shipping_address.uf),
            });
        }
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        // Every unit of the order is now returned: this return completes it.
        let whole_order = self
            .lines
            .iter()
            .all(|l| self.units_returned(&l.sku) + units_of(&lines, &l.sku) >= l.quantity);
        let subtotal = self.subtotal.centavos().max(1);
        let discount = self.discount.centavos();
        for l in &mut lines {
            let gross = l.unit_price.centavos() * i64::from(l.quantity);
            // The discount's share of these units, rounded down: the store never keeps more
            // than its discount.
            let share = i128::from(discount) * i128::from(gross) / i128::from(subtotal);
            l.value = Money::from_centavos(gross - share as i64);
        }
        let (shipping, amount) = if whole_order {
            let earlier: i64 = self
                .returns
                .iter()
                .filter(|r| r.status != ReturnStatus::Refused)
                .map(|r| r.amount.centavos())
                .sum();
            let amount = (self.total.centavos() - earlier).max(0);
            let lines_value: i64 = lines.iter().map(|l| l.value.centavos()).sum();
            (
                Money::from_centavos((amount - lines_value).max(0)),
                Money::from_centavos(amount),
            )
        } else {
            (
                Money::ZERO,
                Money::from_centavos(lines.iter().map(|l| l.value.centavos()).sum()),
            )
        };
        self.returns.push(Return {
            id: id.to_owned(),
            status: ReturnStatus::Requested,
            reason,
            lines,
            whole_order,
            shipping,
            amount,
            requested_at: at,
            received_at: None,
            decided_at: None,
            refusal: None,
            refund_id: None,
        });
        self.touch(at);
        Ok(self.return_event("order.return_requested", id))
    }

    /// The goods of return `id` arrived at the shop. Returns the event and the units that go
    /// back to stock.
    pub fn receive_return(
        &mut self,
        id: &str,
        at: Timestamp,
    ) -> Result<(Event, Vec<(Sku, u32)>), DomainError> {
        let r = self.return_mut(id)?;
        if r.status != ReturnStatus::Requested {
            return Err(illegal("receive", r.status));
        }
        r.status = ReturnStatus::Received;
        r.received_at = Some(at);
        let units = r
            .lines
            .iter()
            .map(|l| (l.sku.clone(), l.quantity))
            .collect();
        self.touch(at);
        Ok((self.return_event("order.return_received", id), units))
    }

    /// The shop accepts return `id` (its goods received): its amount is refunded, as
    /// `refund_id`. Returns the event and the amount.
    pub fn approve_return(
        &mut self,
        id: &str,
        refund_id: &str,
        at: Timestamp,
    ) -> Result<(Event, Money), DomainError> {
        let r = self.return_mut(id)?;
        if r.status != ReturnStatus::Received {
            return Err(if r.status == ReturnStatus::Requested {
                DomainError::Rule("mark the goods received before approving the return".into())
            } else {
                illegal("approve", r.status)
            });
        }
        r.status = ReturnStatus::Approved;
        r.decided_at = Some(at);
        r.refund_id = Some(refund_id.to_owned());
        let amount = r.amount;
        self.touch(at);
        Ok((self.return_event("order.return_approved", id), amount))
    }

    /// The shop refuses return `id` for `reason`. Returns the event and the units that leave
    /// stock again (those received; none if the goods never arrived).
    pub fn refuse_return(
        &mut self,
        id: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<(Event, Vec<(Sku, u32)>), DomainError> {
        let reason = reason_of("reason", reason)?;
        let r = self.return_mut(id)?;
        if !r.status.is_open() {
            return Err(illegal("refuse", r.status));
        }
        let units = if r.status == ReturnStatus::Received {
            r.lines
                .iter()
                .map(|l| (l.sku.clone(), l.quantity))
                .collect()
        } else {
            Vec::new()
        };
        r.status = ReturnStatus::Refused;
        r.decided_at = Some(at);
        r.refusal = Some(reason);
        self.touch(at);
        Ok((self.return_event("order.return_refused", id), units))
    }

    fn return_mut(&mut self, id: &str) -> Result<&mut Return, DomainError> {
        self.returns
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| DomainError::Rule(format!("order {} has no return {id}", self.id)))
    }

    fn touch(&mut self, at: Timestamp) {
        self.updated_at = at;
        self.version += 1;
    }

    /// An order event about return `id`: its amount and the reason that concerns the step (the
    /// buyer's when requested, the shop's when refused).
    fn return_event(&self, event_type: &str, id: &str) -> Event {
        let r = self.find_return(id).expect("the return was just moved");
        let reason = match r.status {
            ReturnStatus::Refused => r.refusal.clone(),
            _ => Some(r.reason.clone()),
        };
        let mut event = self.event(event_type);
        if let Some(data) = event.data.as_object_mut() {
            data.insert("return_id".into(), r.id.clone().into());
            data.insert("return_status".into(), r.status.as_str().into());
            data.insert("amount_centavos".into(), r.amount.centavos().into());
            data.insert("reason".into(), reason.into());
        }
        event.attr("return_status", EventAttr::String(r.status.as_str().into()))
    }
}

fn units_of(lines: &[ReturnLine], sku: &Sku) -> u32 {
    lines
        .iter()
        .filter(|l| &l.sku == sku)
        .map(|l| l.quantity)
        .sum()
}

fn illegal(action: &'static str, from: ReturnStatus) -> DomainError {
    DomainError::Rule(format!("cannot {action} a return that is {from}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::sample_order;

    const DAY: i64 = 24 * 3600;

    /// The sample order (2 × R$ 50,00, R$ 10,00 off, R$ 15,90 shipping) delivered at 10 000 s.
    fn delivered() -> Order {
        let mut o = sample_order();
        o.pay(Timestamp::from_secs(2_000), "pix").unwrap();
        o.invoice(
            Timestamp::from_secs(3_000),
            "35261200000000000000550010000000011000000010",
        )
        .unwrap();
        o.ship(Timestamp::from_secs(4_000), "BR1").unwrap();
        o.deliver(Timestamp::from_secs(10_000)).unwrap();
        o
    }

    fn want(qty: u32) -> Vec<ReturnWanted> {
        vec![ReturnWanted {
            sku: "CAM-M".into(),
            quantity: qty,
        }]
    }

    #[test]
    fn a_buyer_may_withdraw_until_seven_days_after_delivery_and_not_after() {
        let mut o = delivered();
        let last = Timestamp::from_secs(10_000 + 7 * DAY);
        assert_eq!(o.withdrawal_deadline(), Some(last));
        let mut late = o.clone();
        let err = late
            .request_return("r1", &want(1), "não serviu", last.plus_secs(1))
            .unwrap_err();
        assert!(err.to_string().contains("7-day"), "{err}");
        assert_eq!(late, o, "a refused request changes nothing");
        let event = o
            .request_return("r1", &want(1), "não serviu", last)
            .unwrap();
        assert_eq!(event.event_type, "order.return_requested");
        assert_eq!(event.data["return_id"], "r1");
    }

    #[test]
    fn only_a_delivered_order_can_be_returned() {
        let mut o = sample_order();
        o.pay(Timestamp::from_secs(2_000), "pix").unwrap();
        assert!(matches!(
            o.request_return("r1", &want(1), "x", Timestamp::from_secs(2_001)),
            Err(DomainError::Rule(_))
        ));
    }

    #[test]
    fn part_of_an_order_refunds_its_value_net_of_its_discount_share_without_shipping() {
        let mut o = delivered();
        o.request_return("r1", &want(1), "tamanho", Timestamp::from_secs(20_000))
            .unwrap();
        let r = o.find_return("r1").unwrap();
        // R$ 50,00 of R$ 100,00 bought: half of the R$ 10,00 discount is kept off.
        assert_eq!(r.amount, Money::from_centavos(4_500));
        assert_eq!(r.shipping, Money::ZERO);
        assert!(!r.whole_order);
        assert_eq!(r.lines[0].ncm, "61091000");
        assert_eq!(r.lines[0].cfop, "5102", "SP to SP stays 5102");
    }

    #[test]
    fn the_return_that_completes_the_order_gives_back_the_shipping_and_exactly_the_rest() {
        let mut o = delivered();
        o.request_return("r1", &want(1), "tamanho", Timestamp::from_secs(20_000))
            .unwrap();
        o.request_return("r2", &want(1), "cor", Timestamp::from_secs(20_001))
            .unwrap();
        let r2 = o.find_return("r2").unwrap();
        assert!(r2.whole_order);
        assert_eq!(r2.shipping, Money::from_centavos(1_590));
        let total: i64 = o.returns.iter().map(|r| r.amount.centavos()).sum();
        assert_eq!(total, o.total.centavos());
        // Nothing is left to return.
        let err = o
            .request_return("r3", &want(1), "mais", Timestamp::from_secs(20_002))
            .unwrap_err();
        assert!(matches!(err, DomainError::Invalid(_)), "{err}");
    }

    #[test]
    fn a_whole_order_returned_at_once_refunds_its_total() {
        let mut o = delivered();
        o.request_return("r1", &want(2), "desisti", Timestamp::from_secs(20_000))
            .unwrap();
        assert_eq!(o.returns[0].amount, o.total);
    }

    #[test]
    fn unknown_items_too_many_units_and_empty_reasons_are_refused_by_field() {
        let mut o = delivered();
        let at = Timestamp::from_secs(20_000);
        let bad = [
            ReturnWanted {
                sku: "NOPE".into(),
                quantity: 1,
            },
            ReturnWanted {
                sku: "CAM-M".into(),
                quantity: 3,
            },
        ];
        let Err(DomainError::Invalid(errors)) = o.request_return("r1", &bad, "x", at) else {
            panic!("refused by field");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["lines[0].sku", "lines[1].quantity"]);
        assert!(o.request_return("r1", &want(1), "  ", at).is_err());
        assert!(o.request_return("r1", &[], "x", at).is_err());
    }

    #[test]
    fn a_return_moves_requested_received_approved_once_each() {
        let mut o = delivered();
        o.request_return("r1", &want(2), "desisti", Timestamp::from_secs(20_000))
            .unwrap();
        let v = o.version;
        assert!(
            o.approve_return("r1", "f1", Timestamp::from_secs(20_001))
                .is_err(),
            "not before the goods arrive"
        );
        let (event, units) = o
            .receive_return("r1", Timestamp::from_secs(20_002))
            .unwrap();
        assert_eq!(event.event_type, "order.return_received");
        assert_eq!(units, vec![(Sku::parse("CAM-M").unwrap(), 2)]);
        assert!(
            o.receive_return("r1", Timestamp::from_secs(20_003))
                .is_err()
        );
        let (event, amount) = o
            .approve_return("r1", "f1", Timestamp::from_secs(20_004))
            .unwrap();
        assert_eq!(event.event_type, "order.return_approved");
        assert_eq!(event.data["amount_centavos"], o.total.centavos());
        assert_eq!(amount, o.total);
        assert_eq!(o.version, v + 2);
        assert!(
            o.approve_return("r1", "f2", Timestamp::from_secs(20_005))
                .is_err()
        );
        assert!(
            o.refuse_return("r1", "late", Timestamp::from_secs(20_005))
                .is_err()
        );
        assert_eq!(o.returns[0].refund_id.as_deref(), Some("f1"));
    }

    #[test]
    fn a_refused_return_frees_its_units_and_takes_received_ones_out_of_stock_again() {
        let mut o = delivered();
        o.request_return("r1", &want(2), "desisti", Timestamp::from_secs(20_000))
            .unwrap();
        let (_, none) = o
            .clone()
            .refuse_return("r1", "fora do prazo", Timestamp::from_secs(20_001))
            .unwrap();
        assert!(none.is_empty(), "nothing arrived, nothing leaves stock");
        o.receive_return("r1", Timestamp::from_secs(20_001))
            .unwrap();
        assert!(
            o.refuse_return("r1", " ", Timestamp::from_secs(20_002))
                .is_err()
        );
        let (event, units) = o
            .refuse_return("r1", "produto usado", Timestamp::from_secs(20_002))
            .unwrap();
        assert_eq!(event.data["reason"], "produto usado");
        assert_eq!(units.len(), 1);
        // The refused units may be returned again within the period.
        o.request_return("r2", &want(2), "de novo", Timestamp::from_secs(20_003))
            .unwrap();
        assert_eq!(o.find_return("r2").unwrap().amount, o.total);
    }

    #[test]
    fn an_interstate_sale_names_the_6xxx_cfop_it_was_invoiced_with() {
        let o = delivered();
        let line = &o.lines[0];
        // Emitter in PR (41), buyer in SP.
        assert_eq!(
            original_cfop(line, Some("4126..."), o.shipping_address.uf),
            "6102"
        );
        assert_eq!(original_cfop(line, None, o.shipping_address.uf), "5102");
    }

    proptest::proptest! {
        #[test]
        fn returns_never_refund_more_than_the_order_total(
            quantities in proptest::collection::vec(1u32..3, 1..4),
        ) {
            let mut o = delivered();
            let mut at = Timestamp::from_secs(20_000);
            for (i, q) in quantities.into_iter().enumerate() {
                at = at.plus_secs(1);
                let _ = o.request_return(&format!("r{i}"), &want(q), "x", at);
            }
            let total: i64 = o.returns.iter().map(|r| r.amount.centavos()).sum();
            proptest::prop_assert!(total <= o.total.centavos());
            proptest::prop_assert!(o.returns.iter().all(|r| r.amount.centavos() >= 0));
        }
    }
}
