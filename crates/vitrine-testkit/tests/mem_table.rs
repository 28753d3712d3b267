//! The Table conformance suite on `MemTable`, one fresh table per case.

use std::sync::Arc;

use vitrine_app::ports::table::Table;
use vitrine_testkit::mem_table::MemTable;

async fn make_table() -> (Arc<dyn Table>, ()) {
    (Arc::new(MemTable::default()), ())
}

vitrine_testkit::table_conformance!(make_table);
