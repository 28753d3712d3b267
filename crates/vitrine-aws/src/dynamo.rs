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

use crate::LazyClient;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CancellationReason, ConditionCheck, Delete,
    GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, StreamSpecification, StreamViewType,
    TableStatus, TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem,
    Update as DynamoUpdate,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use vitrine_app::ports::Clock;
use vitrine_app::ports::table::{
    Attrs, Condition, Cursor, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK, Index, Item, Key, Page, Query,
    SortKey, TTL, Table, TableError, Update, Value, WriteOp, apply_updates, check_batch, evaluate,
    is_expired,
};

/// The partition-key attribute of the table.
const PK: &str = "pk";
/// The sort-key attribute of the table.
const SK: &str = "sk";
/// Index names, as the template declares them.
const GSI1: &str = "gsi1";
const GSI2: &str = "gsi2";
/// The most items one page returns, whatever the query asks (the port lets adapters cap it).
const MAX_PAGE: usize = 1000;
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
// Values and items

fn to_av(value: &Value) -> AttributeValue {
    match value {
        Value::S(s) => AttributeValue::S(s.clone()),
        Value::N(n) => AttributeValue::N(n.to_string()),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Null => AttributeValue::Null(true),
        Value::L(list) => AttributeValue::L(list.iter().map(to_av).collect()),
        Value::M(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_av(v))).collect())
        }
    }
}

fn from_av(av: &AttributeValue) -> anyhow::Result<Value> {
    Ok(match av {
        AttributeValue::S(s) => Value::S(s.clone()),
        AttributeValue::N(n) => Value::N(
            n.parse()
                .with_context(|| format!("number {n:?} is not a 64-bit integer"))?,
        ),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(list) => Value::L(list.iter().map(from_av).collect::<Result<_, _>>()?),
        AttributeValue::M(map) => Value::M(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), from_av(v)?)))
                .collect::<anyhow::Result<_>>()?,
        ),
        other => anyhow::bail!("attribute type {other:?} is not used by vitrine"),
    })
}

type RawItem = HashMap<String, AttributeValue>;

fn key_av(key: &Key) -> RawItem {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// Marks an attribute name that was escaped on its way to DynamoDB.
const ESCAPE: char = '~';

/// The DynamoDB name of an item attribute. `pk` and `sk` are the key in DynamoDB, but ordinary
/// attribute names in the port (an item may carry an attribute called `sk`), so they are stored
/// as `~pk`/`~sk`; a name that already starts with `~` gets one more, which keeps the mapping
/// reversible ([`logical_name`]). Every other name — `ttl` and the index attributes included —
/// is stored as it is. Readers of the table's stream must undo this too ([`logical_name`]).
pub fn physical_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name == PK || name == SK || name.starts_with(ESCAPE) {
        format!("{ESCAPE}{name}").into()
    } else {
        name.into()
    }
}

/// The port's name of a DynamoDB attribute other than the key (the inverse of [`physical_name`]).
pub fn logical_name(name: &str) -> &str {
    name.strip_prefix(ESCAPE).unwrap_or(name)
}

/// DynamoDB refuses empty strings in key attributes.
fn check_key(key: &Key) -> Result<(), TableError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        Err(TableError::Invalid(
            "key attributes must not be empty".into(),
        ))
    } else {
        Ok(())
    }
}

fn item_av(item: &Item) -> Result<RawItem, TableError> {
    check_key(&item.key)?;
    let mut raw = key_av(&item.key);
    for (name, value) in &item.attrs {
        raw.insert(physical_name(name).into_owned(), to_av(value));
    }
    Ok(raw)
}

/// An item as DynamoDB holds it (from a read, or a stream record's image) in the port's terms:
/// the key out of `pk`/`sk`, the other attributes under their port names.
pub fn item_from_attributes(raw: &HashMap<String, AttributeValue>) -> anyhow::Result<Item> {
    let key_part = |name: &str| match raw.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        other => Err(anyhow!("item without a string {name}: {other:?}")),
    };
    let key = Key::new(key_part(PK)?, key_part(SK)?);
    let mut attrs = Attrs::new();
    for (name, av) in raw {
        if name != PK && name != SK {
            attrs.insert(
                logical_name(name).to_owned(),
                from_av(av).with_context(|| format!("attribute {name:?}"))?,
            );
        }
    }
    Ok(Item { key, attrs })
}

fn decode(raw: &RawItem) -> Result<Item, TableError> {
    item_from_attributes(raw).map_err(|e| TableError::Unavailable(e.context("undecodable item")))
}

// ---------------------------------------------------------------------------------------------
// Expressions: placeholders only

/// The names and values one request's expressions refer to. Each distinct name and value gets
/// one generated placeholder; the expression text holds placeholders only.
#[derive(Debug, Default)]
struct Placeholders {
    names: HashMap<String, String>,
    values: Vec<(String, AttributeValue)>,
}

impl Placeholders {
    fn name(&mut self, name: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, n)| *n == name) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        if let Some((placeholder, _)) = self.values.iter().find(|(_, v)| *v == value) {
            return placeholder.clone();
        }
        let placeholder = format!(":v{}", self.values.len());
        self.values.push((placeholder.clone(), value));
        placeholder
    }

    /// The maps for the request; `None` when empty, because DynamoDB rejects empty maps.
    fn into_maps(self) -> (Option<HashMap<String, String>>, Option<RawItem>) {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then(|| self.values.into_iter().collect());
        (names, values)
    }
}

/// A leaf of a condition expression.
#[derive(Debug, Clone, PartialEq)]
enum Atom {
    /// `attribute_exists(name)`
    Exists(String),
    /// `attribute_not_exists(name)`
    NotExists(String),
    /// `attribute_type(name, type)`
    Type(String, &'static str),
    /// `name <op> value`
    Cmp(String, &'static str, AttributeValue),
}

/// A condition expression before rendering, with constants folded away (DynamoDB has no
/// literal true/false, and every placeholder sent must be used).
#[derive(Debug, Clone, PartialEq)]
enum Cond {
    True,
    False,
    Atom(Atom),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
}

impl Cond {
    fn and(parts: Vec<Cond>) -> Cond {
        let mut out = Vec::new();
        for part in parts {
            match part {
                Cond::True => {}
                Cond::False => return Cond::False,
                Cond::And(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Cond::True,
            1 => out.pop().unwrap_or(Cond::True),
            _ => Cond::And(out),
        }
    }

    fn or(parts: Vec<Cond>) -> Cond {
        let mut out = Vec::new();
        for part in parts {
            match part {
                Cond::False => {}
                Cond::True => return Cond::True,
                Cond::Or(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Cond::False,
            1 => out.pop().unwrap_or(Cond::False),
            _ => Cond::Or(out),
        }
    }

    fn negate(inner: Cond) -> Cond {
        match inner {
            Cond::True => Cond::False,
            Cond::False => Cond::True,
            Cond::Not(c) => *c,
            other => Cond::Not(Box::new(other)),
        }
    }

    fn atom(atom: Atom) -> Cond {
        Cond::Atom(atom)
    }

    /// Render as DynamoDB expression text. Parentheses only where precedence needs them and
    /// never doubled (DynamoDB rejects redundant parentheses).
    fn render(&self, p: &mut Placeholders) -> String {
        match self {
            // Folding leaves constants only at the top, where `render_condition` drops `True`.
            Cond::True => constant(true, p),
            Cond::False => constant(false, p),
            Cond::Atom(atom) => match atom {
                Atom::Exists(n) => format!("attribute_exists({})", p.name(n)),
                Atom::NotExists(n) => format!("attribute_not_exists({})", p.name(n)),
                Atom::Type(n, t) => {
                    let n = p.name(n);
                    let t = p.value(AttributeValue::S((*t).to_owned()));
                    format!("attribute_type({n}, {t})")
                }
                Atom::Cmp(n, op, v) => {
                    let n = p.name(n);
                    let v = p.value(v.clone());
                    format!("{n} {op} {v}")
                }
            },
            Cond::And(parts) => parts
                .iter()
                .map(|c| c.render_operand(p))
                .collect::<Vec<_>>()
                .join(" AND "),
            Cond::Or(parts) => parts
                .iter()
                .map(|c| c.render_operand(p))
                .collect::<Vec<_>>()
                .join(" OR "),
            Cond::Not(inner) => format!("NOT {}", inner.render_operand(p)),
        }
    }

    /// Render as the operand of AND/OR/NOT: compound conditions and comparisons get
    /// parentheses, function calls stand alone.
    fn render_operand(&self, p: &mut Placeholders) -> String {
        match self {
            Cond::Atom(Atom::Exists(_) | Atom::NotExists(_) | Atom::Type(..)) => self.render(p),
            _ => format!("({})", self.render(p)),
        }
    }
}

/// DynamoDB has no literal true or false: a tautology or a contradiction on the key stands in.
fn constant(holds: bool, p: &mut Placeholders) -> String {
    let parts = vec![
        Cond::atom(Atom::Exists(PK.into())),
        Cond::atom(Atom::NotExists(PK.into())),
    ];
    if holds {
        Cond::Or(parts).render(p)
    } else {
        Cond::And(parts).render(p)
    }
}

/// The expression for a condition, or `None` when it always holds. A condition that never
/// holds is rendered as a contradiction on the key, so DynamoDB reports it as failed.
fn render_condition(cond: &Cond, p: &mut Placeholders) -> Option<String> {
    match cond {
        Cond::True => None,
        other => Some(other.render(p)),
    }
}

/// The DynamoDB type code of a value, for `attribute_type`.
fn type_code(value: &Value) -> &'static str {
    match value {
        Value::S(_) => "S",
        Value::N(_) => "N",
        Value::Bool(_) => "BOOL",
        Value::Null => "NULL",
        Value::L(_) => "L",
        Value::M(_) => "M",
    }
}

/// `name` holds a value of `value`'s type and `name <op> value`. The type guard comes first:
/// it makes a comparison across types false, as the port requires, and the emulator (which
/// evaluates AND left to right) never compares mixed types (it would fail rather than answer).
fn typed(name: &str, op: &'static str, value: &Value) -> Cond {
    let name = &*physical_name(name);
    let guard = Cond::atom(Atom::Type(name.to_owned(), type_code(value)));
    match value {
        // All NULLs are equal; no comparison needed.
        Value::Null => guard,
        other => Cond::and(vec![
            guard,
            Cond::atom(Atom::Cmp(name.to_owned(), op, to_av(other))),
        ]),
    }
}

/// An ordering comparison. Strings and numbers are ordered; other types are only equal or not
/// (the port's `evaluate`), so `Le`/`Ge` degrade to equality and `Lt`/`Gt` never hold.
fn ordered(name: &str, op: &'static str, value: &Value) -> Cond {
    match value {
        Value::S(_) | Value::N(_) => typed(name, op, value),
        other if op.contains('=') => typed(name, "=", other),
        _ => Cond::False,
    }
}

/// The condition as it applies to an item known to be present (and not expired).
fn on_present(condition: &Condition) -> Cond {
    match condition {
        Condition::Exists => Cond::True,
        Condition::NotExists => Cond::False,
        Condition::AttrExists(n) => Cond::atom(Atom::Exists(physical_name(n).into_owned())),
        Condition::AttrNotExists(n) => Cond::atom(Atom::NotExists(physical_name(n).into_owned())),
        Condition::Eq(n, v) => typed(n, "=", v),
        // Not `<>`: DynamoDB and the emulator disagree on `<>` across types; NOT of the guarded
        // equality is what the port means.
        Condition::Ne(n, v) => Cond::negate(typed(n, "=", v)),
        Condition::Lt(n, v) => ordered(n, "<", v),
        Condition::Le(n, v) => ordered(n, "<=", v),
        Condition::Gt(n, v) => ordered(n, ">", v),
        Condition::Ge(n, v) => ordered(n, ">=", v),
        Condition::And(cs) => Cond::and(cs.iter().map(on_present).collect()),
        Condition::Or(cs) => Cond::or(cs.iter().map(on_present).collect()),
        Condition::Not(c) => Cond::negate(on_present(c)),
    }
}

/// The item carries a numeric `ttl` at or before `now`.
fn expired(now: i64) -> Cond {
    Cond::and(vec![
        Cond::atom(Atom::Type(TTL.into(), "N")),
        Cond::atom(Atom::Cmp(
            TTL.into(),
            "<=",
            AttributeValue::N(now.to_string()),
        )),
    ])
}

/// The item is present and not expired.
fn alive(now: i64) -> Cond {
    Cond::and(vec![
        Cond::atom(Atom::Exists(PK.into())),
        Cond::negate(expired(now)),
    ])
}

/// The port's condition over DynamoDB's view of the item. On an absent or expired item the
/// port's answer is a constant — computed by the port's own `evaluate`, so the two adapters
/// cannot drift — and on a live one the condition is translated attribute by attribute:
/// `alive AND c` when absence fails it, `NOT alive OR c` when absence satisfies it.
fn translate(condition: Option<&Condition>, now: i64) -> Cond {
    let Some(condition) = condition else {
        return Cond::True;
    };
    let present = on_present(condition);
    if evaluate(condition, None) {
        Cond::or(vec![Cond::negate(alive(now)), present])
    } else {
        Cond::and(vec![alive(now), present])
    }
}

/// One attribute's net change after folding a list of updates: DynamoDB rejects two clauses
/// on one attribute, the port applies them in order.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    Set(Value),
    Add(i64),
    Remove,
}

fn fold_updates(updates: &[Update]) -> Result<BTreeMap<String, Change>, TableError> {
    let mut changes: BTreeMap<String, Change> = BTreeMap::new();
    for update in updates {
        let (name, change) = match update {
            Update::Set(n, v) => (n, Change::Set(v.clone())),
            Update::Remove(n) => (n, Change::Remove),
            Update::Add(n, delta) => {
                let overflow = || TableError::Invalid(format!("ADD overflows attribute {n}"));
                let change = match changes.get(n) {
                    None => Change::Add(*delta),
                    Some(Change::Add(x)) => {
                        Change::Add(x.checked_add(*delta).ok_or_else(overflow)?)
                    }
                    Some(Change::Set(Value::N(x))) => {
                        Change::Set(Value::N(x.checked_add(*delta).ok_or_else(overflow)?))
                    }
                    Some(Change::Set(_)) => {
                        return Err(TableError::Invalid(format!(
                            "ADD on non-numeric attribute {n}"
                        )));
                    }
                    Some(Change::Remove) => Change::Set(Value::N(*delta)),
                };
                (n, change)
            }
        };
        changes.insert(name.clone(), change);
    }
    Ok(changes)
}

/// `SET ... REMOVE ... ADD ...` for the folded changes.
fn render_updates(changes: &BTreeMap<String, Change>, p: &mut Placeholders) -> String {
    let (mut set, mut remove, mut add) = (Vec::new(), Vec::new(), Vec::new());
    for (name, change) in changes {
        let n = p.name(&physical_name(name));
        match change {
            Change::Set(v) => set.push(format!("{n} = {}", p.value(to_av(v)))),
            Change::Remove => remove.push(n),
            // ADD starts a missing attribute at 0, as the port specifies.
            Change::Add(d) => {
                add.push(format!("{n} {}", p.value(AttributeValue::N(d.to_string()))))
            }
        }
    }
    let mut clauses = Vec::new();
    for (keyword, parts) in [("SET", set), ("REMOVE", remove), ("ADD", add)] {
        if !parts.is_empty() {
            clauses.push(format!("{keyword} {}", parts.join(", ")));
        }
    }
    clauses.join(" ")
}

// ---------------------------------------------------------------------------------------------
// Errors

/// What to do about a failed request.
enum Failure {
    /// DynamoDB refused the request as malformed.
    Invalid(String),
    /// Refused without effect, worth another attempt after a pause (throttling, a conflicting
    /// transaction).
    Retry(anyhow::Error),
    /// The engine failed.
    Fatal(anyhow::Error),
}

impl Failure {
    fn into_table_error(self) -> TableError {
        match self {
            Failure::Invalid(m) => TableError::Invalid(m),
            Failure::Retry(e) | Failure::Fatal(e) => TableError::Unavailable(e),
        }
    }
}

fn classify<E, R>(err: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let described = anyhow!("{}", DisplayErrorContext(err));
    match err.code() {
        Some("ValidationException") => {
            Failure::Invalid(err.message().unwrap_or("rejected by DynamoDB").to_owned())
        }
        Some(
            "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "TransactionConflictException",
        ) => Failure::Retry(described),
        // Server errors are not retried here: the SDK already retried them with the same
        // idempotency token, and a write retried with a new one might apply twice.
        _ => Failure::Fatal(described),
    }
}

/// Sleep before attempt `attempt + 1`: exponential from 20 ms, capped at 1 s, half of it random
/// so that contenders for one item spread out instead of colliding again in step.
async fn backoff(attempt: u32) {
    let cap = 20u64.saturating_mul(1 << attempt.min(6)).min(1000);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    let jitter = hasher.finish() % cap.max(1);
    tokio::time::sleep(Duration::from_millis(cap / 2 + jitter / 2)).await;
}

// ---------------------------------------------------------------------------------------------
// Writes

/// Why a single-item request did not apply.
enum Refused {
    /// Its condition failed; on an item expired with this `ttl`, if it was.
    Condition(Option<i64>),
    /// The request failed.
    Request(Failure),
}

/// How one operation of a batch is sent.
#[derive(Debug, Clone, PartialEq)]
enum Plan {
    /// As the port wrote it.
    AsIs,
    /// An update of an item found expired (with this `ttl`): sent as a put of the item the
    /// updates make from nothing, conditioned on the expired item still being there.
    Replace { expired_ttl: i64 },
}

/// The old item a failed condition reported, when it is expired at `now`: its `ttl`.
fn expired_ttl(old: Option<&RawItem>, now: i64) -> Option<i64> {
    let item = item_from_attributes(old?).ok()?;
    is_expired(&item, now).then(|| item.num(TTL)).flatten()
}

/// An update is conditioned on the item not being expired: DynamoDB would update the expired
/// item in place (keeping its old attributes and `ttl`), while the port treats it as absent.
/// A failure on an expired item is then redone as a [`Plan::Replace`].
fn update_condition(condition: Option<&Condition>, now: i64) -> Cond {
    Cond::and(vec![translate(condition, now), Cond::negate(expired(now))])
}

/// Whether the port's condition holds on an absent item — and so on an expired one, which an
/// update then replaces; when it does not, the failure is genuine.
fn holds_when_absent(condition: Option<&Condition>) -> bool {
    condition.is_none_or(|c| evaluate(c, None))
}

/// The put that replaces an expired item: what the updates make from nothing, written only
/// while the expired item (same `ttl`) is still there.
fn replace_put(
    key: &Key,
    updates: &[Update],
    expired_ttl: i64,
) -> Result<(RawItem, Cond), TableError> {
    let item = apply_updates(key, None, updates)?;
    let raw = item_av(&item)?;
    let still = Cond::and(vec![
        Cond::atom(Atom::Type(TTL.into(), "N")),
        Cond::atom(Atom::Cmp(
            TTL.into(),
            "=",
            AttributeValue::N(expired_ttl.to_string()),
        )),
    ]);
    Ok((raw, still))
}

impl DynamoTable {
    fn transact_item(
        &self,
        op: &WriteOp,
        plan: &Plan,
        now: i64,
    ) -> Result<TransactWriteItem, TableError> {
        let mut p = Placeholders::default();
        let built = match (op, plan) {
            (WriteOp::Put { item, condition }, _) => {
                let raw = item_av(item)?;
                let expr = render_condition(&translate(condition.as_ref(), now), &mut p);
                let (names, values) = p.into_maps();
                TransactWriteItem::builder().put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(raw))
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(names)
                        .set_expression_attribute_values(values)
                        .build()
                        .map_err(build_error)?,
                )
            }
            (WriteOp::Update { key, updates, .. }, Plan::Replace { expired_ttl }) => {
                let (raw, still) = replace_put(key, updates, *expired_ttl)?;
                let expr = render_condition(&still, &mut p);
                let (names, values) = p.into_maps();
                TransactWriteItem::builder().put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(raw))
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(names)
                        .set_expression_attribute_values(values)
                        .return_values_on_condition_check_failure(
                            ReturnValuesOnConditionCheckFailure::AllOld,
                        )
                        .build()
                        .map_err(build_error)?,
                )
            }
            (
                WriteOp::Update {
                    key,
                    updates,
                    condition,
                },
                Plan::AsIs,
            ) => {
                check_key(key)?;
                let changes = fold_updates(updates)?;
                if changes.is_empty() {
                    // A transaction's update needs an update expression, and there is no
                    // harmless one; no caller needs an update that changes nothing.
                    return Err(TableError::Invalid(
                        "an update needs at least one change".into(),
                    ));
                }
                let update_expr = render_updates(&changes, &mut p);
                let expr = render_condition(&update_condition(condition.as_ref(), now), &mut p);
                let (names, values) = p.into_maps();
                TransactWriteItem::builder().update(
                    DynamoUpdate::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_av(key)))
                        .update_expression(update_expr)
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(names)
                        .set_expression_attribute_values(values)
                        .return_values_on_condition_check_failure(
                            ReturnValuesOnConditionCheckFailure::AllOld,
                        )
                        .build()
                        .map_err(build_error)?,
                )
            }
            (WriteOp::Delete { key, condition }, _) => {
                check_key(key)?;
                let expr = render_condition(&translate(condition.as_ref(), now), &mut p);
                let (names, values) = p.into_maps();
                TransactWriteItem::builder().delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_av(key)))
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(names)
                        .set_expression_attribute_values(values)
                        .build()
                        .map_err(build_error)?,
                )
            }
            (WriteOp::Check { key, condition }, _) => {
                check_key(key)?;
                // A check needs an expression even when its condition always holds.
                let cond = translate(Some(condition), now);
                let expr =
                    render_condition(&cond, &mut p).unwrap_or_else(|| constant(true, &mut p));
                let (names, values) = p.into_maps();
                TransactWriteItem::builder().condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_av(key)))
                        .condition_expression(expr)
                        .set_expression_attribute_names(names)
                        .set_expression_attribute_values(values)
                        .build()
                        .map_err(build_error)?,
                )
            }
        };
        Ok(built.build())
    }

    /// Decide what a cancelled transaction means. `Ok(true)`: retry after a pause (a conflict
    /// or throttling); `Ok(false)`: retry now with the adjusted plans; `Err`: the answer.
    fn on_cancel(
        ops: &[WriteOp],
        plans: &mut [Plan],
        reasons: &[CancellationReason],
        now: i64,
        message: Option<&str>,
    ) -> Result<bool, TableError> {
        let mut pause = false;
        let mut replanned = false;
        for (index, reason) in reasons.iter().enumerate() {
            match reason.code() {
                None | Some("None") => {}
                Some("ConditionalCheckFailed") => {
                    let (Some(op), Some(plan)) = (ops.get(index), plans.get_mut(index)) else {
                        return Err(TableError::ConditionFailed { index });
                    };
                    let WriteOp::Update { condition, .. } = op else {
                        return Err(TableError::ConditionFailed { index });
                    };
                    let old_ttl = expired_ttl(reason.item(), now);
                    match (&*plan, old_ttl) {
                        // The item is expired: absent, for the port.
                        (_, Some(ttl)) => {
                            if !holds_when_absent(condition.as_ref()) {
                                return Err(TableError::ConditionFailed { index });
                            }
                            *plan = Plan::Replace { expired_ttl: ttl };
                            replanned = true;
                        }
                        // The expired item we meant to replace changed meanwhile: start over.
                        (Plan::Replace { .. }, None) => {
                            *plan = Plan::AsIs;
                            replanned = true;
                        }
                        (Plan::AsIs, None) => return Err(TableError::ConditionFailed { index }),
                    }
                }
                // Another transaction held one of the items (moto never reports this: it has no
                // transaction isolation at all, so this path only runs on AWS).
                Some(
                    "TransactionConflict"
                    | "ThrottlingError"
                    | "ProvisionedThroughputExceeded"
                    | "RequestLimitExceeded",
                ) => pause = true,
                Some("ValidationError") => {
                    return Err(TableError::Invalid(
                        reason
                            .message()
                            .unwrap_or("rejected by DynamoDB")
                            .to_owned(),
                    ));
                }
                Some(other) => {
                    return Err(TableError::Unavailable(anyhow!(
                        "transaction cancelled: {other} at operation {index}: {}",
                        reason.message().or(message).unwrap_or_default()
                    )));
                }
            }
        }
        if pause || replanned {
            Ok(pause)
        } else {
            Err(TableError::Unavailable(anyhow!(
                "transaction cancelled without a reason: {}",
                message.unwrap_or_default()
            )))
        }
    }
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> TableError {
    TableError::Unavailable(anyhow!(e).context("building a DynamoDB request"))
}

// ---------------------------------------------------------------------------------------------
// Queries

/// What a cursor holds: the query it belongs to and the key of the last item returned.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct CursorBody {
    /// Index: "p", "1" or "2".
    i: String,
    /// The queried partition.
    p: String,
    /// Direction.
    f: bool,
    /// The sort-key condition, as `[operator, operand...]`.
    c: Vec<String>,
    /// The key attributes of the last item returned (DynamoDB's `ExclusiveStartKey`).
    k: BTreeMap<String, String>,
}

fn index_tag(index: Index) -> &'static str {
    match index {
        Index::Primary => "p",
        Index::Gsi1 => "1",
        Index::Gsi2 => "2",
    }
}

/// The index's name in DynamoDB (none for the table) and its key attributes.
fn index_shape(index: Index) -> (Option<&'static str>, &'static str, &'static str) {
    match index {
        Index::Primary => (None, PK, SK),
        Index::Gsi1 => (Some(GSI1), GSI1_PK, GSI1_SK),
        Index::Gsi2 => (Some(GSI2), GSI2_PK, GSI2_SK),
    }
}

fn sort_key_tag(sk: Option<&SortKey>) -> Vec<String> {
    let tag = |op: &str, args: &[&String]| {
        std::iter::once(op.to_owned())
            .chain(args.iter().map(|a| (*a).clone()))
            .collect()
    };
    match sk {
        None => vec![],
        Some(SortKey::Eq(v)) => tag("eq", &[v]),
        Some(SortKey::BeginsWith(v)) => tag("begins_with", &[v]),
        Some(SortKey::Between(a, b)) => tag("between", &[a, b]),
        Some(SortKey::Lt(v)) => tag("lt", &[v]),
        Some(SortKey::Le(v)) => tag("le", &[v]),
        Some(SortKey::Gt(v)) => tag("gt", &[v]),
        Some(SortKey::Ge(v)) => tag("ge", &[v]),
    }
}

fn sort_key_holds(condition: Option<&SortKey>, key: &str) -> bool {
    let k = key.as_bytes();
    match condition {
        None => true,
        Some(SortKey::Eq(v)) => k == v.as_bytes(),
        Some(SortKey::BeginsWith(p)) => k.starts_with(p.as_bytes()),
        Some(SortKey::Between(a, b)) => k >= a.as_bytes() && k <= b.as_bytes(),
        Some(SortKey::Lt(v)) => k < v.as_bytes(),
        Some(SortKey::Le(v)) => k <= v.as_bytes(),
        Some(SortKey::Gt(v)) => k > v.as_bytes(),
        Some(SortKey::Ge(v)) => k >= v.as_bytes(),
    }
}

/// What to ask DynamoDB for a sort-key condition. DynamoDB refuses empty strings in key
/// conditions and an inverted BETWEEN, while the port gives them plain meanings (key
/// attributes are never empty here): `Some(None)` = no condition, `None` = nothing matches.
fn effective_sort_key(sk: Option<&SortKey>) -> Option<Option<SortKey>> {
    let Some(sk) = sk else {
        return Some(None);
    };
    match sk {
        SortKey::Eq(v) | SortKey::Lt(v) | SortKey::Le(v) if v.is_empty() => None,
        SortKey::BeginsWith(v) | SortKey::Gt(v) | SortKey::Ge(v) if v.is_empty() => Some(None),
        SortKey::Between(a, b) if a.as_bytes() > b.as_bytes() || b.is_empty() => None,
        SortKey::Between(a, b) if a.is_empty() => Some(Some(SortKey::Le(b.clone()))),
        other => Some(Some(other.clone())),
    }
}

fn key_condition(index: Index, pk: &str, sk: Option<&SortKey>, p: &mut Placeholders) -> String {
    let (_, pk_attr, sk_attr) = index_shape(index);
    let partition = format!(
        "{} = {}",
        p.name(pk_attr),
        p.value(AttributeValue::S(pk.to_owned()))
    );
    let Some(sk) = sk else {
        return partition;
    };
    let n = p.name(sk_attr);
    let mut v = |s: &String| p.value(AttributeValue::S(s.clone()));
    let range = match sk {
        SortKey::Eq(x) => format!("{n} = {}", v(x)),
        SortKey::BeginsWith(x) => format!("begins_with({n}, {})", v(x)),
        SortKey::Between(a, b) => {
            let (a, b) = (v(a), v(b));
            format!("{n} BETWEEN {a} AND {b}")
        }
        SortKey::Lt(x) => format!("{n} < {}", v(x)),
        SortKey::Le(x) => format!("{n} <= {}", v(x)),
        SortKey::Gt(x) => format!("{n} > {}", v(x)),
        SortKey::Ge(x) => format!("{n} >= {}", v(x)),
    };
    format!("{partition} AND {range}")
}

impl DynamoTable {
    fn encode_cursor(query: &Query, item: &Item) -> Result<Cursor, TableError> {
        let (_, pk_attr, sk_attr) = index_shape(query.index);
        let mut k = BTreeMap::from([
            (PK.to_owned(), item.key.pk.clone()),
            (SK.to_owned(), item.key.sk.clone()),
        ]);
        if query.index != Index::Primary {
            for attr in [pk_attr, sk_attr] {
                let value = item.str(attr).ok_or_else(|| {
                    TableError::Unavailable(anyhow!("an index item without a string {attr}"))
                })?;
                k.insert(attr.to_owned(), value.to_owned());
            }
        }
        let body = CursorBody {
            i: index_tag(query.index).to_owned(),
            p: query.pk.clone(),
            f: query.forward,
            c: sort_key_tag(query.sk.as_ref()),
            k,
        };
        let json = serde_json::to_vec(&body)
            .map_err(|e| TableError::Unavailable(anyhow!(e).context("encoding a cursor")))?;
        Ok(Cursor(URL_SAFE_NO_PAD.encode(json)))
    }

    /// The `ExclusiveStartKey` a cursor stands for, if it belongs to this very query.
    fn decode_cursor(query: &Query, cursor: &Cursor) -> Result<RawItem, TableError> {
        let invalid = || TableError::Invalid("a cursor this query did not issue".into());
        let json = URL_SAFE_NO_PAD
            .decode(cursor.0.as_bytes())
            .map_err(|_| invalid())?;
        let body: CursorBody = serde_json::from_slice(&json).map_err(|_| invalid())?;
        let (_, pk_attr, sk_attr) = index_shape(query.index);
        let mut expected_keys = vec![PK, SK];
        if query.index != Index::Primary {
            expected_keys.extend([pk_attr, sk_attr]);
        }
        expected_keys.sort_unstable();
        expected_keys.dedup();
        let keys_ok = body
            .k
            .keys()
            .map(String::as_str)
            .eq(expected_keys.iter().copied())
            && body.k.values().all(|v| !v.is_empty());
        let same_query = body.i == index_tag(query.index)
            && body.p == query.pk
            && body.f == query.forward
            && body.c == sort_key_tag(query.sk.as_ref());
        let inside = body.k.get(pk_attr) == Some(&query.pk)
            && body
                .k
                .get(sk_attr)
                .is_some_and(|sk| sort_key_holds(query.sk.as_ref(), sk));
        if !(keys_ok && same_query && inside) {
            return Err(invalid());
        }
        Ok(body
            .k
            .into_iter()
            .map(|(k, v)| (k, AttributeValue::S(v)))
            .collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every token of an expression is a placeholder, a keyword, a function name or an
    /// operator — nothing a caller wrote.
    fn assert_only_placeholders(expr: &str) {
        let spaced = expr
            .replace('(', " ( ")
            .replace(')', " ) ")
            .replace(',', " , ");
        for token in spaced.split_whitespace() {
            let placeholder = |prefix: char| {
                token.strip_prefix(prefix).is_some_and(|rest| {
                    rest.len() > 1
                        && matches!(rest.as_bytes()[0], b'n' | b'v')
                        && rest[1..].bytes().all(|b| b.is_ascii_digit())
                })
            };
            let allowed = placeholder('#')
                || placeholder(':')
                || [
                    "(",
                    ")",
                    ",",
                    "AND",
                    "OR",
                    "NOT",
                    "BETWEEN",
                    "=",
                    "<",
                    "<=",
                    ">",
                    ">=",
                    "SET",
                    "REMOVE",
                    "ADD",
                    "attribute_exists",
                    "attribute_not_exists",
                    "attribute_type",
                    "begins_with",
                ]
                .contains(&token);
            assert!(allowed, "token {token:?} in {expr:?}");
        }
    }

    const HOSTILE: [&str; 8] = [
        ":x",
        "#a",
        ") OR (",
        "attribute_exists(pk)",
        "#n0",
        ":v0",
        "a.b[0]",
        "size",
    ];

    fn every_condition(name: &str, value: &str) -> Condition {
        let v = Value::S(value.to_owned());
        Condition::Or(vec![
            Condition::And(vec![
                Condition::Exists,
                Condition::AttrExists(name.into()),
                Condition::Eq(name.into(), v.clone()),
                Condition::Ne(name.into(), v.clone()),
            ]),
            Condition::Not(Box::new(Condition::Lt(name.into(), v.clone()))),
            Condition::Le(name.into(), v.clone()),
            Condition::Gt(name.into(), Value::N(1)),
            Condition::Ge(name.into(), Value::Bool(true)),
            Condition::AttrNotExists(name.into()),
            Condition::NotExists,
        ])
    }

    #[test]
    fn hostile_names_and_values_reach_expressions_only_as_placeholders() {
        for name in HOSTILE {
            for value in HOSTILE {
                let mut p = Placeholders::default();
                let cond = update_condition(Some(&every_condition(name, value)), 1_700_000_000);
                let expr = render_condition(&cond, &mut p).expect("an expression");
                assert_only_placeholders(&expr);
                let updates = [
                    Update::Set(name.into(), Value::S(value.into())),
                    Update::Add(format!("{name}{value}"), 1),
                    Update::Remove(value.into()),
                ];
                let update_expr = render_updates(&fold_updates(&updates).unwrap(), &mut p);
                assert_only_placeholders(&update_expr);
                let key_expr = key_condition(
                    Index::Gsi1,
                    value,
                    Some(&SortKey::Between(name.into(), value.into())),
                    &mut p,
                );
                assert_only_placeholders(&key_expr);
                let (names, values) = p.into_maps();
                let names = names.unwrap();
                assert!(names.values().any(|n| n == name));
                let values = values.unwrap();
                assert!(
                    values
                        .values()
                        .any(|v| *v == AttributeValue::S(value.into()))
                );
            }
        }
    }

    #[test]
    fn every_placeholder_sent_is_used() {
        let mut p = Placeholders::default();
        let cond = translate(Some(&every_condition("a", "b")), 5);
        let expr = render_condition(&cond, &mut p).unwrap();
        let (names, values) = p.into_maps();
        for placeholder in names.unwrap().keys().chain(values.unwrap().keys()) {
            assert!(expr.contains(placeholder.as_str()), "{placeholder} unused");
        }
    }

    /// No pair of parentheses encloses exactly another pair (DynamoDB rejects `((a))`).
    fn assert_no_redundant_parentheses(expr: &str) {
        let bytes = expr.as_bytes();
        let mut open = Vec::new();
        let mut pairs = std::collections::HashMap::new();
        for (i, b) in bytes.iter().enumerate() {
            match b {
                b'(' => open.push(i),
                b')' => {
                    let start = open.pop().expect("balanced");
                    pairs.insert(start, i);
                }
                _ => {}
            }
        }
        assert!(open.is_empty(), "balanced: {expr}");
        for (&start, &end) in &pairs {
            let inner = pairs.get(&(start + 1));
            assert!(inner != Some(&(end - 1)), "redundant parentheses in {expr}");
        }
    }

    #[test]
    fn constants_fold_and_nothing_is_parenthesised_twice() {
        assert_eq!(translate(None, 0), Cond::True);
        // An ordering of a type that has none folds to a constant.
        let never = Condition::And(vec![Condition::Lt("x".into(), Value::Null)]);
        assert_eq!(on_present(&never), Cond::False);
        let mut p = Placeholders::default();
        let nested = Condition::Not(Box::new(Condition::Not(Box::new(Condition::Or(vec![
            Condition::And(vec![Condition::Eq("a".into(), Value::N(1))]),
            Condition::Or(vec![Condition::Gt("b".into(), Value::N(2))]),
        ])))));
        let expr = render_condition(&translate(Some(&nested), 0), &mut p).unwrap();
        assert_no_redundant_parentheses(&expr);
    }

    #[test]
    fn updates_on_one_attribute_fold_in_order() {
        let n = || "n".to_owned();
        let folded = fold_updates(&[
            Update::Set(n(), Value::N(2)),
            Update::Add(n(), 3),
            Update::Add("m".into(), 1),
            Update::Add("m".into(), 1),
            Update::Remove("r".into()),
            Update::Add("r".into(), 4),
        ])
        .unwrap();
        assert_eq!(folded["n"], Change::Set(Value::N(5)));
        assert_eq!(folded["m"], Change::Add(2));
        assert_eq!(folded["r"], Change::Set(Value::N(4)));
        assert!(matches!(
            fold_updates(&[Update::Set(n(), Value::S("x".into())), Update::Add(n(), 1)]),
            Err(TableError::Invalid(_))
        ));
    }

    #[test]
    fn attribute_names_map_to_dynamodb_and_back() {
        for (name, stored) in [
            ("pk", "~pk"),
            ("sk", "~sk"),
            ("~pk", "~~pk"),
            ("~", "~~"),
            ("ttl", "ttl"),
            ("gsi1pk", "gsi1pk"),
            ("a~", "a~"),
            ("pk2", "pk2"),
        ] {
            assert_eq!(physical_name(name), stored);
            assert_eq!(logical_name(stored), name);
        }
    }

    #[test]
    fn cursors_are_bound_to_their_query() {
        let query = Query::new(Index::Gsi1, "g").sk(SortKey::BeginsWith("x".into()));
        let item = Item::new(Key::new("p", "s"))
            .with(GSI1_PK, "g")
            .with(GSI1_SK, "x1");
        let cursor = DynamoTable::encode_cursor(&query, &item).unwrap();
        assert!(DynamoTable::decode_cursor(&query, &cursor).is_ok());
        for other in [
            Query::new(Index::Gsi1, "h").sk(SortKey::BeginsWith("x".into())),
            Query::new(Index::Gsi2, "g").sk(SortKey::BeginsWith("x".into())),
            Query::new(Index::Gsi1, "g"),
            query.clone().backward(),
        ] {
            assert!(matches!(
                DynamoTable::decode_cursor(&other, &cursor),
                Err(TableError::Invalid(_))
            ));
        }
    }
}
