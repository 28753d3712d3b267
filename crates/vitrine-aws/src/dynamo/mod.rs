//! The Table port on DynamoDB: one table, keyed `pk`/`sk`, with the sparse indexes `gsi1`
//! (`gsi1pk`/`gsi1sk`) and `gsi2` (`gsi2pk`/`gsi2sk`) and a TTL on `ttl` — the shape
//! [`DynamoTable::create_table`] makes and the CloudFormation template declares.
//!
//! Invariants:
//! - **No user data in an expression string.** Every attribute name and value reaches DynamoDB
//!   through a generated placeholder (`#n0`, `:v0`, ...); the expression text is built only from
//!   those placeholders, DynamoDB keywords and operators. The port's typed conditions and updates
//!   are translated here, so domain code never writes an expression.
//! - **The port's semantics, not DynamoDB's defaults.** Comparisons carry `attribute_type` guards
//!   so that another type or a missing attribute makes them false (and `Ne` true) on every engine,
//!   including the emulator, whose comparisons of mixed types are not DynamoDB's.
//! - **Expired means absent**, whether or not DynamoDB's TTL sweeper (which may lag by days) has
//!   removed the item yet: reads drop items whose numeric `ttl` is at or before the Clock's now,
//!   and every condition is evaluated against "the item is present *and* not expired". An update
//!   of an expired item starts from a fresh item, as the SQLite adapter does (see
//!   [`DynamoTable::write`]).
//! - **Attribute names are the port's**, with one reversible exception: the port allows an
//!   attribute named `pk` or `sk`, which in DynamoDB would be the key, so such names (and names
//!   starting with `~`) are stored with a `~` in front ([`physical_name`], [`logical_name`]).
//! - **A batch is one `TransactWriteItems`** (all-or-nothing, at most 100 operations); a failed
//!   condition is reported with the index of the first operation whose condition failed.
//! - Pages never exceed the query's limit, cursors are bound to the query that issued them, and a
//!   cursor that does not decode to such a position is `Invalid` — never a panic or an engine
//!   error.
//!
//! Here: [`DynamoTable`], creating its table, and the Table port. The parts: `items` (values and
//! items as attribute values, the escape of attribute names), `expressions` (conditions and
//! updates as placeholder-only expressions), `errors` (what is retried, the backoff), `writes`
//! (single writes and transactions) and `queries` (key conditions, pages, cursors).

use crate::LazyClient;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    KeysAndAttributes, Projection, ProjectionType, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, StreamSpecification, StreamViewType,
    TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use vitrine_app::ports::Clock;
use vitrine_app::ports::table::{
    Condition, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK, Index, Item, Key, Page, Query, TTL, Table,
    TableError, Update, WriteOp, check_batch, is_expired,
};

mod errors;
mod expressions;
mod items;
mod queries;
mod writes;

pub use self::items::{item_from_attributes, logical_name, physical_name};

use self::errors::{Failure, backoff, classify};
use self::expressions::{Placeholders, fold_updates, render_condition, render_updates};
use self::items::{check_key, decode, key_av};
use self::queries::{effective_sort_key, index_shape, key_condition};
use self::writes::{Plan, Refused, expired_ttl, holds_when_absent, replace_put, update_condition};

/// The partition-key attribute of the table.
const PK: &str = "pk";
/// The sort-key attribute of the table.
const SK: &str = "sk";
/// Index names, as the template declares them.
const GSI1: &str = "gsi1";
const GSI2: &str = "gsi2";
/// The most items one page returns, whatever the query asks (the port lets adapters cap it).
const MAX_PAGE: usize = 1000;
/// Keys one BatchGetItem may ask for (DynamoDB's limit).
const BATCH_GET_MAX: usize = 100;
/// Attempts of one write before giving up as `Unavailable`: transaction conflicts (concurrent
/// transactions on one item cancel each other) and throttling are retried with backoff, on top
/// of the SDK's own retries of transient errors.
const MAX_ATTEMPTS: u32 = 12;

/// The Table port on one DynamoDB table.
#[derive(Clone)]
pub struct DynamoTable {
    client: LazyClient<Client>,
    table: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DynamoTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoTable")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl DynamoTable {
    /// The items of `keys` (at most [`BATCH_GET_MAX`], no duplicates) that exist and have not
    /// expired, in no particular order.
    async fn batch_get(&self, keys: &[&Key], now: i64) -> Result<Vec<Item>, TableError> {
        let mut pending: Vec<items::RawItem> = keys.iter().map(|k| key_av(k)).collect();
        let mut out = Vec::with_capacity(keys.len());
        for attempt in 0..MAX_ATTEMPTS {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(|e| TableError::Invalid(format!("BatchGetItem request: {e}")))?;
            let result = self
                .client
                .batch_get_item()
                .request_items(&self.table, request.clone())
                .send()
                .await;
            match result {
                Ok(answer) => {
                    for raw in answer
                        .responses()
                        .and_then(|r| r.get(&self.table))
                        .into_iter()
                        .flatten()
                    {
                        let item = decode(raw)?;
                        if !is_expired(&item, now) {
                            out.push(item);
                        }
                    }
                    pending = answer
                        .unprocessed_keys()
                        .and_then(|u| u.get(&self.table))
                        .map(|k| k.keys().to_vec())
                        .unwrap_or_default();
                    if pending.is_empty() {
                        return Ok(out);
                    }
                    backoff(attempt).await;
                }
                Err(e) => match classify(&e) {
                    Failure::Retry(_) if attempt + 1 < MAX_ATTEMPTS => {
                        pending = request.keys().to_vec();
                        backoff(attempt).await;
                    }
                    other => return Err(other.into_table_error()),
                },
            }
        }
        Err(TableError::Unavailable(anyhow!(
            "get_many: out of attempts"
        )))
    }

    /// The table named `table`, read and written through `client`. `clock` decides which items
    /// are expired.
    pub fn new(
        client: impl Into<LazyClient<Client>>,
        table: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client: client.into(),
            table: table.into(),
            clock,
        }
    }

    /// Create the table in the shape the store needs (the CloudFormation template declares the
    /// same): string keys `pk`/`sk`; `gsi1` on `gsi1pk`/`gsi1sk` and `gsi2` on `gsi2pk`/`gsi2sk`,
    /// projecting all attributes; on-demand billing; a stream of new and old images (the event
    /// dispatcher reads it); TTL on `ttl`. Does nothing to a table that already exists (beyond
    /// enabling its TTL), so it is safe on every start.
    pub async fn create_table(client: &Client, name: &str) -> anyhow::Result<()> {
        let attr = |n: &str| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let key = |n: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(t)
                .build()
        };
        let gsi = |index: &str, pk: &str, sk: &str| -> anyhow::Result<GlobalSecondaryIndex> {
            Ok(GlobalSecondaryIndex::builder()
                .index_name(index)
                .key_schema(key(pk, KeyType::Hash)?)
                .key_schema(key(sk, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()?)
        };
        let created = client
            .create_table()
            .table_name(name)
            .set_attribute_definitions(Some(
                [PK, SK, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK]
                    .into_iter()
                    .map(attr)
                    .collect::<Result<_, _>>()?,
            ))
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .global_secondary_indexes(gsi(GSI1, GSI1_PK, GSI1_SK)?)
            .global_secondary_indexes(gsi(GSI2, GSI2_PK, GSI2_SK)?)
            .billing_mode(BillingMode::PayPerRequest)
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Already there (another process created it, or this is a restart): keep it.
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => {
                return Err(anyhow!("{}", DisplayErrorContext(&e)))
                    .with_context(|| format!("creating table {name}"));
            }
        }
        // AWS creates tables asynchronously and refuses a TTL change until the table is ACTIVE.
        for _ in 0..120 {
            let described = client
                .describe_table()
                .table_name(name)
                .send()
                .await
                .map_err(|e| anyhow!("{}", DisplayErrorContext(&e)))
                .with_context(|| format!("describing table {name}"))?;
            let status = described.table().and_then(|t| t.table_status());
            if status == Some(&TableStatus::Active) {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let ttl = client
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .map_err(|e| anyhow!("{}", DisplayErrorContext(&e)))
            .with_context(|| format!("reading the TTL setting of table {name}"))?;
        let status = ttl
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        // Enabling an enabled TTL is an error on AWS, hence the look first.
        if !matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(TTL)
                        .enabled(true)
                        .build()?,
                )
                .send()
                .await
                .map_err(|e| anyhow!("{}", DisplayErrorContext(&e)))
                .with_context(|| format!("enabling TTL on table {name}"))?;
        }
        Ok(())
    }

    fn now_secs(&self) -> i64 {
        self.clock.now().secs()
    }
}

// ---------------------------------------------------------------------------------------------
// The port

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        if key.pk.is_empty() || key.sk.is_empty() {
            // DynamoDB refuses such a key, and no item can have one.
            return Ok(None);
        }
        let now = self.now_secs();
        for attempt in 0..MAX_ATTEMPTS {
            let result = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key_av(key)))
                // Read-your-writes, as the port's callers expect after an acknowledged write.
                .consistent_read(true)
                .send()
                .await;
            match result {
                Ok(out) => {
                    let Some(raw) = out.item() else {
                        return Ok(None);
                    };
                    let item = decode(raw)?;
                    return Ok((!is_expired(&item, now)).then_some(item));
                }
                Err(e) => match classify(&e) {
                    Failure::Retry(_) if attempt + 1 < MAX_ATTEMPTS => backoff(attempt).await,
                    other => return Err(other.into_table_error()),
                },
            }
        }
        Err(TableError::Unavailable(anyhow!("get: out of attempts")))
    }

    /// One BatchGetItem per 100 keys (DynamoDB's limit), sent together, strongly consistent like
    /// [`Table::get`]; what DynamoDB leaves unprocessed (throttling) is asked again with backoff.
    /// A key asked twice is read once: BatchGetItem refuses duplicates.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, TableError> {
        let now = self.now_secs();
        let mut wanted: Vec<&Key> = keys
            .iter()
            // DynamoDB refuses such a key, and no item can have one.
            .filter(|k| !k.pk.is_empty() && !k.sk.is_empty())
            .collect();
        wanted.sort();
        wanted.dedup();
        let read = futures::future::try_join_all(
            wanted
                .chunks(BATCH_GET_MAX)
                .map(|chunk| self.batch_get(chunk, now)),
        )
        .await?;
        let found: HashMap<Key, Item> = read
            .into_iter()
            .flatten()
            .map(|item| (item.key.clone(), item))
            .collect();
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    async fn query(&self, query: Query) -> Result<Page, TableError> {
        if query.limit == 0 {
            return Err(TableError::Invalid(
                "a query limit must be at least 1".into(),
            ));
        }
        let mut start = match &query.after {
            Some(cursor) => Some(Self::decode_cursor(&query, cursor)?),
            None => None,
        };
        let Some(sk) = effective_sort_key(query.sk.as_ref()) else {
            return Ok(Page::default());
        };
        if query.pk.is_empty() {
            return Ok(Page::default());
        }
        let limit = query.limit.min(MAX_PAGE);
        let now = self.now_secs();
        let (index_name, _, _) = index_shape(query.index);
        let mut items: Vec<Item> = Vec::new();
        let mut attempt = 0;
        loop {
            let mut p = Placeholders::default();
            let expr = key_condition(query.index, &query.pk, sk.as_ref(), &mut p);
            let (names, values) = p.into_maps();
            // One more than the page needs: finding it proves that more follow, so `next` is
            // set only then and the cursor points at the last item returned — never past items
            // the page did not show.
            let want = limit - items.len() + 1;
            let result = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index_name.map(str::to_owned))
                .key_condition_expression(expr)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .scan_index_forward(query.forward)
                .limit(i32::try_from(want).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.clone())
                // Indexes are eventually consistent on AWS (and refuse this flag).
                .set_consistent_read((query.index == Index::Primary).then_some(true))
                .send()
                .await;
            let out = match result {
                Ok(out) => out,
                Err(e) => match classify(&e) {
                    // Throttled: ask again for the same round.
                    Failure::Retry(_) if attempt + 1 < MAX_ATTEMPTS => {
                        backoff(attempt).await;
                        attempt += 1;
                        continue;
                    }
                    other => return Err(other.into_table_error()),
                },
            };
            for raw in out.items() {
                let item = decode(raw)?;
                // Expired items are filtered here rather than by a filter expression: `Limit`
                // counts items before filtering, so either way pages are refilled by looping.
                if is_expired(&item, now) {
                    continue;
                }
                if items.len() == limit {
                    let next = items
                        .last()
                        .map(|last| Self::encode_cursor(&query, last))
                        .transpose()?;
                    return Ok(Page { items, next });
                }
                items.push(item);
            }
            match out.last_evaluated_key() {
                Some(lek) if !lek.is_empty() => start = Some(lek.clone()),
                _ => return Ok(Page { items, next: None }),
            }
        }
    }

    /// One `TransactWriteItems`. Failed conditions name the first failing operation. An update
    /// whose condition failed only because its item is expired is redone as a put of the item
    /// the updates make from nothing (guarded on the expired item's `ttl`, so a concurrent
    /// writer is never overwritten) — what the port's "expired is absent" means for an update.
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), TableError> {
        check_batch(&ops)?;
        let now = self.now_secs();
        let mut plans = vec![Plan::AsIs; ops.len()];
        let mut pauses = 0;
        for _ in 0..MAX_ATTEMPTS * 2 {
            let items = ops
                .iter()
                .zip(&plans)
                .map(|(op, plan)| self.transact_item(op, plan, now))
                .collect::<Result<Vec<_>, _>>()?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let pause = match result {
                Ok(_) => return Ok(()),
                Err(e) => {
                    let cancelled = e.as_service_error().and_then(|s| match s {
                        TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
                        _ => None,
                    });
                    match cancelled {
                        Some(c) => Self::on_cancel(
                            &ops,
                            &mut plans,
                            c.cancellation_reasons(),
                            now,
                            c.message(),
                        )?,
                        None => match classify(&e) {
                            Failure::Retry(_) => true,
                            other => return Err(other.into_table_error()),
                        },
                    }
                }
            };
            if pause {
                pauses += 1;
                if pauses >= MAX_ATTEMPTS {
                    break;
                }
                backoff(pauses).await;
            }
        }
        Err(TableError::Unavailable(anyhow!(
            "transaction not applied after {MAX_ATTEMPTS} attempts (conflicts or throttling)"
        )))
    }

    async fn update_returning(
        &self,
        key: Key,
        updates: Vec<Update>,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        check_key(&key)?;
        let changes = fold_updates(&updates)?;
        if changes.is_empty() {
            return Err(TableError::Invalid(
                "an update needs at least one change".into(),
            ));
        }
        let now = self.now_secs();
        let mut plan = Plan::AsIs;
        let mut pauses = 0;
        for _ in 0..MAX_ATTEMPTS * 2 {
            let mut p = Placeholders::default();
            let outcome = match plan {
                Plan::AsIs => {
                    let update_expr = render_updates(&changes, &mut p);
                    let expr = render_condition(&update_condition(condition.as_ref(), now), &mut p);
                    let (names, values) = p.into_maps();
                    let result = self
                        .client
                        .update_item()
                        .table_name(&self.table)
                        .set_key(Some(key_av(&key)))
                        .update_expression(update_expr)
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(names)
                        .set_expression_attribute_values(values)
                        .return_values(ReturnValue::AllNew)
                        .return_values_on_condition_check_failure(
                            ReturnValuesOnConditionCheckFailure::AllOld,
                        )
                        .send()
                        .await;
                    match result {
                        Ok(out) => {
                            let raw = out.attributes().ok_or_else(|| {
                                TableError::Unavailable(anyhow!("an update returned no item"))
                            })?;
                            return decode(raw);
                        }
                        Err(e) => match e.as_service_error() {
                            Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                                Refused::Condition(expired_ttl(c.item(), now))
                            }
                            _ => Refused::Request(classify(&e)),
                        },
                    }
                }
                Plan::Replace { expired_ttl: old } => {
                    let (raw, still) = replace_put(&key, &updates, old)?;
                    let item = decode(&raw)?;
                    let expr = render_condition(&still, &mut p);
                    let (names, values) = p.into_maps();
                    let result = self
                        .client
                        .put_item()
                        .table_name(&self.table)
                        .set_item(Some(raw))
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(names)
                        .set_expression_attribute_values(values)
                        .return_values_on_condition_check_failure(
                            ReturnValuesOnConditionCheckFailure::AllOld,
                        )
                        .send()
                        .await;
                    match result {
                        Ok(_) => return Ok(item),
                        Err(e) => match e.as_service_error() {
                            Some(PutItemError::ConditionalCheckFailedException(c)) => {
                                Refused::Condition(expired_ttl(c.item(), now))
                            }
                            _ => Refused::Request(classify(&e)),
                        },
                    }
                }
            };
            match outcome {
                // The condition failed on an expired item: for the port it is absent.
                Refused::Condition(Some(ttl)) => {
                    if !holds_when_absent(condition.as_ref()) {
                        return Err(TableError::ConditionFailed { index: 0 });
                    }
                    plan = Plan::Replace { expired_ttl: ttl };
                }
                Refused::Condition(None) => match plan {
                    Plan::AsIs => return Err(TableError::ConditionFailed { index: 0 }),
                    // The expired item changed meanwhile: update whatever is there now.
                    Plan::Replace { .. } => plan = Plan::AsIs,
                },
                Refused::Request(failure) => match failure {
                    Failure::Retry(_) if pauses + 1 < MAX_ATTEMPTS => {
                        pauses += 1;
                        backoff(pauses).await;
                    }
                    other => return Err(other.into_table_error()),
                },
            }
        }
        Err(TableError::Unavailable(anyhow!(
            "update not applied after {MAX_ATTEMPTS} attempts"
        )))
    }

    async fn ping(&self) -> Result<(), TableError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e).into_table_error())
    }
}
