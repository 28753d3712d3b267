//! Checkout: turning a cart (or a "buy now" list) into an order, atomically.
//!
//! One batch writes the idempotency record, the order, a conditional decrement of every line's
//! stock (`available >= qty`), the conditional count of what the customer's unpaid orders hold,
//! the coupon's conditional use counts (in all and by this customer), the emptied cart (and,
//! when it was e-mailed a reminder lately, the record that it was recovered) and the
//! `order.placed` event. Either all of it happens or none: concurrent buyers of the last unit
//! cannot both win, a coupon cannot be used past its limits, one customer's concurrent
//! checkouts cannot hold more unpaid stock than the cap ([`crate::settings::UnpaidCap`]), and a
//! retry with the same Idempotency-Key finds the first order instead of making a second.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};
use vitrine_domain::br::TaxId;
use vitrine_domain::cart::CartLine;
use vitrine_domain::catalog::{Dimensions, Product, Sku};
use vitrine_domain::coupon::{Coupon, parse_code};
use vitrine_domain::order::{
    Address, Buyer, NewOrder, Order, OrderLine, PaymentMethod, ShippingChoice,
};
use vitrine_domain::{DomainError, Event, FieldError, Money, Timestamp};

use crate::app::App;
use crate::auth::Principal;
use crate::cart::{CartOwner, ReminderMark};
use crate::catalog::ProductKey;
use crate::customers::Profile;
use crate::error::{AppError, AppResult};
use crate::ports::QuoteRequest;
use crate::store::{self, Batch, Part, WriteFailed};

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

/// An `Idempotency-Key`: 1..=128 visible ASCII characters without spaces. Parsed once, where
/// the request comes in; a checkout takes only a parsed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parse the header's raw bytes.
    pub fn parse(raw: &[u8]) -> AppResult<Self> {
        // Header values outside visible ASCII (and tab) are not text at all.
        if !raw.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)) {
            return Err(AppError::field("Idempotency-Key", "visible ASCII only"));
        }
        if (1..=128).contains(&raw.len()) && raw.iter().all(u8::is_ascii_graphic) {
            Ok(Self(String::from_utf8_lossy(raw).into_owned()))
        } else {
            Err(AppError::field(
                "Idempotency-Key",
                "1 to 128 visible ASCII characters",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

/// Everything a checkout decided before writing: the order, its event, the coupon used and the
/// stock levels read (for the low-stock alert).
struct Decided {
    order: Order,
    placed: Event,
    coupon: Option<Coupon>,
    levels: Vec<i64>,
    from_cart: bool,
    /// The reminder the ordered cart was e-mailed, when this checkout recovers it
    /// (`crate::cart_reminders::recovered_by`).
    recovers: Option<ReminderMark>,
}

/// The lines of an order priced from the table, the stock each SKU had, and each line's unit size
/// with its quantity (for the parcel).
type PricedLines = (Vec<OrderLine>, Vec<i64>, Vec<(Dimensions, u32)>);

impl App {
    /// Place an order (see the module docs), counted in the metrics: placed, or failed by reason.
    pub async fn place_order(
        &self,
        who: &Principal,
        input: CheckoutInput,
        key: &IdempotencyKey,
    ) -> AppResult<Placed> {
        let result = self.place_order_once(who, input, key).await;
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
        key: &IdempotencyKey,
    ) -> AppResult<Placed> {
        let fingerprint = fingerprint(&input);
        if let Some(placed) = self.replay(&who.sub, key, &fingerprint).await? {
            return Ok(placed);
        }
        let now = self.ports.clock.now();
        let decided = self.decide(who, &input, now).await?;
        let batch = self.checkout_batch(who, key, &fingerprint, &decided, now)?;
        match self.write(batch).await {
            Ok(()) => {
                let order = decided.order;
                tracing::info!(order.id = %order.id, order.total_centavos = order.total.centavos(), lines = order.lines.len(), "order placed");
                Ok(Placed {
                    order,
                    replayed: false,
                })
            }
            Err(failed) => {
                self.explain_failed_checkout(who, key, &fingerprint, &decided, failed)
                    .await
            }
        }
    }

    /// Price the lines, check stock, and let the domain place the order.
    async fn decide(
        &self,
        who: &Principal,
        input: &CheckoutInput,
        now: Timestamp,
    ) -> AppResult<Decided> {
        let from_cart = input.items.is_none();
        let payment_provider = self.provider_taking(input.payment_method)?;
        let (wanted, reminder) = self.wanted_lines(who, input).await?;
        let units = wanted.iter().map(|l| i64::from(l.quantity.get())).sum();
        self.check_unpaid_cap(&who.sub, units).await?;
        let (lines, levels, sizes) = self.price_lines(&wanted).await?;
        Self::check_levels(&lines, &levels)?;
        let profile = self.profile(&who.sub).await?;
        let tax_id = input
            .tax_id
            .clone()
            .or_else(|| profile.tax_id.clone())
            .ok_or_else(|| AppError::field("tax_id", "a CPF or CNPJ is needed for the invoice"))?;
        let address = self.destination(&who.sub, &input.destination).await?;
        let subtotal = lines
            .iter()
            .try_fold(Money::from_centavos(0), |acc, l| acc.checked_add(l.total()))
            .ok_or_else(|| AppError::Rule("the order total is too large".into()))?;
        let shipping = self
            .shipping_choice(&address, &sizes, subtotal, &input.shipping_method)
            .await?;
        let coupon = match &input.coupon {
            Some(code) => Some(self.coupon_for(&who.sub, code, subtotal, now).await?),
            None => None,
        };
        let (order, placed) = Order::place(NewOrder {
            id: self.ports.ids.new_id(),
            customer_id: who.sub.clone(),
            lines,
            buyer: buyer(&profile, tax_id),
            shipping_address: address,
            shipping,
            coupon: coupon.as_ref().map(|(c, d)| (c.code.clone(), *d)),
            payment_method: input.payment_method,
            payment_provider,
            now,
            pay_within_secs: match input.payment_method {
                PaymentMethod::Boleto => crate::payments::BOLETO_HOLD_SECS,
                _ => self.settings.pay_within_secs,
            },
            channels: vitrine_domain::order::Channels {
                language: profile.language.as_str().to_owned(),
                sms_opt_in: profile.sms_opt_in && profile.phone.is_some(),
            },
        })?;
        Ok(Decided {
            order,
            placed,
            coupon: coupon.map(|(c, _)| c),
            levels,
            from_cart,
            recovers: crate::cart_reminders::recovered_by(reminder, now),
        })
    }

    /// The name of the provider that takes `method` (`sandbox` for the demo providers), or a
    /// refusal naming the method when the store has it `off`.
    fn provider_taking(&self, method: PaymentMethod) -> AppResult<String> {
        self.payment_providers()
            .into_iter()
            .find(|(m, _, _)| *m == method)
            .map(|(_, name, sandbox)| if sandbox { "sandbox" } else { name }.to_owned())
            .ok_or_else(|| {
                AppError::field(
                    "payment_method",
                    format!("this store does not take {} payments", method.as_str()),
                )
            })
    }

    /// The lines asked for: the "buy now" list, or the customer's cart (with the last reminder
    /// e-mailed about it).
    async fn wanted_lines(
        &self,
        who: &Principal,
        input: &CheckoutInput,
    ) -> AppResult<(Vec<CartLine>, Option<ReminderMark>)> {
        let (wanted, reminder): (Vec<CartLine>, _) = match &input.items {
            Some(items) => (items.clone(), None),
            None => {
                let cart = self.cart(&CartOwner::Customer(who.sub.clone())).await?;
                (
                    cart.lines.into_iter().map(|l| l.line).collect(),
                    cart.reminder,
                )
            }
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
        Ok((wanted, reminder))
    }

    /// Price every line from the table as it is now (never from a cached copy: a price
    /// changed by another process applies at once); report every unknown or repeated SKU at
    /// once. Returns the lines and the units available of each SKU, read with it.
    async fn price_lines(&self, wanted: &[CartLine]) -> AppResult<PricedLines> {
        let table = &*self.ports.table;
        let mut lines = Vec::with_capacity(wanted.len());
        let mut sizes = Vec::with_capacity(wanted.len());
        let mut levels = Vec::with_capacity(wanted.len());
        let mut errors = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut products: HashMap<String, Option<Arc<Product>>> = HashMap::new();
        for (i, w) in wanted.iter().enumerate() {
            if !seen.insert(&w.sku) {
                errors.push(FieldError::new(
                    format!("items[{i}].sku"),
                    format!("SKU {} appears twice", w.sku),
                ));
                continue;
            }
            let mut found = None;
            if let Some((id, available)) = store::catalog::sku_item(table, w.sku.as_str()).await? {
                let product = match products.get(&id) {
                    Some(p) => p.clone(),
                    None => {
                        let p = self.table_product(ProductKey::Id(&id)).await?;
                        products.insert(id, p.clone());
                        p
                    }
                };
                found = product.filter(|p| p.active).map(|p| (p, available));
            }
            let Some((product, variant, available)) = found.and_then(|(p, available)| {
                let v = p.variant(&w.sku)?.clone();
                Some((p, v, available))
            }) else {
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
                quantity: w.quantity.get(),
                weight_g: variant.dimensions.weight_g,
                fiscal: variant.fiscal.clone(),
            });
            sizes.push((variant.dimensions, w.quantity.get()));
            levels.push(available);
        }
        if errors.is_empty() {
            Ok((lines, levels, sizes))
        } else {
            Err(AppError::Invalid(errors))
        }
    }

    /// Fail early (and cheaply) when stock is already short; the batch re-checks atomically.
    fn check_levels(lines: &[OrderLine], levels: &[i64]) -> AppResult<()> {
        for (line, &available) in lines.iter().zip(levels) {
            if available < i64::from(line.quantity) {
                return Err(AppError::OutOfStock {
                    sku: line.sku.to_string(),
                    available,
                });
            }
        }
        Ok(())
    }

    /// Where the goods go: a new address (validated) or one of the customer's saved ones.
    async fn destination(&self, sub: &str, destination: &Destination) -> AppResult<Address> {
        match destination {
            Destination::Address(a) => {
                a.validate("shipping_address")?;
                Ok(a.clone())
            }
            Destination::Saved(id) => match self.address(sub, id).await {
                Ok(saved) => {
                    // Saved before addresses were checked against IBGE and the CEP ranges, it
                    // may be one no invoice can carry: refused here too, or the order would be
                    // paid and never invoiced.
                    if let Err(DomainError::Invalid(errors)) = saved.address.validate("") {
                        return Err(AppError::Invalid(
                            errors
                                .into_iter()
                                .map(|e| FieldError {
                                    message: format!(
                                        "the saved address needs correcting: {}: {}",
                                        e.field, e.message
                                    ),
                                    field: "address_id".into(),
                                    ..e
                                })
                                .collect(),
                        ));
                    }
                    Ok(saved.address)
                }
                Err(AppError::NotFound(_)) => {
                    Err(AppError::field("address_id", "no such saved address"))
                }
                Err(e) => Err(e),
            },
        }
    }

    /// The chosen shipping option as quoted now (the Shipping port) for the parcel the lines
    /// make, to this address, at this subtotal.
    async fn shipping_choice(
        &self,
        address: &Address,
        sizes: &[(Dimensions, u32)],
        subtotal: Money,
        method: &str,
    ) -> AppResult<ShippingChoice> {
        let request = QuoteRequest {
            to: address.cep.clone(),
            parcel: crate::shipping::parcel_of(sizes),
            subtotal,
        };
        let quote = self
            .quote_shipping(&request)
            .await?
            .into_iter()
            .find(|q| q.method_id == method)
            .ok_or_else(|| {
                AppError::field(
                    "shipping_method",
                    "this shipping method does not serve this CEP or parcel",
                )
            })?;
        Ok(ShippingChoice {
            method_id: quote.method_id,
            name: quote.name,
            price: quote.price,
            days: quote.days,
        })
    }

    /// Refuse early (and cheaply) an order of `units` that would take `sub`'s unpaid orders
    /// past the cap; the batch re-checks atomically.
    async fn check_unpaid_cap(&self, sub: &str, units: i64) -> AppResult<()> {
        let held = store::unpaid::load(&*self.ports.table, sub)
            .await?
            .unwrap_or_default();
        match self
            .settings
            .unpaid_cap
            .refuses(held.orders, held.units, units)
        {
            Some(over) => Err(AppError::UnpaidLimit(over)),
            None => Ok(()),
        }
    }

    /// The coupon `code` and its discount on `subtotal` now, for customer `sub`.
    async fn coupon_for(
        &self,
        sub: &str,
        code: &str,
        subtotal: Money,
        now: Timestamp,
    ) -> AppResult<(Coupon, Money)> {
        let code = parse_code(code)?;
        let c = store::coupons::load(&*self.ports.table, &code)
            .await?
            .ok_or_else(|| AppError::field("coupon", "no such coupon"))?;
        let discount = c.discount_for(subtotal, now)?;
        if let Some(limit) = c.per_customer_limit
            && store::coupons::uses_by(&*self.ports.table, &c.code, sub).await? >= i64::from(limit)
        {
            return Err(per_customer_limit_reached(limit));
        }
        Ok((c, discount))
    }

    /// The one atomic batch of a checkout: the Idempotency-Key claimed, the order, every line's
    /// stock reserved, the customer's unpaid holds counted, the coupon used once, the cart emptied, `order.placed`, and `stock.low`
    /// for the SKUs this sale takes to the threshold.
    fn checkout_batch(
        &self,
        who: &Principal,
        key: &IdempotencyKey,
        fingerprint: &str,
        d: &Decided,
        now: Timestamp,
    ) -> AppResult<Batch> {
        let order = &d.order;
        let mut batch = Batch::with_capacity(order.lines.len() + 6);
        batch.claim_idempotency_key(
            &who.sub,
            key.as_str(),
            fingerprint,
            &order.id,
            now.secs() + IDEMPOTENCY_TTL_SECS,
        );
        batch.put_new_order(order)?;
        for line in &order.lines {
            batch.reserve_stock(line.sku.as_str(), i64::from(line.quantity));
        }
        batch.hold_unpaid(
            &who.sub,
            store::unpaid::units_of(order),
            self.settings.unpaid_cap,
        );
        if let Some(c) = &d.coupon {
            batch.use_coupon_once(c, &who.sub);
        }
        if d.from_cart {
            batch.clear_customer_cart(&who.sub);
            if let Some(reminder) = &d.recovers {
                batch.record_cart_recovery(&who.sub, reminder, &order.id, now.millis());
            }
        }
        batch.append_event(&self.ports.ids.new_id(), &d.placed, now.millis())?;
        let threshold = self.settings.low_stock_threshold;
        // Decided on the levels read before the batch: under a race the alert may fire one
        // checkout early or late, which is fine for an alert.
        let low: Vec<(&Sku, i64)> = order
            .lines
            .iter()
            .zip(&d.levels)
            .map(|(line, level)| (&line.sku, *level, level - i64::from(line.quantity)))
            .filter(|(_, before, after)| *after <= threshold && *before > threshold)
            .map(|(sku, _, after)| (sku, after))
            .collect();
        if !low.is_empty() {
            self.stock_low_event(&mut batch, &low)?;
        }
        Ok(batch)
    }

    /// Why a checkout batch was refused, in the buyer's terms — or, when another request with
    /// the same key got there first, the order it placed.
    async fn explain_failed_checkout(
        &self,
        who: &Principal,
        key: &IdempotencyKey,
        fingerprint: &str,
        d: &Decided,
        failed: WriteFailed,
    ) -> AppResult<Placed> {
        match failed.part() {
            Some(Part::Idempotency) => {
                self.replay(&who.sub, key, fingerprint)
                    .await?
                    .ok_or_else(|| {
                        AppError::Conflict(
                            "a request with this Idempotency-Key is still being processed".into(),
                        )
                    })
            }
            Some(Part::Stock(sku)) => {
                let sku = Sku::parse(sku).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
                let available = self.available(&sku).await?.unwrap_or(0);
                Err(AppError::OutOfStock {
                    sku: sku.to_string(),
                    available,
                })
            }
            Some(Part::Coupon) => Err(AppError::field("coupon", "this coupon has been used up")),
            Some(Part::CouponUse) => Err(per_customer_limit_reached(
                d.coupon
                    .as_ref()
                    .and_then(|c| c.per_customer_limit)
                    .unwrap_or(1),
            )),
            Some(Part::UnpaidHolds) => {
                // Another checkout of this customer took the room: say how things stand now.
                let held = store::unpaid::load(&*self.ports.table, &who.sub)
                    .await?
                    .unwrap_or_default();
                let units = store::unpaid::units_of(&d.order);
                match self
                    .settings
                    .unpaid_cap
                    .refuses(held.orders, held.units, units)
                {
                    Some(over) => Err(AppError::UnpaidLimit(over)),
                    None => Err(AppError::Conflict(
                        "your orders awaiting payment changed meanwhile; try again".into(),
                    )),
                }
            }
            Some(Part::Order) => Err(AppError::Internal(anyhow::anyhow!("order id collision"))),
            _ => Err(failed.into()),
        }
    }

    /// The order an earlier request with this key placed, or 422 when the body differs.
    async fn replay(
        &self,
        sub: &str,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> AppResult<Option<Placed>> {
        let Some(record) =
            store::orders::idempotency_record(&*self.ports.table, sub, key.as_str()).await?
        else {
            return Ok(None);
        };
        if record.fingerprint != fingerprint {
            return Err(AppError::IdempotencyMismatch);
        }
        let order = self.load_order(&record.order_id).await?;
        Ok(Some(Placed {
            order,
            replayed: true,
        }))
    }
}

/// A customer's uses of a coupon are at its per-customer `limit`.
fn per_customer_limit_reached(limit: u32) -> AppError {
    AppError::Invalid(vec![
        FieldError::new(
            "coupon",
            format!("you have used this coupon as many times as it allows ({limit})"),
        )
        .with_code("coupon-per-customer-limit")
        .with_param("limit", limit),
    ])
}

/// The buyer as the NF-e names them.
fn buyer(profile: &Profile, tax_id: TaxId) -> Buyer {
    Buyer {
        name: profile.name.clone(),
        email: profile.email.clone(),
        tax_id,
        phone: profile.phone.as_ref().map(|p| p.as_str().to_owned()),
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
