//! `SqliteTable`: the Table port on one SQLite database file.
//!
//! Role: the local shape's only persistent store. The contract is the module docs of
//! `vitrine_app::ports::table`; conditions and updates are evaluated here with the port's own
//! `evaluate` / `apply_updates`, so their semantics are written once for every adapter.
//!
//! Layout: one `STRICT, WITHOUT ROWID` table `items` keyed by `(pk, sk)`. The attributes are kept
//! whole as JSON in `attrs`; `gsi1pk/gsi1sk`, `gsi2pk/gsi2sk` and `ttl` are *copies* of the
//! attributes of the same names, made on every write, so that partial indexes can serve the
//! queries. A GSI column pair is filled only when both attributes are strings (DynamoDB leaves an
//! item out of an index unless it has both key attributes); `ttl` only when the attribute is a
//! number. Keys are `TEXT COLLATE BINARY`, so SQLite compares them bytewise (UTF-8), as the
//! contract and DynamoDB do.
//!
//! Invariants:
//! - Every write goes through **one writer thread**, which owns the only read-write connection.
//!   It batches whatever is queued (up to [`MAX_GROUP`] requests) into one `BEGIN IMMEDIATE ...
//!   COMMIT`; each request runs inside its own `SAVEPOINT`, so a failed condition undoes only that
//!   request. With `synchronous=FULL`, the single `COMMIT` is the one fsync that makes the whole
//!   group durable (group commit). No request is answered before that `COMMIT` returns: even a
//!   `ConditionFailed` was decided on state that must first become durable to be a true answer.
//!   If the `COMMIT` fails, every request of the group is answered `Unavailable`.
//! - Reads use a small pool of read-only connections: reads of items by key on the calling
//!   task's thread (microseconds from the page cache), queries on blocking threads. WAL lets them
//!   run beside the writer, and each statement sees the last committed state, so an acknowledged
//!   write is visible to every read that starts after it.
//! - An item with a numeric `ttl` at or before now (the Clock port, in seconds) is expired: reads
//!   filter it with `ttl > now` and the writer treats it as absent (`is_expired`). A purge run by
//!   the writer thread deletes expired items in small chunks every [`PURGE_EVERY`].
//! - Engine failures (I/O, disk full, corruption, a stopped writer) become
//!   `TableError::Unavailable` with context; nothing here panics on them.
//! - Dropping the last handle closes the writer's queue; the thread finishes what is queued, then
//!   exits, and the drop waits for it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::config::DbConfig;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, OptionalExtension as _, params, params_from_iter};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, oneshot};
use vitrine_app::ports::clock::Clock;
use vitrine_app::ports::table::{
    Attrs, Condition, Cursor, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK, Index, Item, Key, Page, Query,
    SortKey, TTL, Table, TableError, Update, WriteOp, apply_updates, check_batch, evaluate,
    is_expired,
};

/// Written to the database header so a file of another application is never taken for ours.
const APPLICATION_ID: i32 = 0x5654_5242; // "VTRB"
/// Version of the layout below, in `PRAGMA user_version`. A file with another version is refused
/// rather than misread.
const SCHEMA_VERSION: i32 = 1;
/// The most write requests one group commit takes from the queue.
pub const MAX_GROUP: usize = 256;
/// The most items one query page returns, whatever the caller asked for.
pub const MAX_LIMIT: usize = 1000;
/// How often the writer deletes expired items when idle or between groups.
pub const PURGE_EVERY: Duration = Duration::from_secs(60);
/// Expired items deleted per purge step; small so that a purge never delays writes for long.
const PURGE_CHUNK: usize = 500;
/// Read-only connections kept for reads. Two cores here; reads mostly wait on the page cache.
const READERS: usize = 4;
/// How long a statement waits for another process holding the database lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const STATEMENT_CACHE: usize = 128;
/// Page size of a new database file (an existing file keeps the size it was created with).
///
/// A `WITHOUT ROWID` table keeps at most about a quarter of a page of a row in its tree page
/// and moves the rest to overflow pages: 1,002 bytes at 4 KB, 2,030 at 8 KB. A product item is
/// about 1,000 bytes, so at 4 KB about half of them took an extra page read each
/// (docs/benchmarks.md, "8 KB pages").
const PAGE_SIZE: u32 = 8192;

const SCHEMA: &str = "
CREATE TABLE items (
    pk     TEXT NOT NULL COLLATE BINARY,
    sk     TEXT NOT NULL COLLATE BINARY,
    attrs  TEXT NOT NULL,
    gsi1pk TEXT COLLATE BINARY,
    gsi1sk TEXT COLLATE BINARY,
    gsi2pk TEXT COLLATE BINARY,
    gsi2sk TEXT COLLATE BINARY,
    ttl    INTEGER,
    PRIMARY KEY (pk, sk)
) STRICT, WITHOUT ROWID;
CREATE INDEX items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
CREATE INDEX items_ttl ON items (ttl) WHERE ttl IS NOT NULL;
";

const UPSERT: &str = "INSERT INTO items (pk, sk, attrs, gsi1pk, gsi1sk, gsi2pk, gsi2sk, ttl)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
     ON CONFLICT (pk, sk) DO UPDATE SET attrs = excluded.attrs,
         gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk,
         gsi2pk = excluded.gsi2pk, gsi2sk = excluded.gsi2sk, ttl = excluded.ttl";

/// The Table port on a SQLite file. Cheap to clone; all clones share one writer thread and one
/// pool of readers.
///
/// Dropping the last clone waits for the writer to finish the requests already queued (each a
/// few milliseconds), so it briefly blocks the dropping thread, even inside an async task.
/// A write whose caller stopped waiting (a dropped future) is still applied if it was queued.
#[derive(Clone)]
pub struct SqliteTable {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTable")
            .field("path", &self.inner.readers.path)
            .finish_non_exhaustive()
    }
}

struct Inner {
    // Field order matters: fields drop in declaration order, so the queue's sender is dropped
    // (closing the queue) before `writer_thread` joins the thread, which exits once the queue is
    // drained and closed.
    writer: mpsc::Sender<Request>,
    writer_thread: JoinOnDrop,
    readers: Arc<Readers>,
    clock: Arc<dyn Clock>,
}

struct JoinOnDrop(Option<JoinHandle<()>>);

impl Drop for JoinOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            // A panic on the writer thread was already reported to every waiting caller as
            // `Unavailable`; nothing more to do with it here.
            let _ = handle.join();
        }
    }
}

enum Request {
    Write {
        ops: Vec<WriteOp>,
        /// Answer with the item as written by the batch's single `Update` (`update_returning`).
        returning: bool,
        reply: oneshot::Sender<Result<Option<Item>, TableError>>,
    },
    Purge {
        reply: oneshot::Sender<Result<usize, TableError>>,
    },
    /// Empty the write-ahead log into the file (`Table::scrub`).
    Scrub {
        reply: oneshot::Sender<Result<(), TableError>>,
    },
}

impl SqliteTable {
    /// Open (creating if needed) the database at `path`. Fails when the file is not a vitrine
    /// database of this schema version, or the folder does not allow SQLite's WAL files.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let conn =
            open_writer(path).with_context(|| format!("opening table {}", path.display()))?;
        let readers = Arc::new(Readers::new(path.to_owned()));
        // Open one reader now so that a database readers cannot open fails at start-up.
        let reader = readers
            .open()
            .with_context(|| format!("opening table {}", path.display()))?;
        readers.give_back(reader);

        let (writer, queue) = mpsc::channel();
        let worker = Writer {
            conn,
            clock: clock.clone(),
            next_purge: Instant::now() + PURGE_EVERY,
        };
        let thread = std::thread::Builder::new()
            .name("vitrine-sqlite-writer".into())
            .spawn(move || worker.run(queue))
            .context("starting the table's writer thread")?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer,
                writer_thread: JoinOnDrop(Some(thread)),
                readers,
                clock,
            }),
        })
    }

    /// Delete every expired item now and return how many were deleted. The writer also does this
    /// on its own every [`PURGE_EVERY`]; reads never depend on it.
    pub async fn purge_expired(&self) -> Result<usize, TableError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .writer
            .send(Request::Purge { reply })
            .map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }

    fn now_secs(&self) -> i64 {
        self.inner.clock.now().secs()
    }

    async fn submit(&self, ops: Vec<WriteOp>, returning: bool) -> Result<Option<Item>, TableError> {
        let (reply, answer) = oneshot::channel();
        // The queue is unbounded: a send never blocks the async caller. Back-pressure comes from
        // callers awaiting their answer.
        self.inner
            .writer
            .send(Request::Write {
                ops,
                returning,
                reply,
            })
            .map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }

    /// Run `f` on a pooled read-only connection here, on the calling task's thread: for reads
    /// of items by their keys, which take microseconds from SQLite's page cache, where handing
    /// them to a blocking thread and back (two thread wake-ups, a task each way) cost more than
    /// the read. Queries, which may walk many rows, go through [`Self::read`].
    async fn read_now<T, F>(&self, what: &'static str, f: F) -> Result<T, TableError>
    where
        F: FnOnce(&Connection) -> anyhow::Result<T>,
    {
        let readers = &self.inner.readers;
        let _permit = readers
            .permits
            .acquire()
            .await
            .map_err(|e| TableError::Unavailable(anyhow::Error::new(e).context(what)))?;
        readers
            .with(f)
            .map_err(|e| TableError::Unavailable(e.context(what)))
    }

    /// Run `f` on a pooled read-only connection on a blocking thread.
    async fn read<T, F>(&self, what: &'static str, f: F) -> Result<T, TableError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    {
        let readers = self.inner.readers.clone();
        let permit = readers
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| TableError::Unavailable(anyhow::Error::new(e).context(what)))?;
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            readers.with(f)
        })
        .await
        .map_err(|e| TableError::Unavailable(anyhow::Error::new(e).context(what)))?;
        result.map_err(|e| TableError::Unavailable(e.context(what)))
    }
}

fn writer_stopped() -> TableError {
    TableError::Unavailable(anyhow!("the table's writer thread has stopped"))
}

#[async_trait]
impl Table for SqliteTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        let now = self.now_secs();
        self.read_now("reading an item", |conn| {
            let attrs: Option<String> = conn
                .prepare_cached(
                    "SELECT attrs FROM items WHERE pk = ?1 AND sk = ?2 AND (ttl IS NULL OR ttl > ?3)",
                )?
                .query_row(params![key.pk, key.sk, now], |row| row.get(0))
                .optional()?;
            attrs
                .map(|a| {
                    Ok(Item {
                        attrs: decode_attrs(&a)?,
                        key: key.clone(),
                    })
                })
                .transpose()
        })
        .await
    }

    /// One reader, one statement, every key.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, TableError> {
        let now = self.now_secs();
        self.read_now("reading items", |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT attrs FROM items WHERE pk = ?1 AND sk = ?2 AND (ttl IS NULL OR ttl > ?3)",
            )?;
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                let attrs: Option<String> = statement
                    .query_row(params![key.pk, key.sk, now], |row| row.get(0))
                    .optional()?;
                out.push(
                    attrs
                        .map(|a| {
                            anyhow::Ok(Item {
                                attrs: decode_attrs(&a)?,
                                key: key.clone(),
                            })
                        })
                        .transpose()?,
                );
            }
            Ok(out)
        })
        .await
    }

    async fn query(&self, query: Query) -> Result<Page, TableError> {
        let plan = QueryPlan::new(&query, self.now_secs())?;
        self.read("querying the table", move |conn| plan.run(conn))
            .await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), TableError> {
        check_batch(&ops)?;
        self.submit(ops, false).await.map(drop)
    }

    async fn update_returning(
        &self,
        key: Key,
        updates: Vec<Update>,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        let ops = vec![WriteOp::Update {
            key,
            updates,
            condition,
        }];
        check_batch(&ops)?;
        self.submit(ops, true).await?.ok_or_else(|| {
            TableError::Unavailable(anyhow!("the writer returned no item for an update"))
        })
    }

    async fn scrub(&self) -> Result<(), TableError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .writer
            .send(Request::Scrub { reply })
            .map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }

    async fn ping(&self) -> Result<(), TableError> {
        if self
            .inner
            .writer_thread
            .0
            .as_ref()
            .is_none_or(JoinHandle::is_finished)
        {
            return Err(writer_stopped());
        }
        self.read("pinging the table", |conn| {
            conn.prepare_cached("SELECT count(*) FROM sqlite_schema")?
                .query_row([], |_| Ok(()))?;
            Ok(())
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// Opening and schema

fn open_writer(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .context("opening the database file")?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Takes effect only on a file without pages yet, so it must come before WAL mode (which
    // writes the header); on an existing file SQLite ignores it.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .context("switching to WAL")?;
    if !mode.eq_ignore_ascii_case("wal") {
        // Without WAL, readers would block the writer and group commit would lose its point.
        bail!("the database refused WAL mode (journal_mode is {mode})");
    }
    // FULL: the WAL is fsynced at every COMMIT, so an acknowledged write survives power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Each request of a group runs in its own savepoint, whose statement journal (the pages'
    // contents before the request, for undoing a refused one) is kept in memory rather than in
    // a temporary file: it is never needed after the transaction, and the file cost a write
    // call per page changed.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // What is deleted is overwritten, not left in free space: a person's erased data must not be
    // readable from the file (`Table::purge` empties the write-ahead log as well).
    conn.pragma_update(None, "secure_delete", "ON")?;
    init_schema(&conn)?;
    keep_plans(&conn)?;
    Ok(conn)
}

/// Statements are prepared once per connection and reused with new values.
///
/// Without the query planner stability guarantee, SQLite marks a statement whose plan *might*
/// depend on a bound value and compiles it again every time that value changes. Every query
/// of this table was so marked, and its expiry term (`ttl > ?`, the current time) changes on
/// every call: a listing's queries were parsed and planned anew on each request (14 % of a
/// department listing's CPU at a million products). With the guarantee the plan depends on the
/// SQL text alone; the plans are the same
/// (`tests::every_query_uses_its_index_and_is_compiled_once`).
/// <https://www.sqlite.org/c3ref/c_dbconfig_defensive.html#sqlitedbconfigenableqpsg>
fn keep_plans(conn: &Connection) -> anyhow::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .context("turning on the query planner stability guarantee")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Create the schema in a new database, or check that an existing one is ours and current.
fn init_schema(conn: &Connection) -> anyhow::Result<()> {
    // IMMEDIATE: two processes opening a new file at once must not both create the schema.
    conn.execute_batch("BEGIN IMMEDIATE")
        .context("locking the database to check its schema")?;
    let result = check_or_create_schema(conn);
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.execute_batch(end)
        .with_context(|| format!("{end} after the schema check"))?;
    result
}

fn check_or_create_schema(conn: &Connection) -> anyhow::Result<()> {
    let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    match (app_id, version) {
        (APPLICATION_ID, SCHEMA_VERSION) => Ok(()),
        (APPLICATION_ID, other) => {
            bail!(
                "the database has schema version {other}; this build reads version {SCHEMA_VERSION}"
            )
        }
        (0, 0) => {
            let objects: i64 =
                conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
            if objects != 0 {
                bail!(
                    "not a vitrine database: it already holds {objects} schema objects of another application"
                );
            }
            conn.execute_batch(SCHEMA).context("creating the schema")?;
            conn.pragma_update(None, "application_id", APPLICATION_ID)?;
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            Ok(())
        }
        (other, _) => bail!("not a vitrine database (application_id {other:#x})"),
    }
}

// ---------------------------------------------------------------------------------------------
// Readers

struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Bounds how many reads run at once, hence how many connections are ever open.
    permits: Arc<Semaphore>,
}

impl Readers {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::with_capacity(READERS)),
            permits: Arc::new(Semaphore::new(READERS)),
        }
    }

    fn open(&self) -> anyhow::Result<Connection> {
        // Read-only at the SQLite level: whatever a read path does, it cannot write.
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .context("opening a read connection")?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        keep_plans(&conn)?;
        Ok(conn)
    }

    fn take(&self) -> anyhow::Result<Connection> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => self.open(),
        }
    }

    /// Run `f` on a pooled connection. A connection that just failed may be in a bad state
    /// (corrupt page, I/O error): it is dropped, and the next read opens a fresh one.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let conn = self.take()?;
        let result = f(&conn);
        if result.is_ok() {
            self.give_back(conn);
        }
        result
    }

    fn give_back(&self, conn: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(conn);
    }
}

fn decode_attrs(json: &str) -> anyhow::Result<Attrs> {
    serde_json::from_str(json).context("decoding a stored item (is the database corrupt?)")
}

// ---------------------------------------------------------------------------------------------
// The writer thread

struct Writer {
    conn: Connection,
    clock: Arc<dyn Clock>,
    next_purge: Instant,
}

struct PendingWrite {
    ops: Vec<WriteOp>,
    returning: bool,
    reply: oneshot::Sender<Result<Option<Item>, TableError>>,
}

/// Why one batch of a group did not apply.
enum BatchError {
    /// The batch itself is refused (failed condition, ADD on a string); its savepoint is undone.
    Rejected(TableError),
    /// SQLite failed while applying the batch.
    Engine(anyhow::Error),
}

impl From<anyhow::Error> for BatchError {
    fn from(e: anyhow::Error) -> Self {
        BatchError::Engine(e)
    }
}

impl From<rusqlite::Error> for BatchError {
    fn from(e: rusqlite::Error) -> Self {
        BatchError::Engine(e.into())
    }
}

impl Writer {
    fn run(mut self, queue: mpsc::Receiver<Request>) {
        loop {
            let wait = self.next_purge.saturating_duration_since(Instant::now());
            let first = match queue.recv_timeout(wait) {
                Ok(request) => request,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.scheduled_purge();
                    continue;
                }
                // Every handle is gone and the queue is empty: queued work is done.
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            let mut writes = Vec::new();
            let mut purges = Vec::new();
            let mut scrubs = Vec::new();
            let mut sort = |request| match request {
                Request::Write {
                    ops,
                    returning,
                    reply,
                } => writes.push(PendingWrite {
                    ops,
                    returning,
                    reply,
                }),
                Request::Purge { reply } => purges.push(reply),
                Request::Scrub { reply } => scrubs.push(reply),
            };
            sort(first);
            let mut taken = 1;
            while taken < MAX_GROUP {
                match queue.try_recv() {
                    Ok(request) => sort(request),
                    Err(_) => break,
                }
                taken += 1;
            }
            if !writes.is_empty() {
                self.commit_group(writes);
            }
            for reply in purges {
                let _ = reply.send(self.purge_all().map_err(TableError::Unavailable));
            }
            for reply in scrubs {
                let _ = reply.send(self.scrub_log().map_err(TableError::Unavailable));
            }
            if Instant::now() >= self.next_purge {
                self.scheduled_purge();
            }
        }
    }

    /// Copy the write-ahead log into the file and truncate it: its frames hold pages as they were
    /// before recent deletes (which `secure_delete` overwrote in the file itself). Readers in the
    /// middle of a read can hold a checkpoint up; it is tried a few times.
    fn scrub_log(&self) -> anyhow::Result<()> {
        for attempt in 1..=20u64 {
            let busy: i64 = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .context("checkpointing the write-ahead log")?;
            if busy == 0 {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5 * attempt));
        }
        bail!("the write-ahead log stayed in use by readers; try the erasure again")
    }

    fn exec(&self, sql: &str) -> rusqlite::Result<()> {
        self.conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    /// Apply a group of batches in one transaction and answer each once it is durable.
    fn commit_group(&mut self, group: Vec<PendingWrite>) {
        let now = self.clock.now().secs();
        if let Err(e) = self.exec("BEGIN IMMEDIATE") {
            fail_all(
                group,
                &anyhow::Error::new(e).context("beginning a write transaction"),
            );
            return;
        }
        let mut outcomes = Vec::with_capacity(group.len());
        for write in &group {
            match self.run_batch(&write.ops, write.returning, now) {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    // The transaction can no longer be trusted (SQLite may already have rolled it
                    // back): nothing of this group is written.
                    let _ = self.exec("ROLLBACK");
                    fail_all(group, &e);
                    return;
                }
            }
        }
        if let Err(e) = self.exec("COMMIT") {
            let _ = self.exec("ROLLBACK");
            fail_all(
                group,
                &anyhow::Error::new(e).context("committing a write group"),
            );
            return;
        }
        for (write, outcome) in group.into_iter().zip(outcomes) {
            // The caller may have given up waiting; the write stands regardless.
            let _ = write.reply.send(outcome);
        }
    }

    /// Run one batch inside its own savepoint. `Err` means the whole group must be abandoned.
    fn run_batch(
        &self,
        ops: &[WriteOp],
        returning: bool,
        now: i64,
    ) -> anyhow::Result<Result<Option<Item>, TableError>> {
        self.exec("SAVEPOINT b").context("opening a savepoint")?;
        match self.apply_ops(ops, returning, now) {
            Ok(item) => {
                self.exec("RELEASE b").context("releasing a savepoint")?;
                Ok(Ok(item))
            }
            Err(error) => {
                self.exec("ROLLBACK TO b")
                    .context("undoing a refused batch")?;
                self.exec("RELEASE b").context("releasing a savepoint")?;
                Ok(Err(match error {
                    BatchError::Rejected(e) => e,
                    BatchError::Engine(e) => TableError::Unavailable(e.context("applying a batch")),
                }))
            }
        }
    }

    fn apply_ops(
        &self,
        ops: &[WriteOp],
        returning: bool,
        now: i64,
    ) -> Result<Option<Item>, BatchError> {
        let mut returned = None;
        for (index, op) in ops.iter().enumerate() {
            let condition = match op {
                WriteOp::Put { condition, .. }
                | WriteOp::Update { condition, .. }
                | WriteOp::Delete { condition, .. } => condition.as_ref(),
                WriteOp::Check { condition, .. } => Some(condition),
            };
            // A blind put or delete needs no read of the current item.
            let needs_current = condition.is_some() || matches!(op, WriteOp::Update { .. });
            let current = if needs_current {
                self.load(op.key(), now)?
            } else {
                None
            };
            if let Some(condition) = condition
                && !evaluate(condition, current.as_ref())
            {
                return Err(BatchError::Rejected(TableError::ConditionFailed { index }));
            }
            match op {
                WriteOp::Put { item, .. } => self.store(item)?,
                WriteOp::Update { key, updates, .. } => {
                    let item =
                        apply_updates(key, current, updates).map_err(BatchError::Rejected)?;
                    self.store(&item)?;
                    if returning {
                        returned = Some(item);
                    }
                }
                WriteOp::Delete { key, .. } => {
                    self.conn
                        .prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")?
                        .execute(params![key.pk, key.sk])?;
                }
                WriteOp::Check { .. } => {}
            }
        }
        Ok(returned)
    }

    /// The item as conditions see it: `None` when absent or expired.
    fn load(&self, key: &Key, now: i64) -> anyhow::Result<Option<Item>> {
        let attrs: Option<String> = self
            .conn
            .prepare_cached("SELECT attrs FROM items WHERE pk = ?1 AND sk = ?2")?
            .query_row(params![key.pk, key.sk], |row| row.get(0))
            .optional()?;
        let Some(attrs) = attrs else { return Ok(None) };
        let item = Item {
            key: key.clone(),
            attrs: decode_attrs(&attrs)?,
        };
        Ok((!is_expired(&item, now)).then_some(item))
    }

    fn store(&self, item: &Item) -> anyhow::Result<()> {
        let columns = IndexColumns::of(&item.attrs);
        let attrs = serde_json::to_string(&item.attrs).context("encoding an item")?;
        self.conn.prepare_cached(UPSERT)?.execute(params![
            item.key.pk,
            item.key.sk,
            attrs,
            columns.gsi1.map(|(pk, _)| pk),
            columns.gsi1.map(|(_, sk)| sk),
            columns.gsi2.map(|(pk, _)| pk),
            columns.gsi2.map(|(_, sk)| sk),
            columns.ttl,
        ])?;
        Ok(())
    }

    /// Delete one chunk of expired items in its own transaction; the count deleted.
    fn purge_chunk(&self) -> anyhow::Result<usize> {
        let now = self.clock.now().secs();
        let deleted = self
            .conn
            .prepare_cached(
                "DELETE FROM items WHERE (pk, sk) IN
                   (SELECT pk, sk FROM items WHERE ttl IS NOT NULL AND ttl <= ?1 LIMIT ?2)",
            )?
            .execute(params![now, PURGE_CHUNK as i64])
            .context("deleting expired items")?;
        Ok(deleted)
    }

    fn purge_all(&self) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let deleted = self.purge_chunk()?;
            total += deleted;
            if deleted < PURGE_CHUNK {
                return Ok(total);
            }
        }
    }

    /// One purge step. A full chunk means more are waiting: come back soon, but only after the
    /// writes that queued meanwhile.
    fn scheduled_purge(&mut self) {
        let again_in = match self.purge_chunk() {
            Ok(deleted) if deleted == PURGE_CHUNK => Duration::from_millis(50),
            Ok(_) => PURGE_EVERY,
            Err(e) => {
                // No caller waits on the purge, so this is the one place to report it.
                tracing::warn!(
                    error = format!("{e:#}"),
                    "purging expired table items failed"
                );
                PURGE_EVERY
            }
        };
        self.next_purge = Instant::now() + again_in;
    }
}

fn fail_all(group: Vec<PendingWrite>, error: &anyhow::Error) {
    for write in group {
        // `anyhow::Error` is not `Clone`; each caller gets the same message and chain.
        let _ = write
            .reply
            .send(Err(TableError::Unavailable(anyhow!("{error:#}"))));
    }
}

/// The index columns an item's attributes project to.
#[derive(Debug, PartialEq, Eq)]
struct IndexColumns<'a> {
    gsi1: Option<(&'a str, &'a str)>,
    gsi2: Option<(&'a str, &'a str)>,
    ttl: Option<i64>,
}

impl<'a> IndexColumns<'a> {
    fn of(attrs: &'a Attrs) -> Self {
        let pair = |pk: &str, sk: &str| {
            Some((
                attrs.get(pk).and_then(|v| v.as_str())?,
                attrs.get(sk).and_then(|v| v.as_str())?,
            ))
        };
        Self {
            gsi1: pair(GSI1_PK, GSI1_SK),
            gsi2: pair(GSI2_PK, GSI2_SK),
            ttl: attrs.get(TTL).and_then(|v| v.as_i64()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Queries

/// One end of a range of sort keys, as bytes: a bound need not be valid UTF-8 (see
/// [`prefix_successor`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bound {
    Inclusive(Vec<u8>),
    Exclusive(Vec<u8>),
}

/// The sort keys a [`SortKey`] condition selects, as a bytewise range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct KeyRange {
    lower: Option<Bound>,
    upper: Option<Bound>,
}

impl KeyRange {
    fn of(condition: Option<&SortKey>) -> Result<Self, TableError> {
        use Bound::{Exclusive, Inclusive};
        let bytes = |s: &String| s.as_bytes().to_vec();
        Ok(match condition {
            None => Self::default(),
            Some(SortKey::Eq(v)) => Self {
                lower: Some(Inclusive(bytes(v))),
                upper: Some(Inclusive(bytes(v))),
            },
            Some(SortKey::BeginsWith(p)) => Self {
                lower: Some(Inclusive(bytes(p))),
                upper: prefix_successor(p.as_bytes()).map(Exclusive),
            },
            Some(SortKey::Between(a, b)) => {
                // DynamoDB rejects a BETWEEN whose bounds are reversed; so do we, for parity.
                if a.as_bytes() > b.as_bytes() {
                    return Err(TableError::Invalid(format!(
                        "BETWEEN bounds are reversed ({a:?} > {b:?})"
                    )));
                }
                Self {
                    lower: Some(Inclusive(bytes(a))),
                    upper: Some(Inclusive(bytes(b))),
                }
            }
            Some(SortKey::Lt(v)) => Self {
                lower: None,
                upper: Some(Exclusive(bytes(v))),
            },
            Some(SortKey::Le(v)) => Self {
                lower: None,
                upper: Some(Inclusive(bytes(v))),
            },
            Some(SortKey::Gt(v)) => Self {
                lower: Some(Exclusive(bytes(v))),
                upper: None,
            },
            Some(SortKey::Ge(v)) => Self {
                lower: Some(Inclusive(bytes(v))),
                upper: None,
            },
        })
    }

    #[cfg(test)]
    fn contains(&self, key: &[u8]) -> bool {
        let above = match &self.lower {
            None => true,
            Some(Bound::Inclusive(b)) => key >= b.as_slice(),
            Some(Bound::Exclusive(b)) => key > b.as_slice(),
        };
        let below = match &self.upper {
            None => true,
            Some(Bound::Inclusive(b)) => key <= b.as_slice(),
            Some(Bound::Exclusive(b)) => key < b.as_slice(),
        };
        above && below
    }
}

/// The smallest byte string greater than every string that starts with `prefix`, or `None` when
/// there is none (empty prefix, or all `0xFF`). `BeginsWith(p)` is then the range
/// `p <= k < successor(p)`, which an index can serve, unlike `LIKE` or `substr`.
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut bound = prefix.to_vec();
    while let Some(last) = bound.pop() {
        if last < 0xFF {
            bound.push(last + 1);
            return Some(bound);
        }
    }
    None
}

/// The position after the last item of a page. Serialised as base64url JSON; never trusted:
/// it must name the index and partition of the query it is used with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorBody {
    /// 0 = primary, 1 = GSI1, 2 = GSI2.
    i: u8,
    /// The queried partition.
    p: String,
    /// The index sort key of the last item.
    k: String,
    pk: String,
    sk: String,
}

fn index_number(index: Index) -> u8 {
    match index {
        Index::Primary => 0,
        Index::Gsi1 => 1,
        Index::Gsi2 => 2,
    }
}

impl CursorBody {
    fn encode(&self) -> Cursor {
        // Serialising plain strings cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        Cursor(URL_SAFE_NO_PAD.encode(json))
    }

    fn decode(cursor: &Cursor, query: &Query) -> Result<Self, TableError> {
        let invalid = || TableError::Invalid("the cursor was not issued for this query".into());
        let json = URL_SAFE_NO_PAD
            .decode(cursor.0.as_bytes())
            .map_err(|_| invalid())?;
        let body: Self = serde_json::from_slice(&json).map_err(|_| invalid())?;
        if body.i != index_number(query.index) || body.p != query.pk {
            return Err(invalid());
        }
        if query.index == Index::Primary && (body.pk != body.p || body.sk != body.k) {
            return Err(invalid());
        }
        Ok(body)
    }
}

/// A query turned into SQL and its parameters, built before going to a blocking thread so that
/// invalid requests are refused without touching the database.
#[derive(Debug)]
struct QueryPlan {
    sql: String,
    params: Vec<SqlValue>,
    index: Index,
    pk: String,
    limit: usize,
}

impl QueryPlan {
    fn new(query: &Query, now: i64) -> Result<Self, TableError> {
        if query.limit == 0 {
            return Err(TableError::Invalid(
                "a query limit must be at least 1".into(),
            ));
        }
        let limit = query.limit.min(MAX_LIMIT);
        let range = KeyRange::of(query.sk.as_ref())?;
        let after = query
            .after
            .as_ref()
            .map(|c| CursorBody::decode(c, query))
            .transpose()?;

        let (ipk, isk) = match query.index {
            Index::Primary => ("pk", "sk"),
            Index::Gsi1 => ("gsi1pk", "gsi1sk"),
            Index::Gsi2 => ("gsi2pk", "gsi2sk"),
        };
        let mut params = Vec::new();
        let mut bind = |value: SqlValue| {
            params.push(value);
            format!("?{}", params.len())
        };
        let mut sql = format!(
            "SELECT pk, sk, attrs, {isk} FROM items WHERE {ipk} = {} AND (ttl IS NULL OR ttl > {})",
            bind(SqlValue::Text(query.pk.clone())),
            bind(SqlValue::Integer(now)),
        );
        // Bounds are bound as BLOBs and cast to TEXT: the cast keeps the bytes as they are (a
        // successor may not be valid UTF-8) and makes the comparison TEXT against TEXT, which
        // BINARY collation orders bytewise. Comparing TEXT with a BLOB would instead always
        // order the TEXT first.
        for (bound, inclusive, exclusive) in [(&range.lower, ">=", ">"), (&range.upper, "<=", "<")]
        {
            match bound {
                None => {}
                Some(Bound::Inclusive(b)) => {
                    sql += &format!(
                        " AND {isk} {inclusive} CAST({} AS TEXT)",
                        bind(SqlValue::Blob(b.clone()))
                    );
                }
                Some(Bound::Exclusive(b)) => {
                    sql += &format!(
                        " AND {isk} {exclusive} CAST({} AS TEXT)",
                        bind(SqlValue::Blob(b.clone()))
                    );
                }
            }
        }
        let (past, direction) = if query.forward {
            (">", "ASC")
        } else {
            ("<", "DESC")
        };
        if let Some(after) = after {
            if query.index == Index::Primary {
                sql += &format!(" AND sk {past} {}", bind(SqlValue::Text(after.sk)));
            } else {
                // Index sort keys repeat; the primary key breaks ties so that pages neither skip
                // nor repeat items.
                sql += &format!(
                    " AND ({isk}, pk, sk) {past} ({}, {}, {})",
                    bind(SqlValue::Text(after.k)),
                    bind(SqlValue::Text(after.pk)),
                    bind(SqlValue::Text(after.sk)),
                );
            }
        }
        if query.index == Index::Primary {
            sql += &format!(" ORDER BY sk {direction}");
        } else {
            sql += &format!(" ORDER BY {isk} {direction}, pk {direction}, sk {direction}");
        }
        // One more than asked, to know whether another page follows.
        sql += &format!(" LIMIT {}", bind(SqlValue::Integer(limit as i64 + 1)));
        Ok(Self {
            sql,
            params,
            index: query.index,
            pk: query.pk.clone(),
            limit,
        })
    }

    fn run(self, conn: &Connection) -> anyhow::Result<Page> {
        let mut statement = conn.prepare_cached(&self.sql)?;
        let mut rows = statement.query(params_from_iter(self.params.iter()))?;
        let mut items = Vec::new();
        let mut last_index_sk = String::new();
        let mut more = false;
        while let Some(row) = rows.next()? {
            if items.len() == self.limit {
                more = true;
                break;
            }
            let key = Key {
                pk: row.get(0)?,
                sk: row.get(1)?,
            };
            let attrs: String = row.get(2)?;
            last_index_sk = row.get(3)?;
            items.push(Item {
                key,
                attrs: decode_attrs(&attrs)?,
            });
        }
        let next = match items.last() {
            Some(last) if more => Some(
                CursorBody {
                    i: index_number(self.index),
                    p: self.pk,
                    k: last_index_sk,
                    pk: last.key.pk.clone(),
                    sk: last.key.sk.clone(),
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(Page { items, next })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use vitrine_app::ports::clock::ManualClock;
    use vitrine_app::ports::table::Value;
    use vitrine_domain::Timestamp;

    use super::*;

    fn query(index: Index, pk: &str) -> Query {
        Query::new(index, pk)
    }

    #[test]
    fn a_cursor_round_trips_through_its_encoding() {
        let body = CursorBody {
            i: 1,
            p: "CAT#x".into(),
            k: "2025-01-01#é".into(),
            pk: "P#1".into(),
            sk: "A".into(),
        };
        let cursor = body.encode();
        assert!(
            cursor
                .0
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            CursorBody::decode(&cursor, &query(Index::Gsi1, "CAT#x")).unwrap(),
            body
        );
    }

    #[test]
    fn a_cursor_for_another_index_or_partition_is_invalid() {
        let cursor = CursorBody {
            i: 1,
            p: "A".into(),
            k: "k".into(),
            pk: "p".into(),
            sk: "s".into(),
        }
        .encode();
        for q in [
            query(Index::Gsi2, "A"),
            query(Index::Gsi1, "B"),
            query(Index::Primary, "A"),
        ] {
            assert!(
                matches!(CursorBody::decode(&cursor, &q), Err(TableError::Invalid(_))),
                "{q:?}"
            );
        }
    }

    #[test]
    fn malformed_cursors_are_invalid_not_panics() {
        let forged = [
            "",
            "not base64 !",
            "e30",          // {}
            "eyJpIjo5OTl9", // {"i":999}
            &URL_SAFE_NO_PAD.encode(b"[1,2,3]"),
            &URL_SAFE_NO_PAD.encode(br#"{"i":0,"p":"A","k":"x","pk":"A","sk":"x","z":1}"#),
            &URL_SAFE_NO_PAD.encode([0xFF, 0xFE, 0x00]),
        ];
        for f in forged {
            let result = CursorBody::decode(&Cursor(f.to_owned()), &query(Index::Primary, "A"));
            assert!(matches!(result, Err(TableError::Invalid(_))), "{f:?}");
        }
    }

    proptest::proptest! {
        /// A cursor comes back from the client: any text is refused as invalid, never a panic
        /// and never a query of another partition.
        #[test]
        fn no_text_makes_the_cursor_decoder_panic(s in "\\PC{0,120}") {
            let result = CursorBody::decode(&Cursor(s), &query(Index::Primary, "A"));
            proptest::prop_assert!(result.is_err() || result.is_ok_and(|b| b.p == "A"));
        }

        #[test]
        fn base64_of_any_bytes_is_refused_or_ours(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120)) {
            let s = URL_SAFE_NO_PAD.encode(&bytes);
            let result = CursorBody::decode(&Cursor(s), &query(Index::Gsi1, "B"));
            proptest::prop_assert!(matches!(result, Err(TableError::Invalid(_))) || result.is_ok_and(|b| b.p == "B"));
        }
    }

    #[test]
    fn a_prefix_successor_increments_the_last_byte_below_0xff() {
        assert_eq!(prefix_successor(b"abc"), Some(b"abd".to_vec()));
        assert_eq!(prefix_successor(b"a~"), Some(b"a\x7f".to_vec()));
        assert_eq!(prefix_successor(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor("ÿ".as_bytes()), Some(vec![0xC3, 0xC0]));
        assert_eq!(prefix_successor(b"\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }

    fn matches(condition: &SortKey, key: &str) -> bool {
        let k = key.as_bytes();
        match condition {
            SortKey::Eq(v) => k == v.as_bytes(),
            SortKey::BeginsWith(p) => k.starts_with(p.as_bytes()),
            SortKey::Between(a, b) => k >= a.as_bytes() && k <= b.as_bytes(),
            SortKey::Lt(v) => k < v.as_bytes(),
            SortKey::Le(v) => k <= v.as_bytes(),
            SortKey::Gt(v) => k > v.as_bytes(),
            SortKey::Ge(v) => k >= v.as_bytes(),
        }
    }

    const SAMPLE: &[&str] = &[
        "",
        "a",
        "a~",
        "a~~",
        "a\u{7f}",
        "a\u{80}",
        "aÿ",
        "aÿz",
        "a\u{ffff}",
        "a\u{10ffff}",
        "a\u{10ffff}x",
        "ab",
        "b",
        "Z",
        "~",
        "ÿ",
        "é",
        "e",
        "%",
        "_",
        "a%",
        "a_",
    ];

    fn conditions() -> Vec<SortKey> {
        let mut out = Vec::new();
        for s in SAMPLE {
            let s = (*s).to_owned();
            out.extend([
                SortKey::Eq(s.clone()),
                SortKey::BeginsWith(s.clone()),
                SortKey::Lt(s.clone()),
                SortKey::Le(s.clone()),
                SortKey::Gt(s.clone()),
                SortKey::Ge(s.clone()),
            ]);
            for t in SAMPLE {
                if s.as_bytes() <= t.as_bytes() {
                    out.push(SortKey::Between(s.clone(), (*t).to_owned()));
                }
            }
        }
        out
    }

    #[test]
    fn key_ranges_select_exactly_what_their_sort_key_condition_means() {
        for condition in conditions() {
            let range = KeyRange::of(Some(&condition)).unwrap();
            for key in SAMPLE {
                assert_eq!(
                    range.contains(key.as_bytes()),
                    matches(&condition, key),
                    "{condition:?} on {key:?}"
                );
            }
        }
    }

    #[test]
    fn between_with_reversed_bounds_is_invalid() {
        let result = KeyRange::of(Some(&SortKey::Between("b".into(), "a".into())));
        assert!(matches!(result, Err(TableError::Invalid(_))));
    }

    #[test]
    fn a_zero_limit_is_invalid_and_a_large_one_is_capped() {
        assert!(matches!(
            QueryPlan::new(&query(Index::Primary, "A").limit(0), 0),
            Err(TableError::Invalid(_))
        ));
        assert_eq!(
            QueryPlan::new(&query(Index::Primary, "A").limit(1_000_000), 0)
                .unwrap()
                .limit,
            MAX_LIMIT
        );
    }

    /// The SQL bounds must order like the byte comparison above; this is where a TEXT/BLOB
    /// mix-up or a non-binary collation would show.
    #[test]
    fn sql_key_ranges_agree_with_bytewise_order_in_sqlite() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        for (n, sk) in SAMPLE.iter().enumerate() {
            let attrs = format!(r#"{{"n":{{"n":{n}}}}}"#);
            conn.execute(
                "INSERT INTO items (pk, sk, attrs) VALUES ('P', ?1, ?2)",
                params![sk, attrs],
            )
            .unwrap();
        }
        for condition in conditions() {
            let plan = QueryPlan::new(
                &query(Index::Primary, "P").sk(condition.clone()).limit(1000),
                0,
            )
            .unwrap();
            let got: Vec<String> = plan
                .run(&conn)
                .unwrap()
                .items
                .into_iter()
                .map(|i| i.key.sk)
                .collect();
            let mut want: Vec<&str> = SAMPLE
                .iter()
                .copied()
                .filter(|k| matches(&condition, k))
                .collect();
            want.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            assert_eq!(got, want, "{condition:?}");
        }
    }

    #[test]
    fn gsi_queries_use_their_partial_index() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let plan = QueryPlan::new(
            &query(Index::Gsi2, "P").sk(SortKey::BeginsWith("x".into())),
            0,
        )
        .unwrap();
        let explain = format!("EXPLAIN QUERY PLAN {}", plan.sql);
        let mut statement = conn.prepare(&explain).unwrap();
        let details: Vec<String> = statement
            .query_map(params_from_iter(plan.params.iter()), |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            details.iter().any(|d| d.contains("items_gsi2")),
            "{details:?}"
        );
    }

    /// Every shape of query a page can take, on each index: the plan searches the index (never
    /// a scan), and running it again with other values (another time, another range, another
    /// cursor) reuses the compiled statement instead of preparing it anew.
    #[test]
    fn every_query_uses_its_index_and_is_compiled_once() {
        use rusqlite::StatementStatus;
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        keep_plans(&conn).unwrap();
        let cursor = |index: Index, pk: &str, k: &str| {
            CursorBody {
                i: index_number(index),
                p: pk.into(),
                k: k.into(),
                pk: pk.into(),
                sk: k.into(),
            }
            .encode()
        };
        for (index, name) in [
            (Index::Primary, "PRIMARY KEY"),
            (Index::Gsi1, "items_gsi1"),
            (Index::Gsi2, "items_gsi2"),
        ] {
            for shape in 0..4 {
                let mut sql: Option<String> = None;
                for round in 0..5_i64 {
                    let pk = format!("P{round}");
                    let mut q = query(index, &pk).limit(5 + round as usize);
                    match shape {
                        0 => {}
                        1 => q = q.sk(SortKey::Between(format!("a{round}"), format!("m{round}"))),
                        2 => q = q.after(Some(cursor(index, &pk, &format!("k{round}")))),
                        _ => {
                            q = q
                                .sk(SortKey::BeginsWith(format!("x{round}")))
                                .after(Some(cursor(index, &pk, &format!("x{round}a"))))
                                .backward();
                        }
                    }
                    let plan = QueryPlan::new(&q, 1_000 + round).unwrap();
                    let explain = format!("EXPLAIN QUERY PLAN {}", plan.sql);
                    let details: Vec<String> = conn
                        .prepare(&explain)
                        .unwrap()
                        .query_map(params_from_iter(plan.params.iter()), |row| row.get(3))
                        .unwrap()
                        .collect::<Result<_, _>>()
                        .unwrap();
                    assert!(
                        details.len() == 1
                            && details[0].starts_with("SEARCH items USING")
                            && details[0].contains(name),
                        "{index:?}, shape {shape}: {details:?}"
                    );
                    assert!(sql.as_ref().is_none_or(|s| *s == plan.sql));
                    sql = Some(plan.sql.clone());
                    plan.run(&conn).unwrap();
                }
                let sql = sql.unwrap();
                let recompiled = conn
                    .prepare_cached(&sql)
                    .unwrap()
                    .get_status(StatementStatus::RePrepare);
                assert_eq!(recompiled, 0, "{index:?}, shape {shape}: {sql}");
            }
        }
    }

    #[test]
    fn index_columns_copy_only_string_keys_and_numeric_ttl() {
        let mut attrs = Attrs::new();
        attrs.insert(GSI1_PK.into(), Value::S("a".into()));
        attrs.insert(GSI1_SK.into(), Value::S("b".into()));
        attrs.insert(GSI2_PK.into(), Value::S("c".into())); // no gsi2sk: not in GSI2
        attrs.insert(TTL.into(), Value::S("soon".into()));
        assert_eq!(
            IndexColumns::of(&attrs),
            IndexColumns {
                gsi1: Some(("a", "b")),
                gsi2: None,
                ttl: None
            }
        );
        attrs.insert(GSI1_SK.into(), Value::N(1));
        attrs.insert(TTL.into(), Value::N(42));
        assert_eq!(
            IndexColumns::of(&attrs),
            IndexColumns {
                gsi1: None,
                gsi2: None,
                ttl: Some(42)
            }
        );
    }

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(Timestamp::from_secs(1_000_000)))
    }

    #[tokio::test]
    async fn the_purge_deletes_expired_items_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let table = SqliteTable::open(&dir.path().join("t.db"), clock.clone()).unwrap();
        let item = |sk: &str, ttl: i64| WriteOp::put(Item::new(Key::new("P", sk)).with(TTL, ttl));
        table
            .write(vec![
                item("old", 999_999),
                item("later", 1_000_100),
                item("now", 1_000_000),
            ])
            .await
            .unwrap();
        assert_eq!(table.purge_expired().await.unwrap(), 2);
        clock.advance_secs(100);
        assert_eq!(table.purge_expired().await.unwrap(), 1);
        assert_eq!(table.purge_expired().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn dropping_the_table_finishes_queued_writes_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let table = SqliteTable::open(&path, clock()).unwrap();
        let mut answers = Vec::new();
        for n in 0..300 {
            let (reply, answer) = oneshot::channel();
            let ops = vec![WriteOp::put(Item::new(Key::new("P", format!("{n:04}"))))];
            table
                .inner
                .writer
                .send(Request::Write {
                    ops,
                    returning: false,
                    reply,
                })
                .unwrap();
            answers.push(answer);
        }
        drop(table);
        for mut answer in answers {
            assert!(matches!(answer.try_recv(), Ok(Ok(None))));
        }
        let table = SqliteTable::open(&path, clock()).unwrap();
        let page = table
            .query(Query::new(Index::Primary, "P").limit(1000))
            .await
            .unwrap();
        assert_eq!(page.items.len(), 300);
    }

    #[tokio::test]
    async fn a_database_of_another_application_or_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let foreign = dir.path().join("foreign.db");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let error = SqliteTable::open(&foreign, clock()).err().unwrap();
        assert!(
            format!("{error:#}").contains("not a vitrine database"),
            "{error:#}"
        );

        let newer = dir.path().join("newer.db");
        drop(SqliteTable::open(&newer, clock()).unwrap());
        Connection::open(&newer)
            .unwrap()
            .pragma_update(None, "user_version", 2)
            .unwrap();
        let error = SqliteTable::open(&newer, clock()).err().unwrap();
        assert!(
            format!("{error:#}").contains("schema version 2"),
            "{error:#}"
        );

        // Reopening a current database is fine and keeps its items.
        let current = dir.path().join("current.db");
        let table = SqliteTable::open(&current, clock()).unwrap();
        table
            .write(vec![WriteOp::put(Item::new(Key::new("P", "S")))])
            .await
            .unwrap();
        drop(table);
        let table = SqliteTable::open(&current, clock()).unwrap();
        assert!(table.get(&Key::new("P", "S")).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_new_file_keeps_a_product_sized_item_in_place_and_an_old_file_its_pages() {
        let dir = tempfile::tempdir().unwrap();
        let page_size = |path: &Path| -> u32 {
            Connection::open(path)
                .unwrap()
                .pragma_query_value(None, "page_size", |r| r.get(0))
                .unwrap()
        };
        // A row of ~1,100 bytes: over what a 4 KB page keeps in place, under an 8 KB page's.
        let item = |sk: &str| {
            WriteOp::put(Item::new(Key::new("P", sk)).with("description", "x".repeat(1_050)))
        };
        let overflow_pages = |path: &Path| -> i64 {
            Connection::open(path)
                .unwrap()
                .query_row(
                    "SELECT count(*) FROM dbstat WHERE name = 'items' AND pagetype = 'overflow'",
                    [],
                    |r| r.get(0),
                )
                .unwrap()
        };

        let new = dir.path().join("new.db");
        let table = SqliteTable::open(&new, clock()).unwrap();
        table.write(vec![item("a"), item("b")]).await.unwrap();
        drop(table);
        assert_eq!(page_size(&new), PAGE_SIZE);
        assert_eq!(overflow_pages(&new), 0);

        // A file made before (4 KB pages) opens, keeps its page size, and its items spill over.
        let old = dir.path().join("old.db");
        Connection::open(&old)
            .unwrap()
            .execute_batch("PRAGMA page_size = 4096; VACUUM")
            .unwrap();
        let table = SqliteTable::open(&old, clock()).unwrap();
        table.write(vec![item("a"), item("b")]).await.unwrap();
        drop(table);
        assert_eq!(page_size(&old), 4096);
        assert_eq!(overflow_pages(&old), 2);
        let table = SqliteTable::open(&old, clock()).unwrap();
        assert!(table.get(&Key::new("P", "a")).await.unwrap().is_some());
    }

    #[test]
    fn opening_in_a_missing_folder_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let result = SqliteTable::open(&dir.path().join("no/such/folder/t.db"), clock());
        assert!(result.is_err());
    }

    #[tokio::test]
    async fn many_concurrent_writers_all_commit_and_are_visible() {
        let dir = tempfile::tempdir().unwrap();
        let table = SqliteTable::open(&dir.path().join("t.db"), clock()).unwrap();
        let tasks: Vec<_> = (0..200)
            .map(|n| {
                let table = table.clone();
                tokio::spawn(async move {
                    table
                        .write(vec![WriteOp::put_new(Item::new(Key::new(
                            "P",
                            format!("{n:03}"),
                        )))])
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let page = table
            .query(Query::new(Index::Primary, "P").limit(1000))
            .await
            .unwrap();
        let keys: BTreeSet<String> = page.items.into_iter().map(|i| i.key.sk).collect();
        assert_eq!(keys.len(), 200);
    }
}
