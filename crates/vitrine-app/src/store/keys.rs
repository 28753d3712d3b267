//! Every item key and index partition of the application's aggregates, spelled once (the table
//! of them is in the [`store`](super) module docs). Only `store/` uses these.

use crate::ports::Key;

pub const DATA: &str = "data";
pub const VERSION: &str = "version";
pub const AVAILABLE: &str = "available";

pub fn product(id: &str) -> Key {
    Key::new(format!("PRODUCT#{id}"), "PRODUCT")
}
pub const PRODUCTS: &str = "PRODUCTS";
pub fn slug(slug: &str) -> Key {
    Key::new(format!("SLUG#{slug}"), "SLUG")
}
pub fn sku(sku: &str) -> Key {
    Key::new(format!("SKU#{sku}"), "SKU")
}
pub const STOCK: &str = "STOCK";
pub fn category(id: &str) -> Key {
    Key::new(format!("CATEGORY#{id}"), "CATEGORY")
}
pub const CATEGORIES: &str = "CATEGORIES";
pub fn category_slug(slug: &str) -> Key {
    Key::new(format!("CATSLUG#{slug}"), "CATSLUG")
}
pub fn profile(sub: &str) -> Key {
    Key::new(format!("CUSTOMER#{sub}"), "PROFILE")
}
pub fn address(sub: &str, id: &str) -> Key {
    Key::new(format!("CUSTOMER#{sub}"), format!("{ADDRESS_PREFIX}{id}"))
}
/// What a customer's unpaid orders hold: how many, and how many units.
pub fn unpaid_holds(sub: &str) -> Key {
    Key::new(format!("CUSTOMER#{sub}"), "UNPAID")
}
pub fn customer_partition(sub: &str) -> String {
    format!("CUSTOMER#{sub}")
}
pub fn customer_cart(sub: &str) -> Key {
    Key::new(format!("CART#C#{sub}"), "CART")
}
pub fn anonymous_cart(token: &str) -> Key {
    Key::new(format!("CART#A#{token}"), "CART")
}
/// The customer whose cart `key` is, when it is a customer's cart.
pub fn customer_cart_owner(key: &Key) -> Option<&str> {
    if key.sk == "CART" {
        key.pk.strip_prefix("CART#C#")
    } else {
        None
    }
}
/// The index partition (gsi1) of customer carts awaiting their reminder, by last touch.
pub const CARTS_TOUCHED: &str = "CARTS#TOUCHED";
/// The index partition (gsi1) of the cart reminders sent, by when.
pub const CART_REMINDERS: &str = "CARTREMINDERS";
/// The index partition (gsi1) of the reminded carts that were checked out, by their reminder.
pub const CART_RECOVERIES: &str = "CARTREMINDERS#RECOVERED";
/// That the cart reminded by `reminder_id` was checked out, in its customer's partition.
pub fn cart_recovery(sub: &str, reminder_id: &str) -> Key {
    Key::new(
        customer_partition(sub),
        format!("{RECOVERY_PREFIX}{reminder_id}"),
    )
}
/// The sort-key prefix of a customer's recovered carts.
pub const RECOVERY_PREFIX: &str = "RECOVERED#";
/// The key the store signs its e-mail links with (`crate::links`).
pub fn link_key() -> Key {
    Key::new("LINKKEY", "LINKKEY")
}
pub fn order(id: &str) -> Key {
    Key::new(format!("ORDER#{id}"), "ORDER")
}
pub fn customer_orders(sub: &str) -> String {
    format!("CUSTOMER#{sub}#ORDERS")
}
pub fn orders_in_status(status: &str) -> String {
    format!("STATUS#{status}")
}
pub fn idempotency(sub: &str, key: &str) -> Key {
    Key::new(format!("IDEMPOTENCY#{sub}#{key}"), "IDEMPOTENCY")
}
pub fn coupon(code: &str) -> Key {
    Key::new(format!("COUPON#{code}"), "COUPON")
}
pub const COUPONS: &str = "COUPONS";
/// How many times one customer has used a coupon, beside the coupon.
pub fn coupon_use(code: &str, sub: &str) -> Key {
    Key::new(format!("COUPON#{code}"), format!("USE#{sub}"))
}
pub fn event(id: &str) -> Key {
    Key::new(format!("EVENT#{id}"), "EVENT")
}
pub const OUTBOX: &str = "OUTBOX";
/// The delivery of one event to one subscriber (the local dispatcher's queues).
pub fn delivery(subscriber: &str, event_id: &str) -> Key {
    Key::new(delivery_partition(subscriber), event_id)
}
pub fn delivery_partition(subscriber: &str) -> String {
    format!("DELIVERY#{subscriber}")
}
/// The index partition (gsi2) of one customer's deliveries to `subscriber`: where a customer's
/// realtime resume reads, without reading anyone else's.
pub fn customer_deliveries(subscriber: &str, sub: &str) -> String {
    format!("DELIVERY#{subscriber}#CUSTOMER#{sub}")
}
/// The index partition of a subscriber's pending deliveries.
pub fn queue(subscriber: &str) -> String {
    format!("QUEUE#{subscriber}")
}
/// The index partition of a subscriber's dead letters.
pub fn dead_letters(subscriber: &str) -> String {
    format!("DEAD#{subscriber}")
}
/// The sort-key prefix of the WebSocket connection items of an audience partition.
pub const WS_CONNECTION_PREFIX: &str = "CONN#";
/// The audience partition of every admin's WebSocket connections.
pub const WS_ADMINS: &str = "WS#ADMIN";
/// The audience partition of one customer's WebSocket connections.
pub fn ws_customer_partition(sub: &str) -> String {
    format!("WS#CUSTOMER#{sub}")
}
/// A customer's WebSocket connection in their audience partition.
pub fn ws_customer_connection(sub: &str, connection_id: &str) -> Key {
    Key::new(
        ws_customer_partition(sub),
        format!("{WS_CONNECTION_PREFIX}{connection_id}"),
    )
}
/// An admin's WebSocket connection in the admins' audience partition.
pub fn ws_admin_connection(connection_id: &str) -> Key {
    Key::new(WS_ADMINS, format!("{WS_CONNECTION_PREFIX}{connection_id}"))
}
/// A WebSocket connection by its id: whose it is (for `$disconnect` and resume).
pub fn ws_connection(connection_id: &str) -> Key {
    Key::new(format!("WSCONN#{connection_id}"), "WSCONN")
}
/// A payment, beside its order.
pub fn payment(order_id: &str) -> Key {
    Key::new(format!("ORDER#{order_id}"), "PAYMENT")
}
/// The order a Pix txid belongs to.
pub fn pix_txid(txid: &str) -> Key {
    Key::new(format!("PIXTXID#{txid}"), "PIXTXID")
}
/// A provider's webhook notice, kept to refuse replays.
pub fn notice(provider: &str, id: &str) -> Key {
    Key::new(format!("NOTICE#{provider}#{id}"), "NOTICE")
}
/// A return of an order, beside its order: its entry in the admin's list of returns.
pub fn order_return(order_id: &str, return_id: &str) -> Key {
    Key::new(format!("ORDER#{order_id}"), format!("RETURN#{return_id}"))
}
/// The index partition (gsi1) of every return, open ones first.
pub const RETURNS: &str = "RETURNS";
/// An order's invoice, beside its order.
pub fn invoice(order_id: &str) -> Key {
    Key::new(format!("ORDER#{order_id}"), "INVOICE")
}
/// The last NF-e number taken in one environment and series.
pub fn nfe_counter(environment_code: u8, series: u16) -> Key {
    Key::new(
        format!("NFECOUNTER#{environment_code}#{series}"),
        "NFECOUNTER",
    )
}
/// The shop's look (name, colours, logo, contact: `vitrine_domain::shop`).
pub fn shop_look() -> Key {
    Key::new("SHOP", "LOOK")
}
/// Which authoriser the store's NF-e go to (normal, or the state's contingency service).
pub fn fiscal_mode() -> Key {
    Key::new("FISCALMODE", "FISCALMODE")
}
/// One window of a send budget (`store::budgets`): `subject` is already a digest.
pub fn budget_window(kind: &str, subject: &str, window_secs: i64, index: i64) -> Key {
    Key::new(
        format!("BUDGET#{kind}#{subject}"),
        format!("W#{window_secs}#{index}"),
    )
}
/// Whether `key` is an event's (outbox) item, and its event id.
pub fn event_id(key: &Key) -> Option<&str> {
    event_id_of(&key.pk, &key.sk)
}
/// [`event_id`] of the item keyed `pk`/`sk` (a stream record's keys).
pub fn event_id_of<'a>(pk: &'a str, sk: &str) -> Option<&'a str> {
    if sk == "EVENT" {
        pk.strip_prefix("EVENT#")
    } else {
        None
    }
}
/// The sort-key prefix of a customer's saved addresses.
pub const ADDRESS_PREFIX: &str = "ADDRESS#";
/// An order's shipping label bought from the carrier, beside its order (`store::labels`).
pub fn label(order_id: &str) -> Key {
    Key::new(format!("ORDER#{order_id}"), "LABEL")
}
/// The index partition (gsi1) of the labels not yet delivered (nor failed), by when each was
/// last asked about.
pub const LABELS_OPEN: &str = "LABELS#OPEN";
