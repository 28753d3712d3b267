//! Customers: the profile and the saved addresses share the customer's partition. The
//! aggregates are the caller's types (`crate::customers`), stored as JSON.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    ADDRESS_PREFIX, Batch, Part, VERSION, address, customer_partition, data_item, decode, profile,
};
use crate::error::AppResult;
use crate::ports::{Condition, Index, Query, SortKey, Table, WriteOp};

/// `sub`'s profile, if it exists.
pub async fn load_profile<T: DeserializeOwned>(
    table: &dyn Table,
    sub: &str,
) -> AppResult<Option<T>> {
    table
        .get(&profile(sub))
        .await?
        .map(|i| decode(&i))
        .transpose()
}

/// The profiles of `subs`, in their order (`None` for one that does not exist).
pub async fn load_profiles<T: DeserializeOwned>(
    table: &dyn Table,
    subs: &[String],
) -> AppResult<Vec<Option<T>>> {
    let keys: Vec<_> = subs.iter().map(|s| profile(s)).collect();
    table
        .get_many(&keys)
        .await?
        .iter()
        .map(|i| i.as_ref().map(decode).transpose())
        .collect()
}

/// `sub`'s saved address `id`, if it exists.
pub async fn load_address<T: DeserializeOwned>(
    table: &dyn Table,
    sub: &str,
    id: &str,
) -> AppResult<Option<T>> {
    table
        .get(&address(sub, id))
        .await?
        .map(|i| decode(&i))
        .transpose()
}

/// `sub`'s saved addresses, at most `limit`.
pub async fn addresses<T: DeserializeOwned>(
    table: &dyn Table,
    sub: &str,
    limit: usize,
) -> AppResult<Vec<T>> {
    let page = table
        .query(
            Query::new(Index::Primary, customer_partition(sub))
                .sk(SortKey::BeginsWith(ADDRESS_PREFIX.into()))
                .limit(limit),
        )
        .await?;
    page.items.iter().map(decode).collect()
}

impl Batch {
    /// Create `sub`'s profile (version 1): fails on [`Part::Profile`] when it exists.
    pub fn put_new_profile<T: Serialize>(&mut self, sub: &str, p: &T) -> AppResult<()> {
        self.put_new(Part::Profile, data_item(profile(sub), p)?.with(VERSION, 1));
        Ok(())
    }

    /// Save `sub`'s profile as `version`, over `read_version`: fails on [`Part::Profile`] when
    /// it changed meanwhile.
    pub fn save_profile<T: Serialize>(
        &mut self,
        sub: &str,
        p: &T,
        version: u64,
        read_version: u64,
    ) -> AppResult<()> {
        let item = data_item(profile(sub), p)?.with(VERSION, version as i64);
        self.put_versioned(Part::Profile, item, Some(read_version));
        Ok(())
    }

    /// Save a new address `id` of `sub`'s.
    pub fn put_new_address<T: Serialize>(&mut self, sub: &str, id: &str, a: &T) -> AppResult<()> {
        self.put_new(Part::Address, data_item(address(sub, id), a)?);
        Ok(())
    }

    /// Delete `sub`'s address `id`: fails on [`Part::Address`] when there is none.
    pub fn delete_address(&mut self, sub: &str, id: &str) {
        self.push(
            Part::Address,
            WriteOp::Delete {
                key: address(sub, id),
                condition: Some(Condition::Exists),
            },
        );
    }
}
