//! The runner's event sources on the emulator, with a small SAM template
//! (`tests/runner/template.yaml`) whose functions run a Python custom runtime
//! (`tests/runner/worker.py`) that records every event it gets: SQS partial batch failures and
//! the redrive to the dead-letter queue, the stream filter, and a schedule fired now.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use vitrine_testkit::lambda_runtime::HANG_GUARD;
use vitrine_testkit::moto;
use vitrine_testkit::runner::functions::{Endpoint, sdk_config};
use vitrine_testkit::runner::resources::Emulator;
use vitrine_testkit::runner::run::{Options, Runner};
use vitrine_testkit::runner::{Invoke, InvokeError, Source};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/runner")
}

/// The events a function's worker recorded.
fn recorded(out: &Path, function: &str) -> Vec<Value> {
    std::fs::read_to_string(out.join(format!("{function}.jsonl")))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn sqs_bodies(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .flat_map(|e| e["Records"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["body"].as_str().map(str::to_owned))
        .collect()
}

fn stream_keys(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .flat_map(|e| e["Records"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| {
            r.pointer("/dynamodb/Keys/pk/S")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

/// Wait (polling) until `done` holds; a guard against hangs, not a timing assertion.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let start = tokio::time::Instant::now();
    while !done().await {
        assert!(
            start.elapsed() < HANG_GUARD,
            "{what}: not within {HANG_GUARD:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn start(dir: &Path) -> (Runner, PathBuf) {
    let bin = dir.join("bin");
    let out = dir.join("out");
    std::fs::create_dir_all(&bin).expect("bin dir");
    std::fs::create_dir_all(&out).expect("out dir");
    for name in ["consumer", "streamer", "ticker", "slow"] {
        let path = bin.join(name);
        std::fs::copy(here().join("worker.py"), &path).expect("copy the worker");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let runner = Runner::start(Options {
        template: here().join("template.yaml"),
        emulator: moto::endpoint().to_owned(),
        parameters: BTreeMap::from([("Out".to_owned(), out.display().to_string())]),
        bin_dir: bin,
        work: dir.join("work"),
        max_concurrency: 2,
        python: root().join(".venv/bin/python"),
        stack_name: None,
    })
    .await
    .unwrap_or_else(|e| panic!("the runner did not start: {e}"));
    (runner, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_stream_and_schedule_sources_behave_as_lambda_drives_them() {
    let dir = std::env::temp_dir().join(moto::unique("runner-sources"));
    let (runner, out) = start(&dir).await;
    let r = runner.resolved.clone();
    let name = |id: &str| r.resources[id].physical_id.clone();
    let config = sdk_config(&Endpoint {
        url: moto::endpoint().to_owned(),
        key_id: "test".to_owned(),
        secret: "test".to_owned(),
    })
    .await;
    let sqs = aws_sdk_sqs::Client::new(&config);

    // SQS: the succeeded message is deleted after one delivery; the failed one is delivered
    // again after the visibility timeout, then (maxReceiveCount 2) moved to the DLQ.
    let queue = name("Queue");
    let dlq = name("DeadLetters");
    for body in ["ok-1", "fail-1"] {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }
    until("the failed message in the dead-letter queue", async || {
        let got = sqs
            .receive_message()
            .queue_url(&dlq)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive from the DLQ");
        got.messages().iter().any(|m| m.body() == Some("fail-1"))
    })
    .await;
    let bodies = sqs_bodies(&recorded(&out, &name("Consumer")));
    assert_eq!(
        bodies.iter().filter(|b| *b == "ok-1").count(),
        1,
        "{bodies:?}"
    );
    assert_eq!(
        bodies.iter().filter(|b| *b == "fail-1").count(),
        2,
        "{bodies:?}"
    );
    let consumer_event = &recorded(&out, &name("Consumer"))[0]["Records"][0];
    assert_eq!(consumer_event["eventSource"], json!("aws:sqs"));
    assert_eq!(
        consumer_event["eventSourceARN"],
        json!(r.resources["Queue"].attributes["Arn"])
    );

    // The stream: only INSERTs of EVENT# keys pass the filter, each once.
    let emulator = Emulator::new(moto::endpoint());
    let put = |pk: &str, v: &str| json!({"TableName": name("Table"), "Item": {"pk": {"S": pk}, "v": {"S": v}}});
    for (pk, v) in [
        ("OTHER#1", "a"),
        ("EVENT#1", "a"),
        ("EVENT#1", "b"),
        ("EVENT#2", "a"),
    ] {
        emulator
            .json("dynamodb", "DynamoDB_20120810.PutItem", "1.0", &put(pk, v))
            .await
            .expect("put an item");
    }
    until("EVENT#2 at the stream function", async || {
        stream_keys(&recorded(&out, &name("Streamer"))).contains(&"EVENT#2".to_owned())
    })
    .await;
    assert_eq!(
        stream_keys(&recorded(&out, &name("Streamer"))),
        vec!["EVENT#1".to_owned(), "EVENT#2".to_owned()],
        "the filter keeps INSERTs of EVENT# keys only, in order"
    );
    // A cancelled transaction writes nothing to the stream, and the stream goes on after it (the
    // emulator cancels one by putting back a copy of the table: an iterator kept from before
    // would read the replaced copy, which holds the cancelled write and never grows again).
    let cancelled = json!({"TransactItems": [
        {"Put": {"TableName": name("Table"), "Item": {"pk": {"S": "EVENT#9"}, "v": {"S": "cancelled"}}}},
        {"ConditionCheck": {"TableName": name("Table"), "Key": {"pk": {"S": "EVENT#1"}},
            "ConditionExpression": "attribute_not_exists(pk)"}},
    ]});
    let refused = emulator
        .json(
            "dynamodb",
            "DynamoDB_20120810.TransactWriteItems",
            "1.0",
            &cancelled,
        )
        .await;
    assert!(
        refused.is_err(),
        "the transaction was not cancelled: {refused:?}"
    );
    emulator
        .json(
            "dynamodb",
            "DynamoDB_20120810.PutItem",
            "1.0",
            &put("EVENT#3", "a"),
        )
        .await
        .expect("put an item");
    until("EVENT#3 at the stream function", async || {
        stream_keys(&recorded(&out, &name("Streamer"))).contains(&"EVENT#3".to_owned())
    })
    .await;
    assert_eq!(
        stream_keys(&recorded(&out, &name("Streamer"))),
        vec![
            "EVENT#1".to_owned(),
            "EVENT#2".to_owned(),
            "EVENT#3".to_owned()
        ],
        "after a cancelled transaction: its write never reaches the function, the next one does"
    );

    // A schedule fired now.
    let results = runner
        .sources
        .fire("TickerDaily")
        .await
        .expect("the rule exists");
    assert_eq!(results, vec![Ok(json!({"ok": true}))]);
    let ticks = recorded(&out, &name("Ticker"));
    assert_eq!(ticks.len(), 1);
    assert_eq!(ticks[0]["detail-type"], json!("Scheduled Event"));
    assert_eq!(
        ticks[0]["resources"],
        json!([r.resources["TickerDaily"].attributes["Arn"]])
    );
    assert!(runner.sources.fire("NoSuchRule").await.is_err());

    // The function's Timeout: the process is killed, the next invocation gets a new one.
    let slow = runner
        .functions
        .invoke("Slow", Source::Schedule, json!({"sleep": 120}))
        .await;
    assert_eq!(slow, Err(InvokeError::Timeout));
    assert_eq!(
        runner.functions.instances("Slow"),
        0,
        "the timed-out process is gone"
    );
    let next = runner
        .functions
        .invoke("Slow", Source::Schedule, json!({}))
        .await;
    assert_eq!(next, Ok(json!({"ok": true})));
    assert_eq!(runner.functions.instances("Slow"), 1);
    runner
        .functions
        .invoke("Slow", Source::Schedule, json!({}))
        .await
        .expect("warm");
    assert_eq!(
        runner.functions.instances("Slow"),
        1,
        "a warm process is reused"
    );

    // Three invocations at once with --max-concurrency 2: two processes, the third invocation
    // waits for one of them.
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let functions = runner.functions.clone();
            tokio::spawn(async move {
                functions
                    .invoke("Ticker", Source::RestApi, json!({"sleep": 2}))
                    .await
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.expect("the task"), Ok(json!({"ok": true})));
    }
    assert_eq!(runner.functions.instances("Ticker"), 2);
    assert_eq!(
        runner
            .functions
            .invoke("Ghost", Source::Schedule, json!({}))
            .await,
        Err(InvokeError::Unknown("Ghost".to_owned()))
    );

    // The control API reports the same.
    let control = format!("http://{}", runner.control);
    let table: Vec<Value> = reqwest::get(format!("{control}/invocations"))
        .await
        .expect("GET /invocations")
        .json()
        .await
        .expect("JSON");
    let count = |f: &str, s: &str| {
        table
            .iter()
            .find(|row| row["function"] == json!(f) && row["source"] == json!(s))
            .map(|row| row["invocations"].as_u64().unwrap_or_default())
            .unwrap_or_default()
    };
    assert!(count("Consumer", "SQS") >= 2, "{table:?}");
    assert!(count("Streamer", "DynamoDB stream") >= 1, "{table:?}");
    assert_eq!(count("Ticker", "schedule"), 1, "{table:?}");
    let resources: Value = reqwest::get(format!("{control}/resources"))
        .await
        .expect("GET /resources")
        .json()
        .await
        .expect("JSON");
    assert_eq!(resources["Queue"], json!(queue));

    let text = runner
        .shutdown()
        .await
        .expect("every call the functions made is allowed by the template");
    assert!(
        text.contains("Consumer") && text.contains("Ticker"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
