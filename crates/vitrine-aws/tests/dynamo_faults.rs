//! The DynamoDB adapter when DynamoDB throttles, conflicts or keeps failing, against a scripted
//! stand-in for its JSON protocol (moto never throttles and has no transaction isolation, so it
//! cannot produce these answers). Throttling and transient errors are retried with backoff; a
//! cancelled transaction is retried whole or reported, never applied in part: every attempt
//! sends every operation of the batch in one `TransactWriteItems`.

use std::sync::Arc;

use serde_json::{Value, json};
use vitrine_app::ports::SystemClock;
use vitrine_app::ports::table::{Item, Key, Table, TableError, WriteOp};
use vitrine_aws::dynamo::DynamoTable;
use vitrine_aws::{AwsConfig, sdk_config};
use vitrine_testkit::scripted::{ScriptedServer, error, ok};

const NS: &str = "com.amazonaws.dynamodb.v20120810#";

async fn stand_in(script: Vec<(u16, Value)>) -> (ScriptedServer, DynamoTable) {
    let server = ScriptedServer::start(script, "application/x-amz-json-1.0").await;
    // The production settings (the SDK's standard retry policy), not the emulator's.
    let sdk = sdk_config(&AwsConfig {
        region: "us-east-1".into(),
        endpoint: Some(server.url.clone()),
        static_credentials: Some(("testing".into(), "testing".into())),
        emulator: false,
    })
    .await;
    let table = DynamoTable::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        "vitrine",
        Arc::new(SystemClock),
    );
    (server, table)
}

fn batch() -> Vec<WriteOp> {
    vec![
        WriteOp::put(Item::new(Key::new("ORDER#1", "ORDER")).with("total", 100)),
        WriteOp::put(Item::new(Key::new("STOCK#A", "STOCK")).with("available", 9)),
    ]
}

fn cancelled(codes: &[&str]) -> (u16, Value) {
    (
        400,
        json!({
            "__type": format!("{NS}TransactionCanceledException"),
            "Message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", ")),
            "CancellationReasons": codes.iter().map(|c| json!({ "Code": c })).collect::<Vec<_>>(),
        }),
    )
}

/// Every request was a whole-batch transaction carrying both items.
fn assert_whole_batches(server: &ScriptedServer) -> usize {
    let received = server.received();
    for r in &received {
        assert_eq!(r.operation, "TransactWriteItems", "{r:?}");
        let items = r.body["TransactItems"].as_array().expect("transact items");
        assert_eq!(
            items.len(),
            2,
            "every attempt carries the whole batch: {r:?}"
        );
    }
    received.len()
}

#[tokio::test]
async fn a_throttled_transaction_is_retried_and_applied() {
    let (server, table) = stand_in(vec![
        error(
            &format!("{NS}ThrottlingException"),
            "Rate of requests exceeds the allowed throughput.",
        ),
        error(
            &format!("{NS}ProvisionedThroughputExceededException"),
            "throughput exceeded",
        ),
        ok(json!({})),
    ])
    .await;
    table
        .write(batch())
        .await
        .expect("applied after the throttling");
    assert_eq!(assert_whole_batches(&server), 3);
}

#[tokio::test]
async fn a_conflicting_transaction_is_retried_whole() {
    let (server, table) = stand_in(vec![
        cancelled(&["None", "TransactionConflict"]),
        cancelled(&["TransactionConflict", "None"]),
        ok(json!({})),
    ])
    .await;
    table
        .write(batch())
        .await
        .expect("applied after the conflicts");
    assert_eq!(assert_whole_batches(&server), 3);
}

#[tokio::test]
async fn a_transaction_that_keeps_conflicting_is_reported_unavailable() {
    let (server, table) = stand_in(vec![cancelled(&["TransactionConflict", "None"]); 40]).await;
    let result = table.write(batch()).await;
    match result {
        Err(TableError::Unavailable(e)) => {
            assert!(format!("{e:#}").contains("not applied"), "{e:#}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let attempts = assert_whole_batches(&server);
    assert!((2..40).contains(&attempts), "bounded retries: {attempts}");
}

#[tokio::test]
async fn a_failed_condition_is_reported_at_once_not_retried() {
    let (server, table) = stand_in(vec![cancelled(&["None", "ConditionalCheckFailed"])]).await;
    let result = table.write(batch()).await;
    assert!(
        matches!(result, Err(TableError::ConditionFailed { index: 1 })),
        "{result:?}"
    );
    assert_eq!(assert_whole_batches(&server), 1);
}

#[tokio::test]
async fn a_throttled_read_is_retried() {
    let (server, table) = stand_in(vec![
        error(&format!("{NS}ThrottlingException"), "slow down"),
        (500, json!({ "__type": format!("{NS}InternalServerError"), "message": "try again" })),
        ok(json!({ "Item": { "pk": { "S": "ORDER#1" }, "sk": { "S": "ORDER" }, "total": { "N": "100" } } })),
    ])
    .await;
    let item = table
        .get(&Key::new("ORDER#1", "ORDER"))
        .await
        .expect("read after the retries")
        .expect("the item");
    assert_eq!(item.num("total"), Some(100));
    let received = server.received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.operation == "GetItem"));
}

#[tokio::test]
async fn keys_a_batch_read_leaves_unprocessed_are_asked_again() {
    // The stored attribute names of the key are `~pk`/`~sk` (items.rs, physical_name); DynamoDB's
    // key attributes are `pk`/`sk`.
    let stored = |pk: &str, n: i64| json!({ "pk": { "S": pk }, "sk": { "S": "P" }, "~pk": { "S": pk }, "~sk": { "S": "P" }, "n": { "N": n.to_string() } });
    let key = |pk: &str| json!({ "pk": { "S": pk }, "sk": { "S": "P" } });
    let (server, table) = stand_in(vec![
        // Throttled in part: A read, B left for later.
        ok(json!({
            "Responses": { "vitrine": [stored("A", 1)] },
            "UnprocessedKeys": { "vitrine": { "Keys": [key("B")], "ConsistentRead": true } },
        })),
        ok(json!({ "Responses": { "vitrine": [stored("B", 2)] }, "UnprocessedKeys": {} })),
    ])
    .await;
    let keys = [Key::new("B", "P"), Key::new("A", "P"), Key::new("B", "P")];
    let got = table.get_many(&keys).await.expect("read after the retry");
    let n: Vec<Option<i64>> = got
        .iter()
        .map(|i| i.as_ref().and_then(|i| i.num("n")))
        .collect();
    assert_eq!(n, vec![Some(2), Some(1), Some(2)]);
    let received = server.received();
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|r| r.operation == "BatchGetItem"));
    // The first asks for each key once, strongly consistent; the second only for what was left.
    let first = &received[0].body["RequestItems"]["vitrine"];
    assert_eq!(first["Keys"].as_array().unwrap().len(), 2);
    assert_eq!(first["ConsistentRead"], true);
    assert_eq!(
        received[1].body["RequestItems"]["vitrine"]["Keys"],
        json!([key("B")])
    );
}
