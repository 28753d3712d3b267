//! Checkout: turning a cart (or a "buy now" list) into an order, atomically.
//!
//! One batch writes the idempotency record, the order, a conditional decrement of every line's
//! stock (`available >= qty`), the coupon's conditional use count, the emptied cart and the
//! `order.placed` event. Either all of it happens or none: concurrent buyers of the last unit
//! cannot both win, a coupon cannot be used past its limit, and a retry with the same
//! Idempotency-Key finds the first order instead of making a second.

use serde::Serialize;
use sha2::{Digest, Sha256};
use vitrine_domain::br::TaxId;
use vitrine_domain::cart::CartLine;
use vitrine_domain::coupon::{Coupon, parse_code};
use vitrine_domain::order::{
    Address, Buyer, NewOrder, Order, OrderLine, PaymentMethod, ShippingChoice,
};
use vitrine_domain::{FieldError, Money};

use crate::app::App;
use crate::auth::Principal;
use crate::cart::CartOwner;
use crate::error::{AppError, AppResult};
use crate::ports::{Condition, Item, TableError, Update, Value, WriteOp};
use crate::store::{self, AVAILABLE, VERSION};

/// Where the goods go: a new address or one of the customer's saved ones.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    Address(Address),
    Saved(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckoutInput {
    /// "Buy now": order these lines and leave the cart alone. `None`: order the cart.
    pub items: Option<Vec<CartLine>>,
    pub destination: Destination,
    pub shipping_method: String,
    pub coupon: Option<String>,
    pub payment_method: PaymentMethod,
    /// The buyer's CPF or CNPJ (needed for the NF-e); defaults to the profile's.
    pub tax_id: Option<TaxId>,
}

/// A placed order, and whether it was placed by an earlier request with the same key.
#[derive(Debug, Clone)]
pub struct Placed {
    pub order: Order,
    pub replayed: bool,
}

/// Idempotency keys: 1..=128 printable ASCII characters without spaces.
pub fn check_idempotency_key(key: &str) -> AppResult<()> {
    if (1..=128).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(AppError::field(
            "Idempotency-Key",
            "1 to 128 visible ASCII characters",
        ))
    }
}

const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

/// Positions of each kind of operation in the checkout batch, to explain a failed condition.
const OP_IDEMPOTENCY: usize = 0;
const OP_ORDER: usize = 1;
const OP_FIRST_LINE: usize = 2;

impl App {
    /// Place an order (see the module docs), counted in the metrics: placed, or failed by reason.
    pub async fn place_order(
        &self,
        who: &Principal,
        input: CheckoutInput,
        idempotency_key: &str,
    ) -> AppResult<Placed> {
        let result = self.place_order_once(who, input, idempotency_key).await;
        match &result {
            Ok(placed) if !placed.replayed => self.metrics.order_placed(),
            Ok(_) => {}
            Err(e) => self
                .metrics
                .checkout_failed(crate::metrics::failure_reason(e)),
        }
        result
    }

    async fn place_order_once(
        &self,
        who: &Principal,
        input: CheckoutInput,
        idempotency_key: &str,
    ) -> AppResult<Placed> {
        check_idempotency_key(idempotency_key)?;
        let fingerprint = fingerprint(&input);
        if let Some(placed) = self.replay(&who.sub, idempotency_key, &fingerprint).await? {
            return Ok(placed);
        }

        let now = self.ports.clock.now();
        let from_cart = input.items.is_none();
        let wanted: Vec<CartLine> = match &input.items {
            Some(items) => items.clone(),
            None => self
                .cart(&CartOwner::Customer(who.sub.clone()))
                .await?
                .lines
                .into_iter()
                .map(|l| l.line)
                .collect(),
        };
        if wanted.is_empty() {
            return Err(AppError::Rule("the cart is empty".into()));
        }
        if wanted.len() > vitrine_domain::cart::MAX_LINES {
            return Err(AppError::field(
                "items",
                format!(
                    "at most {} items per order",
                    vitrine_domain::cart::MAX_LINES
                ),
            ));
        }

        // Price every line from the catalog; report every unknown SKU at once.
        let snap = self.catalog_snapshot().await?;
        let mut lines = Vec::with_capacity(wanted.len());
        let mut errors = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, w) in wanted.iter().enumerate() {
            if !seen.insert(&w.sku) {
                errors.push(FieldError::new(
                    format!("items[{i}].sku"),
                    format!("SKU {} appears twice", w.sku),
                ));
                continue;
            }
            if w.quantity == 0 || w.quantity > vitrine_domain::cart::MAX_QTY {
                errors.push(FieldError::new(
                    format!("items[{i}].quantity"),
                    "the quantity must be between 1 and 99",
                ));
                continue;
            }
            let Some((product, variant)) = snap
                .product_by_sku(&w.sku)
                .filter(|p| p.active)
                .and_then(|p| p.variant(&w.sku).map(|v| (p, v)))
            else {
                errors.push(FieldError::new(
                    format!("items[{i}].sku"),
                    format!("there is no product with SKU {}", w.sku),
                ));
                continue;
            };
            lines.push(OrderLine {
                sku: w.sku.clone(),
                product_id: product.id.clone(),
                name: product.name.clone(),
                options: variant.options.clone(),
                unit_price: variant.price,
                quantity: w.quantity,
                weight_g: variant.dimensions.weight_g,
                fiscal: variant.fiscal.clone(),
            });
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }

        // Fail early (and cheaply) when stock is already short; the batch re-checks atomically.
        let mut levels = Vec::with_capacity(lines.len());
        for line in &lines {
            let available = self.available(&line.sku).await?.unwrap_or(0);
            if available < i64::from(line.quantity) {
                return Err(AppError::OutOfStock {
                    sku: line.sku.to_string(),
                    available,
                });
            }
            levels.push(available);
        }

        let profile = self.profile(&who.sub).await?;
        let tax_id = input
            .tax_id
            .clone()
            .or_else(|| profile.tax_id.clone())
            .ok_or_else(|| AppError::field("tax_id", "a CPF or CNPJ is needed for the invoice"))?;
        let address = match &input.destination {
            Destination::Address(a) => {
                a.validate("shipping_address")?;
                a.clone()
            }
            Destination::Saved(id) => match self.address(&who.sub, id).await {
                Ok(saved) => saved.address,
                Err(AppError::NotFound(_)) => {
                    return Err(AppError::field("address_id", "no such saved address"));
                }
                Err(e) => return Err(e),
            },
        };
        let subtotal = lines
            .iter()
            .try_fold(Money::from_centavos(0), |acc, l| acc.checked_add(l.total()));
        let subtotal =
            subtotal.ok_or_else(|| AppError::Rule("the order total is too large".into()))?;
        let weight: u64 = lines
            .iter()
            .map(|l| u64::from(l.weight_g) * u64::from(l.quantity))
            .sum();
        let quote = self
            .settings
            .rate_table
            .quote(&address.cep, weight, subtotal)
            .into_iter()
            .find(|q| q.method_id == input.shipping_method)
            .ok_or_else(|| {
                AppError::field(
                    "shipping_method",
                    "this shipping method does not serve this CEP or weight",
                )
            })?;

        let coupon = match &input.coupon {
            Some(code) => {
                let code = parse_code(code)?;
                let item = self
                    .ports
                    .table
                    .get(&store::coupon(&code))
                    .await?
                    .ok_or_else(|| AppError::field("coupon", "no such coupon"))?;
                let mut c: Coupon = store::decode(&item)?;
                c.used = item.num("used").unwrap_or(0) as u32;
                let discount = c.discount_for(subtotal, now)?;
                Some((c, discount))
            }
            None => None,
        };

        let (order, placed_event) = Order::place(NewOrder {
            id: self.ports.ids.new_id(),
            customer_id: who.sub.clone(),
            lines,
            buyer: Buyer {
                name: profile.name.clone(),
                email: profile.email.clone(),
                tax_id,
                phone: profile.phone.as_ref().map(|p| p.as_str().to_owned()),
            },
            shipping_address: address,
            shipping: ShippingChoice {
                method_id: quote.method_id,
                name: quote.name,
                price: quote.price,
                days: quote.days,
            },
            coupon: coupon.as_ref().map(|(c, d)| (c.code.clone(), *d)),
            payment_method: input.payment_method,
            now,
            pay_within_secs: self.settings.pay_within_secs,
            channels: vitrine_domain::order::Channels {
                language: profile.language.as_str().to_owned(),
                sms_opt_in: profile.sms_opt_in && profile.phone.is_some(),
            },
        })?;

        let mut ops = Vec::with_capacity(order.lines.len() + 6);
        ops.push(WriteOp::put_new(
            Item::new(store::idempotency(&who.sub, idempotency_key))
                .with("fingerprint", fingerprint.clone())
                .with("order_id", order.id.clone())
                .with(crate::ports::table::TTL, now.secs() + IDEMPOTENCY_TTL_SECS),
        ));
        ops.push(WriteOp::put_new(self.order_item(&order)?));
        for line in &order.lines {
            let qty = i64::from(line.quantity);
            ops.push(WriteOp::Update {
                key: store::sku(line.sku.as_str()),
                updates: vec![Update::Add(AVAILABLE.into(), -qty)],
                condition: Some(Condition::Ge(AVAILABLE.into(), Value::N(qty))),
            });
        }
        let op_coupon = ops.len();
        if let Some((c, _)) = &coupon {
            let mut conditions = vec![Condition::Exists];
            if let Some(limit) = c.usage_limit {
                conditions.push(Condition::Not(Box::new(Condition::Ge(
                    "used".into(),
                    Value::N(i64::from(limit)),
                ))));
            }
            ops.push(WriteOp::Update {
                key: store::coupon(&c.code),
                updates: vec![Update::Add("used".into(), 1)],
                condition: Some(Condition::And(conditions)),
            });
        }
        if from_cart {
            ops.push(WriteOp::Delete {
                key: store::customer_cart(&who.sub),
                condition: None,
            });
        }
        ops.push(WriteOp::put_new(store::event_item(
            &self.ports.ids.new_id(),
            &placed_event,
            now.millis(),
        )?));
        let threshold = self.settings.low_stock_threshold;
        // Decided on the levels read before the batch: under a race the alert may fire one
        // checkout early or late, which is fine for an alert.
        let low: Vec<(&vitrine_domain::catalog::Sku, i64)> = order
            .lines
            .iter()
            .zip(&levels)
            .map(|(line, level)| (&line.sku, *level, level - i64::from(line.quantity)))
            .filter(|(_, before, after)| *after <= threshold && *before > threshold)
            .map(|(sku, _, after)| (sku, after))
            .collect();
        if !low.is_empty() {
            ops.push(self.stock_low_event(&low)?);
        }

        match self.write_ops(ops).await {
            Ok(()) => {
                tracing::info!(order.id = %order.id, order.total_centavos = order.total.centavos(), lines = order.lines.len(), "order placed");
                Ok(Placed {
                    order,
                    replayed: false,
                })
            }
            Err(TableError::ConditionFailed {
                index: OP_IDEMPOTENCY,
            }) => self
                .replay(&who.sub, idempotency_key, &fingerprint)
                .await?
                .ok_or_else(|| {
                    AppError::Conflict(
                        "a request with this Idempotency-Key is still being processed".into(),
                    )
                }),
            Err(TableError::ConditionFailed { index })
                if (OP_FIRST_LINE..op_coupon).contains(&index) =>
            {
                let sku = order.lines[index - OP_FIRST_LINE].sku.clone();
                let available = self.available(&sku).await?.unwrap_or(0);
                Err(AppError::OutOfStock {
                    sku: sku.to_string(),
                    available,
                })
            }
            Err(TableError::ConditionFailed { index })
                if index == op_coupon && coupon.is_some() =>
            {
                Err(AppError::field("coupon", "this coupon has been used up"))
            }
            Err(TableError::ConditionFailed { index: OP_ORDER }) => {
                Err(AppError::Internal(anyhow::anyhow!("order id collision")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The order an earlier request with this key placed, or 422 when the body differs.
    async fn replay(&self, sub: &str, key: &str, fingerprint: &str) -> AppResult<Option<Placed>> {
        let Some(record) = self.ports.table.get(&store::idempotency(sub, key)).await? else {
            return Ok(None);
        };
        if record.str("fingerprint") != Some(fingerprint) {
            return Err(AppError::IdempotencyMismatch);
        }
        let id = record.str("order_id").unwrap_or_default();
        let order = self.load_order(id).await?;
        Ok(Some(Placed {
            order,
            replayed: true,
        }))
    }

    /// The stored item of `order`, with its index keys (customer, status).
    pub fn order_item(&self, order: &Order) -> AppResult<Item> {
        let item = store::data_item(store::order(&order.id), order)?
            .with(VERSION, order.version as i64)
            .with("status", order.status.as_str());
        let item = store::with_gsi1(
            item,
            store::customer_orders(&order.customer_id),
            order.id.clone(),
        );
        Ok(store::with_gsi2(
            item,
            store::orders_in_status(order.status.as_str()),
            order.id.clone(),
        ))
    }
}

/// A stable digest of the request: the same body gives the same fingerprint.
fn fingerprint(input: &CheckoutInput) -> String {
    let bytes = serde_json::to_vec(input).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
