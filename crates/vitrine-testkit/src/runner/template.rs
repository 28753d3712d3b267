//! The template, translated by the SAM translator and resolved as CloudFormation resolves it.
//!
//! [`translate`] runs `translate.py` (beside this file) with the project's Python (`.venv/`):
//! the YAML read with CloudFormation's short tags, each function's `CodeUri`
//! (`../target/lambda/<bin>/`) recorded, and the SAM transform applied. [`resolve`] then walks
//! the CloudFormation template: parameters (defaults and overrides, checked against
//! `AllowedValues`), conditions, and the intrinsic functions `Ref`, `Fn::GetAtt`, `Fn::Sub`
//! (both forms), `Fn::If`, `Fn::Equals`/`And`/`Or`/`Not`, `Fn::Join`, `Fn::Select`,
//! `Fn::Split` and the pseudo parameters, resource by resource in dependency order. Each
//! resource is handed to a [`Provision`] (the emulator, or the pure [`Plan`] in unit tests)
//! which returns what `Ref` and `Fn::GetAtt` give for it.
//!
//! Intrinsic function reference:
//! <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html>;
//! pseudo parameters:
//! <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html>.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{ACCOUNT, REGION, Resolved, Resource, RunnerError};

const TRANSLATE_PY: &str = include_str!("translate.py");

/// The template after the SAM transform.
#[derive(Debug, Clone)]
pub struct Translated {
    /// The CloudFormation template (JSON).
    pub template: Value,
    /// Each function's binary (`AWS::Serverless::Function` logical id → `<bin>` of its
    /// `CodeUri`); the translator keeps the logical id for the `AWS::Lambda::Function`.
    pub binaries: BTreeMap<String, String>,
}

/// Run the SAM translator (`python`, the project's `.venv/bin/python`) on `template`.
/// `parameters` go to the translator too (it needs a value for those without a default).
pub fn translate(
    python: &Path,
    template: &Path,
    parameters: &BTreeMap<String, String>,
) -> Result<Translated, RunnerError> {
    let mut command = Command::new(python);
    command
        .arg("-")
        .arg(template)
        .args(parameters.iter().map(|(k, v)| format!("{k}={v}")))
        .env("AWS_DEFAULT_REGION", REGION)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| {
        RunnerError(format!(
            "starting the SAM translator with {}: {e} (run scripts/test.sh once to install .venv/)",
            python.display()
        ))
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(TRANSLATE_PY.as_bytes())
            .map_err(|e| RunnerError(format!("feeding the SAM translator: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| RunnerError(format!("running the SAM translator: {e}")))?;
    if !out.status.success() {
        return Err(RunnerError(format!(
            "the SAM translator failed on {}: {}",
            template.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let doc: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| RunnerError(format!("the SAM translator's output is not JSON: {e}")))?;
    let binaries = doc["code"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    Ok(Translated {
        template: doc["template"].clone(),
        binaries,
    })
}

/// What `Ref` and `Fn::GetAtt` give for a resource once it exists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Made {
    pub physical_id: String,
    pub attributes: BTreeMap<String, String>,
}

/// Creates (or names) one resource, as CloudFormation's resource handlers do.
#[async_trait]
pub trait Provision: Send {
    /// `properties` are resolved. An unhandled `kind` is an error naming it.
    async fn provision(
        &mut self,
        stack: &str,
        logical_id: &str,
        kind: &str,
        properties: &Value,
    ) -> Result<Made, RunnerError>;
}

/// Names every resource the way AWS does, creating nothing: the physical ids and attributes
/// [`resources`](super::resources) starts from, and what unit tests resolve against.
#[derive(Debug, Default)]
pub struct Plan;

/// `n` characters of `alphabet`, random per call (ULID entropy).
pub(crate) fn random_id(n: usize, alphabet: &[u8]) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let r = ulid::Ulid::new().random();
        let mut x = r;
        for _ in 0..8 {
            if out.len() == n {
                break;
            }
            out.push(alphabet[(x % alphabet.len() as u128) as usize] as char);
            x /= alphabet.len() as u128;
        }
    }
    out
}

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A generated name as CloudFormation makes one: `{stack}-{logical id}-{12 random}`,
/// cut to `max` characters.
fn generated(stack: &str, logical_id: &str, max: usize) -> String {
    let suffix = random_id(12, UPPER);
    let mut head = format!("{stack}-{logical_id}");
    head.truncate(max.saturating_sub(13));
    format!("{head}-{suffix}")
}

fn prop<'a>(props: &'a Value, key: &str) -> Option<&'a str> {
    props.get(key).and_then(Value::as_str)
}

impl Plan {
    /// The physical id and attributes of a resource of `kind`.
    pub fn name(
        stack: &str,
        logical_id: &str,
        kind: &str,
        props: &Value,
    ) -> Result<Made, RunnerError> {
        let r = REGION;
        let a = ACCOUNT;
        let mut at = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            at.insert(k.to_owned(), v);
        };
        let id = match kind {
            "AWS::DynamoDB::Table" => {
                let name = prop(props, "TableName")
                    .map(str::to_owned)
                    .unwrap_or_else(|| generated(stack, logical_id, 255));
                let arn = format!("arn:aws:dynamodb:{r}:{a}:table/{name}");
                if props.get("StreamSpecification").is_some() {
                    set("StreamArn", format!("{arn}/stream/1970-01-01T00:00:00.000"));
                }
                set("Arn", arn);
                name
            }
            "AWS::S3::Bucket" => {
                let name = prop(props, "BucketName")
                    .map(str::to_owned)
                    .unwrap_or_else(|| generated(stack, logical_id, 63).to_lowercase());
                set("Arn", format!("arn:aws:s3:::{name}"));
                set("DomainName", format!("{name}.s3.amazonaws.com"));
                set(
                    "DualStackDomainName",
                    format!("{name}.s3.dualstack.{r}.amazonaws.com"),
                );
                set("RegionalDomainName", format!("{name}.s3.{r}.amazonaws.com"));
                set(
                    "WebsiteURL",
                    format!("http://{name}.s3-website-{r}.amazonaws.com"),
                );
                name
            }
            "AWS::SNS::Topic" => {
                let name = prop(props, "TopicName")
                    .map(str::to_owned)
                    .unwrap_or_else(|| generated(stack, logical_id, 256));
                let arn = format!("arn:aws:sns:{r}:{a}:{name}");
                set("TopicArn", arn.clone());
                set("TopicName", name);
                arn
            }
            "AWS::SQS::Queue" => {
                let name = prop(props, "QueueName")
                    .map(str::to_owned)
                    .unwrap_or_else(|| generated(stack, logical_id, 80));
                let url = format!("https://sqs.{r}.amazonaws.com/{a}/{name}");
                set("Arn", format!("arn:aws:sqs:{r}:{a}:{name}"));
                set("QueueName", name);
                set("QueueUrl", url.clone());
                url
            }
            "AWS::SNS::Subscription" => {
                let topic = prop(props, "TopicArn").unwrap_or("arn:aws:sns:::topic");
                format!("{topic}:{}", uuid_like())
            }
            "AWS::Cognito::UserPool" => {
                let id = format!(
                    "{r}_{}",
                    random_id(
                        9,
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                    )
                );
                Self::user_pool_attributes(&id, &mut set);
                id
            }
            "AWS::Cognito::UserPoolClient" => {
                let id = random_id(26, LOWER);
                set("ClientId", id.clone());
                set(
                    "Name",
                    prop(props, "ClientName").unwrap_or(logical_id).to_owned(),
                );
                id
            }
            "AWS::Cognito::UserPoolGroup" => prop(props, "GroupName")
                .map(str::to_owned)
                .unwrap_or_else(|| generated(stack, logical_id, 128)),
            "AWS::SecretsManager::Secret" => {
                let name = prop(props, "Name")
                    .map(str::to_owned)
                    .unwrap_or_else(|| generated(stack, logical_id, 256));
                let arn = format!(
                    "arn:aws:secretsmanager:{r}:{a}:secret:{name}-{}",
                    random_id(6, b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
                );
                set("Id", arn.clone());
                arn
            }
            "AWS::SES::EmailIdentity" => prop(props, "EmailIdentity")
                .unwrap_or(logical_id)
                .to_owned(),
            "AWS::Lambda::Function" => {
                let name = prop(props, "FunctionName")
                    .map(str::to_owned)
                    .unwrap_or_else(|| generated(stack, logical_id, 64));
                set("Arn", format!("arn:aws:lambda:{r}:{a}:function:{name}"));
                name
            }
            "AWS::Lambda::Permission"
            | "AWS::S3::BucketPolicy"
            | "AWS::SQS::QueuePolicy"
            | "AWS::WAFv2::WebACLAssociation"
            | "AWS::ApiGateway::Account" => generated(stack, logical_id, 128),
            "AWS::Lambda::EventSourceMapping" => {
                let id = uuid_like();
                set("Id", id.clone());
                id
            }
            "AWS::IAM::Role" => {
                let name = prop(props, "RoleName")
                    .map(str::to_owned)
                    .unwrap_or_else(|| generated(stack, logical_id, 64));
                set("Arn", format!("arn:aws:iam::{a}:role/{name}"));
                set("RoleId", format!("AROA{}", random_id(17, UPPER)));
                name
            }
            "AWS::Logs::LogGroup" => {
                let name = prop(props, "LogGroupName")
                    .map(str::to_owned)
                    .unwrap_or_else(|| generated(stack, logical_id, 512));
                set("Arn", format!("arn:aws:logs:{r}:{a}:log-group:{name}:*"));
                name
            }
            "AWS::Events::Rule" => {
                let name = prop(props, "Name")
                    .map(str::to_owned)
                    .unwrap_or_else(|| generated(stack, logical_id, 64));
                set("Arn", format!("arn:aws:events:{r}:{a}:rule/{name}"));
                name
            }
            "AWS::CloudWatch::Alarm" => {
                let name = prop(props, "AlarmName")
                    .map(str::to_owned)
                    .unwrap_or_else(|| generated(stack, logical_id, 255));
                set("Arn", format!("arn:aws:cloudwatch:{r}:{a}:alarm:{name}"));
                name
            }
            "AWS::CloudWatch::Dashboard" => prop(props, "DashboardName")
                .map(str::to_owned)
                .unwrap_or_else(|| generated(stack, logical_id, 255)),
            "AWS::ApiGateway::RestApi" => {
                let id = random_id(10, LOWER);
                set("RestApiId", id.clone());
                set("RootResourceId", random_id(10, LOWER));
                id
            }
            "AWS::ApiGateway::Deployment" => {
                let id = random_id(6, LOWER);
                set("DeploymentId", id.clone());
                id
            }
            "AWS::ApiGateway::Stage" | "AWS::ApiGatewayV2::Stage" => prop(props, "StageName")
                .ok_or_else(|| RunnerError(format!("{logical_id}: a stage needs StageName")))?
                .to_owned(),
            "AWS::ApiGatewayV2::Api" => {
                let id = random_id(10, LOWER);
                let scheme = if prop(props, "ProtocolType") == Some("WEBSOCKET") {
                    "wss"
                } else {
                    "https"
                };
                set("ApiId", id.clone());
                set(
                    "ApiEndpoint",
                    format!("{scheme}://{id}.execute-api.{r}.amazonaws.com"),
                );
                id
            }
            "AWS::ApiGatewayV2::Integration" => {
                let id = random_id(7, LOWER);
                set("IntegrationId", id.clone());
                id
            }
            "AWS::ApiGatewayV2::Route" => {
                let id = random_id(7, LOWER);
                set("RouteId", id.clone());
                id
            }
            "AWS::CloudFront::Distribution" => {
                let id = format!("E{}", random_id(13, UPPER));
                set("Id", id.clone());
                set(
                    "DomainName",
                    format!("d{}.cloudfront.net", random_id(13, LOWER)),
                );
                id
            }
            "AWS::CloudFront::Function" => {
                let name = prop(props, "Name").unwrap_or(logical_id);
                let arn = format!("arn:aws:cloudfront::{a}:function/{name}");
                set("FunctionARN", arn.clone());
                set("FunctionMetadata.FunctionARN", arn.clone());
                set("Stage", "LIVE".to_owned());
                arn
            }
            "AWS::CloudFront::OriginAccessControl"
            | "AWS::CloudFront::ResponseHeadersPolicy"
            | "AWS::CloudFront::CachePolicy"
            | "AWS::CloudFront::OriginRequestPolicy" => {
                let id = format!("E{}", random_id(13, UPPER));
                set("Id", id.clone());
                set("LastModifiedTime", "2026-01-01T00:00:00Z".to_owned());
                id
            }
            "AWS::WAFv2::WebACL" => {
                let name = prop(props, "Name")
                    .map(str::to_owned)
                    .unwrap_or_else(|| generated(stack, logical_id, 128));
                let id = uuid_like();
                let scope = prop(props, "Scope").unwrap_or("REGIONAL");
                let place = if scope == "CLOUDFRONT" {
                    "global".to_owned()
                } else {
                    "regional".to_owned()
                };
                let region = if scope == "CLOUDFRONT" {
                    "us-east-1"
                } else {
                    r
                };
                set(
                    "Arn",
                    format!("arn:aws:wafv2:{region}:{a}:{place}/webacl/{name}/{id}"),
                );
                set("Id", id.clone());
                set("LabelNamespace", format!("awswaf:{a}:webacl:{name}:"));
                set("Capacity", "0".to_owned());
                format!("{name}|{id}|{scope}")
            }
            other => {
                return Err(RunnerError(format!(
                    "{logical_id}: the runner does not handle resources of type {other}"
                )));
            }
        };
        Ok(Made {
            physical_id: id,
            attributes: at,
        })
    }

    /// A user pool's attributes, from its id.
    pub fn user_pool_attributes(id: &str, set: &mut impl FnMut(&str, String)) {
        let r = REGION;
        set(
            "Arn",
            format!("arn:aws:cognito-idp:{r}:{ACCOUNT}:userpool/{id}"),
        );
        set(
            "ProviderName",
            format!("cognito-idp.{r}.amazonaws.com/{id}"),
        );
        set(
            "ProviderURL",
            format!("https://cognito-idp.{r}.amazonaws.com/{id}"),
        );
        set("UserPoolId", id.to_owned());
    }
}

fn uuid_like() -> String {
    let h = random_id(32, b"0123456789abcdef");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[async_trait]
impl Provision for Plan {
    async fn provision(
        &mut self,
        stack: &str,
        logical_id: &str,
        kind: &str,
        properties: &Value,
    ) -> Result<Made, RunnerError> {
        Plan::name(stack, logical_id, kind, properties)
    }
}

/// The pseudo parameters the runner gives (`AWS::NoValue` is handled where it appears).
fn pseudo(name: &str, stack: &str) -> Option<Value> {
    Some(Value::String(match name {
        "AWS::Region" => REGION.to_owned(),
        "AWS::AccountId" => ACCOUNT.to_owned(),
        "AWS::Partition" => "aws".to_owned(),
        "AWS::StackName" => stack.to_owned(),
        "AWS::StackId" => format!(
            "arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack}/00000000-0000-4000-8000-000000000000"
        ),
        "AWS::URLSuffix" => "amazonaws.com".to_owned(),
        _ => return None,
    }))
}

/// A marker for `AWS::NoValue`, removed from the enclosing object or list.
const NO_VALUE: &str = "\u{0}AWS::NoValue";

/// The state of one resolution: parameter values, condition values, the resources made so far.
pub struct Resolver<'a> {
    pub stack: String,
    template: &'a Value,
    parameters: BTreeMap<String, Value>,
    conditions: BTreeMap<String, bool>,
    made: BTreeMap<String, Made>,
}

impl<'a> Resolver<'a> {
    /// Parameters: each declared one takes its override, else its default; a parameter with
    /// neither, an override of an undeclared one, or a value outside `AllowedValues` is an error.
    pub fn new(
        template: &'a Value,
        stack: &str,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Self, RunnerError> {
        let declared = template
            .get("Parameters")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for name in overrides.keys() {
            if !declared.contains_key(name) {
                return Err(RunnerError(format!(
                    "--parameter {name}: the template declares no parameter {name}"
                )));
            }
        }
        let mut parameters = BTreeMap::new();
        for (name, decl) in &declared {
            let text = match overrides.get(name) {
                Some(v) => v.clone(),
                None => match decl.get("Default") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::Bool(b)) => b.to_string(),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(scalar_text)
                        .collect::<Option<Vec<_>>>()
                        .map(|v| v.join(","))
                        .unwrap_or_default(),
                    _ => {
                        return Err(RunnerError(format!(
                            "parameter {name} has no default: give it with --parameter {name}=VALUE"
                        )));
                    }
                },
            };
            if let Some(allowed) = decl.get("AllowedValues").and_then(Value::as_array)
                && !allowed
                    .iter()
                    .any(|v| scalar_text(v).as_deref() == Some(&text))
            {
                return Err(RunnerError(format!(
                    "parameter {name}: {text:?} is not one of its AllowedValues {allowed:?}"
                )));
            }
            let kind = decl.get("Type").and_then(Value::as_str).unwrap_or("String");
            let value = if kind.starts_with("List<") || kind == "CommaDelimitedList" {
                Value::Array(
                    text.split(',')
                        .map(|s| Value::String(s.trim().to_owned()))
                        .collect(),
                )
            } else {
                Value::String(text)
            };
            parameters.insert(name.clone(), value);
        }
        let mut resolver = Self {
            stack: stack.to_owned(),
            template,
            parameters,
            conditions: BTreeMap::new(),
            made: BTreeMap::new(),
        };
        let names: Vec<String> = template
            .get("Conditions")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for name in names {
            resolver.condition(&name, &mut Vec::new())?;
        }
        resolver.check_rules()?;
        Ok(resolver)
    }

    /// The template's `Rules`: each assertion of a rule whose `RuleCondition` holds must hold,
    /// or the stack is refused with the assertion's description (as CloudFormation refuses it).
    /// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html>
    fn check_rules(&mut self) -> Result<(), RunnerError> {
        let rules = self
            .template
            .get("Rules")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (name, rule) in rules {
            let applies = match rule.get("RuleCondition") {
                Some(c) => self.condition_expr(c, &mut Vec::new())?,
                None => true,
            };
            if !applies {
                continue;
            }
            for assertion in rule
                .get("Assertions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let holds = self.condition_expr(&assertion["Assert"], &mut Vec::new())?;
                if !holds {
                    let why = assertion
                        .get("AssertDescription")
                        .and_then(Value::as_str)
                        .unwrap_or("an assertion does not hold");
                    return Err(RunnerError(format!("rule {name}: {why}")));
                }
            }
        }
        Ok(())
    }

    /// The parameter values (lists joined with commas).
    pub fn parameters(&self) -> BTreeMap<String, String> {
        self.parameters
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::Array(a) => a
                        .iter()
                        .filter_map(scalar_text)
                        .collect::<Vec<_>>()
                        .join(","),
                    other => scalar_text(other).unwrap_or_default(),
                };
                (k.clone(), text)
            })
            .collect()
    }

    fn condition(&mut self, name: &str, path: &mut Vec<String>) -> Result<bool, RunnerError> {
        if let Some(v) = self.conditions.get(name) {
            return Ok(*v);
        }
        if path.iter().any(|p| p == name) {
            return Err(RunnerError(format!("condition {name} refers to itself")));
        }
        let Some(expr) = self.template.get("Conditions").and_then(|c| c.get(name)) else {
            return Err(RunnerError(format!(
                "the template declares no condition {name}"
            )));
        };
        path.push(name.to_owned());
        let value = self.condition_expr(&expr.clone(), path)?;
        path.pop();
        self.conditions.insert(name.to_owned(), value);
        Ok(value)
    }

    fn condition_expr(
        &mut self,
        expr: &Value,
        path: &mut Vec<String>,
    ) -> Result<bool, RunnerError> {
        let Some((key, arg)) = single(expr) else {
            return match expr {
                Value::Bool(b) => Ok(*b),
                Value::String(s) if s == "true" => Ok(true),
                Value::String(s) if s == "false" => Ok(false),
                other => Err(RunnerError(format!(
                    "a condition must be a function, not {other}"
                ))),
            };
        };
        match key {
            "Condition" => {
                let name = arg
                    .as_str()
                    .ok_or_else(|| RunnerError(format!("Condition takes a name, not {arg}")))?;
                self.condition(name, path)
            }
            "Fn::Not" => {
                let args = list(arg, key, 1)?;
                Ok(!self.condition_expr(&args[0], path)?)
            }
            "Fn::And" | "Fn::Or" => {
                let args = arg
                    .as_array()
                    .ok_or_else(|| RunnerError(format!("{key} takes a list, not {arg}")))?;
                let mut values = Vec::new();
                for a in args {
                    values.push(self.condition_expr(a, path)?);
                }
                Ok(if key == "Fn::And" {
                    values.iter().all(|v| *v)
                } else {
                    values.iter().any(|v| *v)
                })
            }
            "Fn::Equals" => {
                let args = list(arg, key, 2)?;
                let a = self.value(&args[0])?;
                let b = self.value(&args[1])?;
                Ok(scalar_text(&a).is_some() && scalar_text(&a) == scalar_text(&b) || (a == b))
            }
            other => Err(RunnerError(format!("{other} is not a condition function"))),
        }
    }

    /// Whether `resource` (its `Condition`, if any) is created.
    pub fn included(&self, resource: &Value) -> Result<bool, RunnerError> {
        match resource.get("Condition").and_then(Value::as_str) {
            None => Ok(true),
            Some(name) => {
                self.conditions.get(name).copied().ok_or_else(|| {
                    RunnerError(format!("the template declares no condition {name}"))
                })
            }
        }
    }

    /// Record what a resource gave, for the `Ref`s and `Fn::GetAtt`s that follow.
    pub fn record(&mut self, logical_id: &str, made: Made) {
        self.made.insert(logical_id.to_owned(), made);
    }

    fn reference(&self, name: &str) -> Result<Value, RunnerError> {
        if name == "AWS::NoValue" {
            return Ok(Value::String(NO_VALUE.to_owned()));
        }
        if let Some(v) = pseudo(name, &self.stack) {
            return Ok(v);
        }
        if let Some(v) = self.parameters.get(name) {
            return Ok(v.clone());
        }
        if let Some(made) = self.made.get(name) {
            return Ok(Value::String(made.physical_id.clone()));
        }
        Err(self.missing(name))
    }

    fn missing(&self, name: &str) -> RunnerError {
        let declared = self
            .template
            .get("Resources")
            .and_then(|r| r.get(name))
            .is_some();
        if declared {
            RunnerError(format!(
                "{name} is referred to but is not created (its condition is false)"
            ))
        } else {
            RunnerError(format!(
                "the template refers to {name}, which it does not declare"
            ))
        }
    }

    fn attribute(&self, name: &str, attribute: &str) -> Result<Value, RunnerError> {
        let made = self.made.get(name).ok_or_else(|| self.missing(name))?;
        made.attributes
            .get(attribute)
            .map(|v| Value::String(v.clone()))
            .ok_or_else(|| {
                RunnerError(format!(
                    "{name} has no attribute {attribute} (Fn::GetAtt {name}.{attribute})"
                ))
            })
    }

    /// Resolve every intrinsic in `value`; `AWS::NoValue` removes its key or element.
    pub fn value(&mut self, value: &Value) -> Result<Value, RunnerError> {
        let v = self.walk(value)?;
        if is_no_value(&v) {
            return Ok(Value::Null);
        }
        Ok(v)
    }

    fn walk(&mut self, value: &Value) -> Result<Value, RunnerError> {
        match value {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let v = self.walk(item)?;
                    if !is_no_value(&v) {
                        out.push(v);
                    }
                }
                Ok(Value::Array(out))
            }
            Value::Object(map) => {
                if let Some((key, arg)) = single(value)
                    && (key == "Ref" || key.starts_with("Fn::") || key == "Condition")
                {
                    return self.function(key, arg);
                }
                let mut out = Map::new();
                for (k, v) in map {
                    let v = self.walk(v)?;
                    if !is_no_value(&v) {
                        out.insert(k.clone(), v);
                    }
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    fn function(&mut self, key: &str, arg: &Value) -> Result<Value, RunnerError> {
        match key {
            "Ref" => {
                let name = arg
                    .as_str()
                    .ok_or_else(|| RunnerError(format!("Ref takes a name, not {arg}")))?;
                self.reference(name)
            }
            "Fn::GetAtt" => {
                let (name, attribute) = match arg {
                    Value::String(s) => s
                        .split_once('.')
                        .map(|(a, b)| (a.to_owned(), b.to_owned()))
                        .ok_or_else(|| {
                            RunnerError(format!("Fn::GetAtt {s}: not Resource.Attribute"))
                        })?,
                    Value::Array(a) if a.len() == 2 => {
                        let name = a[0].as_str().unwrap_or_default().to_owned();
                        let attr = self.walk(&a[1])?;
                        (name, scalar_text(&attr).unwrap_or_default())
                    }
                    other => {
                        return Err(RunnerError(format!(
                            "Fn::GetAtt takes [resource, attribute], not {other}"
                        )));
                    }
                };
                self.attribute(&name, &attribute)
            }
            "Fn::Sub" => {
                let (text, vars) = match arg {
                    Value::String(s) => (s.clone(), Map::new()),
                    Value::Array(a) if a.len() == 2 => {
                        let text = a[0]
                            .as_str()
                            .ok_or_else(|| {
                                RunnerError(format!("Fn::Sub: {} is not a string", a[0]))
                            })?
                            .to_owned();
                        let vars = a[1].as_object().cloned().ok_or_else(|| {
                            RunnerError(format!("Fn::Sub: {} is not a map", a[1]))
                        })?;
                        let mut resolved = Map::new();
                        for (k, v) in vars {
                            resolved.insert(k, self.walk(&v)?);
                        }
                        (text, resolved)
                    }
                    other => {
                        return Err(RunnerError(format!(
                            "Fn::Sub takes a string or [string, map], not {other}"
                        )));
                    }
                };
                self.sub(&text, &vars).map(Value::String)
            }
            "Fn::If" => {
                let args = list(arg, key, 3)?;
                let name = args[0].as_str().ok_or_else(|| {
                    RunnerError(format!("Fn::If takes a condition name, not {}", args[0]))
                })?;
                let chosen = if self.condition(name, &mut Vec::new())? {
                    &args[1]
                } else {
                    &args[2]
                };
                self.walk(chosen)
            }
            "Fn::Equals" | "Fn::And" | "Fn::Or" | "Fn::Not" | "Condition" => {
                let expr = Value::Object(Map::from_iter([(key.to_owned(), arg.clone())]));
                self.condition_expr(&expr, &mut Vec::new())
                    .map(|b| Value::String(b.to_string()))
            }
            "Fn::Join" => {
                let args = list(arg, key, 2)?;
                let sep = self.walk(&args[0])?;
                let sep = scalar_text(&sep).ok_or_else(|| {
                    RunnerError(format!("Fn::Join: the delimiter {sep} is not a string"))
                })?;
                let items = self.walk(&args[1])?;
                let items = items
                    .as_array()
                    .ok_or_else(|| RunnerError(format!("Fn::Join: {items} is not a list")))?;
                let texts = items
                    .iter()
                    .map(|i| {
                        scalar_text(i)
                            .ok_or_else(|| RunnerError(format!("Fn::Join: {i} is not a string")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::String(texts.join(&sep)))
            }
            "Fn::Select" => {
                let args = list(arg, key, 2)?;
                let index = self.walk(&args[0])?;
                let index: usize = scalar_text(&index)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| {
                        RunnerError(format!("Fn::Select: the index {index} is not a number"))
                    })?;
                let items = self.walk(&args[1])?;
                let items = items
                    .as_array()
                    .ok_or_else(|| RunnerError(format!("Fn::Select: {items} is not a list")))?;
                items.get(index).cloned().ok_or_else(|| {
                    RunnerError(format!(
                        "Fn::Select: index {index} is past the list's {} items",
                        items.len()
                    ))
                })
            }
            "Fn::Split" => {
                let args = list(arg, key, 2)?;
                let sep = self.walk(&args[0])?;
                let sep = scalar_text(&sep).ok_or_else(|| {
                    RunnerError(format!("Fn::Split: the delimiter {sep} is not a string"))
                })?;
                let text = self.walk(&args[1])?;
                let text = scalar_text(&text)
                    .ok_or_else(|| RunnerError(format!("Fn::Split: {text} is not a string")))?;
                Ok(Value::Array(
                    text.split(sep.as_str())
                        .map(|s| Value::String(s.to_owned()))
                        .collect(),
                ))
            }
            other => Err(RunnerError(format!(
                "the runner does not handle the intrinsic function {other}"
            ))),
        }
    }

    /// `Fn::Sub`'s string: `${Name}`, `${Resource.Attribute}`, `${!Literal}`.
    fn sub(&mut self, text: &str, vars: &Map<String, Value>) -> Result<String, RunnerError> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| RunnerError(format!("Fn::Sub: unclosed ${{ in {text:?}")))?;
            let name = after[..end].trim();
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else {
                let value = if let Some(v) = vars.get(name) {
                    v.clone()
                } else if let Some((res, attr)) = name.split_once('.') {
                    if self.parameters.contains_key(name) || pseudo(name, &self.stack).is_some() {
                        self.reference(name)?
                    } else {
                        self.attribute(res, attr)?
                    }
                } else {
                    self.reference(name)?
                };
                let text_value = scalar_text(&value).ok_or_else(|| {
                    RunnerError(format!("Fn::Sub: ${{{name}}} is {value}, not a string"))
                })?;
                if text_value == NO_VALUE {
                    return Err(RunnerError(format!("Fn::Sub: ${{{name}}} is AWS::NoValue")));
                }
                out.push_str(&text_value);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn is_no_value(v: &Value) -> bool {
    v.as_str() == Some(NO_VALUE)
}

fn single(v: &Value) -> Option<(&str, &Value)> {
    let map = v.as_object()?;
    if map.len() != 1 {
        return None;
    }
    map.iter().next().map(|(k, v)| (k.as_str(), v))
}

fn list<'v>(arg: &'v Value, key: &str, n: usize) -> Result<&'v [Value], RunnerError> {
    match arg.as_array() {
        Some(a) if a.len() == n => Ok(a),
        _ => Err(RunnerError(format!("{key} takes a list of {n}, not {arg}"))),
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The logical ids `value` refers to (`Ref`, `Fn::GetAtt`, `Fn::Sub` names).
fn references(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|i| references(i, out)),
        Value::Object(map) => {
            if let Some((key, arg)) = single(value) {
                match key {
                    "Ref" => {
                        if let Some(s) = arg.as_str() {
                            out.insert(s.to_owned());
                        }
                    }
                    "Fn::GetAtt" => match arg {
                        Value::String(s) => {
                            out.insert(s.split('.').next().unwrap_or_default().to_owned());
                        }
                        Value::Array(a) => {
                            if let Some(s) = a.first().and_then(Value::as_str) {
                                out.insert(s.to_owned());
                            }
                        }
                        _ => {}
                    },
                    "Fn::Sub" => {
                        let (text, vars) = match arg {
                            Value::String(s) => (s.as_str(), None),
                            Value::Array(a) => (
                                a.first().and_then(Value::as_str).unwrap_or_default(),
                                a.get(1),
                            ),
                            _ => ("", None),
                        };
                        let mut rest = text;
                        while let Some(start) = rest.find("${") {
                            let after = &rest[start + 2..];
                            let Some(end) = after.find('}') else { break };
                            let name = after[..end].trim();
                            let local = vars.and_then(|v| v.get(name)).is_some();
                            if !name.starts_with('!') && !local {
                                out.insert(name.split('.').next().unwrap_or_default().to_owned());
                            }
                            rest = &after[end + 1..];
                        }
                        if let Some(v) = vars {
                            references(v, out);
                        }
                    }
                    _ => references(arg, out),
                }
                return;
            }
            map.values().for_each(|v| references(v, out));
        }
        _ => {}
    }
}

/// The resources' creation order: each after what it refers to and its `DependsOn`. A
/// reference to an undeclared resource (not a parameter or pseudo parameter) and a cycle are
/// errors naming them.
pub fn creation_order(template: &Value) -> Result<Vec<String>, RunnerError> {
    let resources = template
        .get("Resources")
        .and_then(Value::as_object)
        .ok_or_else(|| RunnerError("the template has no Resources".to_owned()))?;
    let parameters: BTreeSet<&str> = template
        .get("Parameters")
        .and_then(Value::as_object)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut deps: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, res) in resources {
        let mut refs = BTreeSet::new();
        references(res.get("Properties").unwrap_or(&Value::Null), &mut refs);
        match res.get("DependsOn") {
            Some(Value::String(s)) => {
                refs.insert(s.clone());
            }
            Some(Value::Array(a)) => {
                refs.extend(a.iter().filter_map(Value::as_str).map(str::to_owned))
            }
            _ => {}
        }
        let mut mine = BTreeSet::new();
        for r in refs {
            if resources.contains_key(&r) {
                mine.insert(r);
            } else if !parameters.contains(r.as_str()) && !r.starts_with("AWS::") {
                return Err(RunnerError(format!(
                    "{name} refers to {r}, which the template does not declare"
                )));
            }
        }
        deps.insert(name.as_str(), mine);
    }
    let mut order = Vec::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    while order.len() < deps.len() {
        let ready: Vec<&str> = deps
            .iter()
            .filter(|(n, d)| !done.contains(**n) && d.iter().all(|x| done.contains(x)))
            .map(|(n, _)| *n)
            .collect();
        if ready.is_empty() {
            let stuck: Vec<&str> = deps
                .keys()
                .filter(|n| !done.contains(**n))
                .copied()
                .collect();
            return Err(RunnerError(format!(
                "the resources {} depend on each other in a cycle",
                stuck.join(", ")
            )));
        }
        for n in ready {
            done.insert(n.to_owned());
            order.push(n.to_owned());
        }
    }
    Ok(order)
}

/// Resolve `translated` into [`Resolved`], having `provision` create each resource in order.
pub async fn resolve(
    translated: &Translated,
    stack: &str,
    emulator: &str,
    overrides: &BTreeMap<String, String>,
    provision: &mut dyn Provision,
) -> Result<Resolved, RunnerError> {
    let template = &translated.template;
    let order = creation_order(template)?;
    let mut resolver = Resolver::new(template, stack, overrides)?;
    let mut resolved = Resolved {
        stack_name: stack.to_owned(),
        emulator: emulator.to_owned(),
        parameters: resolver.parameters(),
        binaries: translated.binaries.clone(),
        ..Resolved::default()
    };
    for name in order {
        let res = &template["Resources"][&name];
        if !resolver.included(res)? {
            continue;
        }
        let kind = res
            .get("Type")
            .and_then(Value::as_str)
            .ok_or_else(|| RunnerError(format!("{name} has no Type")))?
            .to_owned();
        let properties =
            resolver.value(res.get("Properties").unwrap_or(&Value::Object(Map::new())))?;
        let properties = if properties.is_null() {
            Value::Object(Map::new())
        } else {
            properties
        };
        let made = provision
            .provision(stack, &name, &kind, &properties)
            .await?;
        resolver.record(&name, made.clone());
        resolved.resources.insert(
            name.clone(),
            Resource {
                kind,
                properties,
                physical_id: made.physical_id,
                attributes: made.attributes,
            },
        );
        resolved.order.push(name);
    }
    if let Some(outputs) = template.get("Outputs").and_then(Value::as_object) {
        for (name, output) in outputs {
            if !resolver.included(output)? {
                continue;
            }
            let v = resolver.value(output.get("Value").unwrap_or(&Value::Null))?;
            let text = match &v {
                Value::Array(a) => a
                    .iter()
                    .filter_map(scalar_text)
                    .collect::<Vec<_>>()
                    .join(","),
                other => scalar_text(other).unwrap_or_default(),
            };
            resolved.outputs.insert(name.clone(), text);
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(template: Value, overrides: &[(&str, &str)]) -> Result<Resolved, RunnerError> {
        let translated = Translated {
            template,
            binaries: BTreeMap::new(),
        };
        let overrides = overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        rt.block_on(resolve(
            &translated,
            "st",
            "http://emulator",
            &overrides,
            &mut Plan,
        ))
    }

    fn queue_and_topic(extra: Value) -> Value {
        let mut t = json!({
            "Parameters": {
                "Stage": {"Type": "String", "Default": "prod", "AllowedValues": ["prod", "dev"]},
                "Mail": {"Type": "String"},
                "Size": {"Type": "Number", "Default": 10},
                "Names": {"Type": "CommaDelimitedList", "Default": "a,b,c"}
            },
            "Conditions": {
                "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
                "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
                "Both": {"Fn::And": [{"Condition": "IsProd"}, {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}]},
                "Either": {"Fn::Or": [{"Condition": "NotProd"}, {"Fn::Equals": ["1", "2"]}]}
            },
            "Resources": {
                "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {}},
                "Queue": {"Type": "AWS::SQS::Queue", "Properties": {
                    "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 3},
                    "VisibilityTimeout": {"Ref": "Size"}
                }},
                "Topic": {"Type": "AWS::SNS::Topic", "Properties": {
                    "DisplayName": {"Fn::Sub": "${AWS::StackName}-${Stage} ${Queue.QueueName} ${!Literal}"},
                    "Tags": [
                        {"Key": "a", "Value": {"Fn::If": ["IsProd", "yes", "no"]}},
                        {"Fn::If": ["NotProd", {"Key": "b", "Value": "x"}, {"Ref": "AWS::NoValue"}]},
                        {"Key": "j", "Value": {"Fn::Join": ["-", [{"Ref": "Stage"}, {"Fn::Select": [1, {"Ref": "Names"}]}, {"Fn::Select": [2, {"Fn::Split": ["/", "x/y/z"]}]}]]}},
                        {"Key": "sub2", "Value": {"Fn::Sub": ["${Name}.${AWS::URLSuffix}", {"Name": {"Ref": "Mail"}}]}},
                        {"Key": "both", "Value": {"Fn::If": ["Both", "b", "nb"]}},
                        {"Key": "either", "Value": {"Fn::If": ["Either", "e", "ne"]}}
                    ]
                }},
                "OnlyDev": {"Type": "AWS::SNS::Topic", "Condition": "NotProd", "Properties": {}}
            },
            "Outputs": {
                "Url": {"Value": {"Ref": "Queue"}},
                "Dev": {"Condition": "NotProd", "Value": {"Ref": "OnlyDev"}}
            }
        });
        if let (Some(r), Some(extra)) = (t["Resources"].as_object_mut(), extra.as_object()) {
            r.extend(extra.clone());
        }
        t
    }

    #[test]
    fn intrinsics_resolve_in_dependency_order() {
        let r = run(queue_and_topic(json!({})), &[("Mail", "shop.example")]).expect("resolves");
        let pos = |n: &str| r.order.iter().position(|x| x == n).expect(n);
        assert!(pos("Dlq") < pos("Queue") && pos("Queue") < pos("Topic"));
        assert!(
            !r.resources.contains_key("OnlyDev"),
            "a false condition creates nothing"
        );
        assert!(!r.outputs.contains_key("Dev"));
        let queue = &r.resources["Queue"];
        let dlq = &r.resources["Dlq"];
        assert_eq!(
            queue.properties["RedrivePolicy"]["deadLetterTargetArn"],
            json!(dlq.attributes["Arn"])
        );
        assert_eq!(queue.properties["VisibilityTimeout"], json!("10"));
        assert!(dlq.attributes["Arn"].starts_with("arn:aws:sqs:us-east-1:123456789012:st-Dlq-"));
        assert_eq!(r.outputs["Url"], queue.physical_id);
        let topic = &r.resources["Topic"].properties;
        assert_eq!(
            topic["DisplayName"],
            json!(format!(
                "st-prod {} ${{Literal}}",
                queue.attributes["QueueName"]
            ))
        );
        let tags = topic["Tags"].as_array().expect("tags");
        assert_eq!(tags.len(), 5, "the NoValue element is removed: {tags:?}");
        assert_eq!(tags[0]["Value"], json!("yes"));
        assert_eq!(tags[1]["Value"], json!("prod-b-z"));
        assert_eq!(tags[2]["Value"], json!("shop.example.amazonaws.com"));
        assert_eq!(tags[3]["Value"], json!("b"));
        assert_eq!(tags[4]["Value"], json!("ne"));
    }

    #[test]
    fn overrides_change_conditions_and_are_checked() {
        let r = run(
            queue_and_topic(json!({})),
            &[("Mail", "m"), ("Stage", "dev")],
        )
        .expect("resolves");
        assert!(r.resources.contains_key("OnlyDev"));
        assert_eq!(r.outputs["Dev"], r.resources["OnlyDev"].physical_id);
        let tags = r.resources["Topic"].properties["Tags"]
            .as_array()
            .expect("tags")
            .clone();
        assert_eq!(tags.len(), 6);
        assert_eq!(tags[5]["Value"], json!("e"));
        let err = run(
            queue_and_topic(json!({})),
            &[("Mail", "m"), ("Stage", "qa")],
        )
        .unwrap_err();
        assert!(
            err.0.contains("Stage") && err.0.contains("AllowedValues"),
            "{err}"
        );
        let err = run(queue_and_topic(json!({})), &[]).unwrap_err();
        assert!(err.0.contains("Mail"), "{err}");
        let err = run(queue_and_topic(json!({})), &[("Mail", "m"), ("Nope", "1")]).unwrap_err();
        assert!(err.0.contains("Nope"), "{err}");
    }

    #[test]
    fn unknown_references_attributes_and_types_are_named() {
        let cases = [
            (
                json!({"X": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Ref": "Ghost"}}}}),
                "Ghost",
            ),
            (
                json!({"X": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Fn::GetAtt": ["Queue", "Colour"]}}}}),
                "Colour",
            ),
            (
                json!({"X": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Fn::Sub": "${Phantom.Arn}"}}}}),
                "Phantom",
            ),
            (
                json!({"X": {"Type": "AWS::Made::Up", "Properties": {}}}),
                "AWS::Made::Up",
            ),
            (
                json!({"X": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Fn::Base64": "x"}}}}),
                "Fn::Base64",
            ),
            (
                json!({"X": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Ref": "OnlyDev"}}}}),
                "OnlyDev",
            ),
            (
                json!({"X": {"Type": "AWS::SNS::Topic", "DependsOn": "Y", "Properties": {}}, "Y": {"Type": "AWS::SNS::Topic", "DependsOn": "X", "Properties": {}}}),
                "cycle",
            ),
        ];
        for (extra, name) in cases {
            let err = run(queue_and_topic(extra.clone()), &[("Mail", "m")]).unwrap_err();
            assert!(err.0.contains(name), "{extra}: {err}");
        }
    }

    #[test]
    fn rules_refuse_parameters_their_assertions_reject() {
        let mut t = queue_and_topic(json!({}));
        t["Rules"] = json!({"DevNeedsMail": {
            "RuleCondition": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
            "Assertions": [{"Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Mail"}, "none"]}]}, "AssertDescription": "dev needs a mail"}]
        }});
        assert!(
            run(t.clone(), &[("Mail", "none")]).is_ok(),
            "the rule's condition is false"
        );
        let err = run(t, &[("Mail", "none"), ("Stage", "dev")]).unwrap_err();
        assert!(
            err.0.contains("DevNeedsMail") && err.0.contains("dev needs a mail"),
            "{err}"
        );
    }

    #[test]
    fn names_are_aws_shaped() {
        let api = Plan::name("st", "Api", "AWS::ApiGateway::RestApi", &json!({})).expect("named");
        assert_eq!(api.physical_id.len(), 10);
        assert!(
            api.physical_id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        let f = Plan::name("st", "Fn", "AWS::Lambda::Function", &json!({})).expect("named");
        assert_eq!(
            f.attributes["Arn"],
            format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                f.physical_id
            )
        );
        let b = Plan::name("St", "Site", "AWS::S3::Bucket", &json!({})).expect("named");
        assert_eq!(
            b.attributes["RegionalDomainName"],
            format!("{}.s3.us-east-1.amazonaws.com", b.physical_id)
        );
        assert_eq!(b.physical_id, b.physical_id.to_lowercase());
        let p = Plan::name("st", "Pool", "AWS::Cognito::UserPool", &json!({})).expect("named");
        assert_eq!(
            p.attributes["ProviderURL"],
            format!(
                "https://cognito-idp.us-east-1.amazonaws.com/{}",
                p.physical_id
            )
        );
    }
}
