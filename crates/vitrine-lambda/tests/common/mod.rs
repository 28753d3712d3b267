//! Shared by the Lambda tests: the recorded API Gateway events under `infra/events/`, and a store
//! on the AWS adapters against the local emulator, with the product the recorded events ask for.

#![allow(
    dead_code,
    reason = "each test binary uses its own part of this module"
)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use aws_lambda_events::dynamodb;
use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use serde_json::{Value, json};
use vitrine_app::ports::{ClientInfo, SystemClock, UlidIds};
use vitrine_app::{App, Settings};
use vitrine_aws::AwsConfig;
use vitrine_aws::compose::{self, AwsResources};
use vitrine_aws::sdk_config;
use vitrine_domain::Money;
use vitrine_domain::catalog::{Dimensions, Fiscal, ProductDraft, Sku, Slug, Variant};
use vitrine_http::AppState;
use vitrine_testkit::moto;

/// The SKU the recorded checkout events buy.
pub const RECORDED_SKU: &str = "TENIS-CORRIDA-42-AZUL";
/// The category slug the recorded listing events filter on.
pub const RECORDED_CATEGORY: &str = "calcados";
/// Personal data the recorded checkout events carry, which must never reach the logs.
pub const RECORDED_PERSONAL_DATA: &[&str] = &[
    "Maria Exemplo",
    "Avenida Paulista",
    "529.982.247-25",
    "01310-100",
];
/// The placeholder bearer token in the recorded checkout events (not a valid token).
pub const RECORDED_TOKEN_PREFIX: &str = "eyJraWQiOiJleGFtcGxlIiwiYWxnIjoiUlMyNTYifQ";

pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/events")
}

/// A recorded event by file stem, e.g. `apigw-rest-get-products`.
pub fn event(name: &str) -> String {
    let path = events_dir().join(format!("{name}.json"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading the recorded event {}: {e}", path.display()))
}

/// A recorded event changed by `edit` (for what cannot be recorded once: a fresh token).
pub fn edited_event(name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(&event(name)).expect("recorded events are JSON");
    edit(&mut v);
    v.to_string()
}

/// The recorded event with `Authorization: Bearer {token}` in place of its placeholder, in
/// both header maps a REST event has.
pub fn with_bearer(name: &str, token: &str) -> String {
    edited_event(name, |v| {
        let bearer = Value::String(format!("Bearer {token}"));
        for (key, value) in v["headers"].as_object_mut().expect("headers").iter_mut() {
            if key.eq_ignore_ascii_case("authorization") {
                *value = bearer.clone();
            }
        }
        if let Some(multi) = v
            .get_mut("multiValueHeaders")
            .and_then(Value::as_object_mut)
        {
            for (key, value) in multi.iter_mut() {
                if key.eq_ignore_ascii_case("authorization") {
                    *value = Value::Array(vec![bearer.clone()]);
                }
            }
        }
    })
}

/// Fresh AWS resources on the emulator, named for this test.
pub struct AwsFixture {
    pub aws: AwsConfig,
    pub resources: AwsResources,
}

impl AwsFixture {
    pub async fn create() -> Self {
        let aws = AwsConfig {
            region: "us-east-1".into(),
            endpoint: Some(moto::endpoint().to_owned()),
            static_credentials: Some(("test".into(), "test".into())),
            emulator: true,
        };
        let names = AwsResources {
            table: moto::unique("vitrine-lambda-t"),
            bucket: moto::unique("vitrine-lambda-b"),
            user_pool_id: moto::unique("vitrine-lambda-p"),
            client_id: String::new(),
            mail_from: "loja@example.com".into(),
            // As the template: reports in a bucket of their own.
            reports_bucket: Some(moto::unique("vitrine-lambda-r")),
        };
        let resources = compose::create_resources(&aws, &names)
            .await
            .expect("creating the table, bucket, user pool and sender on the emulator");
        Self { aws, resources }
    }

    /// The router's state on these resources, built the way the `api` binary builds it.
    /// The API's state on these resources, with the unpaid-order cap lifted: tests place many
    /// orders for one buyer at once (the cap has its own tests, `crates/vitrine/tests/checkout.rs`).
    pub async fn state(&self) -> AppState {
        let store = compose::build(
            &self.aws,
            &self.resources,
            Settings {
                unpaid_cap: vitrine_app::UnpaidCap {
                    orders: 1000,
                    units: 1_000_000,
                },
                ..Settings::default()
            },
            Arc::new(SystemClock),
            Arc::new(UlidIds),
        )
        .await
        .expect("building the store on the emulator");
        AppState::with_keys(store.app, store.keys, None)
    }

    /// The environment the `api` binary reads, pointing at these resources.
    pub fn api_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_REGION", self.aws.region.clone()),
            ("AWS_ENDPOINT_URL", moto::endpoint().to_owned()),
            // The emulator takes any credentials; without them the SDK would look further
            // (the instance metadata service), off this machine.
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("VITRINE_TABLE", self.resources.table.clone()),
            ("VITRINE_BUCKET", self.resources.bucket.clone()),
            ("VITRINE_USER_POOL_ID", self.resources.user_pool_id.clone()),
            ("VITRINE_CLIENT_ID", self.resources.client_id.clone()),
            ("VITRINE_MAIL_FROM", self.resources.mail_from.clone()),
            (
                "VITRINE_REPORTS_BUCKET",
                self.resources.reports_bucket.clone().unwrap_or_default(),
            ),
            // Payments by the sandbox, chosen explicitly (unset, every method is off).
            ("VITRINE_PAYMENTS_PIX", "sandbox".to_owned()),
            ("VITRINE_PAYMENTS_CARD", "sandbox".to_owned()),
            (
                "VITRINE_PAYMENTS_WEBHOOK_SECRET",
                "lambda-tests-webhook-secret".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// The category and product the recorded events ask for: `calcados`, and a running shoe with
/// the recorded SKU and 5 in stock.
pub async fn seed_recorded_catalog(app: &App) {
    seed_recorded_catalog_with(app, 5).await;
}

/// [`seed_recorded_catalog`] with `stock` shoes.
pub async fn seed_recorded_catalog_with(app: &App, stock: i64) {
    let category = app
        .create_category(
            "Calçados",
            Some(Slug::parse(RECORDED_CATEGORY).expect("slug")),
            None,
            1,
        )
        .await
        .expect("create the category");
    let sku = Sku::parse(RECORDED_SKU).expect("sku");
    let draft = ProductDraft {
        slug: None,
        name: "Tênis de corrida".into(),
        description: "Leve, para treinos diários.".into(),
        category_id: Some(category.id),
        images: vec![],
        variants: vec![Variant {
            sku: sku.clone(),
            options: BTreeMap::from([("tamanho".to_owned(), "42".to_owned())]),
            price: Money::from_centavos(34_990),
            compare_at: None,
            dimensions: Dimensions {
                weight_g: 800,
                length_cm: 33,
                width_cm: 22,
                height_cm: 12,
            },
            fiscal: Fiscal {
                ncm: "64041100".into(),
                cfop: "5102".into(),
                origin: 0,
            },
        }],
        active: true,
    };
    app.create_product(draft, &HashMap::from([(sku, stock)]))
        .await
        .expect("create the product");
}

/// A confirmed customer, signed in: the access token.
pub async fn customer_token(app: &App, email: &str) -> String {
    app.create_user(email, "senha-forte-123", "Cliente Teste", false)
        .await
        .expect("create the customer");
    app.sign_in(email, "senha-forte-123", &ClientInfo::default(), None)
        .await
        .expect("sign the customer in")
        .access_token
}

// ---------------------------------------------------------------------------------------------
// The table's stream, as Lambda hands it to `events_stream`

/// A DynamoDB Streams attribute value as the Lambda event's JSON writes it.
pub fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(b) => json!({ "NULL": b }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::L(v) => json!({ "L": v.iter().map(attribute_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": image_json(m) }),
        other => panic!("the store writes no such attribute: {other:?}"),
    }
}

pub fn image_json(image: &HashMap<String, AttributeValue>) -> Value {
    image
        .iter()
        .map(|(name, value)| (name.clone(), attribute_json(value)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Every record of the table's stream so far, as the records of the Lambda DynamoDB event.
pub async fn stream_records(fixture: &AwsFixture) -> Vec<Value> {
    let client = aws_sdk_dynamodbstreams::Client::new(&sdk_config(&fixture.aws).await);
    let streams = client
        .list_streams()
        .table_name(&fixture.resources.table)
        .send()
        .await
        .expect("ListStreams");
    let stream_arn = streams.streams()[0]
        .stream_arn()
        .expect("the table has a stream")
        .to_owned();
    let description = client
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .expect("DescribeStream");
    let shards = description
        .stream_description()
        .expect("a stream description")
        .shards()
        .to_vec();
    let mut records = Vec::new();
    for shard in shards {
        let mut iterator = client
            .get_shard_iterator()
            .stream_arn(&stream_arn)
            .shard_id(shard.shard_id().expect("a shard id"))
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("GetShardIterator")
            .shard_iterator()
            .map(str::to_owned);
        // An open shard always hands out a next iterator: stop at the first empty page.
        for _ in 0..100 {
            let Some(it) = iterator.take() else { break };
            let page = client
                .get_records()
                .shard_iterator(it)
                .send()
                .await
                .expect("GetRecords");
            if page.records().is_empty() {
                break;
            }
            for record in page.records() {
                let change = record.dynamodb().expect("a stream record");
                let mut dynamodb = json!({
                    "ApproximateCreationDateTime": change
                        .approximate_creation_date_time()
                        .map_or(0.0, |t| t.as_secs_f64()),
                    "SequenceNumber": change.sequence_number(),
                    "SizeBytes": change.size_bytes().unwrap_or(1),
                    "StreamViewType": change.stream_view_type().map(|v| v.as_str()),
                });
                for (name, image) in [
                    ("Keys", change.keys()),
                    ("NewImage", change.new_image()),
                    ("OldImage", change.old_image()),
                ] {
                    if let Some(image) = image {
                        dynamodb[name] = image_json(image);
                    }
                }
                records.push(json!({
                    "eventID": record.event_id(),
                    "eventName": record.event_name().map(|n| n.as_str()),
                    "eventVersion": record.event_version().unwrap_or("1.1"),
                    "eventSource": "aws:dynamodb",
                    "awsRegion": fixture.aws.region,
                    "eventSourceARN": stream_arn,
                    "dynamodb": dynamodb,
                }));
            }
            iterator = page.next_shard_iterator().map(str::to_owned);
        }
    }
    records
}

pub fn stream_event(records: Vec<Value>) -> dynamodb::Event {
    serde_json::from_value(json!({ "Records": records })).expect("a Lambda DynamoDB event")
}

/// Checks a record against the Embedded Metric Format specification
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>):
/// a root object with `_aws`; `_aws.Timestamp` a number of milliseconds; `_aws.CloudWatchMetrics`
/// an array of directives, each with a `Namespace` (1–1024 characters), `Dimensions` (an array of
/// up to 30 dimension sets, each an array of up to 30 strings naming root members whose values
/// are strings) and `Metrics` (an array of up to 100 definitions, each with a `Name` naming a
/// root member that is a number or an array of up to 100 numbers, and an optional `Unit` from
/// the CloudWatch unit list).
pub fn emf_spec_violation(record: &Value) -> Result<(), String> {
    const UNITS: [&str; 27] = [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];
    let root = record.as_object().ok_or("the record is not an object")?;
    let aws = root["_aws"].as_object().ok_or("_aws is not an object")?;
    let ts = aws
        .get("Timestamp")
        .and_then(Value::as_i64)
        .ok_or("_aws.Timestamp is not an integer")?;
    if ts < 1_000_000_000_000 {
        return Err("_aws.Timestamp is not in milliseconds".into());
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or("_aws.CloudWatchMetrics is not a non-empty array")?;
    for d in directives {
        let ns = d["Namespace"].as_str().ok_or("Namespace is not a string")?;
        if ns.is_empty() || ns.len() > 1024 {
            return Err("Namespace length".into());
        }
        let sets = d["Dimensions"]
            .as_array()
            .ok_or("Dimensions is not an array")?;
        if sets.len() > 30 {
            return Err("more than 30 dimension sets".into());
        }
        for set in sets {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err("more than 30 dimensions in a set".into());
            }
            for name in set {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                if !root.get(name).is_some_and(Value::is_string) {
                    return Err(format!(
                        "dimension {name} is not a string member of the root"
                    ));
                }
            }
        }
        let metrics = d["Metrics"].as_array().ok_or("Metrics is not an array")?;
        if metrics.is_empty() || metrics.len() > 100 {
            return Err("Metrics must hold 1 to 100 definitions".into());
        }
        for m in metrics {
            let name = m["Name"].as_str().ok_or("a metric Name is not a string")?;
            if let Some(unit) = m.get("Unit")
                && !unit.as_str().is_some_and(|u| UNITS.contains(&u))
            {
                return Err(format!(
                    "metric {name}: unit {unit} is not a CloudWatch unit"
                ));
            }
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values))
                    if values.len() <= 100 && values.iter().all(Value::is_number) => {}
                _ => return Err(format!("metric {name} has no numeric value in the root")),
            }
        }
    }
    Ok(())
}
