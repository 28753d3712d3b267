//! The runner's AWS proxy against the emulator, called by the real AWS SDK clients with a
//! function's credentials: allowed calls reach the emulator and are counted, a call outside the
//! function's policy is refused as AWS refuses it and listed, and Cognito's code mails are sent
//! through SES and their codes checked.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use serde_json::{Value, json};
use vitrine_testkit::moto;
use vitrine_testkit::runner::proxy::{Credentials, Proxy};
use vitrine_testkit::runner::{ACCOUNT, REGION, Resolved, Resource};

async fn sdk(endpoint: &str, key: &str, secret: &str) -> SdkConfig {
    let no_roots = tls::TlsContext::builder()
        .with_trust_store(tls::TrustStore::empty())
        .build()
        .unwrap();
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(no_roots)
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .http_client(http)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            key, secret, None, None, "test",
        ))
        .load()
        .await
}

fn resource(
    kind: &str,
    properties: Value,
    physical_id: &str,
    attributes: &[(&str, &str)],
) -> Resource {
    Resource {
        kind: kind.into(),
        properties,
        physical_id: physical_id.into(),
        attributes: attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

struct World {
    table: String,
    table_arn: String,
    queue_url: String,
    bucket: String,
    pool: String,
    client: String,
    topic_arn: String,
    other_topic_arn: String,
    resolved: Resolved,
}

/// A table, a queue, a bucket and a pool on the emulator, and a template whose one function may
/// read and write the table's items (not delete them), send to the queue, and put and get
/// objects.
async fn world() -> World {
    let admin = sdk(moto::endpoint(), "admin", "admin").await;
    let table = moto::unique("proxy-table");
    let ddb = aws_sdk_dynamodb::Client::new(&admin);
    let created = ddb
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("sk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("sk")
                .key_type(KeyType::Range)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let table_arn = created
        .table_description()
        .unwrap()
        .table_arn()
        .unwrap()
        .to_owned();
    let queue_name = moto::unique("proxy-queue");
    let queue_url = aws_sdk_sqs::Client::new(&admin)
        .create_queue()
        .queue_name(&queue_name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let sns = aws_sdk_sns::Client::new(&admin);
    let mut topics = Vec::new();
    for name in ["proxy-topic", "proxy-other-topic"] {
        let created = sns
            .create_topic()
            .name(moto::unique(name))
            .send()
            .await
            .unwrap();
        topics.push(created.topic_arn().unwrap().to_owned());
    }
    let other_topic_arn = topics.pop().unwrap();
    let topic_arn = topics.pop().unwrap();
    aws_sdk_sesv2::Client::new(&admin)
        .create_email_identity()
        .email_identity("loja@shop.example")
        .send()
        .await
        .unwrap();
    let bucket = moto::unique("proxy-bucket");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&admin)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let rule = aws_sdk_s3::types::CorsRule::builder()
        .allowed_methods("PUT")
        .allowed_origins("*")
        .allowed_headers("content-type")
        .build()
        .unwrap();
    s3.put_bucket_cors()
        .bucket(&bucket)
        .cors_configuration(
            aws_sdk_s3::types::CorsConfiguration::builder()
                .cors_rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&admin);
    let pool = idp
        .create_user_pool()
        .pool_name(moto::unique("proxy-pool"))
        .username_attributes(aws_sdk_cognitoidentityprovider::types::UsernameAttributeType::Email)
        .send()
        .await
        .unwrap()
        .user_pool()
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    let client = idp
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .send()
        .await
        .unwrap()
        .user_pool_client()
        .unwrap()
        .client_id()
        .unwrap()
        .to_owned();

    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}");
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/stack-ApiFunctionRole-ABC");
    let mut r = Resolved {
        stack_name: "stack".into(),
        emulator: moto::endpoint().to_owned(),
        ..Resolved::default()
    };
    let mut add = |id: &str, res: Resource| {
        r.order.push(id.to_owned());
        r.resources.insert(id.to_owned(), res);
    };
    add(
        "DataTable",
        resource(
            "AWS::DynamoDB::Table",
            json!({"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]}),
            &table,
            &[("Arn", &table_arn)],
        ),
    );
    add(
        "Queue",
        resource(
            "AWS::SQS::Queue",
            json!({}),
            &queue_url,
            &[("Arn", &queue_arn)],
        ),
    );
    add(
        "Bucket",
        resource(
            "AWS::S3::Bucket",
            json!({}),
            &bucket,
            &[("Arn", &format!("arn:aws:s3:::{bucket}"))],
        ),
    );
    add(
        "UserPool",
        resource(
            "AWS::Cognito::UserPool",
            json!({
                "UsernameAttributes": ["email"],
                "VerificationMessageTemplate": {"EmailSubject": "Seu código", "EmailMessage": "Seu código é: {####}. Obrigado."},
                "EmailConfiguration": {"EmailSendingAccount": "COGNITO_DEFAULT"}
            }),
            &pool,
            &[(
                "Arn",
                &format!("arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{pool}"),
            )],
        ),
    );
    add(
        "UserPoolClient",
        resource(
            "AWS::Cognito::UserPoolClient",
            json!({"UserPoolId": pool}),
            &client,
            &[],
        ),
    );
    add(
        "ApiFunctionRole",
        resource(
            "AWS::IAM::Role",
            json!({
                "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
                "Policies": [{"PolicyName": "ApiFunctionRolePolicy0", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Sid": "TableItems", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], "Resource": [table_arn, format!("{table_arn}/index/*")]},
                    {"Sid": "Send", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn},
                    {"Sid": "Publish", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
                    {"Sid": "Mail", "Effect": "Allow", "Action": "ses:SendEmail", "Resource": format!("arn:aws:ses:{REGION}:{ACCOUNT}:identity/shop.example")},
                    {"Sid": "Blobs", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": format!("arn:aws:s3:::{bucket}/*")}
                ]}}]
            }),
            "stack-ApiFunctionRole-ABC",
            &[("Arn", &role_arn)],
        ),
    );
    add(
        "ApiFunction",
        resource(
            "AWS::Lambda::Function",
            json!({"Role": role_arn}),
            "stack-ApiFunction-XYZ",
            &[],
        ),
    );
    World {
        table,
        table_arn,
        queue_url,
        bucket,
        pool,
        client,
        topic_arn,
        other_topic_arn,
        resolved: r,
    }
}

/// The SES messages the emulator recorded as sent to `to`.
async fn mail_to(to: &str) -> Vec<Value> {
    let state = moto::state().await;
    state["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m.to_string().contains(to))
        .cloned()
        .collect()
}

/// The code of the last mail to `to` (after "Seu código é: ").
async fn last_code(to: &str) -> String {
    let mails = mail_to(to).await;
    let body = mails.last().expect("a mail to the user").to_string();
    let start = body.find("Seu código é: ").expect("the pool's message") + "Seu código é: ".len();
    body[start..start + 6].to_owned()
}

fn key(sk: &str) -> std::collections::HashMap<String, AttributeValue> {
    [
        ("pk".to_owned(), AttributeValue::S("p".into())),
        ("sk".to_owned(), AttributeValue::S(sk.into())),
    ]
    .into()
}

#[tokio::test]
async fn the_proxy_forwards_what_the_role_allows_refuses_the_rest_and_mails_cognitos_codes() {
    let w = world().await;
    let proxy = Proxy::start(Arc::new(w.resolved.clone())).await.unwrap();
    let Credentials {
        access_key_id,
        secret_access_key,
    } = proxy.credentials_for("ApiFunction");
    let config = sdk(&proxy.url(), &access_key_id, &secret_access_key).await;

    // Allowed: DynamoDB items, a message, an object (path-style, as an IP endpoint gives).
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let mut item = key("a");
    item.insert("data".into(), AttributeValue::S("x".repeat(1500)));
    ddb.put_item()
        .table_name(&w.table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    let got = ddb
        .get_item()
        .table_name(&w.table)
        .set_key(Some(key("a")))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(got.item().unwrap()["data"].as_s().unwrap().len(), 1500);
    let sqs = aws_sdk_sqs::Client::new(&config);
    sqs.send_message()
        .queue_url(&w.queue_url)
        .message_body("hello")
        .send()
        .await
        .unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let blob = vec![7u8; 3 * 1024 * 1024];
    s3.put_object()
        .bucket(&w.bucket)
        .key("dir/a b.bin")
        .body(blob.clone().into())
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket(&w.bucket)
        .key("dir/a b.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(blob.len() as i64));
    let back = s3
        .get_object()
        .bucket(&w.bucket)
        .key("dir/a b.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(
        back.body.collect().await.unwrap().into_bytes().as_ref(),
        blob.as_slice()
    );
    // Unsigned requests pass unchecked: the pool's keys.
    let jwks = reqwest::get(format!("{}/{}/.well-known/jwks.json", proxy.url(), w.pool))
        .await
        .unwrap();
    assert!(jwks.status().is_success());
    assert!(jwks.text().await.unwrap().contains("\"keys\""));
    // A browser's CORS preflight before its PUT to a presigned URL carries the presigned query
    // but no signature: S3 answers it from the bucket's CORS rules, not from a policy.
    let preflight = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!(
                "{}/{}/uploads/a.png?x-id=PutObject&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}%2F20261205%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00",
                proxy.url(),
                w.bucket,
                proxy.credentials_for("ApiFunction").access_key_id
            ),
        )
        .header("Origin", "http://127.0.0.1:8080")
        .header("Access-Control-Request-Method", "PUT")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://127.0.0.1:8080"
    );
    assert!(proxy.denials().is_empty(), "{:?}", proxy.denials());

    let sns = aws_sdk_sns::Client::new(&config);
    sns.publish()
        .topic_arn(&w.topic_arn)
        .message("evento")
        .send()
        .await
        .unwrap();
    let ses = aws_sdk_sesv2::Client::new(&config);
    let mail = |from: &str| {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let text = |t: &str| Content::builder().data(t).build().unwrap();
        ses.send_email()
            .from_email_address(from)
            .destination(
                Destination::builder()
                    .to_addresses("cliente@example.com")
                    .build(),
            )
            .content(
                EmailContent::builder()
                    .simple(
                        Message::builder()
                            .subject(text("Pedido"))
                            .body(Body::builder().text(text("ok")).build())
                            .build(),
                    )
                    .build(),
            )
            .send()
    };
    // Allowed by the domain's identity.
    mail("Loja <loja@shop.example>").await.unwrap();

    // Refused: what the role does not grant, in each protocol's error.
    let other_mail = mail("loja@elsewhere.example").await.unwrap_err();
    assert_eq!(
        aws_sdk_sesv2::error::ProvideErrorMetadata::code(&other_mail.into_service_error()),
        Some("AccessDeniedException")
    );
    let other_topic = sns
        .publish()
        .topic_arn(&w.other_topic_arn)
        .message("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_sns::error::ProvideErrorMetadata::code(&other_topic.into_service_error()),
        Some("AuthorizationError")
    );
    let delete = ddb
        .delete_item()
        .table_name(&w.table)
        .set_key(Some(key("a")))
        .send()
        .await
        .unwrap_err();
    let delete = delete.into_service_error();
    assert_eq!(
        aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&delete),
        Some("AccessDeniedException")
    );
    let message = aws_sdk_dynamodb::error::ProvideErrorMetadata::message(&delete)
        .unwrap()
        .to_owned();
    assert!(
        message.contains("assumed-role/stack-ApiFunctionRole-ABC/stack-ApiFunction-XYZ")
            && message.contains("dynamodb:DeleteItem")
            && message.contains(&w.table_arn),
        "{message}"
    );
    let still = aws_sdk_dynamodb::Client::new(&sdk(moto::endpoint(), "admin", "admin").await)
        .get_item()
        .table_name(&w.table)
        .set_key(Some(key("a")))
        .send()
        .await
        .unwrap();
    assert!(
        still.item().is_some(),
        "a refused delete never reaches the emulator"
    );
    let s3_delete = s3
        .delete_object()
        .bucket(&w.bucket)
        .key("dir/a b.bin")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&s3_delete.into_service_error()),
        Some("AccessDenied")
    );
    let receive = sqs
        .receive_message()
        .queue_url(&w.queue_url)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_sqs::error::ProvideErrorMetadata::code(&receive.into_service_error()),
        Some("AccessDeniedException")
    );
    let denials = proxy.denials();
    let identity = format!("arn:aws:ses:{REGION}:{ACCOUNT}:identity/loja@elsewhere.example");
    let listed: Vec<(&str, &str, &str)> = denials
        .iter()
        .map(|d| (d.function.as_str(), d.action.as_str(), d.resource.as_str()))
        .collect();
    let object_arn = format!("arn:aws:s3:::{}/dir/a b.bin", w.bucket);
    let queue_arn = format!(
        "arn:aws:sqs:{REGION}:{ACCOUNT}:{}",
        w.queue_url.rsplit('/').next().unwrap()
    );
    assert_eq!(
        listed,
        vec![
            ("ApiFunction", "ses:SendEmail", identity.as_str()),
            ("ApiFunction", "sns:Publish", w.other_topic_arn.as_str()),
            ("ApiFunction", "dynamodb:DeleteItem", w.table_arn.as_str()),
            ("ApiFunction", "s3:DeleteObject", object_arn.as_str()),
            ("ApiFunction", "sqs:ReceiveMessage", queue_arn.as_str()),
        ]
    );

    // Cognito: the sign-up code is mailed through SES; a wrong code is refused, the right one confirms.
    let email = format!("{}@example.com", moto::unique("buyer"));
    let idp = aws_sdk_cognitoidentityprovider::Client::new(&config);
    idp.sign_up()
        .client_id(&w.client)
        .username(&email)
        .password("Senha-Forte-123")
        .user_attributes(
            aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
                .name("email")
                .value(&email)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mails = mail_to(&email).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["source"], "no-reply@verificationemail.com");
    assert_eq!(mails[0]["subject"], "Seu código");
    let code = last_code(&email).await;
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let refused = idp
        .confirm_sign_up()
        .client_id(&w.client)
        .username(&email)
        .confirmation_code(wrong)
        .send()
        .await
        .unwrap_err();
    assert!(refused.into_service_error().is_code_mismatch_exception());
    let admin_idp = aws_sdk_cognitoidentityprovider::Client::new(
        &sdk(moto::endpoint(), "admin", "admin").await,
    );
    let user = admin_idp
        .admin_get_user()
        .user_pool_id(&w.pool)
        .username(&email)
        .send()
        .await
        .unwrap();
    assert_eq!(user.user_status().unwrap().as_str(), "UNCONFIRMED");
    idp.confirm_sign_up()
        .client_id(&w.client)
        .username(&email)
        .confirmation_code(&code)
        .send()
        .await
        .unwrap();
    let user = admin_idp
        .admin_get_user()
        .user_pool_id(&w.pool)
        .username(&email)
        .send()
        .await
        .unwrap();
    assert_eq!(user.user_status().unwrap().as_str(), "CONFIRMED");
    // A spent code does not confirm twice; a reset mails a code of its own.
    idp.forgot_password()
        .client_id(&w.client)
        .username(&email)
        .send()
        .await
        .unwrap();
    assert_eq!(mail_to(&email).await.len(), 2);
    let reset = last_code(&email).await;
    let refused = idp
        .confirm_forgot_password()
        .client_id(&w.client)
        .username(&email)
        .password("Outra-Senha-456")
        .confirmation_code(if reset == code {
            "999999"
        } else {
            code.as_str()
        })
        .send()
        .await
        .unwrap_err();
    assert!(refused.into_service_error().is_code_mismatch_exception());
    idp.confirm_forgot_password()
        .client_id(&w.client)
        .username(&email)
        .password("Outra-Senha-456")
        .confirmation_code(&reset)
        .send()
        .await
        .unwrap();

    // Counted: requests and capacity per operation, refusals too.
    let counts = proxy.counts();
    let tally = |op: &str| {
        counts
            .get("ApiFunction", op)
            .cloned()
            .unwrap_or_else(|| panic!("no {op} in {counts:?}"))
    };
    assert_eq!(
        (
            tally("dynamodb:PutItem").requests,
            tally("dynamodb:PutItem").write_units
        ),
        (1, 2.0)
    );
    assert_eq!(
        (
            tally("dynamodb:GetItem").requests,
            tally("dynamodb:GetItem").read_units
        ),
        (1, 1.0)
    );
    assert_eq!(
        (
            tally("dynamodb:DeleteItem").requests,
            tally("dynamodb:DeleteItem").denied
        ),
        (1, 1)
    );
    assert_eq!(tally("sqs:SendMessage").billed_requests, 1);
    assert_eq!(
        (
            tally("sns:Publish").requests,
            tally("sns:Publish").billed_requests,
            tally("sns:Publish").denied
        ),
        (2, 1, 1)
    );
    assert_eq!(
        (tally("ses:SendEmail").emails, tally("ses:SendEmail").denied),
        (1, 1)
    );
    assert_eq!(tally("s3:PutObject").s3_class, Some("put-copy-post-list"));
    assert_eq!(tally("s3:GetObject").s3_class, Some("get-and-other"));
    // The SDK sends Cognito's public operations unsigned (no IAM authorises them).
    let unsigned = |op: &str| {
        counts
            .get("unsigned", op)
            .cloned()
            .unwrap_or_else(|| panic!("no {op} in {counts:?}"))
    };
    assert_eq!(unsigned("cognito-idp:SignUp").requests, 1);
    assert_eq!(
        (
            unsigned("cognito-idp:ConfirmSignUp").requests,
            unsigned("cognito-idp:ConfirmSignUp").failed
        ),
        (2, 1)
    );
    assert_eq!(counts.get("UserPool", "ses:SendEmail").unwrap().emails, 2);
    // The pool's keys and the CORS preflight.
    assert_eq!(counts.get("unsigned", "other").unwrap().requests, 2);
    let json = serde_json::to_value(&counts).unwrap();
    assert_eq!(
        json["principals"]["ApiFunction"]["dynamodb:GetItem"]["read_units"],
        1.0
    );
}

#[tokio::test]
async fn a_role_the_proxy_cannot_read_stops_it_naming_the_policy() {
    let mut w = world().await;
    let role = w.resolved.resources.get_mut("ApiFunctionRole").unwrap();
    role.properties["ManagedPolicyArns"] = json!(["arn:aws:iam::aws:policy/AdministratorAccess"]);
    let err = Proxy::start(Arc::new(w.resolved))
        .await
        .err()
        .expect("a refusal");
    assert!(err.to_string().contains("AdministratorAccess"), "{err}");
}
