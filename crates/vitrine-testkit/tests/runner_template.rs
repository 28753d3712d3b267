//! The runner on the real `infra/template.yaml`: every table, bucket, topic, queue,
//! subscription, pool, client and group it declares exists on the emulator with the declared
//! settings; a template missing a referenced resource fails naming it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};
use vitrine_testkit::moto;
use vitrine_testkit::runner::Resolved;
use vitrine_testkit::runner::resources::Emulator;
use vitrine_testkit::runner::template::{Plan, Translated, resolve, translate};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn parameters() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("MailFrom".to_owned(), "Loja <loja@shop.example>".to_owned()),
        ("SesIdentity".to_owned(), "shop.example".to_owned()),
    ])
}

fn translated() -> Translated {
    translate(
        &root().join(".venv/bin/python"),
        &root().join("infra/template.yaml"),
        &parameters(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn created() -> Resolved {
    let stack = moto::unique("tpl");
    let mut emulator = Emulator::new(moto::endpoint());
    resolve(
        &translated(),
        &stack,
        moto::endpoint(),
        &parameters(),
        &mut emulator,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The JSON protocol call `target` on the emulator.
async fn call(service: &str, target: &str, body: Value) -> Value {
    let version = if service == "dynamodb" || service == "sqs" {
        "1.0"
    } else {
        "1.1"
    };
    Emulator::new(moto::endpoint())
        .json(service, target, version, &body)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn sns(params: &[(&str, &str)]) -> String {
    let mut all = vec![("Version".to_owned(), "2010-03-31".to_owned())];
    all.extend(
        params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Emulator::new(moto::endpoint())
        .query("sns", &all)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn as_json(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn every_declared_resource_exists_with_its_settings() {
    let r = created().await;

    let tables: Vec<_> = r.of_kind("AWS::DynamoDB::Table").collect();
    assert!(!tables.is_empty());
    for (id, t) in tables {
        let d = call(
            "dynamodb",
            "DynamoDB_20120810.DescribeTable",
            json!({"TableName": t.physical_id}),
        )
        .await;
        let table = &d["Table"];
        assert_eq!(table["KeySchema"], t.properties["KeySchema"], "{id}");
        let declared: Vec<&str> = t.properties["GlobalSecondaryIndexes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["IndexName"].as_str())
            .collect();
        let made: Vec<&str> = table["GlobalSecondaryIndexes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["IndexName"].as_str())
            .collect();
        assert_eq!(made, declared, "{id}: indexes");
        if let Some(view) = t.properties.pointer("/StreamSpecification/StreamViewType") {
            assert_eq!(
                table["StreamSpecification"]["StreamViewType"], *view,
                "{id}: stream"
            );
            assert_eq!(
                table["LatestStreamArn"],
                json!(t.attributes["StreamArn"]),
                "{id}"
            );
        }
        if let Some(ttl) = t.properties.get("TimeToLiveSpecification") {
            let d = call(
                "dynamodb",
                "DynamoDB_20120810.DescribeTimeToLive",
                json!({"TableName": t.physical_id}),
            )
            .await;
            assert_eq!(
                d["TimeToLiveDescription"]["AttributeName"], ttl["AttributeName"],
                "{id}"
            );
            assert_eq!(
                d["TimeToLiveDescription"]["TimeToLiveStatus"],
                json!("ENABLED"),
                "{id}"
            );
        }
    }

    let http = reqwest::Client::new();
    for (id, b) in r.of_kind("AWS::S3::Bucket") {
        let head = http
            .head(format!("{}/{}", moto::endpoint(), b.physical_id))
            .header("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0")
            .send()
            .await
            .expect("HEAD bucket");
        assert!(
            head.status().is_success(),
            "{id}: bucket {} missing ({})",
            b.physical_id,
            head.status()
        );
        assert_eq!(
            b.attributes["RegionalDomainName"],
            format!("{}.s3.us-east-1.amazonaws.com", b.physical_id)
        );
    }

    for (id, t) in r.of_kind("AWS::SNS::Topic") {
        let xml = sns(&[
            ("Action", "GetTopicAttributes"),
            ("TopicArn", &t.physical_id),
        ])
        .await;
        assert!(xml.contains(&t.physical_id), "{id}: {xml}");
    }

    let queues: Vec<_> = r.of_kind("AWS::SQS::Queue").collect();
    assert!(queues.len() >= 2);
    for (id, q) in queues {
        let a = call(
            "sqs",
            "AmazonSQS.GetQueueAttributes",
            json!({"QueueUrl": q.physical_id, "AttributeNames": ["All"]}),
        )
        .await;
        let attrs = &a["Attributes"];
        if let Some(v) = q.properties.get("VisibilityTimeout") {
            assert_eq!(
                attrs["VisibilityTimeout"].as_str(),
                Some(v.to_string().trim_matches('"')),
                "{id}"
            );
        }
        if let Some(redrive) = q.properties.get("RedrivePolicy") {
            let made = as_json(&attrs["RedrivePolicy"]);
            assert_eq!(
                made["deadLetterTargetArn"], redrive["deadLetterTargetArn"],
                "{id}"
            );
            assert_eq!(
                made["maxReceiveCount"].to_string().trim_matches('"'),
                redrive["maxReceiveCount"].to_string().trim_matches('"'),
                "{id}"
            );
            let dlq = r
                .of_kind("AWS::SQS::Queue")
                .find(|(_, d)| d.attributes["Arn"] == redrive["deadLetterTargetArn"]);
            assert!(
                dlq.is_some(),
                "{id}: its dead-letter queue is a queue of the template"
            );
        }
    }

    let subscriptions: Vec<_> = r.of_kind("AWS::SNS::Subscription").collect();
    assert!(!subscriptions.is_empty());
    for (id, s) in subscriptions {
        let xml = sns(&[
            ("Action", "GetSubscriptionAttributes"),
            ("SubscriptionArn", &s.physical_id),
        ])
        .await;
        let value = |key: &str| -> Option<String> {
            let marker = format!("<key>{key}</key>");
            let at = xml.find(&marker)? + marker.len();
            let rest = &xml[at..];
            let start = rest.find("<value>")? + "<value>".len();
            let end = rest.find("</value>")?;
            Some(
                rest[start..end]
                    .replace("&quot;", "\"")
                    .replace("&amp;", "&")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">"),
            )
        };
        assert_eq!(
            value("Protocol").as_deref(),
            s.properties["Protocol"].as_str(),
            "{id}"
        );
        assert_eq!(
            value("Endpoint").as_deref(),
            s.properties["Endpoint"].as_str(),
            "{id}"
        );
        if let Some(policy) = s.properties.get("FilterPolicy") {
            let made: Value = serde_json::from_str(&value("FilterPolicy").unwrap_or_default())
                .expect("a filter policy");
            assert_eq!(made, as_json(policy), "{id}: filter policy");
        }
        if let Some(scope) = s.properties.get("FilterPolicyScope") {
            assert_eq!(
                value("FilterPolicyScope").as_deref(),
                scope.as_str(),
                "{id}"
            );
        }
        if let Some(raw) = s.properties.get("RawMessageDelivery") {
            assert_eq!(
                value("RawMessageDelivery"),
                Some(raw.to_string().trim_matches('"').to_owned()),
                "{id}"
            );
        }
    }

    let target = |op: &str| format!("AWSCognitoIdentityProviderService.{op}");
    for (id, p) in r.of_kind("AWS::Cognito::UserPool") {
        let d = call(
            "cognito-idp",
            &target("DescribeUserPool"),
            json!({"UserPoolId": p.physical_id}),
        )
        .await;
        assert_eq!(d["UserPool"]["Name"], p.properties["UserPoolName"], "{id}");
        assert_eq!(
            d["UserPool"]["UsernameAttributes"], p.properties["UsernameAttributes"],
            "{id}"
        );
        assert!(p.attributes["ProviderURL"].ends_with(&p.physical_id));
    }
    for (id, c) in r.of_kind("AWS::Cognito::UserPoolClient") {
        let d = call(
            "cognito-idp",
            &target("DescribeUserPoolClient"),
            json!({"UserPoolId": c.properties["UserPoolId"], "ClientId": c.physical_id}),
        )
        .await;
        assert_eq!(
            d["UserPoolClient"]["ClientName"], c.properties["ClientName"],
            "{id}"
        );
    }
    for (id, g) in r.of_kind("AWS::Cognito::UserPoolGroup") {
        let d = call(
            "cognito-idp",
            &target("GetGroup"),
            json!({"UserPoolId": g.properties["UserPoolId"], "GroupName": g.physical_id}),
        )
        .await;
        assert_eq!(d["Group"]["GroupName"], g.properties["GroupName"], "{id}");
    }
    for (id, s) in r.of_kind("AWS::SecretsManager::Secret") {
        call(
            "secretsmanager",
            "secretsmanager.DescribeSecret",
            json!({"SecretId": s.physical_id}),
        )
        .await;
        let _ = id;
    }

    // Functions: AWS-shaped names, their binaries recorded, environment resolved.
    for (id, f) in r.of_kind("AWS::Lambda::Function") {
        assert_eq!(
            f.attributes["Arn"],
            format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                f.physical_id
            )
        );
        assert!(r.binaries.contains_key(id), "{id}: no binary recorded");
        let env = f
            .properties
            .pointer("/Environment/Variables")
            .and_then(Value::as_object);
        for (k, v) in env.into_iter().flatten() {
            assert!(
                v.is_string() || v.is_number(),
                "{id}: {k} is not resolved: {v}"
            );
        }
        assert_eq!(r.function(&f.attributes["Arn"]), Some(id));
    }
}

#[tokio::test]
async fn a_template_missing_a_referenced_resource_fails_naming_it() {
    let mut t = translated();
    let resources = t.template["Resources"].as_object_mut().expect("resources");
    let (victim, _) = resources
        .iter()
        .find(|(_, r)| r["Type"] == json!("AWS::SQS::Queue"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .expect("a queue");
    resources.remove(&victim);
    let err = resolve(&t, "missing", "http://unused", &parameters(), &mut Plan)
        .await
        .expect_err("a missing resource is an error");
    assert!(err.0.contains(&victim), "{err}");
}

#[tokio::test]
async fn secrets_are_made_and_named_ses_identities_verified() {
    let template = json!({
        "Resources": {
            "Given": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "s3cret"}},
            "Generated": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {
                "SecretStringTemplate": "{\"user\": \"a\"}", "GenerateStringKey": "password", "PasswordLength": 20
            }}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyDocument": {"Statement": [{
                "Effect": "Allow", "Action": "ses:SendEmail",
                "Resource": {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/runner-test.example"}
            }]}}]}}
        }
    });
    let t = Translated {
        template,
        binaries: BTreeMap::new(),
    };
    let mut emulator = Emulator::new(moto::endpoint());
    let r = resolve(
        &t,
        &moto::unique("sec"),
        moto::endpoint(),
        &BTreeMap::new(),
        &mut emulator,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let value = |id: &str| {
        let arn = r.resources[id].physical_id.clone();
        async move {
            call(
                "secretsmanager",
                "secretsmanager.GetSecretValue",
                json!({"SecretId": arn}),
            )
            .await
        }
    };
    assert_eq!(value("Given").await["SecretString"], json!("s3cret"));
    let generated: Value = serde_json::from_str(
        value("Generated").await["SecretString"]
            .as_str()
            .expect("a string"),
    )
    .expect("JSON");
    assert_eq!(generated["user"], json!("a"));
    assert_eq!(generated["password"].as_str().map(str::len), Some(20));
    assert!(
        r.resources["Given"]
            .physical_id
            .starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:")
    );

    let verified = vitrine_testkit::runner::resources::verify_ses_identities(&emulator, &r)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(verified.contains("runner-test.example"));
    let xml = Emulator::new(moto::endpoint())
        .query("ses", &[("Action".to_owned(), "ListIdentities".to_owned())])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(xml.contains("runner-test.example"), "{xml}");
}
