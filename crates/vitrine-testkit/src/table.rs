//! The Table port's conformance suite: the contract of `vitrine_app::ports::table`, as tests.
//!
//! Every adapter runs these very cases (SQLite now, DynamoDB against its emulator later), so they
//! test only behaviour the contract promises, never an adapter's layout:
//!
//! ```text
//! async fn make_table() -> (Arc<dyn Table>, tempfile::TempDir) { ... }
//! vitrine_testkit::table_conformance!(make_table);
//! ```
//!
//! The macro expands to one `#[tokio::test]` per case (the calling crate needs `tokio` with the
//! `macros` and `rt-multi-thread` features), named after [`cases`]. `make_table` is called once
//! per case; the second value it returns (a temporary folder, a container handle, ...) is kept
//! alive until the case ends and the table handle is dropped.
//!
//! Invariants of the suite itself:
//! - Each case writes only under partition keys that start with a fresh ULID, so the cases
//!   can share one physical table (DynamoDB) and run in parallel.
//! - The admin's search cases (`table_search`) and the cart sweep's (`table_reminders`) write
//!   the store's own fixed partitions instead: every adapter gives each case a table of its own.
//! - Expiry is tested with `ttl` values far in the past (1970) or far in the future (2100), so
//!   the cases hold whatever the adapter's clock says today.

/// Expand to one `#[tokio::test]` per conformance case, each on a table made by `$make`, an
/// `async fn() -> (Arc<dyn Table>, impl Sized)`.
#[macro_export]
macro_rules! table_conformance {
    ($make:path) => {
        $crate::table_conformance!(@cases $make;
            put_then_get_round_trips_every_value_variant,
            get_of_a_missing_item_is_none,
            get_many_answers_in_the_order_asked_with_none_for_the_missing,
            get_many_reads_more_keys_than_one_batch_in_order,
            a_put_replaces_the_whole_item,
            a_put_with_not_exists_fails_the_second_time,
            exists_and_not_exists_see_whether_the_item_is_there,
            comparison_conditions_guard_updates_like_dynamodb,
            conditions_combine_with_and_or_not,
            attr_exists_and_attr_not_exists_look_at_one_attribute,
            a_conditional_delete_deletes_only_when_its_condition_holds,
            deleting_a_missing_item_succeeds,
            an_update_creates_a_missing_item,
            an_update_whose_condition_needs_the_item_does_not_create_it,
            update_set_add_and_remove_change_only_the_named_attributes,
            add_counts_a_missing_attribute_as_zero_and_update_returning_returns_the_new_item,
            update_returning_reports_a_failed_condition_and_changes_nothing,
            add_on_a_string_attribute_is_invalid,
            a_batch_whose_third_operation_fails_names_index_2_and_changes_nothing,
            a_check_that_holds_lets_the_batch_through,
            an_empty_batch_is_invalid,
            a_batch_of_more_than_100_operations_is_invalid_and_writes_nothing,
            a_batch_of_exactly_100_operations_is_applied,
            two_operations_on_one_item_are_invalid,
            a_primary_query_returns_one_partition_in_byte_order_both_ways,
            sort_key_conditions_select_the_expected_items,
            begins_with_takes_its_prefix_literally_even_at_the_top_of_the_byte_range,
            gsi_queries_see_only_items_that_carry_the_index_attributes,
            gsi_queries_order_by_the_index_sort_key_both_ways,
            an_item_moves_between_index_partitions_when_its_index_attributes_change,
            cursor_pagination_returns_each_item_exactly_once_in_order_both_ways,
            gsi_pagination_over_repeated_index_sort_keys_returns_each_item_once,
            pagination_with_a_sort_key_condition_stays_inside_the_range,
            a_forged_cursor_is_invalid,
            a_zero_limit_is_invalid,
            an_expired_item_is_invisible_to_get_and_query,
            a_gsi_range_read_in_short_pages_skips_expired_items_and_stays_in_range,
            conditions_treat_an_expired_item_as_absent,
            concurrent_conditional_decrements_never_oversell,
            concurrent_counter_increments_return_distinct_consecutive_values,
            hostile_attribute_names_and_values_round_trip_and_compare_literally,
            hostile_keys_round_trip_and_query_literally,
            ping_answers,
            order_search_reads_one_index_range_and_the_orders_it_names,
            customer_search_reads_one_prefix_and_the_profiles_it_needs,
            cart_sweep_reads_one_index_range_and_mails_the_idle_carts,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (table, guard) = $make().await;
                $crate::table::cases::$case(table).await;
                // The table handle is gone (moved into the case); only now release what it used.
                drop(guard);
            }
        )*
    };
}

/// The cases, one `async fn(Arc<dyn Table>)` each. Panics are failures.
pub mod cases {
    pub use crate::table_reminders::cart_sweep_reads_one_index_range_and_mails_the_idle_carts;
    pub use crate::table_search::{
        customer_search_reads_one_prefix_and_the_profiles_it_needs,
        order_search_reads_one_index_range_and_the_orders_it_names,
    };
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    use vitrine_app::ports::table::{
        Condition, Cursor, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK, Index, Item, Key, MAX_BATCH, Query,
        SortKey, TTL, Table, TableError, Update, Value, WriteOp,
    };

    /// A `ttl` long past: 1970-01-01T00:00:01Z.
    const PAST: i64 = 1;
    /// A `ttl` far ahead: 2100-01-01T00:00:00Z.
    const FUTURE: i64 = 4_102_444_800;

    /// A partition-key prefix no other case (or run) uses.
    fn ns() -> String {
        format!("t{}", ulid::Ulid::new())
    }

    fn s(text: &str) -> Value {
        Value::S(text.to_owned())
    }

    async fn put(table: &Arc<dyn Table>, item: Item) {
        table.write(vec![WriteOp::put(item)]).await.expect("put");
    }

    async fn get(table: &Arc<dyn Table>, key: &Key) -> Option<Item> {
        table.get(key).await.expect("get")
    }

    #[track_caller]
    fn assert_condition_failed<T: std::fmt::Debug>(result: Result<T, TableError>, index: usize) {
        match result {
            Err(TableError::ConditionFailed { index: got }) => {
                assert_eq!(got, index, "wrong failing operation")
            }
            other => panic!("expected ConditionFailed {{ index: {index} }}, got {other:?}"),
        }
    }

    #[track_caller]
    fn assert_invalid<T: std::fmt::Debug>(result: Result<T, TableError>) {
        assert!(
            matches!(result, Err(TableError::Invalid(_))),
            "expected Invalid, got {result:?}"
        );
    }

    fn sks(items: &[Item]) -> Vec<String> {
        items.iter().map(|i| i.key.sk.clone()).collect()
    }

    fn bytewise(mut keys: Vec<String>) -> Vec<String> {
        keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        keys
    }

    /// Every item of a query, following cursors, checking that no page exceeds the limit.
    async fn all_pages(table: &Arc<dyn Table>, query: Query) -> Vec<Item> {
        let limit = query.limit;
        let mut items = Vec::new();
        let mut after: Option<Cursor> = None;
        for _ in 0..1000 {
            let page = table
                .query(query.clone().after(after))
                .await
                .expect("query");
            assert!(
                page.items.len() <= limit,
                "a page of {} items for limit {limit}",
                page.items.len()
            );
            items.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => return items,
            }
        }
        panic!("pagination did not end after 1000 pages");
    }

    /// Update `key` under `condition`, counting the write in `writes`; whether it applied.
    async fn guarded_update(table: &Arc<dyn Table>, key: &Key, condition: Condition) -> bool {
        let op = WriteOp::Update {
            key: key.clone(),
            updates: vec![Update::Add("writes".into(), 1)],
            condition: Some(condition.clone()),
        };
        match table.write(vec![op]).await {
            Ok(()) => true,
            Err(TableError::ConditionFailed { index: 0 }) => false,
            Err(e) => panic!("{condition:?}: {e:?}"),
        }
    }

    /// Check each `(condition, expected)` with a guarded update, then that exactly the expected
    /// number of updates was applied (a failed condition writes nothing).
    async fn check_conditions(table: &Arc<dyn Table>, key: &Key, cases: Vec<(Condition, bool)>) {
        let before = get(table, key)
            .await
            .and_then(|i| i.num("writes"))
            .unwrap_or(0);
        let mut applied = 0;
        for (condition, expected) in cases {
            let held = guarded_update(table, key, condition.clone()).await;
            assert_eq!(held, expected, "{condition:?}");
            applied += i64::from(held);
        }
        let after = get(table, key)
            .await
            .and_then(|i| i.num("writes"))
            .unwrap_or(0);
        assert_eq!(after - before, applied, "failed conditions must not write");
    }

    pub async fn put_then_get_round_trips_every_value_variant(table: Arc<dyn Table>) {
        let key = Key::new(format!("{}#P", ns()), "S");
        let mut map = BTreeMap::new();
        map.insert(
            "inner".to_owned(),
            Value::L(vec![Value::N(-1), s("é"), Value::Null, Value::Bool(true)]),
        );
        map.insert(
            "deeper".to_owned(),
            Value::M(BTreeMap::from([("x".to_owned(), Value::N(0))])),
        );
        let mut item = Item::new(key.clone())
            .with("text", "acentuação, emoji 🙂, 中文")
            .with("empty", "")
            .with("number", 42)
            .with("negative", -7)
            .with("max", i64::MAX)
            .with("min", i64::MIN)
            .with("yes", true)
            .with("no", false);
        item.attrs.insert(
            "list".into(),
            Value::L(vec![
                Value::N(1),
                s("two"),
                Value::L(vec![]),
                Value::M(map.clone()),
            ]),
        );
        item.attrs.insert("empty_list".into(), Value::L(vec![]));
        item.attrs.insert("map".into(), Value::M(map));
        item.attrs
            .insert("empty_map".into(), Value::M(BTreeMap::new()));
        item.attrs.insert("null".into(), Value::Null);
        put(&table, item.clone()).await;
        assert_eq!(get(&table, &key).await, Some(item));
    }

    pub async fn get_of_a_missing_item_is_none(table: Arc<dyn Table>) {
        assert_eq!(get(&table, &Key::new(ns(), "nothing")).await, None);
    }

    pub async fn get_many_answers_in_the_order_asked_with_none_for_the_missing(
        table: Arc<dyn Table>,
    ) {
        let pk = ns();
        let a = Item::new(Key::new(pk.clone(), "a")).with("n", 1);
        let c = Item::new(Key::new(pk.clone(), "c")).with("n", 3);
        let gone = Item::new(Key::new(pk.clone(), "gone")).with(TTL, 1);
        for item in [&a, &c, &gone] {
            put(&table, item.clone()).await;
        }
        let keys = [
            c.key.clone(),
            Key::new(pk.clone(), "b"),
            a.key.clone(),
            gone.key.clone(),
            c.key.clone(),
        ];
        let got = table.get_many(&keys).await.expect("get_many");
        assert_eq!(got, vec![Some(c.clone()), None, Some(a), None, Some(c)]);
        assert_eq!(table.get_many(&[]).await.expect("no keys"), vec![]);
    }

    pub async fn get_many_reads_more_keys_than_one_batch_in_order(table: Arc<dyn Table>) {
        let pk = ns();
        let items: Vec<Item> = (0..160)
            .map(|i| Item::new(Key::new(pk.clone(), format!("k{i:03}"))).with("n", i))
            .collect();
        for chunk in items.chunks(80) {
            table
                .write(chunk.iter().cloned().map(WriteOp::put).collect())
                .await
                .expect("put a chunk");
        }
        // Every other key exists, in an order unlike the keys': 240 keys, 120 found.
        let keys: Vec<Key> = (0..240)
            .rev()
            .map(|i| Key::new(pk.clone(), format!("k{:03}", i * 2 / 3 + i % 2 * 1000)))
            .collect();
        let got = table.get_many(&keys).await.expect("get_many");
        assert_eq!(got.len(), keys.len());
        for (key, item) in keys.iter().zip(&got) {
            let expected = items.iter().find(|i| &i.key == key);
            assert_eq!(item.as_ref(), expected, "{key:?}");
        }
        assert!(got.iter().filter(|g| g.is_some()).count() >= 100);
    }

    pub async fn a_put_replaces_the_whole_item(table: Arc<dyn Table>) {
        let key = Key::new(ns(), "S");
        put(&table, Item::new(key.clone()).with("a", 1).with("b", 2)).await;
        put(&table, Item::new(key.clone()).with("a", 3)).await;
        assert_eq!(get(&table, &key).await, Some(Item::new(key).with("a", 3)));
    }

    pub async fn a_put_with_not_exists_fails_the_second_time(table: Arc<dyn Table>) {
        let key = Key::new(ns(), "S");
        table
            .write(vec![WriteOp::put_new(
                Item::new(key.clone()).with("v", "first"),
            )])
            .await
            .unwrap();
        let second = table
            .write(vec![WriteOp::put_new(
                Item::new(key.clone()).with("v", "second"),
            )])
            .await;
        assert_condition_failed(second, 0);
        assert_eq!(get(&table, &key).await.unwrap().str("v"), Some("first"));
    }

    pub async fn exists_and_not_exists_see_whether_the_item_is_there(table: Arc<dyn Table>) {
        let here = Key::new(ns(), "here");
        let gone = Key::new(here.pk.clone(), "gone");
        put(&table, Item::new(here.clone())).await;
        let check = |key: &Key, condition| WriteOp::Check {
            key: key.clone(),
            condition,
        };
        table
            .write(vec![check(&here, Condition::Exists)])
            .await
            .unwrap();
        table
            .write(vec![check(&gone, Condition::NotExists)])
            .await
            .unwrap();
        assert_condition_failed(
            table.write(vec![check(&here, Condition::NotExists)]).await,
            0,
        );
        assert_condition_failed(table.write(vec![check(&gone, Condition::Exists)]).await, 0);
        assert_eq!(get(&table, &gone).await, None, "a check writes nothing");
    }

    pub async fn comparison_conditions_guard_updates_like_dynamodb(table: Arc<dyn Table>) {
        use Condition::{Eq, Ge, Gt, Le, Lt, Ne};
        let key = Key::new(ns(), "S");
        put(
            &table,
            Item::new(key.clone())
                .with("n", 5)
                .with("s", "m")
                .with("b", true),
        )
        .await;
        let n = || "n".to_owned();
        let st = || "s".to_owned();
        let cases = vec![
            (Eq(n(), Value::N(5)), true),
            (Eq(n(), Value::N(6)), false),
            (Ne(n(), Value::N(6)), true),
            (Ne(n(), Value::N(5)), false),
            (Lt(n(), Value::N(6)), true),
            (Lt(n(), Value::N(5)), false),
            (Le(n(), Value::N(5)), true),
            (Le(n(), Value::N(4)), false),
            (Gt(n(), Value::N(4)), true),
            (Gt(n(), Value::N(5)), false),
            (Ge(n(), Value::N(5)), true),
            (Ge(n(), Value::N(6)), false),
            (Ge(n(), Value::N(-100)), true),
            // Strings compare bytewise: 'M' (0x4D) sorts before 'm' (0x6D).
            (Eq(st(), s("m")), true),
            (Lt(st(), s("n")), true),
            (Gt(st(), s("M")), true),
            (Lt(st(), s("M")), false),
            (Ge(st(), s("m")), true),
            (Le(st(), s("l")), false),
            (Eq("b".into(), Value::Bool(true)), true),
            (Eq("b".into(), Value::Bool(false)), false),
            // Another type, or a missing attribute: only `Ne` holds.
            (Eq(n(), s("5")), false),
            (Lt(n(), s("9")), false),
            (Ge(n(), s("0")), false),
            (Ne(n(), s("5")), true),
            (Eq("missing".into(), Value::N(0)), false),
            (Lt("missing".into(), Value::N(1)), false),
            (Ge("missing".into(), Value::N(0)), false),
            (Ne("missing".into(), Value::N(0)), true),
        ];
        check_conditions(&table, &key, cases).await;
    }

    pub async fn conditions_combine_with_and_or_not(table: Arc<dyn Table>) {
        use Condition::{And, Eq, Ge, Lt, Not, Or};
        let key = Key::new(ns(), "S");
        put(
            &table,
            Item::new(key.clone()).with("n", 5).with("status", "paid"),
        )
        .await;
        let yes = || Eq("status".into(), s("paid"));
        let no = || Lt("n".into(), Value::N(0));
        let cases = vec![
            (And(vec![yes(), Ge("n".into(), Value::N(5))]), true),
            (And(vec![yes(), no()]), false),
            (Or(vec![no(), yes()]), true),
            (Or(vec![no(), no()]), false),
            (Not(Box::new(no())), true),
            (Not(Box::new(yes())), false),
            (Not(Box::new(And(vec![yes(), no()]))), true),
            (
                And(vec![
                    Or(vec![no(), yes()]),
                    Not(Box::new(Or(vec![no(), no()]))),
                ]),
                true,
            ),
            (
                Or(vec![And(vec![yes(), no()]), Not(Box::new(yes()))]),
                false,
            ),
        ];
        check_conditions(&table, &key, cases).await;
    }

    pub async fn attr_exists_and_attr_not_exists_look_at_one_attribute(table: Arc<dyn Table>) {
        use Condition::{AttrExists, AttrNotExists};
        let key = Key::new(ns(), "S");
        put(
            &table,
            Item::new(key.clone())
                .with("n", 5)
                .with("nothing", Value::Null),
        )
        .await;
        let cases = vec![
            (AttrExists("n".into()), true),
            (AttrExists("nothing".into()), true),
            (AttrExists("zz".into()), false),
            (AttrNotExists("zz".into()), true),
            (AttrNotExists("n".into()), false),
        ];
        check_conditions(&table, &key, cases).await;

        let missing = Key::new(key.pk.clone(), "missing");
        let check = |condition| {
            vec![WriteOp::Check {
                key: missing.clone(),
                condition,
            }]
        };
        table.write(check(AttrNotExists("n".into()))).await.unwrap();
        assert_condition_failed(table.write(check(AttrExists("n".into()))).await, 0);
    }

    pub async fn a_conditional_delete_deletes_only_when_its_condition_holds(table: Arc<dyn Table>) {
        let key = Key::new(ns(), "S");
        put(&table, Item::new(key.clone()).with("version", 2)).await;
        let delete = |v: i64| {
            vec![WriteOp::Delete {
                key: key.clone(),
                condition: Some(Condition::Eq("version".into(), Value::N(v))),
            }]
        };
        assert_condition_failed(table.write(delete(1)).await, 0);
        assert!(get(&table, &key).await.is_some());
        table.write(delete(2)).await.unwrap();
        assert_eq!(get(&table, &key).await, None);
        let again = table
            .write(vec![WriteOp::Delete {
                key: key.clone(),
                condition: Some(Condition::Exists),
            }])
            .await;
        assert_condition_failed(again, 0);
    }

    pub async fn deleting_a_missing_item_succeeds(table: Arc<dyn Table>) {
        let key = Key::new(ns(), "never");
        table
            .write(vec![WriteOp::Delete {
                key: key.clone(),
                condition: None,
            }])
            .await
            .unwrap();
        assert_eq!(get(&table, &key).await, None);
    }

    pub async fn an_update_creates_a_missing_item(table: Arc<dyn Table>) {
        let key = Key::new(ns(), "S");
        let updates = vec![
            Update::Set("a".into(), s("x")),
            Update::Add("n".into(), 2),
            Update::Remove("zz".into()),
        ];
        table
            .write(vec![WriteOp::Update {
                key: key.clone(),
                updates,
                condition: None,
            }])
            .await
            .unwrap();
        assert_eq!(
            get(&table, &key).await,
            Some(Item::new(key).with("a", "x").with("n", 2))
        );
    }

    pub async fn an_update_whose_condition_needs_the_item_does_not_create_it(
        table: Arc<dyn Table>,
    ) {
        let key = Key::new(ns(), "S");
        let op = WriteOp::Update {
            key: key.clone(),
            updates: vec![Update::Set("a".into(), s("x"))],
            condition: Some(Condition::Exists),
        };
        assert_condition_failed(table.write(vec![op]).await, 0);
        assert_eq!(get(&table, &key).await, None);
    }

    pub async fn update_set_add_and_remove_change_only_the_named_attributes(table: Arc<dyn Table>) {
        let key = Key::new(ns(), "S");
        put(
            &table,
            Item::new(key.clone())
                .with("keep", "k")
                .with("set", "old")
                .with("gone", 1)
                .with("n", 10),
        )
        .await;
        let updates = vec![
            Update::Set("set".into(), s("new")),
            Update::Set("added".into(), Value::L(vec![Value::N(1)])),
            Update::Remove("gone".into()),
            Update::Add("n".into(), -3),
        ];
        table
            .write(vec![WriteOp::Update {
                key: key.clone(),
                updates,
                condition: None,
            }])
            .await
            .unwrap();
        let mut want = Item::new(key.clone())
            .with("keep", "k")
            .with("set", "new")
            .with("n", 7);
        want.attrs
            .insert("added".into(), Value::L(vec![Value::N(1)]));
        assert_eq!(get(&table, &key).await, Some(want));
    }

    pub async fn add_counts_a_missing_attribute_as_zero_and_update_returning_returns_the_new_item(
        table: Arc<dyn Table>,
    ) {
        let key = Key::new(ns(), "counter");
        put(&table, Item::new(key.clone()).with("series", "1")).await;
        let first = table
            .update_returning(key.clone(), vec![Update::Add("next".into(), 1)], None)
            .await
            .unwrap();
        assert_eq!(
            first,
            Item::new(key.clone()).with("series", "1").with("next", 1)
        );
        let second = table
            .update_returning(key.clone(), vec![Update::Add("next".into(), 1)], None)
            .await
            .unwrap();
        assert_eq!(second.num("next"), Some(2));
        let back = table
            .update_returning(key.clone(), vec![Update::Add("next".into(), -5)], None)
            .await
            .unwrap();
        assert_eq!(back.num("next"), Some(-3));
        assert_eq!(get(&table, &key).await, Some(back));

        let fresh = Key::new(key.pk.clone(), "fresh");
        let created = table
            .update_returning(fresh.clone(), vec![Update::Add("n".into(), 7)], None)
            .await
            .unwrap();
        assert_eq!(created, Item::new(fresh).with("n", 7));
    }

    pub async fn update_returning_reports_a_failed_condition_and_changes_nothing(
        table: Arc<dyn Table>,
    ) {
        let key = Key::new(ns(), "S");
        put(&table, Item::new(key.clone()).with("available", 0)).await;
        let result = table
            .update_returning(
                key.clone(),
                vec![Update::Add("available".into(), -1)],
                Some(Condition::Ge("available".into(), Value::N(1))),
            )
            .await;
        assert_condition_failed(result, 0);
        assert_eq!(get(&table, &key).await.unwrap().num("available"), Some(0));
    }

    pub async fn add_on_a_string_attribute_is_invalid(table: Arc<dyn Table>) {
        let key = Key::new(ns(), "S");
        put(&table, Item::new(key.clone()).with("n", "five")).await;
        let result = table
            .write(vec![WriteOp::Update {
                key: key.clone(),
                updates: vec![Update::Add("n".into(), 1)],
                condition: None,
            }])
            .await;
        assert_invalid(result);
        assert_eq!(get(&table, &key).await.unwrap().str("n"), Some("five"));
    }

    pub async fn a_batch_whose_third_operation_fails_names_index_2_and_changes_nothing(
        table: Arc<dyn Table>,
    ) {
        let pk = ns();
        let k = |sk: &str| Key::new(pk.clone(), sk);
        put(&table, Item::new(k("stock")).with("available", 5)).await;
        put(&table, Item::new(k("taken")).with("v", 1)).await;
        put(&table, Item::new(k("doomed")).with("v", 1)).await;
        let batch = vec![
            WriteOp::put_new(Item::new(k("order")).with("total", 100)),
            WriteOp::Update {
                key: k("stock"),
                updates: vec![Update::Add("available".into(), -2)],
                condition: Some(Condition::Ge("available".into(), Value::N(2))),
            },
            WriteOp::put_new(Item::new(k("taken")).with("v", 2)),
            WriteOp::Delete {
                key: k("doomed"),
                condition: None,
            },
        ];
        assert_condition_failed(table.write(batch).await, 2);
        assert_eq!(get(&table, &k("order")).await, None);
        assert_eq!(
            get(&table, &k("stock")).await.unwrap().num("available"),
            Some(5)
        );
        assert_eq!(get(&table, &k("taken")).await.unwrap().num("v"), Some(1));
        assert!(get(&table, &k("doomed")).await.is_some());
    }

    pub async fn a_check_that_holds_lets_the_batch_through(table: Arc<dyn Table>) {
        let pk = ns();
        let k = |sk: &str| Key::new(pk.clone(), sk);
        put(&table, Item::new(k("config")).with("open", true)).await;
        let batch = vec![
            WriteOp::Check {
                key: k("config"),
                condition: Condition::Eq("open".into(), Value::Bool(true)),
            },
            WriteOp::put(Item::new(k("a"))),
            WriteOp::put(Item::new(k("b"))),
        ];
        table.write(batch).await.unwrap();
        assert!(get(&table, &k("a")).await.is_some() && get(&table, &k("b")).await.is_some());
    }

    pub async fn an_empty_batch_is_invalid(table: Arc<dyn Table>) {
        assert_invalid(table.write(vec![]).await);
    }

    pub async fn a_batch_of_more_than_100_operations_is_invalid_and_writes_nothing(
        table: Arc<dyn Table>,
    ) {
        let pk = ns();
        let ops = (0..=MAX_BATCH)
            .map(|n| WriteOp::put(Item::new(Key::new(pk.clone(), format!("{n:03}")))))
            .collect();
        assert_invalid(table.write(ops).await);
        assert!(
            table
                .query(Query::new(Index::Primary, pk))
                .await
                .unwrap()
                .items
                .is_empty()
        );
    }

    pub async fn a_batch_of_exactly_100_operations_is_applied(table: Arc<dyn Table>) {
        let pk = ns();
        let ops: Vec<WriteOp> = (0..MAX_BATCH)
            .map(|n| WriteOp::put_new(Item::new(Key::new(pk.clone(), format!("{n:03}")))))
            .collect();
        table.write(ops).await.unwrap();
        let items = all_pages(&table, Query::new(Index::Primary, pk).limit(1000)).await;
        assert_eq!(items.len(), MAX_BATCH);
    }

    pub async fn two_operations_on_one_item_are_invalid(table: Arc<dyn Table>) {
        let key = Key::new(ns(), "S");
        let ops = vec![
            WriteOp::put(Item::new(key.clone()).with("v", 1)),
            WriteOp::Delete {
                key: key.clone(),
                condition: None,
            },
        ];
        assert_invalid(table.write(ops).await);
        assert_eq!(get(&table, &key).await, None);
    }

    pub async fn a_primary_query_returns_one_partition_in_byte_order_both_ways(
        table: Arc<dyn Table>,
    ) {
        let pk = ns();
        let keys = ["b", "a", "c", "B", "é", "a1", "~"];
        for sk in keys {
            put(
                &table,
                Item::new(Key::new(pk.clone(), sk)).with("sk_copy", sk),
            )
            .await;
        }
        put(&table, Item::new(Key::new(format!("{pk}x"), "a"))).await;
        let want = bytewise(keys.iter().map(|k| (*k).to_owned()).collect());
        let forward = table
            .query(Query::new(Index::Primary, pk.clone()))
            .await
            .unwrap();
        assert_eq!(sks(&forward.items), want);
        assert!(
            forward
                .items
                .iter()
                .all(|i| i.key.pk == pk && i.str("sk_copy") == Some(i.key.sk.as_str()))
        );
        let backward = table
            .query(Query::new(Index::Primary, pk.clone()).backward())
            .await
            .unwrap();
        assert_eq!(
            sks(&backward.items),
            want.into_iter().rev().collect::<Vec<_>>()
        );
    }

    fn sort_key_matches(condition: &SortKey, key: &str) -> bool {
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

    /// Query `index`/`pk` with each condition, both ways, against the keys expected by bytes.
    async fn check_sort_key_conditions(
        table: &Arc<dyn Table>,
        index: Index,
        pk: &str,
        keys: &[&str],
        index_sk: impl Fn(&Item) -> String,
        conditions: Vec<SortKey>,
    ) {
        for condition in conditions {
            let want = bytewise(
                keys.iter()
                    .filter(|k| sort_key_matches(&condition, k))
                    .map(|k| (*k).to_owned())
                    .collect(),
            );
            let query = Query::new(index, pk).sk(condition.clone());
            let forward: Vec<String> = table
                .query(query.clone())
                .await
                .unwrap()
                .items
                .iter()
                .map(&index_sk)
                .collect();
            assert_eq!(forward, want, "{index:?} {condition:?}");
            let backward: Vec<String> = table
                .query(query.backward())
                .await
                .unwrap()
                .items
                .iter()
                .map(&index_sk)
                .collect();
            assert_eq!(
                backward,
                want.iter().rev().cloned().collect::<Vec<_>>(),
                "{index:?} {condition:?} backward"
            );
        }
    }

    pub async fn sort_key_conditions_select_the_expected_items(table: Arc<dyn Table>) {
        let pk = ns();
        let keys = [
            "2024-12-31",
            "2025-01-01",
            "2025-01-15",
            "2025-02",
            "2025-02-01",
            "2025-02-10",
            "2025-03-01",
        ];
        for sk in keys {
            put(&table, Item::new(Key::new(pk.clone(), sk))).await;
        }
        let conditions = vec![
            SortKey::Eq("2025-02-01".into()),
            SortKey::Eq("2025-02-0".into()),
            SortKey::BeginsWith("2025-02".into()),
            SortKey::BeginsWith("2025".into()),
            SortKey::BeginsWith("2026".into()),
            SortKey::Between("2025-01-15".into(), "2025-02-10".into()),
            SortKey::Between("2025-01-02".into(), "2025-01-14".into()),
            SortKey::Between("2025-02-01".into(), "2025-02-01".into()),
            SortKey::Lt("2025-02-01".into()),
            SortKey::Le("2025-02-01".into()),
            SortKey::Gt("2025-02".into()),
            SortKey::Ge("2025-02".into()),
            SortKey::Lt("0".into()),
            SortKey::Ge("0".into()),
        ];
        check_sort_key_conditions(
            &table,
            Index::Primary,
            &pk,
            &keys,
            |i| i.key.sk.clone(),
            conditions,
        )
        .await;
    }

    pub async fn begins_with_takes_its_prefix_literally_even_at_the_top_of_the_byte_range(
        table: Arc<dyn Table>,
    ) {
        let pk = ns();
        let keys = [
            "a",
            "a~",
            "a~b",
            "a~~",
            "a\u{7f}",
            "aÿ",
            "aÿ!",
            "a\u{ffff}",
            "a\u{10ffff}",
            "a\u{10ffff}z",
            "b",
            "a%",
            "a%x",
            "ab",
            "a_",
            "a_x",
            "a*",
            "a.",
            "a\\",
            "a'",
            "~",
            "ÿ",
        ];
        for sk in keys {
            put(&table, Item::new(Key::new(pk.clone(), sk))).await;
        }
        let conditions = [
            "a~",
            "a~~",
            "aÿ",
            "a\u{ffff}",
            "a\u{10ffff}",
            "a%",
            "a_",
            "a*",
            "a.",
            "a\\",
            "a'",
            "a",
            "~",
            "ÿ",
            "z",
        ]
        .into_iter()
        .map(|p| SortKey::BeginsWith(p.to_owned()))
        .collect();
        check_sort_key_conditions(
            &table,
            Index::Primary,
            &pk,
            &keys,
            |i| i.key.sk.clone(),
            conditions,
        )
        .await;
    }

    pub async fn gsi_queries_see_only_items_that_carry_the_index_attributes(table: Arc<dyn Table>) {
        let pk = ns();
        let g1 = format!("{pk}#g1");
        let g2 = format!("{pk}#g2");
        let k = |sk: &str| Key::new(pk.clone(), sk);
        put(
            &table,
            Item::new(k("one"))
                .with(GSI1_PK, g1.as_str())
                .with(GSI1_SK, "1")
                .with("x", "one"),
        )
        .await;
        put(
            &table,
            Item::new(k("two"))
                .with(GSI2_PK, g2.as_str())
                .with(GSI2_SK, "2"),
        )
        .await;
        put(
            &table,
            Item::new(k("both"))
                .with(GSI1_PK, g1.as_str())
                .with(GSI1_SK, "0")
                .with(GSI2_PK, g2.as_str())
                .with(GSI2_SK, "1"),
        )
        .await;
        put(&table, Item::new(k("none")).with("x", "none")).await;

        let gsi1 = table
            .query(Query::new(Index::Gsi1, g1.clone()))
            .await
            .unwrap();
        assert_eq!(sks(&gsi1.items), ["both", "one"]);
        // Index queries return whole items.
        assert_eq!(gsi1.items[1], get(&table, &k("one")).await.unwrap());
        let gsi2 = table
            .query(Query::new(Index::Gsi2, g2.clone()))
            .await
            .unwrap();
        assert_eq!(sks(&gsi2.items), ["both", "two"]);
        // An index partition is not a primary partition, nor the other index's.
        assert!(
            table
                .query(Query::new(Index::Primary, g1.clone()))
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(
            table
                .query(Query::new(Index::Gsi2, g1))
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(
            table
                .query(Query::new(Index::Gsi1, pk))
                .await
                .unwrap()
                .items
                .is_empty()
        );
    }

    pub async fn gsi_queries_order_by_the_index_sort_key_both_ways(table: Arc<dyn Table>) {
        let pk = ns();
        let g = format!("{pk}#status");
        let keys = [
            "2025-01-01#a",
            "2025-01-02#b",
            "2025-02-01#c",
            "2025-02-15#d",
            "2025-03-01#e",
            "2025-03~",
            "2025-03ÿ",
        ];
        // Primary sort keys in the opposite order, so that ordering by them would show.
        for (n, gsk) in keys.iter().enumerate() {
            let item = Item::new(Key::new(format!("{pk}#order"), format!("{:02}", 99 - n)))
                .with(GSI1_PK, g.as_str())
                .with(GSI1_SK, *gsk)
                .with(GSI2_PK, g.as_str())
                .with(GSI2_SK, *gsk);
            put(&table, item).await;
        }
        let conditions = vec![
            SortKey::BeginsWith("2025-02".into()),
            SortKey::BeginsWith("2025-03".into()),
            SortKey::Between("2025-01-02".into(), "2025-02-15#d".into()),
            SortKey::Gt("2025-02-15#d".into()),
            SortKey::Le("2025-01-02#b".into()),
            SortKey::Eq("2025-02-01#c".into()),
        ];
        for (index, name) in [(Index::Gsi1, GSI1_SK), (Index::Gsi2, GSI2_SK)] {
            let all = table.query(Query::new(index, g.clone())).await.unwrap();
            let got: Vec<String> = all
                .items
                .iter()
                .map(|i| i.str(name).unwrap().to_owned())
                .collect();
            assert_eq!(
                got,
                bytewise(keys.iter().map(|k| (*k).to_owned()).collect()),
                "{index:?}"
            );
            let index_sk = move |i: &Item| i.str(name).unwrap().to_owned();
            check_sort_key_conditions(&table, index, &g, &keys, index_sk, conditions.clone()).await;
        }
    }

    pub async fn an_item_moves_between_index_partitions_when_its_index_attributes_change(
        table: Arc<dyn Table>,
    ) {
        let pk = ns();
        let (a, b) = (format!("{pk}#A"), format!("{pk}#B"));
        let key = Key::new(pk.clone(), "item");
        put(
            &table,
            Item::new(key.clone())
                .with(GSI1_PK, a.as_str())
                .with(GSI1_SK, "1"),
        )
        .await;
        let count = |p: String| {
            let table = table.clone();
            async move {
                table
                    .query(Query::new(Index::Gsi1, p))
                    .await
                    .unwrap()
                    .items
                    .len()
            }
        };
        assert_eq!((count(a.clone()).await, count(b.clone()).await), (1, 0));
        let set = vec![Update::Set(GSI1_PK.into(), Value::S(b.clone()))];
        table
            .write(vec![WriteOp::Update {
                key: key.clone(),
                updates: set,
                condition: None,
            }])
            .await
            .unwrap();
        assert_eq!((count(a.clone()).await, count(b.clone()).await), (0, 1));
        let remove = vec![Update::Remove(GSI1_PK.into())];
        table
            .write(vec![WriteOp::Update {
                key: key.clone(),
                updates: remove,
                condition: None,
            }])
            .await
            .unwrap();
        assert_eq!((count(a).await, count(b).await), (0, 0));
    }

    pub async fn cursor_pagination_returns_each_item_exactly_once_in_order_both_ways(
        table: Arc<dyn Table>,
    ) {
        let pk = ns();
        let ops: Vec<WriteOp> = (0..25)
            .map(|n| WriteOp::put(Item::new(Key::new(pk.clone(), format!("{n:02}"))).with("n", n)))
            .collect();
        table.write(ops).await.unwrap();
        let want: Vec<String> = (0..25).map(|n| format!("{n:02}")).collect();

        let first = table
            .query(Query::new(Index::Primary, pk.clone()).limit(7))
            .await
            .unwrap();
        assert_eq!(sks(&first.items), want[..7]);
        assert!(first.next.is_some(), "more items follow the first page");

        let forward = all_pages(&table, Query::new(Index::Primary, pk.clone()).limit(7)).await;
        assert_eq!(sks(&forward), want);
        let backward = all_pages(
            &table,
            Query::new(Index::Primary, pk.clone()).limit(7).backward(),
        )
        .await;
        assert_eq!(
            sks(&backward),
            want.iter().rev().cloned().collect::<Vec<_>>()
        );
        // A limit that divides the count exactly still ends.
        assert_eq!(
            sks(&all_pages(&table, Query::new(Index::Primary, pk).limit(5)).await),
            want
        );
    }

    pub async fn gsi_pagination_over_repeated_index_sort_keys_returns_each_item_once(
        table: Arc<dyn Table>,
    ) {
        let pk = ns();
        let g = format!("{pk}#g");
        let ops: Vec<WriteOp> = (0..25)
            .map(|n| {
                let item = Item::new(Key::new(format!("{pk}#{}", n % 4), format!("{n:02}")))
                    .with(GSI1_PK, g.as_str())
                    .with(GSI1_SK, ["x", "y", "z"][n % 3]);
                WriteOp::put(item)
            })
            .collect();
        table.write(ops).await.unwrap();
        for forward in [true, false] {
            let mut query = Query::new(Index::Gsi1, g.clone()).limit(4);
            query.forward = forward;
            let items = all_pages(&table, query).await;
            let keys: BTreeSet<Key> = items.iter().map(|i| i.key.clone()).collect();
            assert_eq!(
                (items.len(), keys.len()),
                (25, 25),
                "each item exactly once (forward: {forward})"
            );
            let order: Vec<&str> = items.iter().map(|i| i.str(GSI1_SK).unwrap()).collect();
            let mut sorted = order.clone();
            sorted.sort_unstable();
            if !forward {
                sorted.reverse();
            }
            assert_eq!(order, sorted, "index sort key order (forward: {forward})");
        }
    }

    pub async fn pagination_with_a_sort_key_condition_stays_inside_the_range(
        table: Arc<dyn Table>,
    ) {
        let pk = ns();
        let ops: Vec<WriteOp> = (0..30)
            .map(|n| WriteOp::put(Item::new(Key::new(pk.clone(), format!("k{n:02}")))))
            .collect();
        table.write(ops).await.unwrap();
        let range = SortKey::Between("k05".into(), "k24".into());
        let want: Vec<String> = (5..=24).map(|n| format!("k{n:02}")).collect();
        let forward = all_pages(
            &table,
            Query::new(Index::Primary, pk.clone())
                .sk(range.clone())
                .limit(6),
        )
        .await;
        assert_eq!(sks(&forward), want);
        let backward = all_pages(
            &table,
            Query::new(Index::Primary, pk).sk(range).limit(6).backward(),
        )
        .await;
        assert_eq!(sks(&backward), want.into_iter().rev().collect::<Vec<_>>());
    }

    pub async fn a_forged_cursor_is_invalid(table: Arc<dyn Table>) {
        let pk = ns();
        put(&table, Item::new(Key::new(pk.clone(), "a"))).await;
        // "e30" is base64 of "{}"; "eyJ4IjoxfQ" of {"x":1}.
        for forged in ["", "garbage!", "e30", "eyJ4IjoxfQ", "////", "\u{0}\u{1}"] {
            let query =
                Query::new(Index::Primary, pk.clone()).after(Some(Cursor(forged.to_owned())));
            assert_invalid(table.query(query).await);
        }
    }

    pub async fn a_zero_limit_is_invalid(table: Arc<dyn Table>) {
        assert_invalid(table.query(Query::new(Index::Primary, ns()).limit(0)).await);
    }

    pub async fn an_expired_item_is_invisible_to_get_and_query(table: Arc<dyn Table>) {
        let pk = ns();
        let g = format!("{pk}#g");
        let item = |sk: &str, ttl: i64| {
            Item::new(Key::new(pk.clone(), sk))
                .with(TTL, ttl)
                .with(GSI1_PK, g.as_str())
                .with(GSI1_SK, sk)
        };
        put(&table, item("expired", PAST)).await;
        put(&table, item("alive", FUTURE)).await;
        put(&table, Item::new(Key::new(pk.clone(), "forever"))).await;
        assert_eq!(get(&table, &Key::new(pk.clone(), "expired")).await, None);
        assert!(get(&table, &Key::new(pk.clone(), "alive")).await.is_some());
        let primary = table
            .query(Query::new(Index::Primary, pk.clone()))
            .await
            .unwrap();
        assert_eq!(sks(&primary.items), ["alive", "forever"]);
        let gsi = table.query(Query::new(Index::Gsi1, g)).await.unwrap();
        assert_eq!(sks(&gsi.items), ["alive"]);
    }

    /// The realtime resume's read: one partition of the second index after a sort key, a few
    /// items a page, over items that expire (`vitrine_app::store::deliveries`).
    pub async fn a_gsi_range_read_in_short_pages_skips_expired_items_and_stays_in_range(
        table: Arc<dyn Table>,
    ) {
        let pk = ns();
        let (g, other) = (format!("{pk}#g"), format!("{pk}#other"));
        for n in 0..12 {
            let sk = format!("{n:02}");
            let ttl = if n % 4 == 3 { PAST } else { FUTURE };
            let partition = if n % 5 == 4 { &other } else { &g };
            put(
                &table,
                Item::new(Key::new(pk.clone(), sk.clone()))
                    .with(TTL, ttl)
                    .with(GSI2_PK, partition.as_str())
                    .with(GSI2_SK, sk.as_str()),
            )
            .await;
        }
        let query = Query::new(Index::Gsi2, g)
            .sk(SortKey::Gt("02".into()))
            .limit(2);
        let mut got = Vec::new();
        let mut next = Some(query.clone());
        while let Some(q) = next.take() {
            let page = table.query(q.clone()).await.unwrap();
            assert!(page.items.len() <= 2, "a page holds at most its limit");
            got.extend(sks(&page.items));
            next = page.next.map(|c| q.after(Some(c)));
        }
        // Not 00-02 (out of range), 03/07/11 (expired), 04/09 (another partition).
        assert_eq!(got, ["05", "06", "08", "10"]);
    }

    pub async fn conditions_treat_an_expired_item_as_absent(table: Arc<dyn Table>) {
        let pk = ns();
        let k = |sk: &str| Key::new(pk.clone(), sk);
        for sk in ["a", "b", "c"] {
            put(&table, Item::new(k(sk)).with(TTL, PAST).with("v", 1)).await;
        }
        assert_condition_failed(
            table
                .write(vec![WriteOp::Check {
                    key: k("a"),
                    condition: Condition::Exists,
                }])
                .await,
            0,
        );
        let delete = WriteOp::Delete {
            key: k("b"),
            condition: Some(Condition::AttrExists("v".into())),
        };
        assert_condition_failed(table.write(vec![delete]).await, 0);
        let guarded = WriteOp::Update {
            key: k("b"),
            updates: vec![Update::Set("w".into(), Value::N(2))],
            condition: Some(Condition::Eq("v".into(), Value::N(1))),
        };
        assert_condition_failed(table.write(vec![guarded]).await, 0);
        // A reservation of an expired slot: NotExists holds, and the new item is what reads see.
        table
            .write(vec![WriteOp::put_new(Item::new(k("c")).with("v", 2))])
            .await
            .unwrap();
        assert_eq!(
            get(&table, &k("c")).await,
            Some(Item::new(k("c")).with("v", 2))
        );
    }

    pub async fn concurrent_conditional_decrements_never_oversell(table: Arc<dyn Table>) {
        let pk = ns();
        let stock = Key::new(pk.clone(), "stock");
        put(&table, Item::new(stock.clone()).with("available", 10)).await;
        let buyers: Vec<_> = (0..50)
            .map(|n| {
                let table = table.clone();
                let stock = stock.clone();
                let order = Key::new(pk.clone(), format!("order#{n:02}"));
                tokio::spawn(async move {
                    let batch = vec![
                        WriteOp::Update {
                            key: stock,
                            updates: vec![Update::Add("available".into(), -1)],
                            condition: Some(Condition::Ge("available".into(), Value::N(1))),
                        },
                        WriteOp::put_new(Item::new(order)),
                    ];
                    table.write(batch).await
                })
            })
            .collect();
        let mut sold = 0;
        for buyer in buyers {
            match buyer.await.expect("buyer task") {
                Ok(()) => sold += 1,
                other => assert_condition_failed(other, 0),
            }
        }
        assert_eq!(sold, 10);
        assert_eq!(get(&table, &stock).await.unwrap().num("available"), Some(0));
        let orders = table
            .query(Query::new(Index::Primary, pk).sk(SortKey::BeginsWith("order#".into())))
            .await
            .unwrap();
        assert_eq!(
            orders.items.len(),
            10,
            "exactly the winners wrote their order"
        );
    }

    pub async fn concurrent_counter_increments_return_distinct_consecutive_values(
        table: Arc<dyn Table>,
    ) {
        let key = Key::new(ns(), "invoice-series-1");
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let table = table.clone();
                let key = key.clone();
                tokio::spawn(async move {
                    table
                        .update_returning(key, vec![Update::Add("last".into(), 1)], None)
                        .await
                })
            })
            .collect();
        let mut numbers = Vec::new();
        for task in tasks {
            numbers.push(
                task.await
                    .expect("task")
                    .expect("increment")
                    .num("last")
                    .expect("number"),
            );
        }
        numbers.sort_unstable();
        assert_eq!(
            numbers,
            (1..=40).collect::<Vec<_>>(),
            "gapless and never repeated"
        );
    }

    pub async fn hostile_attribute_names_and_values_round_trip_and_compare_literally(
        table: Arc<dyn Table>,
    ) {
        let key = Key::new(ns(), "S");
        let hostile = [
            ":x",
            "#a",
            ") OR (",
            "' OR '1'='1",
            "\"; DROP TABLE items; --",
            "a.b",
            "a[0]",
            "$1",
            "?1",
            "?",
            "名前",
            "🙂",
            " spaced ",
            "%",
            "_",
            "\\",
            "=?UTF-8?B?",
            "attrs",
            "size",
            "status",
        ];
        let mut item = Item::new(key.clone());
        for (n, name) in hostile.iter().enumerate() {
            // Each name holds another hostile string as its value.
            item.attrs
                .insert((*name).to_owned(), s(hostile[(n + 1) % hostile.len()]));
        }
        put(&table, item.clone()).await;
        assert_eq!(get(&table, &key).await, Some(item));

        let cases = vec![
            (Condition::Eq(":x".into(), s("#a")), true),
            (Condition::Eq(":x".into(), s(":x")), false),
            (Condition::Eq("#a".into(), s(") OR (")), true),
            (Condition::Eq(") OR (".into(), s("' OR '1'='1")), true),
            (Condition::Eq(") OR (".into(), s("x")), false),
            (Condition::Ne("' OR '1'='1".into(), s("' OR '1'='1")), true),
            (Condition::AttrExists("a.b".into()), true),
            (Condition::AttrExists("a".into()), false),
            (Condition::AttrExists("a[0]".into()), true),
            (Condition::Eq("名前".into(), s("🙂")), true),
            (Condition::AttrNotExists("spaced".into()), true),
            (Condition::Eq("%".into(), s("_")), true),
            (Condition::Eq("%".into(), s("x")), false),
        ];
        check_conditions(&table, &key, cases).await;

        let updates = vec![
            Update::Set(":x".into(), s("#b")),
            Update::Remove(") OR (".into()),
            Update::Add("?1".into(), 0),
        ];
        assert_invalid(
            table
                .write(vec![WriteOp::Update {
                    key: key.clone(),
                    updates,
                    condition: None,
                }])
                .await,
        );
        let updates = vec![
            Update::Set(":x".into(), s("#b")),
            Update::Remove(") OR (".into()),
        ];
        table
            .write(vec![WriteOp::Update {
                key: key.clone(),
                updates,
                condition: None,
            }])
            .await
            .unwrap();
        let after = get(&table, &key).await.unwrap();
        assert_eq!(after.str(":x"), Some("#b"));
        assert_eq!(after.get(") OR ("), None);
        assert_eq!(after.str("#a"), Some(") OR ("));
    }

    pub async fn hostile_keys_round_trip_and_query_literally(table: Arc<dyn Table>) {
        let pk = format!("{}'; DROP TABLE items; -- \"%_ção🙂", ns());
        let keys = [
            "%a", "a%", "_b", "b", "'", "\"", "a'b", "ção", "🙂", "x y", "#:x",
        ];
        for sk in keys {
            put(&table, Item::new(Key::new(pk.clone(), sk)).with("sk", sk)).await;
        }
        for sk in keys {
            let item = get(&table, &Key::new(pk.clone(), sk)).await.expect("item");
            assert_eq!(item.str("sk"), Some(sk));
        }
        let conditions = ["%", "_", "a", "'", "ç", "🙂", "#:"]
            .into_iter()
            .map(|p| SortKey::BeginsWith(p.to_owned()))
            .collect();
        check_sort_key_conditions(
            &table,
            Index::Primary,
            &pk,
            &keys,
            |i| i.key.sk.clone(),
            conditions,
        )
        .await;
        // A partition key that is a prefix of this one is another partition.
        let shorter: String = pk.chars().take(pk.chars().count() - 1).collect();
        assert!(
            table
                .query(Query::new(Index::Primary, shorter))
                .await
                .unwrap()
                .items
                .is_empty()
        );
    }

    pub async fn ping_answers(table: Arc<dyn Table>) {
        table.ping().await.expect("ping");
    }
}
