//! WebSocket connections of the AWS shape: which API Gateway connections are open, and whose
//! they are. Who may connect and who hears what is decided in `crate::notify::connections`;
//! this is how they are stored.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | the connection, in its audience | `WS#CUSTOMER#{sub}` (a customer) or `WS#ADMIN` (an admin) | `CONN#{id}` |
//! | the connection, by id | `WSCONN#{id}` | `WSCONN` |
//!
//! Both items of a connection are written and removed together, in one batch. Each carries
//! `connection_id`, `sub`, `admin`, `connected_at` (ms) and `ttl` (s).

use crate::error::AppResult;
use crate::ports::table::{TTL, is_expired};
use crate::ports::{Index, Item, Key, Query, SortKey, Table, WriteOp};

use super::{
    Batch, Part, WS_ADMINS, WS_CONNECTION_PREFIX, WriteFailed, ws_admin_connection, ws_connection,
    ws_customer_connection, ws_customer_partition,
};

const CONNECTION_ID: &str = "connection_id";
const SUB: &str = "sub";
const ADMIN: &str = "admin";
const CONNECTED_AT: &str = "connected_at";

/// One registered connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// API Gateway's connection id.
    pub id: String,
    /// The principal's `sub`.
    pub sub: String,
    /// Whether the principal is an admin (gets every order's messages).
    pub admin: bool,
    /// When it was registered (ms since the epoch).
    pub connected_at_ms: i64,
    /// When its items expire (s since the epoch).
    pub expires_at: i64,
}

impl Connection {
    /// The connection's item in its audience partition.
    fn audience_key(&self) -> Key {
        if self.admin {
            ws_admin_connection(&self.id)
        } else {
            ws_customer_connection(&self.sub, &self.id)
        }
    }

    fn item(&self, key: Key) -> Item {
        Item::new(key)
            .with(CONNECTION_ID, self.id.clone())
            .with(SUB, self.sub.clone())
            .with(ADMIN, self.admin)
            .with(CONNECTED_AT, self.connected_at_ms)
            .with(TTL, self.expires_at)
    }

    fn from_item(item: &Item) -> Option<Self> {
        Some(Self {
            id: item.str(CONNECTION_ID)?.to_owned(),
            sub: item.str(SUB)?.to_owned(),
            admin: item.get(ADMIN)?.as_bool()?,
            connected_at_ms: item.num(CONNECTED_AT).unwrap_or_default(),
            expires_at: item.num(TTL).unwrap_or_default(),
        })
    }
}

/// The connections in a customer's audience partition.
pub fn of_customer(sub: &str) -> Query {
    Query::new(Index::Primary, ws_customer_partition(sub))
        .sk(SortKey::BeginsWith(WS_CONNECTION_PREFIX.to_owned()))
}

/// The connections in the admins' audience partition.
pub fn of_admins() -> Query {
    Query::new(Index::Primary, WS_ADMINS).sk(SortKey::BeginsWith(WS_CONNECTION_PREFIX.to_owned()))
}

/// The connection an item of [`of_customer`] or [`of_admins`] holds, unless it is expired at
/// `now_secs` or malformed.
pub fn live(item: &Item, now_secs: i64) -> Option<Connection> {
    if is_expired(item, now_secs) {
        return None;
    }
    Connection::from_item(item)
}

/// What is registered under a connection id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// A connection, and whether it had expired at the time asked about.
    Found {
        connection: Connection,
        expired: bool,
    },
    /// An item that does not hold a connection: only its key is known.
    Malformed,
}

/// What is registered as `connection_id`, expired or not (`None`: nothing).
pub async fn registration(
    table: &dyn Table,
    connection_id: &str,
    now_secs: i64,
) -> AppResult<Option<Registration>> {
    let Some(item) = table.get(&ws_connection(connection_id)).await? else {
        return Ok(None);
    };
    Ok(Some(match Connection::from_item(&item) {
        Some(connection) => Registration::Found {
            connection,
            expired: is_expired(&item, now_secs),
        },
        None => Registration::Malformed,
    }))
}

/// Write `batch` on `table` (the registry has a table, not an `App`).
pub async fn write(table: &dyn Table, batch: Batch) -> Result<(), WriteFailed> {
    let (ops, parts) = batch.into_parts();
    table
        .write(ops)
        .await
        .map_err(|e| Batch::explain(&parts, e))
}

impl Batch {
    /// Register `c`: its item by id and its item in its audience, whatever was there.
    pub fn register_connection(&mut self, c: &Connection) {
        self.put(Part::Connection, c.item(ws_connection(&c.id)));
        self.put(Part::Connection, c.item(c.audience_key()));
    }

    /// Remove both items of `c`, if they are there.
    pub fn forget_connection(&mut self, c: &Connection) {
        self.forget_connection_id(&c.id);
        self.push(
            Part::Connection,
            WriteOp::Delete {
                key: c.audience_key(),
                condition: None,
            },
        );
    }

    /// Remove the item registered by id as `connection_id`, if it is there.
    pub fn forget_connection_id(&mut self, connection_id: &str) {
        self.push(
            Part::Connection,
            WriteOp::Delete {
                key: ws_connection(connection_id),
                condition: None,
            },
        );
    }
}
