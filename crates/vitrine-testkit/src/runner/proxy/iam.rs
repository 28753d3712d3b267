//! The functions' roles, read from the template, and IAM's evaluation of identity policies:
//! an explicit `Deny` wins, otherwise an `Allow` is needed
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>).
//! `Action`/`NotAction` match case-insensitively with `*` and `?`; `Resource`/`NotResource`
//! match ARNs case-sensitively with the same wildcards
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html>).
//! A statement's `Condition` is not evaluated: the statement applies as if it held, and the
//! condition is listed ([`Role::ignored_conditions`]).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::runner::{Resolved, RunnerError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A list of patterns, or the complement of one (`NotAction`, `NotResource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patterns {
    pub patterns: Vec<String>,
    pub negated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Where it comes from: `policy name[/Sid]`.
    pub origin: String,
    pub effect: Effect,
    pub actions: Patterns,
    pub resources: Patterns,
    pub condition: Option<Value>,
}

/// What IAM decides for one action on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by the statement named.
    Allow(String),
    /// Denied by the statement named.
    ExplicitDeny(String),
    /// No statement allows it.
    ImplicitDeny,
}

/// `*` any run of characters, `?` any one character.
pub fn glob(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if case_insensitive {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    // Iterative wildcard matching with one backtrack point.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

impl Patterns {
    fn matches(&self, value: &str, case_insensitive: bool) -> bool {
        let any = self
            .patterns
            .iter()
            .any(|p| glob(p, value, case_insensitive));
        any != self.negated
    }
}

fn strings(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{i} is not a string"))
            })
            .collect(),
        other => Err(format!("{other} is neither a string nor a list of strings")),
    }
}

fn patterns(statement: &Value, positive: &str, negative: &str) -> Result<Patterns, String> {
    match (statement.get(positive), statement.get(negative)) {
        (Some(v), None) => Ok(Patterns {
            patterns: strings(v).map_err(|e| format!("{positive}: {e}"))?,
            negated: false,
        }),
        (None, Some(v)) => Ok(Patterns {
            patterns: strings(v).map_err(|e| format!("{negative}: {e}"))?,
            negated: true,
        }),
        (Some(_), Some(_)) => Err(format!("a statement has both {positive} and {negative}")),
        (None, None) => Err(format!("a statement has neither {positive} nor {negative}")),
    }
}

/// The statements of a policy document (`Statement` an object or a list).
pub fn parse_document(name: &str, document: &Value) -> Result<Vec<Statement>, String> {
    let statements = match document.get("Statement") {
        Some(Value::Array(s)) => s.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return Err(format!("policy {name} has no Statement")),
    };
    statements
        .iter()
        .map(|s| {
            let origin = match s.get("Sid").and_then(Value::as_str) {
                Some(sid) => format!("{name}/{sid}"),
                None => name.to_owned(),
            };
            let effect = match s.get("Effect").and_then(Value::as_str) {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                other => {
                    return Err(format!(
                        "{origin}: Effect {other:?} is neither Allow nor Deny"
                    ));
                }
            };
            Ok(Statement {
                effect,
                actions: patterns(s, "Action", "NotAction")
                    .map_err(|e| format!("{origin}: {e}"))?,
                resources: patterns(s, "Resource", "NotResource")
                    .map_err(|e| format!("{origin}: {e}"))?,
                condition: s.get("Condition").cloned(),
                origin,
            })
        })
        .collect()
}

/// IAM's decision for `action` on `resource` under `statements`.
pub fn evaluate(statements: &[Statement], action: &str, resource: &str) -> Decision {
    let applies =
        |s: &&Statement| s.actions.matches(action, true) && s.resources.matches(resource, false);
    if let Some(deny) = statements
        .iter()
        .filter(|s| s.effect == Effect::Deny)
        .find(applies)
    {
        return Decision::ExplicitDeny(deny.origin.clone());
    }
    match statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
        .find(applies)
    {
        Some(allow) => Decision::Allow(allow.origin.clone()),
        None => Decision::ImplicitDeny,
    }
}

/// The statements of the AWS managed policies the template's functions use, from AWS's
/// managed policy reference
/// (<https://docs.aws.amazon.com/aws-managed-policy/latest/reference/policy-list.html>, one
/// page per policy). A role with another AWS managed policy makes the proxy fail to start,
/// naming it: add it here from that reference.
pub fn aws_managed_policy(arn: &str) -> Option<Value> {
    let name = arn.rsplit('/').next().unwrap_or(arn);
    let logs = [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ];
    let statement = |actions: &[&str], resource: &str| serde_json::json!({ "Effect": "Allow", "Action": actions, "Resource": resource });
    let statements = match name {
        "AWSLambdaBasicExecutionRole" => vec![statement(&logs, "*")],
        "AWSXrayWriteOnlyAccess" => vec![statement(
            &[
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "*",
        )],
        "AWSLambdaSQSQueueExecutionRole" => vec![statement(
            &[
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                logs[0],
                logs[1],
                logs[2],
            ],
            "*",
        )],
        "AWSLambdaDynamoDBExecutionRole" => vec![statement(
            &[
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
                logs[0],
                logs[1],
                logs[2],
            ],
            "*",
        )],
        "CloudWatchLambdaInsightsExecutionRolePolicy" => vec![
            statement(&["logs:CreateLogGroup"], "*"),
            statement(
                &["logs:CreateLogStream", "logs:PutLogEvents"],
                "arn:aws:logs:*:*:log-group:/aws/lambda-insights:*",
            ),
        ],
        _ => return None,
    };
    Some(serde_json::json!({ "Version": "2012-10-17", "Statement": statements }))
}

/// A function's role: its statements from every policy attached to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    /// The role's logical id.
    pub logical_id: String,
    /// The role's name (the last part of its ARN).
    pub name: String,
    pub statements: Vec<Statement>,
}

impl Role {
    /// The conditions the evaluation ignores (the statement applies as if each held).
    pub fn ignored_conditions(&self) -> Vec<String> {
        self.statements
            .iter()
            .filter_map(|s| s.condition.as_ref().map(|c| format!("{}: {c}", s.origin)))
            .collect()
    }
}

/// Each function's role (by the function's logical id), from the template's
/// `AWS::Lambda::Function.Role` → `AWS::IAM::Role` (inline `Policies`, `ManagedPolicyArns`),
/// and the `AWS::IAM::Policy` and `AWS::IAM::ManagedPolicy` resources attached to it.
pub fn function_roles(resolved: &Resolved) -> Result<BTreeMap<String, Role>, RunnerError> {
    let mut out = BTreeMap::new();
    for (function, resource) in resolved.of_kind("AWS::Lambda::Function") {
        let role_ref = resource
            .properties
            .get("Role")
            .and_then(Value::as_str)
            .ok_or_else(|| RunnerError(format!("function {function} has no Role")))?;
        let role_name_of_ref = role_ref.rsplit('/').next().unwrap_or(role_ref);
        let (role_id, role) = resolved
            .of_kind("AWS::IAM::Role")
            .find(|(id, r)| {
                r.attributes.get("Arn").map(String::as_str) == Some(role_ref)
                    || r.physical_id == role_ref
                    || r.physical_id == role_name_of_ref
                    || *id == role_ref
            })
            .ok_or_else(|| {
                RunnerError(format!(
                    "function {function}'s role {role_ref} is not an AWS::IAM::Role of the template"
                ))
            })?;
        let role_name = role
            .attributes
            .get("Arn")
            .and_then(|arn| arn.rsplit('/').next())
            .unwrap_or(&role.physical_id)
            .to_owned();
        let fail = |e: String| RunnerError(format!("role {role_id} (of {function}): {e}"));
        let mut statements = Vec::new();
        for policy in role
            .properties
            .get("Policies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = policy
                .get("PolicyName")
                .and_then(Value::as_str)
                .unwrap_or("inline");
            let document = policy
                .get("PolicyDocument")
                .ok_or_else(|| fail(format!("policy {name} has no PolicyDocument")))?;
            statements
                .extend(parse_document(&format!("{role_id}.{name}"), document).map_err(fail)?);
        }
        for arn in role
            .properties
            .get("ManagedPolicyArns")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let arn = arn
                .as_str()
                .ok_or_else(|| fail(format!("ManagedPolicyArns holds {arn}, not an ARN")))?;
            let own = resolved
                .of_kind("AWS::IAM::ManagedPolicy")
                .find(|(id, r)| r.physical_id == arn || *id == arn);
            let (name, document) = match own {
                Some((id, r)) => (
                    id.to_owned(),
                    r.properties.get("PolicyDocument").cloned().unwrap_or(Value::Null),
                ),
                None if arn.contains(":iam::aws:policy/") => (
                    arn.rsplit('/').next().unwrap_or(arn).to_owned(),
                    aws_managed_policy(arn).ok_or_else(|| {
                        fail(format!(
                            "the proxy does not know the AWS managed policy {arn}: add its statements to runner::proxy::iam::aws_managed_policy"
                        ))
                    })?,
                ),
                None => {
                    return Err(fail(format!(
                        "managed policy {arn} is neither an AWS managed policy nor an AWS::IAM::ManagedPolicy of the template"
                    )));
                }
            };
            statements.extend(parse_document(&name, &document).map_err(fail)?);
        }
        // Policies that name the role (AWS::IAM::Policy, AWS::IAM::ManagedPolicy with Roles).
        for kind in ["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"] {
            for (id, policy) in resolved.of_kind(kind) {
                let attached = policy
                    .properties
                    .get("Roles")
                    .and_then(Value::as_array)
                    .is_some_and(|roles| {
                        roles
                            .iter()
                            .filter_map(Value::as_str)
                            .any(|r| r == role.physical_id || r == role_name || r == role_id)
                    });
                if attached {
                    let document = policy
                        .properties
                        .get("PolicyDocument")
                        .cloned()
                        .unwrap_or(Value::Null);
                    statements.extend(parse_document(id, &document).map_err(fail)?);
                }
            }
        }
        out.insert(
            function.to_owned(),
            Role {
                logical_id: role_id.to_owned(),
                name: role_name,
                statements,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Resource;
    use serde_json::json;

    fn statements(doc: Value) -> Vec<Statement> {
        parse_document("p", &doc).unwrap()
    }

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/T";

    #[test]
    fn glob_matches_stars_and_question_marks() {
        assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y.xml", false));
        assert!(!glob("arn:aws:s3:::b/*", "arn:aws:s3:::b", false));
        assert!(glob("*", "", false));
        assert!(glob("a?c", "abc", false));
        assert!(!glob("a?c", "ac", false));
        assert!(glob("*:table/T*", TABLE, false));
        assert!(glob("a*b*c", "axxbyyc", false));
        assert!(!glob("a*b*c", "axxbyy", false));
        assert!(glob("DynamoDB:get*", "dynamodb:GetItem", true));
        assert!(!glob("DynamoDB:get*", "dynamodb:GetItem", false));
    }

    #[test]
    fn an_allow_is_needed_and_actions_match_without_case() {
        let s = statements(
            json!({"Statement": [{"Sid": "Read", "Effect": "Allow", "Action": ["DynamoDB:getitem", "dynamodb:Query"], "Resource": [TABLE, format!("{TABLE}/index/*")]}]}),
        );
        assert_eq!(
            evaluate(&s, "dynamodb:GetItem", TABLE),
            Decision::Allow("p/Read".into())
        );
        assert_eq!(
            evaluate(&s, "dynamodb:Query", &format!("{TABLE}/index/gsi1")),
            Decision::Allow("p/Read".into())
        );
        assert_eq!(
            evaluate(&s, "dynamodb:PutItem", TABLE),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(
                &s,
                "dynamodb:GetItem",
                "arn:aws:dynamodb:us-east-1:123456789012:table/Other"
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(&[], "dynamodb:GetItem", TABLE),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn an_explicit_deny_wins_over_any_allow() {
        let s = statements(json!({"Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Sid": "Keep", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "arn:aws:s3:::invoices/*"}
        ]}));
        assert_eq!(
            evaluate(&s, "s3:DeleteObject", "arn:aws:s3:::invoices/a"),
            Decision::ExplicitDeny("p/Keep".into())
        );
        assert_eq!(
            evaluate(&s, "s3:DeleteObject", "arn:aws:s3:::other/a"),
            Decision::Allow("p".into())
        );
        assert_eq!(
            evaluate(&s, "s3:GetObject", "arn:aws:s3:::invoices/a"),
            Decision::Allow("p".into())
        );
    }

    #[test]
    fn not_action_and_not_resource_match_everything_else() {
        let s = statements(
            json!({"Statement": {"Effect": "Allow", "NotAction": ["iam:*", "sts:*"], "Resource": "*"}}),
        );
        assert_eq!(
            evaluate(&s, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q"),
            Decision::Allow("p".into())
        );
        assert_eq!(evaluate(&s, "IAM:CreateUser", "*"), Decision::ImplicitDeny);
        // The template's text messages: any Publish that names no SNS ARN.
        let sms = statements(
            json!({"Statement": [{"Effect": "Allow", "Action": "sns:Publish", "NotResource": "arn:aws:sns:*:*:*"}]}),
        );
        assert_eq!(
            evaluate(&sms, "sns:Publish", "*"),
            Decision::Allow("p".into())
        );
        assert_eq!(
            evaluate(&sms, "sns:Publish", "arn:aws:sns:us-east-1:1:events"),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn bad_documents_are_refused_with_a_reason() {
        assert!(
            parse_document("p", &json!({}))
                .unwrap_err()
                .contains("no Statement")
        );
        let both = json!({"Statement": [{"Effect": "Allow", "Action": "a:b", "NotAction": "a:c", "Resource": "*"}]});
        assert!(
            parse_document("p", &both)
                .unwrap_err()
                .contains("both Action and NotAction")
        );
        let effect = json!({"Statement": [{"Effect": "Maybe", "Action": "a:b", "Resource": "*"}]});
        assert!(parse_document("p", &effect).unwrap_err().contains("Maybe"));
        let no_resource = json!({"Statement": [{"Effect": "Allow", "Action": "a:b"}]});
        assert!(
            parse_document("p", &no_resource)
                .unwrap_err()
                .contains("neither Resource nor NotResource")
        );
    }

    fn resource(kind: &str, properties: Value, physical_id: &str, arn: Option<&str>) -> Resource {
        Resource {
            kind: kind.into(),
            properties,
            physical_id: physical_id.into(),
            attributes: arn
                .map(|a| [("Arn".to_owned(), a.to_owned())].into())
                .unwrap_or_default(),
        }
    }

    fn template(managed: &str) -> Resolved {
        let role_arn = "arn:aws:iam::123456789012:role/stack-ApiFunctionRole-X1";
        let mut r = Resolved::default();
        r.resources.insert(
            "ApiFunction".into(),
            resource(
                "AWS::Lambda::Function",
                json!({"Role": role_arn}),
                "stack-ApiFunction-Y2",
                Some("arn:aws:lambda:us-east-1:123456789012:function:stack-ApiFunction-Y2"),
            ),
        );
        r.resources.insert(
            "ApiFunctionRole".into(),
            resource(
                "AWS::IAM::Role",
                json!({
                    "ManagedPolicyArns": [managed],
                    "Policies": [{"PolicyName": "ApiFunctionRolePolicy0", "PolicyDocument": {"Statement": [{"Sid": "Cond", "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}}]
                }),
                "stack-ApiFunctionRole-X1",
                Some(role_arn),
            ),
        );
        r.resources.insert(
            "ExtraPolicy".into(),
            resource(
                "AWS::IAM::Policy",
                json!({"PolicyName": "extra", "Roles": ["stack-ApiFunctionRole-X1"], "PolicyDocument": {"Statement": {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"}}}),
                "extra",
                None,
            ),
        );
        r
    }

    #[test]
    fn a_functions_role_gathers_inline_managed_and_attached_policies() {
        let roles = function_roles(&template(
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        ))
        .unwrap();
        let role = &roles["ApiFunction"];
        assert_eq!(
            (role.logical_id.as_str(), role.name.as_str()),
            ("ApiFunctionRole", "stack-ApiFunctionRole-X1")
        );
        assert_eq!(
            evaluate(&role.statements, "dynamodb:GetItem", TABLE),
            Decision::Allow("ApiFunctionRole.ApiFunctionRolePolicy0/Cond".into())
        );
        assert_eq!(
            evaluate(
                &role.statements,
                "logs:PutLogEvents",
                "arn:aws:logs:us-east-1:1:log-group:x"
            ),
            Decision::Allow("AWSLambdaBasicExecutionRole".into())
        );
        assert_eq!(
            evaluate(&role.statements, "dynamodb:DeleteItem", TABLE),
            Decision::ExplicitDeny("ExtraPolicy".into())
        );
        let conditions = role.ignored_conditions();
        assert_eq!(conditions.len(), 1);
        assert!(
            conditions[0].contains("aws:SecureTransport"),
            "{conditions:?}"
        );
    }

    #[test]
    fn an_unknown_managed_policy_or_role_is_named() {
        let err =
            function_roles(&template("arn:aws:iam::aws:policy/AdministratorAccess")).unwrap_err();
        assert!(err.0.contains("AdministratorAccess"), "{err}");
        let mut r = template("arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess");
        r.resources.remove("ApiFunctionRole");
        let err = function_roles(&r).unwrap_err();
        assert!(
            err.0.contains("ApiFunction") && err.0.contains("not an AWS::IAM::Role"),
            "{err}"
        );
    }
}
