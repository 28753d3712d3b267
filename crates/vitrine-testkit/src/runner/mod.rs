//! The template runner: `infra/template.yaml` run whole on one machine, on the AWS emulator.
//!
//! The runner takes the template as the SAM translator turns it into CloudFormation (the test
//! command installs the translator into `.venv/`), and then does what CloudFormation and the AWS
//! services would do with it:
//!
//! - [`template`]: parameters, conditions and intrinsic functions resolved, resources in
//!   dependency order ([`Resolved`]);
//! - [`resources`]: every resource the emulator holds created on it (table with indexes, TTL and
//!   stream; buckets; topics; queues with their redrive; subscriptions with filter policies; user
//!   pool, client and groups; secrets);
//! - [`functions`]: every function's built binary run under a local Lambda Runtime API with the
//!   environment the template gives it, counted per function and event source ([`Invoke`]);
//! - [`sources`]: the SQS mappings, the DynamoDB stream mapping and the schedules, driven the way
//!   Lambda drives them;
//! - [`proxy`]: the AWS endpoint the functions call: each call checked against the calling
//!   function's policies, Cognito's own mails sent through SES, and every request counted;
//! - [`apigw`], [`websocket`], [`cloudfront`]: the REST API (Cognito authorizer, binary media
//!   types, stage), the WebSocket API with its Management API, and the distribution (behaviours
//!   in order, the site bucket as origin, the CloudFront Function).
//!
//! The runner wires nothing the template does not declare: a missing resource, reference or
//! permission is an error that names it ([`RunnerError`]).

pub mod apigw;
pub mod cloudfront;
pub mod functions;
pub mod proxy;
pub mod resources;
pub mod run;
pub mod sources;
pub mod template;
pub mod websocket;

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use serde_json::Value;

/// The region and account the runner pretends to be (the emulator's defaults).
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// What made an invocation, for the invocation table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// The REST API (an `AWS_PROXY` integration).
    RestApi,
    /// The WebSocket API (`$connect`, `$disconnect`, `$default`).
    WebSocket,
    /// An SQS event source mapping.
    Sqs,
    /// The DynamoDB stream event source mapping.
    Stream,
    /// A schedule (an EventBridge rule).
    Schedule,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::RestApi => "REST API",
            Source::WebSocket => "WebSocket API",
            Source::Sqs => "SQS",
            Source::Stream => "DynamoDB stream",
            Source::Schedule => "schedule",
        })
    }
}

/// Why an invocation did not return a result.
#[derive(Debug, Clone, PartialEq)]
pub enum InvokeError {
    /// The function reported an error (`/invocation/{id}/error`), or its init failed.
    Function { error_type: String, message: String },
    /// The function did not answer within its `Timeout`; its process was killed and replaced.
    Timeout,
    /// The process running the invocation died before answering; it was replaced.
    Crashed(String),
    /// No function of the template has this logical id, name or ARN.
    Unknown(String),
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeError::Function {
                error_type,
                message,
            } => write!(f, "the function failed: {error_type}: {message}"),
            InvokeError::Timeout => f.write_str("the function timed out"),
            InvokeError::Crashed(why) => write!(f, "the function's process died: {why}"),
            InvokeError::Unknown(name) => write!(f, "the template declares no function {name}"),
        }
    }
}

impl std::error::Error for InvokeError {}

/// Invokes a function of the template, as its event source does, and waits for its result.
#[async_trait]
pub trait Invoke: Send + Sync {
    /// `function` is the logical id (`ApiFunction`), the physical name, or the ARN (as an API
    /// integration names it).
    async fn invoke(
        &self,
        function: &str,
        source: Source,
        event: Value,
    ) -> Result<Value, InvokeError>;
}

/// The template after resolution: each resource with its properties' intrinsics replaced by
/// values, and what `Ref` and `Fn::GetAtt` give for it.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub stack_name: String,
    /// The emulator's base URL (`http://127.0.0.1:PORT`).
    pub emulator: String,
    /// By logical id, in the order they were created (dependencies first).
    pub resources: BTreeMap<String, Resource>,
    pub order: Vec<String>,
    /// The template's `Outputs`, resolved.
    pub outputs: BTreeMap<String, String>,
    /// The parameters' values (defaults and `--parameter` overrides; lists joined by commas).
    pub parameters: BTreeMap<String, String>,
    /// Each function's built binary: `AWS::Lambda::Function` logical id → `<bin>` of its
    /// `CodeUri` (`../target/lambda/<bin>/`).
    pub binaries: BTreeMap<String, String>,
}

/// One resource of the resolved template.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// `AWS::SQS::Queue`, ...
    pub kind: String,
    /// The properties with every intrinsic resolved (a `Fn::If` branch not taken and
    /// `AWS::NoValue` removed).
    pub properties: Value,
    /// What `Ref` gives (a queue's URL, a table's name, a user pool's id, ...).
    pub physical_id: String,
    /// What `Fn::GetAtt` gives, by attribute name (`Arn`, `StreamArn`, `QueueName`, ...).
    pub attributes: BTreeMap<String, String>,
}

impl Resolved {
    /// The resources of one type, by logical id.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Resource)> {
        self.resources
            .iter()
            .filter(move |(_, r)| r.kind == kind)
            .map(|(id, r)| (id.as_str(), r))
    }

    /// The logical id of the function `reference` names: its logical id, physical name, ARN
    /// (with or without a qualifier), or an API integration URI
    /// (`arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations`).
    pub fn function(&self, reference: &str) -> Option<&str> {
        let reference = reference
            .split_once(":lambda:path/2015-03-31/functions/")
            .map(|(_, rest)| rest.trim_end_matches("/invocations"))
            .unwrap_or(reference);
        let unqualified = match reference.strip_prefix("arn:") {
            Some(_) => {
                let parts: Vec<&str> = reference.split(':').collect();
                parts.get(6).copied().unwrap_or(reference)
            }
            None => reference,
        };
        self.of_kind("AWS::Lambda::Function")
            .find(|(id, r)| *id == unqualified || r.physical_id == unqualified)
            .map(|(id, _)| id)
    }
}

/// A fault of the template (or of the runner's reading of it), naming what is missing.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerError(pub String);

impl fmt::Display for RunnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunnerError {}
