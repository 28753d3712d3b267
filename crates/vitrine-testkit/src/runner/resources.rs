//! The template's resources made on the emulator: CloudFormation's work, done with the runner's
//! own credentials (straight to the emulator, not through the functions' endpoint).
//!
//! [`Emulator`] is a [`Provision`]: every resource is first named as AWS names it ([`Plan`]),
//! and the ones the emulator holds are created there, their physical ids and attributes then
//! taken from the emulator's answers (a queue's URL, a user pool's id, a table's stream ARN):
//! the DynamoDB table (keys, indexes, TTL, stream), S3 buckets (versioning, CORS), SNS topics,
//! SQS queues (attributes and `RedrivePolicy`), SNS subscriptions (filter policy and its scope,
//! raw delivery), queue policies, the Cognito user pool (its message templates and e-mail
//! configuration stay in its resolved properties, for the proxy that sends Cognito's mails),
//! its clients and groups, Secrets Manager secrets, and SES identities. Everything else the
//! template declares (roles, log groups, alarms, WAF, CloudFront, API Gateway, permissions,
//! mappings, rules) is named only and kept in [`Resolved`](super::Resolved) for the parts of the
//! runner that act on it.
//!
//! Each SES identity the template names in an ARN (`arn:aws:ses:…:identity/X`: the user pool's
//! `SourceArn`, the functions' `ses:SendEmail` resources) is verified on the emulator
//! ([`verify_ses_identities`]), as the deployer verifies it before deploying.
//!
//! The requests are the services' own JSON and query protocols, sent with an `Authorization`
//! header that names the runner's key and the service (the emulator routes on it).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::template::{Made, Plan, Provision, random_id};
use super::{REGION, Resolved, RunnerError};

/// The runner's own access key on the emulator (CloudFormation's role, so to speak).
pub const RUNNER_KEY: &str = "runner";

/// Creates resources on the emulator at `endpoint`.
pub struct Emulator {
    endpoint: String,
    http: reqwest::Client,
}

impl Emulator {
    pub fn new(endpoint: &str) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    fn auth(service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential={RUNNER_KEY}/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0"
        )
    }

    /// A JSON-protocol call (`X-Amz-Target: {target}`).
    pub async fn json(
        &self,
        service: &str,
        target: &str,
        version: &str,
        body: &Value,
    ) -> Result<Value, RunnerError> {
        let response = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("Authorization", Self::auth(service))
            .header("X-Amz-Target", target)
            .header("Content-Type", format!("application/x-amz-json-{version}"))
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| RunnerError(format!("{target} on the emulator {}: {e}", self.endpoint)))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(RunnerError(format!(
                "{target}: the emulator answered {status}: {text}"
            )));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A query-protocol call (form parameters); the answer's XML text.
    pub async fn query(
        &self,
        service: &str,
        params: &[(String, String)],
    ) -> Result<String, RunnerError> {
        let action = params
            .iter()
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let response = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("Authorization", Self::auth(service))
            .form(params)
            .send()
            .await
            .map_err(|e| RunnerError(format!("{action} on the emulator {}: {e}", self.endpoint)))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(RunnerError(format!(
                "{service} {action}: the emulator answered {status}: {text}"
            )));
        }
        Ok(text)
    }

    async fn s3_put(&self, path: &str, body: String) -> Result<(), RunnerError> {
        let response = self
            .http
            .put(format!("{}/{path}", self.endpoint))
            .header("Authorization", Self::auth("s3"))
            .body(body)
            .send()
            .await
            .map_err(|e| RunnerError(format!("S3 PUT /{path}: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(RunnerError(format!(
                "S3 PUT /{path}: the emulator answered {status}: {text}"
            )));
        }
        Ok(())
    }

    async fn table(&self, name: &str, props: &Value, made: &mut Made) -> Result<(), RunnerError> {
        let mut body = json!({
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode").cloned().unwrap_or(json!("PROVISIONED")),
        });
        for key in [
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "ProvisionedThroughput",
            "DeletionProtectionEnabled",
        ] {
            if let Some(v) = props.get(key) {
                body[key] = v.clone();
            }
        }
        if let Some(view) = props.pointer("/StreamSpecification/StreamViewType") {
            body["StreamSpecification"] = json!({"StreamEnabled": true, "StreamViewType": view});
        }
        if let Some(sse) = props.get("SSESpecification") {
            body["SSESpecification"] = json!({
                "Enabled": sse.get("SSEEnabled").cloned().unwrap_or(json!(false)),
                "SSEType": sse.get("SSEType").cloned().unwrap_or(json!("AES256")),
            });
        }
        let target = |op: &str| format!("DynamoDB_20120810.{op}");
        self.json("dynamodb", &target("CreateTable"), "1.0", &body)
            .await?;
        if let Some(ttl) = props.get("TimeToLiveSpecification") {
            self.json(
                "dynamodb",
                &target("UpdateTimeToLive"),
                "1.0",
                &json!({"TableName": name, "TimeToLiveSpecification": {
                    "AttributeName": ttl["AttributeName"],
                    "Enabled": ttl.get("Enabled").cloned().unwrap_or(json!(true)),
                }}),
            )
            .await?;
        }
        let table = self
            .json(
                "dynamodb",
                &target("DescribeTable"),
                "1.0",
                &json!({"TableName": name}),
            )
            .await?;
        if let Some(arn) = table.pointer("/Table/TableArn").and_then(Value::as_str) {
            made.attributes.insert("Arn".into(), arn.to_owned());
        }
        if let Some(arn) = table
            .pointer("/Table/LatestStreamArn")
            .and_then(Value::as_str)
        {
            made.attributes.insert("StreamArn".into(), arn.to_owned());
        }
        Ok(())
    }

    async fn bucket(&self, name: &str, props: &Value) -> Result<(), RunnerError> {
        self.s3_put(name, String::new()).await?;
        if props
            .pointer("/VersioningConfiguration/Status")
            .and_then(Value::as_str)
            == Some("Enabled")
        {
            self.s3_put(
                &format!("{name}?versioning"),
                r#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>"#.to_owned(),
            )
            .await?;
        }
        if let Some(rules) = props
            .pointer("/CorsConfiguration/CorsRules")
            .and_then(Value::as_array)
        {
            let mut xml = String::from(
                r#"<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
            );
            for rule in rules {
                xml.push_str("<CORSRule>");
                let each = |key: &str, tag: &str, xml: &mut String| {
                    for v in rule
                        .get(key)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(v) = v.as_str() {
                            xml.push_str(&format!("<{tag}>{}</{tag}>", xml_escape(v)));
                        }
                    }
                };
                each("AllowedMethods", "AllowedMethod", &mut xml);
                each("AllowedOrigins", "AllowedOrigin", &mut xml);
                each("AllowedHeaders", "AllowedHeader", &mut xml);
                each("ExposedHeaders", "ExposeHeader", &mut xml);
                if let Some(age) = rule.get("MaxAge") {
                    xml.push_str(&format!("<MaxAgeSeconds>{}</MaxAgeSeconds>", text(age)));
                }
                xml.push_str("</CORSRule>");
            }
            xml.push_str("</CORSConfiguration>");
            self.s3_put(&format!("{name}?cors"), xml).await?;
        }
        Ok(())
    }

    async fn queue(&self, name: &str, props: &Value, made: &mut Made) -> Result<(), RunnerError> {
        let mut attributes = serde_json::Map::new();
        for key in [
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "MaximumMessageSize",
            "ReceiveMessageWaitTimeSeconds",
            "FifoQueue",
            "ContentBasedDeduplication",
            "SqsManagedSseEnabled",
        ] {
            if let Some(v) = props.get(key) {
                attributes.insert(key.to_owned(), json!(text(v)));
            }
        }
        for key in ["RedrivePolicy", "RedriveAllowPolicy"] {
            if let Some(v) = props.get(key) {
                let doc = match v {
                    Value::String(s) => s.clone(),
                    other => {
                        // The API wants maxReceiveCount as a number or a string; keep the
                        // template's document as it is.
                        other.to_string()
                    }
                };
                attributes.insert(key.to_owned(), json!(doc));
            }
        }
        let created = self
            .json(
                "sqs",
                "AmazonSQS.CreateQueue",
                "1.0",
                &json!({"QueueName": name, "Attributes": attributes}),
            )
            .await?;
        let url = created["QueueUrl"]
            .as_str()
            .ok_or_else(|| RunnerError(format!("CreateQueue {name}: no QueueUrl in {created}")))?
            .to_owned();
        let attrs = self
            .json(
                "sqs",
                "AmazonSQS.GetQueueAttributes",
                "1.0",
                &json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
            )
            .await?;
        if let Some(arn) = attrs
            .pointer("/Attributes/QueueArn")
            .and_then(Value::as_str)
        {
            made.attributes.insert("Arn".into(), arn.to_owned());
        }
        made.attributes.insert("QueueUrl".into(), url.clone());
        made.physical_id = url;
        Ok(())
    }

    async fn topic(&self, name: &str, props: &Value, made: &mut Made) -> Result<(), RunnerError> {
        let mut params = vec![
            ("Action".to_owned(), "CreateTopic".to_owned()),
            ("Version".to_owned(), "2010-03-31".to_owned()),
            ("Name".to_owned(), name.to_owned()),
        ];
        let mut n = 0;
        for key in ["DisplayName", "FifoTopic", "ContentBasedDeduplication"] {
            if let Some(v) = props.get(key) {
                n += 1;
                params.push((format!("Attributes.entry.{n}.key"), key.to_owned()));
                params.push((format!("Attributes.entry.{n}.value"), text(v)));
            }
        }
        let xml = self.query("sns", &params).await?;
        let arn = xml_value(&xml, "TopicArn")
            .ok_or_else(|| RunnerError(format!("CreateTopic {name}: no TopicArn in {xml}")))?;
        made.physical_id = arn.clone();
        made.attributes.insert("TopicArn".into(), arn);
        Ok(())
    }

    async fn subscription(
        &self,
        logical_id: &str,
        props: &Value,
        made: &mut Made,
    ) -> Result<(), RunnerError> {
        let field = |k: &str| {
            props
                .get(k)
                .map(text)
                .ok_or_else(|| RunnerError(format!("{logical_id}: an SNS subscription needs {k}")))
        };
        let mut params = vec![
            ("Action".to_owned(), "Subscribe".to_owned()),
            ("Version".to_owned(), "2010-03-31".to_owned()),
            ("TopicArn".to_owned(), field("TopicArn")?),
            ("Protocol".to_owned(), field("Protocol")?),
            ("Endpoint".to_owned(), field("Endpoint")?),
            ("ReturnSubscriptionArn".to_owned(), "true".to_owned()),
        ];
        let mut n = 0;
        for key in [
            "FilterPolicy",
            "FilterPolicyScope",
            "RawMessageDelivery",
            "RedrivePolicy",
            "DeliveryPolicy",
        ] {
            if let Some(v) = props.get(key) {
                n += 1;
                let value = match v {
                    Value::Object(_) => v.to_string(),
                    other => text(other),
                };
                params.push((format!("Attributes.entry.{n}.key"), key.to_owned()));
                params.push((format!("Attributes.entry.{n}.value"), value));
            }
        }
        let xml = self.query("sns", &params).await?;
        made.physical_id = xml_value(&xml, "SubscriptionArn")
            .ok_or_else(|| RunnerError(format!("{logical_id}: no SubscriptionArn in {xml}")))?;
        Ok(())
    }

    async fn queue_policy(&self, props: &Value) -> Result<(), RunnerError> {
        let policy = props
            .get("PolicyDocument")
            .map(Value::to_string)
            .unwrap_or_default();
        for queue in props
            .get("Queues")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.json(
                "sqs",
                "AmazonSQS.SetQueueAttributes",
                "1.0",
                &json!({"QueueUrl": text(queue), "Attributes": {"Policy": policy}}),
            )
            .await?;
        }
        Ok(())
    }

    async fn user_pool(
        &self,
        name: &str,
        props: &Value,
        made: &mut Made,
    ) -> Result<(), RunnerError> {
        let mut body = props.clone();
        if let Some(map) = body.as_object_mut() {
            map.remove("UserPoolName");
            map.remove("UserPoolTags");
            map.insert("PoolName".into(), json!(name));
        }
        let created = self
            .json(
                "cognito-idp",
                "AWSCognitoIdentityProviderService.CreateUserPool",
                "1.1",
                &body,
            )
            .await?;
        let id = created
            .pointer("/UserPool/Id")
            .and_then(Value::as_str)
            .ok_or_else(|| RunnerError(format!("CreateUserPool {name}: no Id in {created}")))?
            .to_owned();
        made.attributes.clear();
        Plan::user_pool_attributes(&id, &mut |k, v| {
            made.attributes.insert(k.to_owned(), v);
        });
        if let Some(arn) = created.pointer("/UserPool/Arn").and_then(Value::as_str) {
            made.attributes.insert("Arn".into(), arn.to_owned());
        }
        made.physical_id = id;
        Ok(())
    }

    async fn user_pool_client(&self, props: &Value, made: &mut Made) -> Result<(), RunnerError> {
        let created = self
            .json(
                "cognito-idp",
                "AWSCognitoIdentityProviderService.CreateUserPoolClient",
                "1.1",
                props,
            )
            .await?;
        let id = created
            .pointer("/UserPoolClient/ClientId")
            .and_then(Value::as_str)
            .ok_or_else(|| RunnerError(format!("CreateUserPoolClient: no ClientId in {created}")))?
            .to_owned();
        made.attributes.insert("ClientId".into(), id.clone());
        if let Some(secret) = created
            .pointer("/UserPoolClient/ClientSecret")
            .and_then(Value::as_str)
        {
            made.attributes
                .insert("ClientSecret".into(), secret.to_owned());
        }
        made.physical_id = id;
        Ok(())
    }

    async fn secret(&self, name: &str, props: &Value, made: &mut Made) -> Result<(), RunnerError> {
        let value = match (props.get("SecretString"), props.get("GenerateSecretString")) {
            (Some(v), _) => text(v),
            (None, Some(spec)) => {
                let length = spec
                    .get("PasswordLength")
                    .and_then(|v| text(v).parse().ok())
                    .unwrap_or(32);
                let password = random_id(
                    length,
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                );
                match (
                    spec.get("SecretStringTemplate"),
                    spec.get("GenerateStringKey"),
                ) {
                    (Some(template), Some(key)) => {
                        let mut doc: Value =
                            serde_json::from_str(&text(template)).map_err(|e| {
                                RunnerError(format!(
                                    "{name}: SecretStringTemplate is not JSON: {e}"
                                ))
                            })?;
                        doc[text(key)] = json!(password);
                        doc.to_string()
                    }
                    _ => password,
                }
            }
            (None, None) => random_id(
                32,
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            ),
        };
        let mut body = json!({"Name": name, "SecretString": value});
        if let Some(d) = props.get("Description") {
            body["Description"] = d.clone();
        }
        let created = self
            .json(
                "secretsmanager",
                "secretsmanager.CreateSecret",
                "1.1",
                &body,
            )
            .await?;
        let arn = created["ARN"]
            .as_str()
            .ok_or_else(|| RunnerError(format!("CreateSecret {name}: no ARN in {created}")))?
            .to_owned();
        made.attributes.insert("Id".into(), arn.clone());
        made.physical_id = arn;
        Ok(())
    }

    /// Verify an SES identity: a domain, or an e-mail address.
    pub async fn verify_identity(&self, identity: &str) -> Result<(), RunnerError> {
        let params = if identity.contains('@') {
            vec![
                ("Action".to_owned(), "VerifyEmailIdentity".to_owned()),
                ("EmailAddress".to_owned(), identity.to_owned()),
            ]
        } else {
            vec![
                ("Action".to_owned(), "VerifyDomainIdentity".to_owned()),
                ("Domain".to_owned(), identity.to_owned()),
            ]
        };
        self.query("ses", &params).await.map(|_| ())
    }
}

#[async_trait]
impl Provision for Emulator {
    async fn provision(
        &mut self,
        stack: &str,
        logical_id: &str,
        kind: &str,
        props: &Value,
    ) -> Result<Made, RunnerError> {
        let mut made = Plan::name(stack, logical_id, kind, props)?;
        let name = made.physical_id.clone();
        let named = |k: &str| made.attributes.get(k).cloned().unwrap_or_default();
        let result = match kind {
            "AWS::DynamoDB::Table" => self.table(&name, props, &mut made).await,
            "AWS::S3::Bucket" => self.bucket(&name, props).await,
            "AWS::SQS::Queue" => {
                let queue_name = named("QueueName");
                self.queue(&queue_name, props, &mut made).await
            }
            "AWS::SNS::Topic" => {
                let topic_name = named("TopicName");
                self.topic(&topic_name, props, &mut made).await
            }
            "AWS::SNS::Subscription" => self.subscription(logical_id, props, &mut made).await,
            "AWS::SQS::QueuePolicy" => self.queue_policy(props).await,
            "AWS::Cognito::UserPool" => {
                let pool_name = props
                    .get("UserPoolName")
                    .map(text)
                    .unwrap_or_else(|| format!("{stack}-{logical_id}"));
                self.user_pool(&pool_name, props, &mut made).await
            }
            "AWS::Cognito::UserPoolClient" => self.user_pool_client(props, &mut made).await,
            "AWS::Cognito::UserPoolGroup" => {
                let mut body = props.clone();
                body["GroupName"] = json!(name);
                self.json(
                    "cognito-idp",
                    "AWSCognitoIdentityProviderService.CreateGroup",
                    "1.1",
                    &body,
                )
                .await
                .map(|_| ())
            }
            "AWS::SecretsManager::Secret" => {
                let secret_name = props
                    .get("Name")
                    .map(text)
                    .unwrap_or_else(|| generated_secret_name(stack, logical_id));
                self.secret(&secret_name, props, &mut made).await
            }
            "AWS::SES::EmailIdentity" => self.verify_identity(&name).await,
            _ => Ok(()),
        };
        result.map_err(|e| RunnerError(format!("{logical_id} ({kind}): {}", e.0)))?;
        Ok(made)
    }
}

fn generated_secret_name(stack: &str, logical_id: &str) -> String {
    format!("{stack}-{logical_id}")
}

/// Verify on the emulator every SES identity the resolved template names in an ARN
/// (`arn:aws:ses:{region}:{account}:identity/{identity}`); returns them.
pub async fn verify_ses_identities(
    emulator: &Emulator,
    resolved: &Resolved,
) -> Result<BTreeSet<String>, RunnerError> {
    let mut identities = BTreeSet::new();
    for resource in resolved.resources.values() {
        collect_identities(&resource.properties, &mut identities);
    }
    for identity in &identities {
        emulator.verify_identity(identity).await?;
    }
    Ok(identities)
}

fn collect_identities(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            if let Some(rest) = s.strip_prefix("arn:aws:ses:")
                && let Some((_, identity)) = rest.split_once(":identity/")
                && !identity.is_empty()
                && !identity.contains('*')
            {
                out.insert(identity.to_owned());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_identities(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_identities(x, out)),
        _ => {}
    }
}

/// A scalar as the text the APIs take.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The text of the first `<tag>…</tag>` of a query-protocol answer.
fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))?;
    Some(
        xml[start..start + end]
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
}

/// Resource names by logical id, for `GET /resources`.
pub fn physical_ids(resolved: &Resolved) -> BTreeMap<String, String> {
    resolved
        .resources
        .iter()
        .map(|(k, r)| (k.clone(), r.physical_id.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ses_identities_are_found_in_arns() {
        let mut out = BTreeSet::new();
        collect_identities(
            &json!({"a": ["arn:aws:ses:us-east-1:123456789012:identity/shop.example", "x"],
                    "b": {"c": "arn:aws:ses:us-east-1:123456789012:identity/*"}}),
            &mut out,
        );
        assert_eq!(
            out.into_iter().collect::<Vec<_>>(),
            vec!["shop.example".to_owned()]
        );
    }

    #[test]
    fn xml_values_are_read() {
        assert_eq!(
            xml_value(
                "<R><TopicArn>arn:aws:sns:x&amp;y</TopicArn></R>",
                "TopicArn"
            )
            .as_deref(),
            Some("arn:aws:sns:x&y")
        );
        assert_eq!(xml_value("<R/>", "TopicArn"), None);
    }
}
