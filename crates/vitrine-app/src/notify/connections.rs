//! The registry of WebSocket connections of the AWS shape, on the Table port: which API Gateway
//! WebSocket connections are open, and whose they are (a customer's `sub`, or an admin).
//!
//! Locally the hub keeps its sockets in memory (`vitrine_http::realtime::Hub`); on AWS the
//! connections are held by API Gateway and every Lambda invocation is a new process, so who is
//! connected lives in the table. The `ws` function registers a connection at `$connect` (after
//! verifying its access token) and removes it at `$disconnect`; the realtime pusher
//! (`vitrine_aws::ws_push::ApiGatewayPush`) reads the audience of each message from here.
//!
//! Each connection is two items, one by id and one in its audience's partition, written and
//! removed together in one batch by [`crate::store::connections`] (their keys are listed there).
//!
//! Invariants:
//! - **One read per lookup**: a message's audience is one query of the owner's partition and one
//!   of the admins' ([`Connections::audience`]); a connection's principal is one get
//!   ([`Connections::find`]).
//! - An admin's connection is in the admins' partition only: admins get every message, so it
//!   must not be found a second time as a customer's.
//! - **Nothing outlives its connection**: API Gateway closes a WebSocket connection after at
//!   most 2 hours, so every item expires then ([`CONNECTION_TTL_SECS`], the table's `ttl`), even
//!   when `$disconnect` never comes. Expired items are skipped on read, by the table and again
//!   here (the app's clock), before the table's sweeper removes them.
//! - Connection ids are API Gateway's (base64-like text); an id that could break a key (empty,
//!   over 128 bytes, with `#`, whitespace or control characters) is refused.

use std::sync::Arc;

use crate::app::App;
use crate::auth::{Principal, StaffArea};
use crate::error::{AppError, AppResult};
use crate::ports::{Clock, Query, Table};
pub use crate::store::connections::Connection;
use crate::store::connections::Registration;
use crate::store::{self, Batch, Pager};

/// How long a connection is registered: the longest an API Gateway WebSocket connection lives.
pub const CONNECTION_TTL_SECS: i64 = 2 * 3600;

/// Items read per page of an audience query.
const PAGE: usize = 100;

/// The WebSocket connections, on the Table port. Cheap to clone.
#[derive(Clone)]
pub struct Connections {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connections")
    }
}

impl Connections {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Self {
        Self { table, clock }
    }

    /// The registry on the application's table and clock.
    pub fn of(app: &App) -> Self {
        Self::new(Arc::clone(&app.ports.table), Arc::clone(&app.ports.clock))
    }

    /// Register `connection_id` for `principal` (verified by the caller), until it is removed
    /// or [`CONNECTION_TTL_SECS`] pass. Registering the same id again replaces it.
    pub async fn register(
        &self,
        connection_id: &str,
        principal: &Principal,
    ) -> AppResult<Connection> {
        check_id(connection_id)?;
        let now = self.clock.now();
        let connection = Connection {
            id: connection_id.to_owned(),
            sub: principal.sub.clone(),
            admin: principal.may(StaffArea::Orders),
            connected_at_ms: now.millis(),
            expires_at: now.secs() + CONNECTION_TTL_SECS,
        };
        let mut batch = Batch::new();
        batch.register_connection(&connection);
        store::connections::write(&*self.table, batch).await?;
        Ok(connection)
    }

    /// The connection registered as `connection_id`, unless it is unknown or expired.
    pub async fn find(&self, connection_id: &str) -> AppResult<Option<Connection>> {
        check_id(connection_id)?;
        let found =
            store::connections::registration(&*self.table, connection_id, self.clock.now().secs())
                .await?;
        Ok(match found {
            Some(Registration::Found {
                connection,
                expired: false,
            }) => Some(connection),
            _ => None,
        })
    }

    /// The live connections a message about an order of `customer_id` goes to: the customer's
    /// own and every admin's (admins only for `None`), each once.
    pub async fn audience(&self, customer_id: Option<&str>) -> AppResult<Vec<Connection>> {
        let mut out = Vec::new();
        if let Some(sub) = customer_id {
            out.extend(
                self.partition(store::connections::of_customer(sub))
                    .await?
                    .into_iter()
                    .filter(|c| !c.admin),
            );
        }
        out.extend(
            self.partition(store::connections::of_admins())
                .await?
                .into_iter()
                .filter(|c| c.admin),
        );
        Ok(out)
    }

    /// Remove the connection `connection_id` (its `$disconnect`). Returns whether it was
    /// registered; removing an unknown or expired connection does nothing.
    pub async fn remove(&self, connection_id: &str) -> AppResult<bool> {
        check_id(connection_id)?;
        // Read even if expired: its audience item must go too.
        let found =
            store::connections::registration(&*self.table, connection_id, self.clock.now().secs())
                .await?;
        match found {
            None => Ok(false),
            Some(Registration::Found { connection, .. }) => {
                self.forget(&connection).await?;
                Ok(true)
            }
            Some(Registration::Malformed) => {
                let mut batch = Batch::new();
                batch.forget_connection_id(connection_id);
                store::connections::write(&*self.table, batch).await?;
                Ok(false)
            }
        }
    }

    /// Remove a connection found by [`Connections::audience`] or [`Connections::find`] (e.g.
    /// one API Gateway answered `410 Gone` for), without reading it again.
    pub async fn forget(&self, connection: &Connection) -> AppResult<()> {
        let mut batch = Batch::new();
        batch.forget_connection(connection);
        store::connections::write(&*self.table, batch).await?;
        Ok(())
    }

    /// Every live connection of one audience partition (at the app's clock: expired or
    /// malformed items are skipped).
    async fn partition(&self, query: Query) -> AppResult<Vec<Connection>> {
        let mut out = Vec::new();
        let mut pages = Pager::new(&*self.table, query.limit(PAGE));
        while let Some(items) = pages.next_page().await? {
            out.extend(
                items
                    .iter()
                    .filter_map(|item| store::connections::live(item, self.clock.now().secs())),
            );
        }
        Ok(out)
    }
}

/// API Gateway's ids are short base64-like text; anything that could break a key is refused.
fn check_id(connection_id: &str) -> AppResult<()> {
    let ok = (1..=128).contains(&connection_id.len())
        && connection_id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'#');
    if ok {
        Ok(())
    } else {
        Err(AppError::field(
            "connection_id",
            "must be 1 to 128 visible ASCII characters without #",
        ))
    }
}

#[cfg(test)]
mod tests {
    use vitrine_domain::Timestamp;

    use super::*;
    use crate::notify::testing::MemTable;
    use crate::ports::ManualClock;
    use crate::ports::table::TTL;

    const T0: i64 = 1_750_000_000;

    fn principal(sub: &str, admin: bool) -> Principal {
        Principal {
            sub: sub.into(),
            groups: if admin {
                vec!["customer".into(), "admin".into()]
            } else {
                vec!["customer".into()]
            },
            username: None,
            email: None,
            session: None,
            issued_at: 0,
        }
    }

    fn registry() -> (Connections, Arc<MemTable>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(Timestamp::from_secs(T0)));
        let table = Arc::new(MemTable::with_clock(clock.clone()));
        (Connections::new(table.clone(), clock.clone()), table, clock)
    }

    fn ids(connections: &[Connection]) -> Vec<&str> {
        let mut ids: Vec<&str> = connections.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids
    }

    #[tokio::test]
    async fn the_audience_is_the_owners_connections_and_every_admins() {
        let (connections, _, _) = registry();
        connections
            .register("ana-1=", &principal("ana", false))
            .await
            .unwrap();
        connections
            .register("ana-2=", &principal("ana", false))
            .await
            .unwrap();
        connections
            .register("bia-1=", &principal("bia", false))
            .await
            .unwrap();
        connections
            .register("root-1=", &principal("root", true))
            .await
            .unwrap();

        let for_ana = connections.audience(Some("ana")).await.unwrap();
        assert_eq!(ids(&for_ana), ["ana-1=", "ana-2=", "root-1="]);
        let admins_only = connections.audience(None).await.unwrap();
        assert_eq!(ids(&admins_only), ["root-1="]);
        let for_nobody_connected = connections.audience(Some("carla")).await.unwrap();
        assert_eq!(ids(&for_nobody_connected), ["root-1="]);
    }

    #[tokio::test]
    async fn an_admin_gets_a_message_about_their_own_order_once() {
        let (connections, _, _) = registry();
        connections
            .register("root-1=", &principal("root", true))
            .await
            .unwrap();
        let audience = connections.audience(Some("root")).await.unwrap();
        assert_eq!(ids(&audience), ["root-1="]);
    }

    #[tokio::test]
    async fn a_connection_is_found_by_its_id_with_its_principal_and_ttl() {
        let (connections, table, _) = registry();
        connections
            .register("ana-1=", &principal("ana", false))
            .await
            .unwrap();
        let found = connections.find("ana-1=").await.unwrap().unwrap();
        assert_eq!(
            found,
            Connection {
                id: "ana-1=".into(),
                sub: "ana".into(),
                admin: false,
                connected_at_ms: T0 * 1000,
                expires_at: T0 + CONNECTION_TTL_SECS,
            }
        );
        // Both items carry the table's ttl, so the table's sweeper removes them too.
        for key in [
            store::ws_connection("ana-1="),
            store::ws_customer_connection("ana", "ana-1="),
        ] {
            let item = table.get(&key).await.unwrap().expect("the item is written");
            assert_eq!(item.num(TTL), Some(T0 + 2 * 3600));
        }
        assert_eq!(connections.find("unknown=").await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_expired_connection_is_skipped() {
        let (connections, _, clock) = registry();
        connections
            .register("old=", &principal("ana", false))
            .await
            .unwrap();
        connections
            .register("root-old=", &principal("root", true))
            .await
            .unwrap();
        clock.advance_secs(CONNECTION_TTL_SECS - 60);
        connections
            .register("new=", &principal("ana", false))
            .await
            .unwrap();
        clock.advance_secs(60);

        assert_eq!(
            ids(&connections.audience(Some("ana")).await.unwrap()),
            ["new="]
        );
        assert_eq!(connections.find("old=").await.unwrap(), None);
        assert!(connections.find("new=").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_removed_connection_is_gone_from_every_lookup() {
        let (connections, table, _) = registry();
        connections
            .register("ana-1=", &principal("ana", false))
            .await
            .unwrap();
        connections
            .register("root-1=", &principal("root", true))
            .await
            .unwrap();

        assert!(connections.remove("ana-1=").await.unwrap());
        assert!(connections.remove("root-1=").await.unwrap());
        assert!(
            !connections.remove("ana-1=").await.unwrap(),
            "removed twice"
        );

        assert!(connections.audience(Some("ana")).await.unwrap().is_empty());
        assert_eq!(connections.find("ana-1=").await.unwrap(), None);
        for key in [
            store::ws_connection("ana-1="),
            store::ws_customer_connection("ana", "ana-1="),
            store::ws_admin_connection("root-1="),
        ] {
            assert_eq!(table.get(&key).await.unwrap(), None, "{key:?} left behind");
        }
    }

    #[tokio::test]
    async fn a_connection_found_in_an_audience_can_be_forgotten_without_a_read() {
        let (connections, _, _) = registry();
        connections
            .register("ana-1=", &principal("ana", false))
            .await
            .unwrap();
        connections
            .register("ana-2=", &principal("ana", false))
            .await
            .unwrap();
        let audience = connections.audience(Some("ana")).await.unwrap();
        let gone = audience.iter().find(|c| c.id == "ana-1=").unwrap();
        connections.forget(gone).await.unwrap();
        assert_eq!(
            ids(&connections.audience(Some("ana")).await.unwrap()),
            ["ana-2="]
        );
        assert_eq!(connections.find("ana-1=").await.unwrap(), None);
    }

    #[tokio::test]
    async fn ids_that_could_break_a_key_are_refused() {
        let (connections, _, _) = registry();
        let long = "x".repeat(129);
        for bad in ["", "a#b", "a b", "a\nb", long.as_str()] {
            assert!(
                matches!(
                    connections.register(bad, &principal("ana", false)).await,
                    Err(AppError::Invalid(_))
                ),
                "{bad:?}"
            );
        }
        connections
            .register("TWegAcC4EowCHnA=", &principal("ana", false))
            .await
            .unwrap();
    }

    /// The AWS consumer records what it pushes (`App::record_delivered`), and a resume reads
    /// it back with `App::order_events_after`, as locally.
    #[tokio::test]
    async fn a_delivery_recorded_outside_the_dispatcher_is_what_a_resume_reads() {
        use crate::notify::testing::{CUSTOMER, Harness};
        let harness = Harness::new();
        let paid = harness.order_reaching("order.paid").await;
        let other = vitrine_domain::Event::new(
            "order.placed",
            "01JQ8Z6V3N4K5M6P7R8S9T0OTH",
            serde_json::json!({ "order_id": "01JQ8Z6V3N4K5M6P7R8S9T0OTH" }),
        )
        .for_customer("someone-else");
        let app = &harness.app;
        // Event ids made now (ULIDs carry their time): within the resume window.
        let now = app.ports.clock.now().millis() as u64;
        let id = |n: u128| ulid::Ulid::from_parts(now, n).to_string();
        app.record_delivered("realtime", &id(1), &other, 1)
            .await
            .unwrap();
        app.record_delivered("realtime", &id(2), &paid, 1)
            .await
            .unwrap();
        // A re-delivery rewrites the same record.
        app.record_delivered("realtime", &id(2), &paid, 2)
            .await
            .unwrap();

        let mine = app
            .order_events_after(&id(0), Some(CUSTOMER), 10)
            .await
            .unwrap();
        assert_eq!(mine.events, [(id(2), paid.clone())]);
        assert!(!mine.truncated);
        let all = app.order_events_after(&id(1), None, 10).await.unwrap();
        assert_eq!(all.events.len(), 1, "only the events after the one given");
        assert!(matches!(
            app.record_delivered("nobody", "01JQ9000000000000000000003", &paid, 1)
                .await,
            Err(AppError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn a_table_outage_is_an_error_not_an_empty_audience() {
        let (connections, table, _) = registry();
        connections
            .register("ana-1=", &principal("ana", false))
            .await
            .unwrap();
        table.set_down(true);
        assert!(matches!(
            connections.audience(Some("ana")).await,
            Err(AppError::Unavailable(_))
        ));
    }
}
