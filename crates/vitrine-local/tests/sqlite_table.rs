//! The Table conformance suite on `SqliteTable`, one fresh database file per case.

use std::sync::Arc;

use tempfile::TempDir;
use vitrine_app::ports::clock::SystemClock;
use vitrine_app::ports::table::Table;
use vitrine_local::sqlite::SqliteTable;

async fn make_table() -> (Arc<dyn Table>, TempDir) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let table = SqliteTable::open(&dir.path().join("vitrine.db"), Arc::new(SystemClock))
        .expect("open table");
    (Arc::new(table), dir)
}

vitrine_testkit::table_conformance!(make_table);
