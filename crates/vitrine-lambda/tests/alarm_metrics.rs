//! Every alarm and dashboard widget of `infra/template.yaml` refers to a metric that exists.
//!
//! - A metric in a custom namespace (`vitrine`, the functions' EMF records) is proven by running
//!   the BUILT binaries under a local Runtime API (`vitrine_testkit::lambda_runtime`), on AWS
//!   resources in the emulator, on real events (an API Gateway request, a DynamoDB stream batch
//!   with an outbox insert, an SQS batch per subscriber, WebSocket `$connect`/`$disconnect`,
//!   the schedules' events), collecting the EMF records from their stdout: some record must
//!   have the namespace, the metric name, exactly the alarm's dimension names as one of its
//!   dimension sets, and the alarm's dimension values. No list of names is kept by hand.
//! - A metric in an `AWS/*` namespace must name, in its dimensions, a resource the template
//!   declares (a function, the API, a queue, the table).
//!
//! Alarms include metric math alarms (`Metrics:` with `MetricStat`s); the dashboard's body is
//! parsed as the JSON it is (`"."`/`"..."` rows and `SEARCH` expressions resolved).

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};
use vitrine_aws::sdk_config;
use vitrine_domain::Event;
use vitrine_testkit::lambda_runtime::{LambdaProcess, Outcome, RuntimeApi};
use vitrine_testkit::moto;

use common::{AwsFixture, customer_token, emf_spec_violation, event, seed_recorded_catalog};

/// A metric as an alarm or a widget names it: namespace, name, dimensions (name, value as
/// written in the template, `!Ref X`, `${X}`, …).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Named {
    namespace: String,
    name: String,
    dimensions: Vec<(String, String)>,
    /// Where: the alarm's logical id or the widget's title.
    place: String,
}

/// A `SEARCH('{namespace,dim,…} MetricName="name"', …)` expression of a widget.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Search {
    namespace: String,
    dimensions: BTreeSet<String>,
    name: String,
    place: String,
}

fn template() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The resources of the template (`Resources:`, two-space indented names) with their lines.
fn resources(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            inside = line.trim_end() == "Resources:";
            continue;
        }
        if !inside || line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with("  ") && !line.starts_with("   ") {
            let name = line.trim().trim_end_matches(':').to_owned();
            out.push((name, Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(line.trim().to_owned());
        }
    }
    out
}

/// The metrics every `AWS::CloudWatch::Alarm` names, math alarms' `MetricStat`s included.
fn alarm_metrics(text: &str) -> Vec<Named> {
    let mut out = Vec::new();
    for (id, lines) in resources(text) {
        if !lines.iter().any(|l| l == "Type: AWS::CloudWatch::Alarm") {
            continue;
        }
        let mut own: Vec<Named> = Vec::new();
        for line in &lines {
            if let Some(ns) = line.strip_prefix("Namespace:") {
                own.push(Named {
                    namespace: ns.trim().to_owned(),
                    name: String::new(),
                    dimensions: Vec::new(),
                    place: id.clone(),
                });
            } else if let Some(name) = line.strip_prefix("MetricName:") {
                own.last_mut().expect("Namespace before MetricName").name = name.trim().into();
            } else if let Some(dim) = line.strip_prefix("- { Name:") {
                let (name, value) = dim
                    .split_once(", Value:")
                    .unwrap_or_else(|| panic!("{id}: a dimension without a value: {line}"));
                let value = value.trim().trim_end_matches('}').trim();
                own.last_mut()
                    .expect("Namespace before Dimensions")
                    .dimensions
                    .push((name.trim().to_owned(), value.to_owned()));
            }
        }
        assert!(!own.is_empty(), "{id}: an alarm without a metric");
        for m in &own {
            assert!(!m.name.is_empty(), "{id}: a metric without MetricName");
        }
        out.extend(own);
    }
    out
}

/// The dashboard's body: the `!Sub` string of `DashboardBody`, as JSON.
fn dashboard(text: &str) -> Option<Value> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("DashboardBody:"))?;
    let quoted = line
        .trim()
        .strip_prefix("DashboardBody: !Sub '")
        .and_then(|s| s.strip_suffix('\''))
        .expect("DashboardBody is a single-quoted !Sub string on one line");
    Some(serde_json::from_str(&quoted.replace("''", "'")).expect("the dashboard body is JSON"))
}

/// The metrics and searches of the dashboard's metric widgets.
fn dashboard_metrics(body: &Value) -> (Vec<Named>, Vec<Search>) {
    let (mut named, mut searches) = (Vec::new(), Vec::new());
    for widget in body["widgets"].as_array().expect("widgets") {
        if widget["type"] != "metric" {
            continue;
        }
        let title = widget["properties"]["title"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut previous: Vec<String> = Vec::new();
        for row in widget["properties"]["metrics"]
            .as_array()
            .expect("a metric widget lists metrics")
        {
            let row = row.as_array().expect("a metric row is an array");
            if let Some(expression) = row
                .first()
                .and_then(|o| o.get("expression"))
                .and_then(Value::as_str)
            {
                searches.push(parse_search(expression, &title));
                continue;
            }
            let strings: Vec<&str> = row.iter().filter_map(Value::as_str).collect();
            let resolved: Vec<String> = if strings.first() == Some(&"...") {
                previous.clone()
            } else {
                strings
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        if *s == "." {
                            previous
                                .get(i)
                                .cloned()
                                .unwrap_or_else(|| panic!("{title}: \".\" with no value above it"))
                        } else {
                            (*s).to_owned()
                        }
                    })
                    .collect()
            };
            assert!(
                resolved.len() >= 2 && resolved.len().is_multiple_of(2),
                "{title}: a row is namespace, name, then dimension pairs: {resolved:?}"
            );
            named.push(Named {
                namespace: resolved[0].clone(),
                name: resolved[1].clone(),
                dimensions: resolved[2..]
                    .chunks(2)
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect(),
                place: title.clone(),
            });
            previous = resolved;
        }
    }
    (named, searches)
}

fn parse_search(expression: &str, place: &str) -> Search {
    let schema = expression
        .split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
        .unwrap_or_else(|| panic!("{place}: a SEARCH without a {{schema}}: {expression}"));
    let mut parts = schema.0.split(',').map(str::trim);
    let namespace = parts.next().unwrap_or_default().to_owned();
    let dimensions = parts.map(str::to_owned).collect();
    let name = schema
        .1
        .split_once("MetricName=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(name, _)| name.to_owned())
        .unwrap_or_else(|| panic!("{place}: a SEARCH without MetricName: {expression}"));
    Search {
        namespace,
        dimensions,
        name,
        place: place.to_owned(),
    }
}

/// Whether an `AWS/*` metric's dimensions name a declared resource: `!Ref R`, `!GetAtt R.X`,
/// `${R}`/`${R.X}`, or the value of a resource's `Name:` (the API's name).
fn names_a_resource(metric: &Named, resources: &[(String, Vec<String>)]) -> bool {
    let declared: BTreeSet<&str> = resources.iter().map(|(id, _)| id.as_str()).collect();
    let given_names: BTreeSet<String> = resources
        .iter()
        .flat_map(|(_, lines)| lines.iter())
        .filter_map(|l| l.strip_prefix("Name: "))
        .map(normalise)
        .collect();
    metric.dimensions.iter().any(|(_, value)| {
        let value = value.trim();
        let referenced = if let Some(r) = value.strip_prefix("!Ref ") {
            vec![r.trim()]
        } else if let Some(r) = value.strip_prefix("!GetAtt ") {
            vec![r.split('.').next().unwrap_or_default()]
        } else {
            value
                .split("${")
                .skip(1)
                .filter_map(|s| s.split('}').next())
                .map(|s| s.split('.').next().unwrap_or_default())
                .collect()
        };
        referenced.iter().any(|r| declared.contains(r)) || given_names.contains(&normalise(value))
    })
}

/// A `!Sub "…"` value and the same text in a dashboard body compare equal.
fn normalise(value: &str) -> String {
    value
        .trim()
        .trim_start_matches("!Sub")
        .trim()
        .trim_matches('"')
        .trim_matches('\'')
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// Running the binaries

/// The EMF records in a binary's stdout, each checked against the specification.
fn records(binary: &str, stdout: &str) -> Vec<Value> {
    let records: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l.get("_aws").is_some())
        .collect();
    for record in &records {
        if let Err(why) = emf_spec_violation(record) {
            panic!("{binary} wrote an EMF record that breaks the specification ({why}): {record}");
        }
    }
    records
}

/// Run `binary` on `events` with `env`; every invocation must be answered (not an error).
async fn run(binary: &str, env: &[(String, String)], events: Vec<String>) -> Vec<Value> {
    let runtime = RuntimeApi::start().await.expect("the Runtime API");
    let mut process = LambdaProcess::spawn(binary, &runtime, env);
    for e in events {
        let outcome = process.invoke(&runtime, e).await;
        assert!(
            matches!(outcome, Outcome::Response(_)),
            "{binary}: {outcome:?}"
        );
    }
    let output = process.stop().await;
    let found = records(binary, &output.stdout);
    assert!(
        !found.is_empty(),
        "{binary} wrote no EMF record:\n{}\n{}",
        output.stdout,
        output.stderr
    );
    found
}

fn env_with(base: &[(String, String)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = base.to_vec();
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

/// An SQS batch of one message that is not an SNS notification: the consumer rejects it (it
/// stays on the queue, bound for the dead-letter queue).
fn undecodable_sqs_batch() -> String {
    json!({ "Records": [{
        "messageId": "0f2b7c3e-5d1a-4c5e-9a3b-1e2d3c4b5a69",
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
        "body": "{\"not\": \"an SNS notification\"}",
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1764355200000",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1764355200001"
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:vitrine-email",
        "awsRegion": "us-east-1"
    }]})
    .to_string()
}

/// A DynamoDB stream batch with one outbox insert (an `order.placed` event).
fn stream_batch() -> String {
    let event = Event::new("order.placed", "01JORDER", json!({}));
    let image = json!({
        "pk": { "S": "EVENT#01JEVENTALARMMETRICS0000" },
        "sk": { "S": "EVENT" },
        "data": { "S": serde_json::to_string(&event).unwrap() },
        "event_type": { "S": "order.placed" },
    });
    json!({ "Records": [{
        "eventID": "ev-100",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_764_355_200.0,
            "Keys": { "pk": image["pk"], "sk": image["sk"] },
            "NewImage": image,
            "SequenceNumber": "100",
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }]})
    .to_string()
}

/// An EventBridge schedule's event, as the `expire` and `reports` functions get it.
fn scheduled_event() -> String {
    json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-28T03:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/vitrine-schedule"],
        "detail": {}
    })
    .to_string()
}

/// The recorded WebSocket event `name` with `token` in place of the recorded one (or none).
fn ws_event(name: &str, token: Option<&str>) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(format!("{name}.json"));
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("recorded")).expect("JSON");
    // The token in the subprotocol list, where browsers send it (one in the URL is refused).
    for map in ["headers", "multiValueHeaders"] {
        if let Some(headers) = v[map].as_object_mut() {
            headers.remove("Sec-WebSocket-Protocol");
            if let Some(token) = token {
                let value = format!("bearer, {token}");
                let value = if map == "headers" {
                    json!(value)
                } else {
                    json!([value])
                };
                headers.insert("Sec-WebSocket-Protocol".into(), value);
            }
        }
    }
    v.to_string()
}

/// Every binary of the template, each on the events its source sends: the EMF records.
async fn emitted() -> Vec<Value> {
    let fixture = AwsFixture::create().await;
    let state = fixture.state().await;
    seed_recorded_catalog(&state.app).await;
    let token = customer_token(&state.app, "alarm-metrics@example.com").await;
    let env = fixture.api_env();
    let sns = aws_sdk_sns::Client::new(&sdk_config(&fixture.aws).await);
    let topic = sns
        .create_topic()
        .name(moto::unique("vitrine-alarm-metrics"))
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn()
        .expect("a topic ARN")
        .to_owned();
    // Nothing is posted to it by these invocations; the functions need it to start.
    let ws_endpoint = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod";

    let mut all = Vec::new();
    all.extend(
        run(
            env!("CARGO_BIN_EXE_api"),
            &env,
            vec![event("apigw-rest-get-products")],
        )
        .await,
    );
    all.extend(
        run(
            env!("CARGO_BIN_EXE_events_stream"),
            &env_with(&env, &[("VITRINE_EVENTS_TOPIC_ARN", &topic)]),
            vec![stream_batch()],
        )
        .await,
    );
    // The invoices function reads its certificate's secret first: an empty one makes it the
    // demo emitter (docs/invoices.md, On AWS).
    let secret = aws_sdk_secretsmanager::Client::new(&sdk_config(&fixture.aws).await)
        .create_secret()
        .name(moto::unique("vitrine-alarm-metrics-a1"))
        .secret_string("{}")
        .send()
        .await
        .expect("CreateSecret")
        .arn()
        .expect("the secret's ARN")
        .to_owned();
    all.extend(
        run(
            env!("CARGO_BIN_EXE_invoices"),
            &env_with(
                &env,
                &[
                    ("VITRINE_FISCAL", "{}"),
                    ("VITRINE_NFE_SECRET_ARN", &secret),
                ],
            ),
            vec![undecodable_sqs_batch()],
        )
        .await,
    );
    for binary in [
        env!("CARGO_BIN_EXE_notify_email"),
        env!("CARGO_BIN_EXE_notify_sms"),
        env!("CARGO_BIN_EXE_admin_alerts"),
        env!("CARGO_BIN_EXE_payments"),
        env!("CARGO_BIN_EXE_notify_realtime"),
    ] {
        all.extend(
            run(
                binary,
                &env_with(&env, &[("VITRINE_WS_ENDPOINT", ws_endpoint)]),
                vec![undecodable_sqs_batch()],
            )
            .await,
        );
    }
    all.extend(
        run(
            env!("CARGO_BIN_EXE_ws"),
            &env_with(&env, &[("VITRINE_WS_ENDPOINT", ws_endpoint)]),
            vec![
                ws_event("ws-connect-subprotocol", Some(&token)),
                ws_event("ws-connect-subprotocol", None),
                ws_event("ws-disconnect", None),
            ],
        )
        .await,
    );
    for binary in [env!("CARGO_BIN_EXE_expire"), env!("CARGO_BIN_EXE_reports")] {
        all.extend(run(binary, &env, vec![scheduled_event()]).await);
    }
    // The expire function's cart reminders: a schedule with its `Input`, as EventBridge sends it.
    all.extend(
        run(
            env!("CARGO_BIN_EXE_expire"),
            &env_with(&env, &[("VITRINE_SITE_URL", "https://loja.example")]),
            vec![json!({ "job": "abandoned-carts" }).to_string()],
        )
        .await,
    );
    all
}

/// Whether some record has `namespace`, metric `name`, a dimension set of exactly `dims`' names,
/// and (when given) their values.
fn written(
    records: &[Value],
    namespace: &str,
    name: &str,
    dims: &BTreeSet<String>,
    values: &[(String, String)],
) -> bool {
    records.iter().any(|r| {
        r["_aws"]["CloudWatchMetrics"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|d| {
                d["Namespace"] == namespace
                    && d["Metrics"]
                        .as_array()
                        .is_some_and(|ms| ms.iter().any(|m| m["Name"] == name))
                    && d["Dimensions"].as_array().is_some_and(|sets| {
                        sets.iter().any(|set| {
                            let set: BTreeSet<String> = set
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(|s| s.as_str().map(str::to_owned))
                                .collect();
                            &set == dims
                        })
                    })
                    && values.iter().all(|(k, v)| r[k.as_str()] == v.as_str())
            })
    })
}

#[tokio::test]
async fn every_alarm_and_dashboard_metric_is_emitted_or_names_a_declared_resource() {
    let text = template();
    let declared = resources(&text);
    let mut named = alarm_metrics(&text);
    let mut searches = Vec::new();
    if let Some(body) = dashboard(&text) {
        let (widgets, found) = dashboard_metrics(&body);
        named.extend(widgets);
        searches = found;
    }
    assert!(
        named.iter().any(|m| m.namespace == "vitrine"),
        "no alarm or widget on the functions' own metrics"
    );

    let custom: Vec<&Named> = named
        .iter()
        .filter(|m| !m.namespace.starts_with("AWS/"))
        .collect();
    let records = emitted().await;
    let mut missing = Vec::new();
    for m in &custom {
        let dims: BTreeSet<String> = m.dimensions.iter().map(|(k, _)| k.clone()).collect();
        if !written(&records, &m.namespace, &m.name, &dims, &m.dimensions) {
            missing.push(format!(
                "{}: {}/{} {:?}",
                m.place, m.namespace, m.name, m.dimensions
            ));
        }
    }
    for s in &searches {
        if !written(&records, &s.namespace, &s.name, &s.dimensions, &[]) {
            missing.push(format!(
                "{}: SEARCH {}/{} by {:?}",
                s.place, s.namespace, s.name, s.dimensions
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "metrics no function wrote:\n{}",
        missing.join("\n")
    );

    let unanchored: Vec<String> = named
        .iter()
        .filter(|m| m.namespace.starts_with("AWS/") && !names_a_resource(m, &declared))
        .map(|m| format!("{}: {}/{} {:?}", m.place, m.namespace, m.name, m.dimensions))
        .collect();
    assert!(
        unanchored.is_empty(),
        "AWS metrics whose dimensions name no resource of the template:\n{}",
        unanchored.join("\n")
    );
}

#[test]
fn the_template_readers_find_math_alarms_dotted_rows_and_searches() {
    let text = template();
    let alarms = alarm_metrics(&text);
    // A math alarm: each MetricStat counts.
    assert!(
        alarms
            .iter()
            .filter(|m| m.place == "Api5xxRateAlarm")
            .count()
            >= 2
    );
    let body = dashboard(&text).expect("a dashboard");
    let (rows, searches) = dashboard_metrics(&body);
    // `[".", "ConsumedWriteCapacityUnits", ".", "."]` takes the row above's namespace and table.
    assert!(rows.iter().any(|m| m.namespace == "AWS/DynamoDB"
        && m.name == "ConsumedWriteCapacityUnits"
        && m.dimensions == [("TableName".to_owned(), "${DataTable}".to_owned())]));
    assert!(!searches.is_empty());
    // The checks refuse what they must.
    let declared = resources(&text);
    let stray = Named {
        namespace: "AWS/Lambda".into(),
        name: "Errors".into(),
        dimensions: vec![("FunctionName".into(), "!Ref NoSuchFunction".into())],
        place: "test".into(),
    };
    assert!(!names_a_resource(&stray, &declared));
    let records = vec![vitrine_app::metrics::emf_request(
        1_767_225_600_000,
        "api",
        "/api/v1/products",
        200,
        3.5,
    )];
    let dims: BTreeSet<String> = ["Service".to_owned()].into();
    assert!(!written(&records, "vitrine", "Requests", &dims, &[]));
    assert!(!written(
        &records,
        "vitrine",
        "NoSuchMetric",
        &["Service".to_owned(), "Route".to_owned()].into(),
        &[]
    ));
    assert!(written(
        &records,
        "vitrine",
        "Requests",
        &["Service".to_owned(), "Route".to_owned()].into(),
        &[("Service".to_owned(), "api".to_owned())]
    ));
}
