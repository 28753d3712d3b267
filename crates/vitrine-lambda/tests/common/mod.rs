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
        };
        let resources = compose::create_resources(&aws, &names)
            .await
            .expect("creating the table, bucket, user pool and sender on the emulator");
        Self { aws, resources }
    }

    /// The router's state on these resources, built the way the `api` binary builds it.
    pub async fn state(&self) -> AppState {
        let store = compose::build(
            &self.aws,
            &self.resources,
            Settings::default(),
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
