//! The runner on the real `infra/template.yaml` with the built Lambda binaries
//! (`cargo build -p vitrine-lambda --bins`): a message on a subscriber queue reaches its
//! consumer through the SQS mapping, a schedule fired now runs its function, and an outbox
//! record on the table's stream reaches the stream function; a killed invocation is a crash and
//! its process is replaced.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use vitrine_testkit::lambda_runtime::HANG_GUARD;
use vitrine_testkit::moto;
use vitrine_testkit::runner::functions::InvocationRow;
use vitrine_testkit::runner::resources::Emulator;
use vitrine_testkit::runner::run::{Options, Runner};
use vitrine_testkit::runner::{Invoke, InvokeError, Source};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn invocations(rows: &[InvocationRow], function: &str, source: Source) -> u64 {
    let source = source.to_string();
    rows.iter()
        .filter(|r| r.function == function && r.source.as_deref() == Some(source.as_str()))
        .map(|r| r.invocations)
        .sum()
}

/// Wait (polling) until `function` was invoked by `source`; a guard against hangs, not a timing
/// assertion.
async fn invoked(runner: &Runner, function: &str, source: Source) {
    let start = tokio::time::Instant::now();
    while invocations(&runner.functions.invocation_table(), function, source) == 0 {
        assert!(
            start.elapsed() < HANG_GUARD,
            "{function} was not invoked by {source}:\n{}",
            runner.functions.invocation_table_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The logical id of the function whose binary is `binary` (the template names the functions;
/// the binaries are the crate's).
fn function_of(runner: &Runner, binary: &str) -> String {
    runner
        .resolved
        .binaries
        .iter()
        .find(|(_, b)| *b == binary)
        .map(|(id, _)| id.clone())
        .unwrap_or_else(|| panic!("no function runs the binary {binary}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_s_functions_run_from_their_sources() {
    let dir = std::env::temp_dir().join(moto::unique("runner-functions"));
    let runner = Runner::start(Options {
        template: root().join("infra/template.yaml"),
        emulator: moto::endpoint().to_owned(),
        parameters: BTreeMap::from([
            ("MailFrom".to_owned(), "Loja <loja@shop.example>".to_owned()),
            ("SesIdentity".to_owned(), "shop.example".to_owned()),
        ]),
        bin_dir: root().join("target/debug"),
        work: dir.clone(),
        max_concurrency: 2,
        python: root().join(".venv/bin/python"),
        stack_name: None,
    })
    .await
    .unwrap_or_else(|e| {
        panic!("the runner did not start (cargo build -p vitrine-lambda --bins first): {e}")
    });
    let r = runner.resolved.clone();
    let emulator = Emulator::new(moto::endpoint());

    // A message on the e-mail queue reaches notify_email through its SQS mapping.
    let email = function_of(&runner, "notify_email");
    let mapping = runner
        .sources
        .sqs
        .iter()
        .find(|m| m.function == email)
        .expect("notify_email has an SQS mapping")
        .clone();
    emulator
        .json(
            "sqs",
            "AmazonSQS.SendMessage",
            "1.0",
            &json!({"QueueUrl": mapping.queue_url, "MessageBody": "{\"not\": \"an event\"}"}),
        )
        .await
        .expect("send");
    invoked(&runner, &email, Source::Sqs).await;

    // A schedule fired now runs expire.
    let expire = function_of(&runner, "expire");
    let rule = runner
        .sources
        .schedules
        .values()
        .find(|s| s.targets.iter().any(|(f, _)| *f == expire))
        .expect("expire has a schedule")
        .rule
        .clone();
    let results = runner.sources.fire(&rule).await.expect("fire");
    assert_eq!(results.len(), 1);
    assert!(
        results[0].is_ok(),
        "expire failed: {:?}\n(see {}/logs)",
        results[0],
        dir.display()
    );

    // An outbox record on the table's stream reaches events_stream.
    let stream_fn = function_of(&runner, "events_stream");
    let table = runner
        .sources
        .streams
        .iter()
        .find(|m| m.function == stream_fn)
        .map(|m| {
            r.of_kind("AWS::DynamoDB::Table")
                .find(|(_, t)| t.attributes.get("StreamArn") == Some(&m.stream_arn))
                .map(|(_, t)| t.physical_id.clone())
                .expect("the stream's table")
        })
        .expect("events_stream has a stream mapping");
    emulator
        .json(
            "dynamodb",
            "DynamoDB_20120810.PutItem",
            "1.0",
            &json!({"TableName": table, "Item": {
                "pk": {"S": "EVENT#01JTEST000000000000000000"},
                "sk": {"S": "EVENT"},
                "type": {"S": "order.placed"},
            }}),
        )
        .await
        .expect("put");
    invoked(&runner, &stream_fn, Source::Stream).await;
    // Each row sums its invocations' durations (a cold start, a process launch, is in each
    // function's first), as `/invocations` serves them for the capacity note.
    for row in runner.functions.invocation_table() {
        if row.invocations > 0 {
            assert!(row.duration_ms > 0, "no duration summed: {}", row.to_json());
        }
    }

    // A process killed mid-invocation: the invocation is a crash, the next one starts a new
    // process. The WebSocket function's $connect is invoked directly here, as its API would.
    let ws = function_of(&runner, "ws");
    let functions = runner.functions.clone();
    let ws_id = ws.clone();
    let call = tokio::spawn(async move {
        functions
            .invoke(
                &ws_id,
                Source::WebSocket,
                json!({"requestContext": {"routeKey": "$connect"}}),
            )
            .await
    });
    let start = tokio::time::Instant::now();
    let mut killed = 0;
    while killed == 0 && !call.is_finished() {
        assert!(
            start.elapsed() < HANG_GUARD,
            "the ws invocation never started"
        );
        killed = runner.functions.kill(&ws).expect("a function");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let outcome = call.await.expect("the invocation task");
    // The cold start (process start and init) is part of the invocation, so it is caught busy.
    assert_eq!(
        killed, 1,
        "the invocation ended before it could be killed: {outcome:?}"
    );
    assert!(
        matches!(outcome, Err(InvokeError::Crashed(_))),
        "{outcome:?}"
    );
    let again: Result<Value, InvokeError> = runner
        .functions
        .invoke(
            &ws,
            Source::WebSocket,
            json!({"requestContext": {"routeKey": "$connect"}}),
        )
        .await;
    assert!(
        !matches!(
            again,
            Err(InvokeError::Crashed(_)) | Err(InvokeError::Timeout)
        ),
        "{again:?}"
    );

    let table = runner
        .shutdown()
        .await
        .expect("every call the functions made is allowed by the template");
    assert!(table.contains(&email) && table.contains(&expire), "{table}");
    let _ = std::fs::remove_dir_all(&dir);
}
