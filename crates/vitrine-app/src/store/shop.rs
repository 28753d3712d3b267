//! The shop's look: one item, `SHOP` / `LOOK`, the [`Look`] as JSON with its version.

use std::sync::{Arc, RwLock};

use vitrine_domain::Timestamp;
use vitrine_domain::shop::Look;

use super::{Batch, Part, VERSION, data_item, shop_look};
use crate::error::AppResult;
use crate::ports::Table;

/// The look as a process last read it, and when (`App::shop_look` keeps it).
pub type LookCache = RwLock<Option<(Arc<Look>, Timestamp)>>;

/// The shop's look; the platform's default when no one saved one yet (version 0).
pub async fn load(table: &dyn Table) -> AppResult<Look> {
    match table.get(&shop_look()).await? {
        Some(item) => {
            let mut look: Look = super::decode(&item)?;
            look.version = item.num(VERSION).unwrap_or(0) as u64;
            Ok(look)
        }
        None => Ok(Look::default()),
    }
}

impl Batch {
    /// Save `look` (already [`Look::saved`]: its version one more than the one read) over the
    /// version read; fails on [`Part::ShopLook`] when someone saved it meanwhile.
    pub fn save_shop_look(&mut self, look: &Look) -> AppResult<()> {
        let item = data_item(shop_look(), look)?.with(VERSION, look.version as i64);
        let read = look.version.checked_sub(1).filter(|&v| v > 0);
        self.put_versioned(Part::ShopLook, item, read);
        Ok(())
    }
}
