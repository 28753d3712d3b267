//! Cart use cases. A cart belongs to a signed-in customer or to an anonymous cart token; an
//! anonymous cart is merged into the customer's at sign-in and then deleted, so its token stops
//! working. Writes are conditioned on the cart's version and retried, so two tabs adding at once
//! both count.

use std::sync::Arc;

use vitrine_domain::Money;
use vitrine_domain::cart::{Cart, CartLine, Quantity};
use vitrine_domain::catalog::{Product, Sku};

use crate::app::App;
use crate::catalog::ProductKey;
use crate::error::{AppError, AppResult};
use crate::store::{self, Batch, WriteFailed};

use crate::store::carts::StoredCart;
pub use crate::store::carts::{CartOwner, ReminderMark};

/// A cart line priced from the current catalog.
#[derive(Debug, Clone)]
pub struct PricedLine {
    pub line: CartLine,
    pub product: Option<Arc<Product>>,
    pub unit_price: Option<Money>,
}

#[derive(Debug, Clone)]
pub struct CartView {
    /// The anonymous cart token, to send back in `X-Cart-Token`.
    pub token: Option<String>,
    pub lines: Vec<PricedLine>,
    pub subtotal: Money,
    pub weight_g: u64,
    /// The box its goods travel in ([`crate::shipping::parcel_of`]): what a carrier quotes.
    pub parcel: crate::ports::Parcel,
    /// The last reminder e-mailed about this cart (`crate::cart_reminders`), if any.
    pub reminder: Option<ReminderMark>,
}

/// Anonymous cart tokens: ULIDs (80 random bits), checked for shape before any lookup.
pub fn check_cart_token(token: &str) -> AppResult<()> {
    if token.len() == 26 && token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(AppError::NotFound("cart"))
    }
}

impl App {
    async fn load_cart(&self, owner: &CartOwner) -> AppResult<Option<StoredCart>> {
        store::carts::load(&*self.ports.table, owner).await
    }

    /// Save `owner`'s cart, touched now, into `batch` over the version read; an anonymous cart
    /// expires after the configured days without change.
    fn save_cart(
        &self,
        batch: &mut Batch,
        owner: &CartOwner,
        cart: &Cart,
        version: Option<i64>,
    ) -> AppResult<()> {
        let now = self.ports.clock.now();
        let expires_at = matches!(owner, CartOwner::Anonymous(_))
            .then(|| now.secs() + self.settings.anonymous_cart_days * 86_400);
        batch.save_cart(owner, cart, version, expires_at, now)
    }

    /// The caller's cart, priced. An unknown anonymous token is a 404.
    pub async fn cart(&self, owner: &CartOwner) -> AppResult<CartView> {
        if let CartOwner::Anonymous(t) = owner {
            check_cart_token(t)?;
        }
        let (cart, reminder) = match self.load_cart(owner).await? {
            Some(s) => (s.cart, s.reminder),
            None if matches!(owner, CartOwner::Anonymous(_)) => {
                return Err(AppError::NotFound("cart"));
            }
            None => (Cart::default(), None),
        };
        self.price_cart(owner, cart, reminder).await
    }

    /// `cart` priced from the catalog as it is now: each line with its product and unit price
    /// (none for a SKU no longer sold), the subtotal, weight and parcel.
    pub(crate) async fn price_cart(
        &self,
        owner: &CartOwner,
        cart: Cart,
        reminder: Option<ReminderMark>,
    ) -> AppResult<CartView> {
        let mut products = Vec::with_capacity(cart.lines.len());
        for line in &cart.lines {
            products.push(
                self.cached_product(ProductKey::Sku(&line.sku))
                    .await?
                    .filter(|p| p.active),
            );
        }
        let mut subtotal = Money::from_centavos(0);
        let mut weight_g = 0u64;
        let mut sizes = Vec::new();
        let lines = cart
            .lines
            .into_iter()
            .zip(products)
            .map(|(line, product)| {
                let variant = product.as_ref().and_then(|p| p.variant(&line.sku));
                let unit_price = variant.map(|v| v.price);
                if let Some(v) = variant {
                    subtotal = subtotal
                        .checked_add(v.price.checked_mul(line.quantity.get()).unwrap_or(subtotal))
                        .unwrap_or(subtotal);
                    weight_g += u64::from(v.dimensions.weight_g) * u64::from(line.quantity.get());
                    sizes.push((v.dimensions, line.quantity.get()));
                }
                PricedLine {
                    line,
                    product,
                    unit_price,
                }
            })
            .collect();
        let token = match owner {
            CartOwner::Anonymous(t) => Some(t.clone()),
            CartOwner::Customer(_) => None,
        };
        Ok(CartView {
            token,
            lines,
            subtotal,
            weight_g,
            parcel: crate::shipping::parcel_of(&sizes),
            reminder,
        })
    }

    /// Change a cart with `change`, retrying on concurrent edits. `None` owner = a new
    /// anonymous cart.
    async fn edit_cart(
        &self,
        owner: Option<CartOwner>,
        change: impl Fn(&mut Cart) -> AppResult<()>,
    ) -> AppResult<CartView> {
        let new_cart = owner.is_none();
        let owner = match owner {
            Some(CartOwner::Anonymous(t)) => {
                check_cart_token(&t)?;
                CartOwner::Anonymous(t)
            }
            Some(o) => o,
            None => CartOwner::Anonymous(self.ports.ids.new_id()),
        };
        for _ in 0..10 {
            let (mut cart, version, reminder) = match self.load_cart(&owner).await? {
                Some(s) => (s.cart, Some(s.version), s.reminder),
                // Only the server mints anonymous carts: a token it never issued (or one merged
                // or expired) opens nothing.
                None if matches!(owner, CartOwner::Anonymous(_)) && !new_cart => {
                    return Err(AppError::NotFound("cart"));
                }
                None => (Cart::default(), None, None),
            };
            change(&mut cart)?;
            let mut batch = Batch::new();
            self.save_cart(&mut batch, &owner, &cart, version)?;
            match self.write(batch).await {
                Ok(()) => return self.price_cart(&owner, cart, reminder).await,
                Err(WriteFailed::Condition { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "the cart is changing too fast; try again".into(),
        ))
    }

    /// Add units of a SKU, refusing unknown SKUs and more than the stock holds.
    pub async fn add_to_cart(
        &self,
        owner: Option<CartOwner>,
        sku: Sku,
        quantity: Quantity,
    ) -> AppResult<CartView> {
        self.check_sellable(&sku).await?;
        let available = self.available(&sku).await?.unwrap_or(0);
        self.edit_cart(owner, move |cart| {
            let already = cart
                .lines
                .iter()
                .find(|l| l.sku == sku)
                .map_or(0, |l| l.quantity.get());
            if i64::from(already + quantity.get()) > available {
                return Err(AppError::OutOfStock {
                    sku: sku.to_string(),
                    available,
                });
            }
            cart.add(sku.clone(), quantity).map_err(Into::into)
        })
        .await
    }

    /// Set a line's quantity (`None`, a requested 0, removes it).
    pub async fn set_cart_quantity(
        &self,
        owner: CartOwner,
        sku: Sku,
        quantity: Option<Quantity>,
    ) -> AppResult<CartView> {
        if let Some(quantity) = quantity {
            self.check_sellable(&sku).await?;
            let available = self.available(&sku).await?.unwrap_or(0);
            if i64::from(quantity.get()) > available {
                return Err(AppError::OutOfStock {
                    sku: sku.to_string(),
                    available,
                });
            }
        }
        self.edit_cart(Some(owner), move |cart| {
            cart.set(&sku, quantity).map_err(Into::into)
        })
        .await
    }

    pub async fn remove_from_cart(&self, owner: CartOwner, sku: Sku) -> AppResult<CartView> {
        self.edit_cart(Some(owner), move |cart| {
            if cart.remove(&sku) {
                Ok(())
            } else {
                Err(AppError::NotFound("cart item"))
            }
        })
        .await
    }

    /// Merge an anonymous cart into the customer's and delete it. Merging a token that does not
    /// exist (already merged, expired) leaves the customer's cart as it is.
    pub async fn merge_cart(&self, sub: &str, token: &str) -> AppResult<CartView> {
        check_cart_token(token)?;
        let anon = CartOwner::Anonymous(token.to_owned());
        let mine = CartOwner::Customer(sub.to_owned());
        for _ in 0..10 {
            let Some(other) = self.load_cart(&anon).await? else {
                return self.cart(&mine).await;
            };
            let (mut cart, version, reminder) = match self.load_cart(&mine).await? {
                Some(s) => (s.cart, Some(s.version), s.reminder),
                None => (Cart::default(), None, None),
            };
            cart.merge(other.cart);
            let other_version = other.version;
            let mut batch = Batch::new();
            self.save_cart(&mut batch, &mine, &cart, version)?;
            batch.delete_cart(&anon, other_version);
            match self.write(batch).await {
                Ok(()) => return self.price_cart(&mine, cart, reminder).await,
                Err(WriteFailed::Condition { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "the cart is changing too fast; try again".into(),
        ))
    }

    async fn check_sellable(&self, sku: &Sku) -> AppResult<()> {
        match self.cached_product(ProductKey::Sku(sku)).await? {
            Some(p) if p.active => Ok(()),
            _ => Err(AppError::field(
                "sku",
                format!("there is no product with SKU {sku}"),
            )),
        }
    }
}
