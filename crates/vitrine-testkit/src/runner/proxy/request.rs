//! Who makes a request and what it asks for: the SigV4 principal, the operation, and the IAM
//! actions and resource ARNs it needs.
//!
//! The action names and resource types are those of the Service Authorization Reference
//! (<https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html>):
//! batch operations of SQS and SNS need the single action (`SendMessageBatch` needs
//! `sqs:SendMessage`), DynamoDB transactions need the action of each item
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html>),
//! and an S3 copy needs `s3:GetObject` on the source besides `s3:PutObject` on the target.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use percent_encoding::percent_decode_str;
use serde_json::Value;

/// The access key and scope of a SigV4-signed request (header or presigned query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub access_key_id: String,
    pub region: String,
    /// The signing name (`dynamodb`, `s3`, `ses`, ...).
    pub service: String,
}

/// The signer of a request: `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`
/// or a presigned query's `X-Amz-Credential`.
pub fn signer(headers: &HeaderMap, params: &[(String, String)]) -> Option<Signer> {
    let from_header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| {
            let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?;
            let start = rest.find("Credential=")? + "Credential=".len();
            let rest = &rest[start..];
            Some(
                rest[..rest.find(',').unwrap_or(rest.len())]
                    .trim()
                    .to_owned(),
            )
        });
    let credential = from_header.or_else(|| {
        params
            .iter()
            .find(|(k, _)| k == "X-Amz-Credential")
            .map(|(_, v)| v.clone())
    })?;
    let mut parts = credential.split('/');
    let access_key_id = parts.next().filter(|k| !k.is_empty())?.to_owned();
    let _date = parts.next()?;
    let region = parts.next()?.to_owned();
    let service = parts.next()?.to_owned();
    Some(Signer {
        access_key_id,
        region,
        service,
    })
}

/// How the service's protocol answers errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `X-Amz-Target` and a JSON body (DynamoDB, SQS JSON, Cognito, Secrets Manager).
    Json,
    /// A form with `Action=` (SNS, SQS query, SES v1); errors in XML.
    Query,
    /// S3's REST protocol; errors in XML.
    RestXml,
    /// SES v2's REST protocol; errors in JSON with `x-amzn-ErrorType`.
    RestJson,
}

/// One IAM authorisation a request needs: the action on one of the resources (alternatives:
/// an SES sender may be authorised by its address identity or its domain identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub action: String,
    pub resources: Vec<String>,
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The IAM prefix of the service (`dynamodb`, `sqs`, `s3`, `ses`, `cognito-idp`, ...).
    pub service: String,
    /// The API operation (`GetItem`, `SendMessageBatch`, `PutObject`, `SendEmail`).
    pub name: String,
    pub protocol: Protocol,
    /// The authorisations it needs; empty for operations IAM does not authorise (Cognito's
    /// public operations, which a user's token or the client id authorises).
    pub checks: Vec<Check>,
}

impl Operation {
    /// `service:Name`, as counted.
    pub fn key(&self) -> String {
        format!("{}:{}", self.service, self.name)
    }
}

/// The request as the proxy received it.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub method: &'a str,
    /// The path, still percent-encoded.
    pub path: &'a str,
    pub host: &'a str,
    pub headers: &'a HeaderMap,
    /// The query string's pairs, decoded.
    pub query: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Where ARNs are built: the region and account, and the secrets' ARNs by name (a secret's ARN
/// ends with a random suffix its name does not give).
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub region: String,
    pub account: String,
    pub secret_arns: BTreeMap<String, String>,
}

impl Names {
    fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:aws:{service}:{}:{}:{resource}",
            self.region, self.account
        )
    }

    fn table(&self, name: &str) -> String {
        if name.starts_with("arn:") {
            name.to_owned()
        } else {
            self.arn("dynamodb", &format!("table/{name}"))
        }
    }

    fn queue(&self, url_or_name: &str) -> String {
        // A queue URL ends with /ACCOUNT/NAME (AWS's and the emulator's alike).
        let trimmed = url_or_name.trim_end_matches('/');
        let mut segments = trimmed.rsplit('/');
        let name = segments.next().unwrap_or(trimmed);
        let account = match segments.next() {
            Some(a) if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) => a,
            _ => &self.account,
        };
        format!("arn:aws:sqs:{}:{account}:{name}", self.region)
    }

    fn secret(&self, id: &str) -> String {
        if id.starts_with("arn:") {
            id.to_owned()
        } else if let Some(arn) = self.secret_arns.get(id) {
            arn.clone()
        } else {
            self.arn("secretsmanager", &format!("secret:{id}"))
        }
    }

    /// The identities that may authorise mail from `from` (`Name <a@b>` or `a@b`): the address,
    /// then its domain.
    fn ses_identities(&self, from: &str) -> Vec<String> {
        let address = sender_address(from);
        let mut out = vec![self.arn("ses", &format!("identity/{address}"))];
        if let Some((_, domain)) = address.rsplit_once('@') {
            out.push(self.arn("ses", &format!("identity/{domain}")));
        }
        out
    }
}

/// The address of `Name <a@b>` or `a@b`.
pub fn sender_address(from: &str) -> &str {
    match (from.rfind('<'), from.rfind('>')) {
        (Some(l), Some(r)) if l < r => from[l + 1..r].trim(),
        _ => from.trim(),
    }
}

/// The pairs of a query string or form body, decoded.
pub fn form_pairs(text: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The operation a request asks for, or why it cannot be told. `names.region` should be the
/// signer's region.
pub fn operation(
    req: &Incoming<'_>,
    signer: Option<&Signer>,
    names: &Names,
) -> Result<Operation, String> {
    if let Some(target) = req
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        return json_operation(target, req.body, signer, names);
    }
    let signing = signer.map(|s| s.service.as_str()).unwrap_or("");
    match signing {
        "s3" => Ok(s3_operation(req, names)),
        "ses" | "email" if req.path.starts_with("/v2/") => ses_v2_operation(req, names),
        "ses" | "email" | "sns" | "sqs" => query_operation(signing, req, names),
        "" => Err("the request is not signed".into()),
        other => Err(format!(
            "the proxy does not know the protocol of service {other} ({} {})",
            req.method, req.path
        )),
    }
}

fn str_field<'v>(body: &'v Value, field: &str) -> Option<&'v str> {
    body.get(field).and_then(Value::as_str)
}

fn single(action: String, resource: String) -> Vec<Check> {
    vec![Check {
        action,
        resources: vec![resource],
    }]
}

/// Cognito operations authorised by a user's token or by the app client id, not by IAM
/// (<https://docs.aws.amazon.com/cognito/latest/developerguide/user-pools-API-operations.html>).
const COGNITO_PUBLIC: &[&str] = &[
    "SignUp",
    "ConfirmSignUp",
    "ResendConfirmationCode",
    "ForgotPassword",
    "ConfirmForgotPassword",
    "InitiateAuth",
    "RespondToAuthChallenge",
    "GetUser",
    "ChangePassword",
    "GlobalSignOut",
    "RevokeToken",
    "UpdateUserAttributes",
    "DeleteUserAttributes",
    "VerifyUserAttribute",
    "GetUserAttributeVerificationCode",
    "DeleteUser",
    "AssociateSoftwareToken",
    "VerifySoftwareToken",
    "SetUserMFAPreference",
    "ConfirmDevice",
    "ForgetDevice",
    "GetDevice",
    "ListDevices",
    "UpdateDeviceStatus",
];

fn json_operation(
    target: &str,
    body: &[u8],
    signer: Option<&Signer>,
    names: &Names,
) -> Result<Operation, String> {
    let (prefix, name) = target
        .split_once('.')
        .ok_or_else(|| format!("X-Amz-Target {target} has no operation"))?;
    let body: Value = if body.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body).map_err(|e| format!("{target}: the body is not JSON: {e}"))?
    };
    let (service, checks) = match prefix {
        "DynamoDB_20120810" => ("dynamodb", dynamodb_checks(name, &body, names)),
        "DynamoDBStreams_20120810" => {
            let stream = match name {
                "GetRecords" => str_field(&body, "ShardIterator")
                    .and_then(|it| it.split('|').next())
                    .map(str::to_owned),
                _ => str_field(&body, "StreamArn").map(str::to_owned),
            };
            let resource = stream.unwrap_or_else(|| "*".into());
            ("dynamodb", single(format!("dynamodb:{name}"), resource))
        }
        "AmazonSQS" => (
            "sqs",
            sqs_checks(name, |f| str_field(&body, f).map(str::to_owned), "", names),
        ),
        "AWSCognitoIdentityProviderService" => {
            let checks = if COGNITO_PUBLIC.contains(&name) {
                Vec::new()
            } else {
                let resource = str_field(&body, "UserPoolId")
                    .map(|id| names.arn("cognito-idp", &format!("userpool/{id}")))
                    .unwrap_or_else(|| "*".into());
                single(format!("cognito-idp:{name}"), resource)
            };
            ("cognito-idp", checks)
        }
        "secretsmanager" => {
            let resource = str_field(&body, "SecretId")
                .map(|id| names.secret(id))
                .or_else(|| str_field(&body, "Name").map(|n| names.secret(n)))
                .unwrap_or_else(|| "*".into());
            (
                "secretsmanager",
                single(format!("secretsmanager:{name}"), resource),
            )
        }
        _ => {
            let service = signer.map(|s| s.service.clone()).ok_or_else(|| {
                format!("the proxy does not know the service of X-Amz-Target {target}")
            })?;
            let checks = single(format!("{service}:{name}"), "*".into());
            return Ok(Operation {
                service,
                name: name.to_owned(),
                protocol: Protocol::Json,
                checks,
            });
        }
    };
    Ok(Operation {
        service: service.to_owned(),
        name: name.to_owned(),
        protocol: Protocol::Json,
        checks,
    })
}

fn dynamodb_checks(name: &str, body: &Value, names: &Names) -> Vec<Check> {
    let per_table = |action: &str, tables: Vec<&str>| -> Vec<Check> {
        tables
            .into_iter()
            .map(|t| Check {
                action: format!("dynamodb:{action}"),
                resources: vec![names.table(t)],
            })
            .collect()
    };
    match name {
        "BatchGetItem" | "BatchWriteItem" => {
            let tables = body
                .get("RequestItems")
                .and_then(Value::as_object)
                .map(|m| m.keys().map(String::as_str).collect())
                .unwrap_or_default();
            per_table(name, tables)
        }
        "TransactWriteItems" | "TransactGetItems" => {
            let items = body
                .get("TransactItems")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut checks: Vec<Check> = Vec::new();
            for item in &items {
                let Some((kind, inner)) = item.as_object().and_then(|o| o.iter().next()) else {
                    continue;
                };
                let action = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    _ => continue,
                };
                let table = str_field(inner, "TableName").unwrap_or("");
                let check = Check {
                    action: format!("dynamodb:{action}"),
                    resources: vec![names.table(table)],
                };
                if !checks.contains(&check) {
                    checks.push(check);
                }
            }
            checks
        }
        _ => {
            let resource = match (str_field(body, "TableName"), str_field(body, "IndexName")) {
                (Some(t), Some(i)) => format!("{}/index/{i}", names.table(t)),
                (Some(t), None) => names.table(t),
                _ => "*".into(),
            };
            single(format!("dynamodb:{name}"), resource)
        }
    }
}

/// SQS: the queue from `QueueUrl`, or `QueueName`, or the request path (`/ACCOUNT/NAME`).
fn sqs_checks(
    name: &str,
    field: impl Fn(&str) -> Option<String>,
    path: &str,
    names: &Names,
) -> Vec<Check> {
    let action = match name {
        "SendMessageBatch" => "SendMessage",
        "DeleteMessageBatch" => "DeleteMessage",
        "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
        other => other,
    };
    let path_queue = {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        (segments.len() == 2).then(|| segments.join("/"))
    };
    let resource = field("QueueUrl")
        .or_else(|| field("QueueName"))
        .or(path_queue)
        .map(|q| names.queue(&q))
        .unwrap_or_else(|| "*".into());
    single(format!("sqs:{action}"), resource)
}

fn query_operation(signing: &str, req: &Incoming<'_>, names: &Names) -> Result<Operation, String> {
    let mut params: Vec<(String, String)> = req.query.to_vec();
    let is_form = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        params.extend(form_pairs(req.body));
    }
    let field = |f: &str| params.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone());
    let name = field("Action").ok_or_else(|| {
        format!(
            "a {signing} request without Action ({} {})",
            req.method, req.path
        )
    })?;
    let (service, checks) = match signing {
        "sqs" => ("sqs", sqs_checks(&name, field, req.path, names)),
        "sns" => {
            let action = if name == "PublishBatch" {
                "Publish"
            } else {
                name.as_str()
            };
            let resource = field("TopicArn")
                .or_else(|| field("TargetArn"))
                .or_else(|| {
                    field("SubscriptionArn").map(|s| {
                        s.rsplit_once(':')
                            .map(|(topic, _)| topic.to_owned())
                            .unwrap_or(s)
                    })
                })
                .or_else(|| {
                    (name == "CreateTopic")
                        .then(|| field("Name").map(|n| names.arn("sns", &n)))
                        .flatten()
                })
                .unwrap_or_else(|| "*".into());
            ("sns", single(format!("sns:{action}"), resource))
        }
        _ => {
            let resources = match name.as_str() {
                "SendEmail" | "SendRawEmail" | "SendTemplatedEmail" => field("Source")
                    .map(|s| names.ses_identities(&s))
                    .unwrap_or_else(|| vec!["*".into()]),
                _ => vec!["*".into()],
            };
            (
                "ses",
                vec![Check {
                    action: format!("ses:{name}"),
                    resources,
                }],
            )
        }
    };
    Ok(Operation {
        service: service.to_owned(),
        name,
        protocol: Protocol::Query,
        checks,
    })
}

fn ses_v2_operation(req: &Incoming<'_>, names: &Names) -> Result<Operation, String> {
    let body: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
    let segments: Vec<String> = req
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let identity = |id: &str| names.arn("ses", &format!("identity/{id}"));
    let (name, resources): (&str, Vec<String>) = match (req.method, segments.as_slice()) {
        ("POST", ["v2", "email", "outbound-emails"]) => {
            let from = str_field(&body, "FromEmailAddressIdentityArn")
                .map(|arn| vec![arn.to_owned()])
                .or_else(|| str_field(&body, "FromEmailAddress").map(|f| names.ses_identities(f)))
                .unwrap_or_else(|| vec!["*".into()]);
            ("SendEmail", from)
        }
        ("POST", ["v2", "email", "outbound-bulk-emails"]) => {
            let from = str_field(&body, "FromEmailAddress")
                .map(|f| names.ses_identities(f))
                .unwrap_or_else(|| vec!["*".into()]);
            ("SendBulkEmail", from)
        }
        ("POST", ["v2", "email", "identities"]) => (
            "CreateEmailIdentity",
            vec![identity(str_field(&body, "EmailIdentity").unwrap_or("*"))],
        ),
        ("GET", ["v2", "email", "identities"]) => ("ListEmailIdentities", vec!["*".into()]),
        ("GET", ["v2", "email", "identities", id]) => ("GetEmailIdentity", vec![identity(id)]),
        ("DELETE", ["v2", "email", "identities", id]) => {
            ("DeleteEmailIdentity", vec![identity(id)])
        }
        _ => {
            return Err(format!(
                "the proxy does not know the SES v2 operation {} {}",
                req.method, req.path
            ));
        }
    };
    Ok(Operation {
        service: "ses".into(),
        name: name.into(),
        protocol: Protocol::RestJson,
        checks: vec![Check {
            action: format!("ses:{name}"),
            resources,
        }],
    })
}

/// The bucket and key of an S3 request, path-style (`/bucket/key`) or virtual-host style
/// (`bucket.s3.amazonaws.com`, `bucket.localhost`).
pub fn s3_location(host: &str, path: &str) -> (Option<String>, Option<String>) {
    let hostname = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let is_ip = hostname.parse::<std::net::IpAddr>().is_ok()
        || hostname
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok();
    let virtual_bucket = if is_ip
        || hostname == "localhost"
        || hostname.starts_with("s3.")
        || hostname.starts_with("s3-")
    {
        None
    } else if let Some(i) = hostname.find(".s3.").or_else(|| hostname.find(".s3-")) {
        Some(hostname[..i].to_owned())
    } else {
        hostname.strip_suffix(".localhost").map(str::to_owned)
    };
    let path = path.trim_start_matches('/');
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    match virtual_bucket {
        Some(bucket) => (Some(bucket), (!path.is_empty()).then(|| decode(path))),
        None => {
            if path.is_empty() {
                return (None, None);
            }
            match path.split_once('/') {
                Some((bucket, key)) if !key.is_empty() => (Some(decode(bucket)), Some(decode(key))),
                Some((bucket, _)) => (Some(decode(bucket)), None),
                None => (Some(decode(path)), None),
            }
        }
    }
}

/// Bucket subresources: (query key, GET operation, PUT operation, DELETE operation). The IAM
/// action of each is named in [`s3_action`].
const S3_BUCKET_SUBRESOURCES: &[(&str, &str, &str, &str)] = &[
    ("acl", "GetBucketAcl", "PutBucketAcl", ""),
    (
        "policy",
        "GetBucketPolicy",
        "PutBucketPolicy",
        "DeleteBucketPolicy",
    ),
    ("cors", "GetBucketCors", "PutBucketCors", "DeleteBucketCors"),
    (
        "versioning",
        "GetBucketVersioning",
        "PutBucketVersioning",
        "",
    ),
    (
        "tagging",
        "GetBucketTagging",
        "PutBucketTagging",
        "DeleteBucketTagging",
    ),
    (
        "lifecycle",
        "GetBucketLifecycleConfiguration",
        "PutBucketLifecycleConfiguration",
        "DeleteBucketLifecycle",
    ),
    (
        "notification",
        "GetBucketNotificationConfiguration",
        "PutBucketNotificationConfiguration",
        "",
    ),
    (
        "encryption",
        "GetBucketEncryption",
        "PutBucketEncryption",
        "DeleteBucketEncryption",
    ),
    (
        "website",
        "GetBucketWebsite",
        "PutBucketWebsite",
        "DeleteBucketWebsite",
    ),
    ("logging", "GetBucketLogging", "PutBucketLogging", ""),
    (
        "publicAccessBlock",
        "GetPublicAccessBlock",
        "PutPublicAccessBlock",
        "DeletePublicAccessBlock",
    ),
    (
        "ownershipControls",
        "GetBucketOwnershipControls",
        "PutBucketOwnershipControls",
        "DeleteBucketOwnershipControls",
    ),
    ("location", "GetBucketLocation", "", ""),
    ("uploads", "ListMultipartUploads", "", ""),
    ("versions", "ListObjectVersions", "", ""),
];

/// The IAM action of an S3 operation (they differ in a few names).
fn s3_action(operation: &str) -> &str {
    match operation {
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => "ListBucket",
        "ListBuckets" => "ListAllMyBuckets",
        "HeadObject" => "GetObject",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        "ListObjectVersions" => "ListBucketVersions",
        "ListParts" => "ListMultipartUploadParts",
        "GetBucketCors" => "GetBucketCORS",
        "PutBucketCors" | "DeleteBucketCors" => "PutBucketCORS",
        "GetBucketLifecycleConfiguration" => "GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => "PutLifecycleConfiguration",
        "GetBucketNotificationConfiguration" => "GetBucketNotification",
        "PutBucketNotificationConfiguration" => "PutBucketNotification",
        "GetBucketEncryption" => "GetEncryptionConfiguration",
        "PutBucketEncryption" | "DeleteBucketEncryption" => "PutEncryptionConfiguration",
        "GetPublicAccessBlock" => "GetBucketPublicAccessBlock",
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => "PutBucketPublicAccessBlock",
        "DeleteBucketOwnershipControls" => "PutBucketOwnershipControls",
        "DeleteBucketTagging" => "PutBucketTagging",
        "DeleteBucketWebsite" => "DeleteBucketWebsite",
        "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => "PutObject",
        "UploadPartCopy" | "CopyObject" => "PutObject",
        other => other,
    }
}

fn s3_operation(req: &Incoming<'_>, _names: &Names) -> Operation {
    let (bucket, key) = s3_location(req.host, req.path);
    let has = |k: &str| req.query.iter().any(|(q, _)| q == k);
    let bucket_arn = |b: &str| format!("arn:aws:s3:::{b}");
    let copy_source = req
        .headers
        .get("x-amz-copy-source")
        .and_then(|v| v.to_str().ok())
        .map(|s| {
            let s = percent_decode_str(s).decode_utf8_lossy().into_owned();
            let s = s.trim_start_matches('/');
            let s = s.split_once("?versionId=").map_or(s, |(p, _)| p);
            format!("arn:aws:s3:::{s}")
        });
    let method = req.method;
    let (name, mut checks): (String, Vec<Check>) = match (&bucket, &key) {
        (None, _) => ("ListBuckets".into(), Vec::new()),
        (Some(b), None) => {
            let sub = S3_BUCKET_SUBRESOURCES.iter().find(|(q, ..)| has(q));
            let name = match (method, sub) {
                ("GET", Some((_, get, _, _))) if !get.is_empty() => get.to_string(),
                ("PUT", Some((_, _, put, _))) if !put.is_empty() => put.to_string(),
                ("DELETE", Some((_, _, _, del))) if !del.is_empty() => del.to_string(),
                ("GET", _) if req.query.iter().any(|(k, v)| k == "list-type" && v == "2") => {
                    "ListObjectsV2".into()
                }
                ("GET", _) => "ListObjects".into(),
                ("HEAD", _) => "HeadBucket".into(),
                ("PUT", _) => "CreateBucket".into(),
                ("DELETE", _) => "DeleteBucket".into(),
                ("POST", _) if has("delete") => "DeleteObjects".into(),
                (m, _) => format!("{m}Bucket"),
            };
            let checks = if name == "DeleteObjects" {
                let body = String::from_utf8_lossy(req.body);
                let mut keys = Vec::new();
                let mut rest = body.as_ref();
                while let Some(start) = rest.find("<Key>") {
                    let after = &rest[start + 5..];
                    let Some(end) = after.find("</Key>") else {
                        break;
                    };
                    keys.push(format!("arn:aws:s3:::{b}/{}", &after[..end]));
                    rest = &after[end..];
                }
                keys.into_iter()
                    .map(|k| Check {
                        action: "s3:DeleteObject".into(),
                        resources: vec![k],
                    })
                    .collect()
            } else {
                single(format!("s3:{}", s3_action(&name)), bucket_arn(b))
            };
            (name, checks)
        }
        (Some(b), Some(k)) => {
            let object = format!("arn:aws:s3:::{b}/{k}");
            let name = match method {
                "GET" | "HEAD" if has("tagging") => "GetObjectTagging",
                "GET" | "HEAD" if has("acl") => "GetObjectAcl",
                "GET" | "HEAD" if has("uploadId") => "ListParts",
                "GET" => "GetObject",
                "HEAD" => "HeadObject",
                "PUT" if has("uploadId") && copy_source.is_some() => "UploadPartCopy",
                "PUT" if has("uploadId") => "UploadPart",
                "PUT" if has("tagging") => "PutObjectTagging",
                "PUT" if has("acl") => "PutObjectAcl",
                "PUT" if copy_source.is_some() => "CopyObject",
                "PUT" => "PutObject",
                "POST" if has("uploads") => "CreateMultipartUpload",
                "POST" if has("uploadId") => "CompleteMultipartUpload",
                "POST" => "PutObject",
                "DELETE" if has("uploadId") => "AbortMultipartUpload",
                "DELETE" if has("tagging") => "DeleteObjectTagging",
                "DELETE" => "DeleteObject",
                _ => "UnknownObjectOperation",
            };
            let versioned = has("versionId");
            let action = match (s3_action(name), versioned) {
                ("GetObject", true) => "GetObjectVersion".to_owned(),
                ("DeleteObject", true) => "DeleteObjectVersion".to_owned(),
                (a, _) => a.to_owned(),
            };
            (name.to_owned(), single(format!("s3:{action}"), object))
        }
    };
    if bucket.is_none() {
        checks = single("s3:ListAllMyBuckets".into(), "*".into());
    }
    if let (Some(source), true) = (
        &copy_source,
        matches!(name.as_str(), "CopyObject" | "UploadPartCopy"),
    ) {
        checks.push(Check {
            action: "s3:GetObject".into(),
            resources: vec![source.clone()],
        });
    }
    Operation {
        service: "s3".into(),
        name,
        protocol: Protocol::RestXml,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn names() -> Names {
        Names {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            secret_arns: [(
                "vitrine/cert".to_owned(),
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:vitrine/cert-AbCdEf"
                    .to_owned(),
            )]
            .into(),
        }
    }

    fn signed(service: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!(
                "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"
            ))
            .unwrap(),
        );
        h
    }

    fn op(
        method: &str,
        path: &str,
        host: &str,
        headers: &HeaderMap,
        query: &str,
        body: &str,
    ) -> Result<Operation, String> {
        let query = form_pairs(query.as_bytes());
        let s = signer(headers, &query);
        let req = Incoming {
            method,
            path,
            host,
            headers,
            query: &query,
            body: body.as_bytes(),
        };
        operation(&req, s.as_ref(), &names())
    }

    fn json(service: &str, target: &str, body: &str) -> Operation {
        let mut h = signed(service);
        h.insert("x-amz-target", HeaderValue::from_str(target).unwrap());
        op("POST", "/", "127.0.0.1:1", &h, "", body).unwrap()
    }

    fn check(action: &str, resource: &str) -> Check {
        Check {
            action: action.into(),
            resources: vec![resource.into()],
        }
    }

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/T";

    #[test]
    fn the_signer_comes_from_the_authorization_header_or_a_presigned_query() {
        let s = signer(&signed("dynamodb"), &[]).unwrap();
        assert_eq!(
            s,
            Signer {
                access_key_id: "AKIAEXAMPLE".into(),
                region: "us-east-1".into(),
                service: "dynamodb".into()
            }
        );
        let query = form_pairs(b"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAP%2F20260101%2Fsa-east-1%2Fs3%2Faws4_request&X-Amz-Signature=x");
        let s = signer(&HeaderMap::new(), &query).unwrap();
        assert_eq!(
            (
                s.access_key_id.as_str(),
                s.region.as_str(),
                s.service.as_str()
            ),
            ("AKIAP", "sa-east-1", "s3")
        );
        assert_eq!(signer(&HeaderMap::new(), &[]), None);
        let mut basic = HeaderMap::new();
        basic.insert("authorization", HeaderValue::from_static("Bearer token"));
        assert_eq!(signer(&basic, &[]), None);
    }

    #[test]
    fn dynamodb_operations_name_their_table_or_index() {
        let get = json(
            "dynamodb",
            "DynamoDB_20120810.GetItem",
            r#"{"TableName":"T","Key":{}}"#,
        );
        assert_eq!(
            (get.service.as_str(), get.name.as_str(), get.protocol),
            ("dynamodb", "GetItem", Protocol::Json)
        );
        assert_eq!(get.checks, vec![check("dynamodb:GetItem", TABLE)]);
        let query = json(
            "dynamodb",
            "DynamoDB_20120810.Query",
            r#"{"TableName":"T","IndexName":"gsi1"}"#,
        );
        assert_eq!(
            query.checks,
            vec![check("dynamodb:Query", &format!("{TABLE}/index/gsi1"))]
        );
        let list = json("dynamodb", "DynamoDB_20120810.ListTables", "{}");
        assert_eq!(list.checks, vec![check("dynamodb:ListTables", "*")]);
    }

    #[test]
    fn a_transaction_needs_the_action_of_each_item_and_a_batch_its_own_per_table() {
        let tx = json(
            "dynamodb",
            "DynamoDB_20120810.TransactWriteItems",
            r#"{"TransactItems":[{"Put":{"TableName":"T","Item":{}}},{"Update":{"TableName":"T"}},{"ConditionCheck":{"TableName":"U"}},{"Put":{"TableName":"T"}}]}"#,
        );
        assert_eq!(
            tx.checks,
            vec![
                check("dynamodb:PutItem", TABLE),
                check("dynamodb:UpdateItem", TABLE),
                check(
                    "dynamodb:ConditionCheckItem",
                    "arn:aws:dynamodb:us-east-1:123456789012:table/U"
                ),
            ]
        );
        let batch = json(
            "dynamodb",
            "DynamoDB_20120810.BatchGetItem",
            r#"{"RequestItems":{"T":{"Keys":[]}}}"#,
        );
        assert_eq!(batch.checks, vec![check("dynamodb:BatchGetItem", TABLE)]);
    }

    #[test]
    fn stream_reads_name_the_stream_even_by_iterator() {
        let stream =
            "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2026-01-01T00:00:00.000";
        let records = json(
            "dynamodb",
            "DynamoDBStreams_20120810.GetRecords",
            &format!(r#"{{"ShardIterator":"{stream}|1|abc"}}"#),
        );
        assert_eq!(records.checks, vec![check("dynamodb:GetRecords", stream)]);
        let describe = json(
            "dynamodb",
            "DynamoDBStreams_20120810.DescribeStream",
            &format!(r#"{{"StreamArn":"{stream}"}}"#),
        );
        assert_eq!(
            describe.checks,
            vec![check("dynamodb:DescribeStream", stream)]
        );
    }

    #[test]
    fn sqs_batches_need_the_single_action_on_the_queue_of_the_url() {
        let send = json(
            "sqs",
            "AmazonSQS.SendMessageBatch",
            r#"{"QueueUrl":"http://127.0.0.1:5000/123456789012/orders","Entries":[]}"#,
        );
        assert_eq!(
            (send.name.as_str(), send.key().as_str()),
            ("SendMessageBatch", "sqs:SendMessageBatch")
        );
        assert_eq!(
            send.checks,
            vec![check(
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:123456789012:orders"
            )]
        );
        let query = op(
            "POST",
            "/123456789012/orders",
            "127.0.0.1:1",
            &signed("sqs"),
            "",
            "Action=DeleteMessageBatch&Version=2012-11-05",
        )
        .unwrap();
        assert_eq!(query.protocol, Protocol::Query);
        assert_eq!(
            query.checks,
            vec![check(
                "sqs:DeleteMessage",
                "arn:aws:sqs:us-east-1:123456789012:orders"
            )]
        );
    }

    #[test]
    fn sns_publishes_name_the_topic_or_no_resource_for_a_phone() {
        let topic = "arn:aws:sns:us-east-1:123456789012:events";
        let publish = op(
            "POST",
            "/",
            "h",
            &signed("sns"),
            "",
            &format!("Action=Publish&TopicArn={topic}&Message=hi"),
        )
        .unwrap();
        assert_eq!(publish.checks, vec![check("sns:Publish", topic)]);
        let sms = op(
            "POST",
            "/",
            "h",
            &signed("sns"),
            "",
            "Action=Publish&PhoneNumber=%2B5511999999999&Message=hi",
        )
        .unwrap();
        assert_eq!(sms.checks, vec![check("sns:Publish", "*")]);
        let batch = op(
            "POST",
            "/",
            "h",
            &signed("sns"),
            "",
            &format!("Action=PublishBatch&TopicArn={topic}"),
        )
        .unwrap();
        assert_eq!(batch.checks, vec![check("sns:Publish", topic)]);
        assert!(op("POST", "/", "h", &signed("sns"), "", "Message=hi").is_err());
    }

    #[test]
    fn s3_requests_name_bucket_and_key_in_either_addressing_style() {
        let h = signed("s3");
        let get = op(
            "GET",
            "/invoices/2026/nf%20e.xml",
            "127.0.0.1:9",
            &h,
            "x-id=GetObject",
            "",
        )
        .unwrap();
        assert_eq!(get.name, "GetObject");
        assert_eq!(
            get.checks,
            vec![check("s3:GetObject", "arn:aws:s3:::invoices/2026/nf e.xml")]
        );
        let put = op(
            "PUT",
            "/a.txt",
            "media.s3.us-east-1.amazonaws.com",
            &h,
            "",
            "x",
        )
        .unwrap();
        assert_eq!(
            put.checks,
            vec![check("s3:PutObject", "arn:aws:s3:::media/a.txt")]
        );
        let put = op("PUT", "/a.txt", "media.localhost:4566", &h, "", "x").unwrap();
        assert_eq!(
            put.checks,
            vec![check("s3:PutObject", "arn:aws:s3:::media/a.txt")]
        );
        let list = op(
            "GET",
            "/invoices",
            "localhost:9",
            &h,
            "list-type=2&prefix=a",
            "",
        )
        .unwrap();
        assert_eq!(
            (list.name.as_str(), list.checks.clone()),
            (
                "ListObjectsV2",
                vec![check("s3:ListBucket", "arn:aws:s3:::invoices")]
            )
        );
        let head = op("HEAD", "/invoices/k", "127.0.0.1", &h, "", "").unwrap();
        assert_eq!(
            (head.name.as_str(), head.checks.clone()),
            (
                "HeadObject",
                vec![check("s3:GetObject", "arn:aws:s3:::invoices/k")]
            )
        );
        let versioned = op("GET", "/invoices/k", "127.0.0.1", &h, "versionId=3", "").unwrap();
        assert_eq!(
            versioned.checks,
            vec![check("s3:GetObjectVersion", "arn:aws:s3:::invoices/k")]
        );
        let delete = op("DELETE", "/invoices/k", "127.0.0.1", &h, "", "").unwrap();
        assert_eq!(
            delete.checks,
            vec![check("s3:DeleteObject", "arn:aws:s3:::invoices/k")]
        );
        let policy = op("PUT", "/invoices", "127.0.0.1", &h, "policy", "{}").unwrap();
        assert_eq!(
            policy.checks,
            vec![check("s3:PutBucketPolicy", "arn:aws:s3:::invoices")]
        );
        let buckets = op("GET", "/", "127.0.0.1", &h, "", "").unwrap();
        assert_eq!(buckets.checks, vec![check("s3:ListAllMyBuckets", "*")]);
    }

    #[test]
    fn an_s3_copy_also_reads_its_source_and_a_multi_delete_deletes_each_key() {
        let mut h = signed("s3");
        h.insert(
            "x-amz-copy-source",
            HeaderValue::from_static("/src/a%2Fb.txt?versionId=1"),
        );
        let copy = op("PUT", "/dst/c.txt", "127.0.0.1", &h, "", "").unwrap();
        assert_eq!(copy.name, "CopyObject");
        assert_eq!(
            copy.checks,
            vec![
                check("s3:PutObject", "arn:aws:s3:::dst/c.txt"),
                check("s3:GetObject", "arn:aws:s3:::src/a/b.txt")
            ]
        );
        let body = "<Delete><Object><Key>a</Key></Object><Object><Key>b/c</Key></Object></Delete>";
        let delete = op("POST", "/bkt", "127.0.0.1", &signed("s3"), "delete", body).unwrap();
        assert_eq!(
            delete.checks,
            vec![
                check("s3:DeleteObject", "arn:aws:s3:::bkt/a"),
                check("s3:DeleteObject", "arn:aws:s3:::bkt/b/c")
            ]
        );
    }

    #[test]
    fn ses_mail_is_authorised_by_the_sender_address_or_its_domain() {
        let send = op(
            "POST",
            "/v2/email/outbound-emails",
            "h",
            &signed("ses"),
            "",
            r#"{"FromEmailAddress":"Loja <loja@example.com.br>","Destination":{"ToAddresses":["a@b.c"]}}"#,
        )
        .unwrap();
        assert_eq!(
            (send.name.as_str(), send.protocol),
            ("SendEmail", Protocol::RestJson)
        );
        assert_eq!(
            send.checks,
            vec![Check {
                action: "ses:SendEmail".into(),
                resources: vec![
                    "arn:aws:ses:us-east-1:123456789012:identity/loja@example.com.br".into(),
                    "arn:aws:ses:us-east-1:123456789012:identity/example.com.br".into(),
                ],
            }]
        );
        assert!(
            op(
                "POST",
                "/v2/email/contact-lists",
                "h",
                &signed("ses"),
                "",
                "{}"
            )
            .is_err()
        );
    }

    #[test]
    fn cognito_public_operations_need_no_iam_and_admin_ones_name_the_pool() {
        let sign_up = json(
            "cognito-idp",
            "AWSCognitoIdentityProviderService.SignUp",
            r#"{"ClientId":"c"}"#,
        );
        assert_eq!(
            (sign_up.service.as_str(), sign_up.checks.len()),
            ("cognito-idp", 0)
        );
        let admin = json(
            "cognito-idp",
            "AWSCognitoIdentityProviderService.AdminGetUser",
            r#"{"UserPoolId":"us-east-1_abc"}"#,
        );
        assert_eq!(
            admin.checks,
            vec![check(
                "cognito-idp:AdminGetUser",
                "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc"
            )]
        );
        // Unsigned (a browser's sign-up) is still read, for the code mail.
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-target",
            HeaderValue::from_static("AWSCognitoIdentityProviderService.ConfirmSignUp"),
        );
        assert_eq!(
            op("POST", "/", "h", &h, "", "{}").unwrap().name,
            "ConfirmSignUp"
        );
    }

    #[test]
    fn secrets_are_named_by_their_full_arn() {
        let by_name = json(
            "secretsmanager",
            "secretsmanager.GetSecretValue",
            r#"{"SecretId":"vitrine/cert"}"#,
        );
        assert_eq!(
            by_name.checks,
            vec![check(
                "secretsmanager:GetSecretValue",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:vitrine/cert-AbCdEf"
            )]
        );
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-XyZ123";
        let by_arn = json(
            "secretsmanager",
            "secretsmanager.GetSecretValue",
            &format!(r#"{{"SecretId":"{arn}"}}"#),
        );
        assert_eq!(
            by_arn.checks,
            vec![check("secretsmanager:GetSecretValue", arn)]
        );
    }

    #[test]
    fn unsigned_and_unknown_requests_are_told_apart() {
        let jwks = op(
            "GET",
            "/us-east-1_abc/.well-known/jwks.json",
            "h",
            &HeaderMap::new(),
            "",
            "",
        );
        assert_eq!(jwks, Err("the request is not signed".into()));
        assert!(
            op("GET", "/", "h", &signed("lambda"), "", "")
                .unwrap_err()
                .contains("lambda")
        );
        let mut h = signed("sqs");
        h.insert(
            "x-amz-target",
            HeaderValue::from_static("AmazonSQS.ListQueues"),
        );
        let not_json = op("POST", "/", "h", &h, "", "not json").unwrap_err();
        assert!(not_json.contains("not JSON"), "{not_json}");
    }
}
