//! The CloudFormation template (`infra/template.yaml`) against this crate, in `cargo test`:
//!
//! - the drift check: the template's functions (`CodeUri: ../target/lambda/<bin>/`) are exactly
//!   this crate's binaries, minus [`NOT_DEPLOYED`];
//! - what cfn-lint does not check (it misses bad values of these enums): every function's
//!   `Runtime` is `provided.al2023`, `Architectures` is arm64 or x86_64, stream event sources'
//!   `StartingPosition` and API Gateway v2 `ProtocolType` are valid values;
//! - the event subscriptions: the template subscribes to `EventsTopic` exactly the subscribers
//!   of `vitrine_app::events::subscriptions`, each with the code's filter policy and scope, into
//!   its own queue with a dead-letter queue (see `subscription_errors`);
//! - the WebSocket API: its routes are exactly those the `ws` binary serves, each an AWS_PROXY
//!   integration invoking `WsFunction`, which API Gateway may invoke (see `websocket_errors`).
//! - the business settings: every function gets each variable of `vitrine_app::settings::ALL`
//!   (Globals) from a parameter whose default is the code's default (see `settings_errors`).
//!
//! `scripts/check-infra.sh` checks the same rules on the parsed YAML (and runs cfn-lint and the
//! SAM transform); this test needs no Python and keeps the suite from passing with a binary the
//! template forgot. It reads the template as text, one `Key: value` per line as the template is
//! written (block style, flow maps allowed on one line), which is all these rules need.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use vitrine_app::Settings;
use vitrine_app::events::subscriptions;
use vitrine_app::settings as names;
use vitrine_filter_policy::FilterScope;

/// Binaries of this crate that are not Lambda functions (benchmark baselines, local tools), each
/// with the reason. Keep in step with `NOT_DEPLOYED` in `scripts/check-infra.sh`. Empty today.
const NOT_DEPLOYED: &[(&str, &str)] = &[];

const RUNTIME: &str = "provided.al2023";
const ARCHITECTURES: &[&str] = &["arm64", "x86_64"];
const STARTING_POSITIONS: &[&str] = &["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"];
/// DynamoDB streams cannot start at a timestamp.
const DYNAMODB_STARTING_POSITIONS: &[&str] = &["TRIM_HORIZON", "LATEST"];
const PROTOCOL_TYPES: &[&str] = &["HTTP", "WEBSOCKET"];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn template_path() -> PathBuf {
    crate_dir().join("../../infra/template.yaml")
}

/// One line of the template: its indentation and its text without the comment.
#[derive(Debug, Clone)]
struct Line {
    indent: usize,
    text: String,
}

/// The text of a line without a trailing `# comment` (a `#` outside quotes, after a blank).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

fn lines(text: &str) -> Vec<Line> {
    text.lines()
        .map(strip_comment)
        .filter(|l| !l.trim().is_empty())
        .map(|l| Line {
            indent: l.len() - l.trim_start().len(),
            text: l.trim().to_owned(),
        })
        .collect()
}

/// A mapping entry `Name:` at `indent` and the lines under it.
#[derive(Debug, Clone)]
struct Block {
    name: String,
    lines: Vec<Line>,
}

/// The entries of the mapping at `indent` among `lines`.
fn blocks(lines: &[Line], indent: usize) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    for line in lines {
        if line.indent == indent {
            let name = line
                .text
                .split(':')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
            out.push(Block {
                name,
                lines: vec![line.clone()],
            });
        } else if line.indent > indent
            && let Some(last) = out.last_mut()
        {
            last.lines.push(line.clone());
        }
    }
    out
}

fn section<'a>(top: &'a [Block], name: &str) -> Option<&'a Block> {
    top.iter().find(|b| b.name == name)
}

fn unquote(v: &str) -> &str {
    v.trim().trim_matches('"').trim_matches('\'')
}

/// Every value of `key` in `lines` (`key: value`, also inside a one-line flow map), in order.
fn values_of(lines: &[Line], key: &str) -> Vec<String> {
    let needle = format!("{key}:");
    let mut out = Vec::new();
    for line in lines {
        let mut rest = line.text.as_str();
        while let Some(at) = rest.find(&needle) {
            let before = rest[..at].chars().last();
            let after = &rest[at + needle.len()..];
            if before.is_none_or(|c| !c.is_alphanumeric()) {
                let end = after.find([',', '}']).unwrap_or(after.len());
                out.push(unquote(&after[..end]).to_owned());
            }
            rest = after;
        }
    }
    out
}

/// A list value: `key: [a, b]` on one line, or `key:` followed by `- a` lines.
fn list_of(lines: &[Line], key: &str) -> Option<Vec<String>> {
    let prefix = format!("{key}:");
    let at = lines.iter().position(|l| l.text.starts_with(&prefix))?;
    let inline = lines[at].text[prefix.len()..].trim();
    if let Some(flow) = inline.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        return Some(flow.split(',').map(|s| unquote(s).to_owned()).collect());
    }
    if !inline.is_empty() {
        return Some(vec![unquote(inline).to_owned()]);
    }
    let indent = lines[at].indent;
    Some(
        lines[at + 1..]
            .iter()
            .take_while(|l| l.indent > indent || (l.indent == indent && l.text.starts_with("- ")))
            .filter_map(|l| l.text.strip_prefix("- ").map(|v| unquote(v).to_owned()))
            .collect(),
    )
}

fn resource_type(resource: &Block) -> Option<String> {
    let indent = resource.lines.first()?.indent + 2;
    resource
        .lines
        .iter()
        .find(|l| l.indent == indent && l.text.starts_with("Type:"))
        .map(|l| unquote(&l.text["Type:".len()..]).to_owned())
}

/// The binaries of this crate: `[[bin]]` names, `src/bin/*.rs`, `src/bin/*/main.rs`.
fn crate_binaries(dir: &Path) -> BTreeSet<String> {
    let mut bins = BTreeSet::new();
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("reading Cargo.toml");
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin
            && let Some(v) = line.strip_prefix("name").map(str::trim_start)
            && let Some(v) = v.strip_prefix('=')
        {
            bins.insert(unquote(v).to_owned());
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir.join("src/bin")) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "rs") {
                bins.insert(path.file_stem().unwrap().to_string_lossy().into_owned());
            } else if path.join("main.rs").is_file() {
                bins.insert(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    if dir.join("src/main.rs").is_file() {
        bins.insert("vitrine-lambda".to_owned());
    }
    bins
}

/// Every broken rule of `template` against the binaries `bins`.
fn check(template: &str, bins: &BTreeSet<String>) -> Vec<String> {
    let mut errors = Vec::new();
    let all = lines(template);
    let top = blocks(&all, 0);
    let params = section(&top, "Parameters")
        .map(|s| blocks(&s.lines[1..], 2))
        .unwrap_or_default();
    let globals = section(&top, "Globals")
        .map(|s| blocks(&s.lines[1..], 2))
        .unwrap_or_default();
    let function_globals: Vec<Line> = globals
        .iter()
        .find(|b| b.name == "Function")
        .map(|b| b.lines[1..].to_vec())
        .unwrap_or_default();
    let resources = section(&top, "Resources")
        .map(|s| blocks(&s.lines[1..], 2))
        .unwrap_or_default();

    let check_architecture = |owner: &str, value: &str, errors: &mut Vec<String>| {
        if let Some(param) = value.strip_prefix("!Ref ") {
            let Some(p) = params.iter().find(|p| p.name == param.trim()) else {
                errors.push(format!(
                    "{owner}: Architectures refers to {param}, which is not a parameter"
                ));
                return;
            };
            match list_of(&p.lines[1..], "AllowedValues") {
                None => errors.push(format!(
                    "{owner}: parameter {param} needs AllowedValues within {ARCHITECTURES:?}"
                )),
                Some(allowed) => {
                    for a in allowed
                        .iter()
                        .filter(|a| !ARCHITECTURES.contains(&a.as_str()))
                    {
                        errors.push(format!(
                            "{owner}: parameter {param} allows {a:?}, not one of {ARCHITECTURES:?}"
                        ));
                    }
                }
            }
            for d in values_of(&p.lines[1..], "Default") {
                if !ARCHITECTURES.contains(&d.as_str()) {
                    errors.push(format!(
                        "{owner}: parameter {param} defaults to {d:?}, not one of {ARCHITECTURES:?}"
                    ));
                }
            }
        } else if !ARCHITECTURES.contains(&value) {
            errors.push(format!(
                "{owner}: Architectures value {value:?} is not one of {ARCHITECTURES:?}"
            ));
        }
    };

    let mut deployed: BTreeMap<String, String> = BTreeMap::new();
    for resource in &resources {
        let name = &resource.name;
        let body = &resource.lines[1..];
        match resource_type(resource).as_deref() {
            Some("AWS::Lambda::Function") => errors.push(format!(
                "{name}: declare functions as AWS::Serverless::Function with CodeUri ../target/lambda/<bin>/"
            )),
            Some("AWS::Serverless::Function") => {
                let own_or_global = |key: &str| {
                    let own = values_of(body, key);
                    if own.is_empty() { values_of(&function_globals, key) } else { own }
                };
                let runtimes = own_or_global("Runtime");
                if runtimes.len() != 1 || runtimes[0] != RUNTIME {
                    errors.push(format!("{name}: Runtime is {runtimes:?}; every function runs on {RUNTIME}"));
                }
                let archs = list_of(body, "Architectures").or_else(|| list_of(&function_globals, "Architectures"));
                match archs.as_deref() {
                    Some([one]) => check_architecture(name, one, &mut errors),
                    other => errors.push(format!("{name}: Architectures must be exactly one value, is {other:?}")),
                }
                // A StartingPosition belongs to the event whose `Type:` came last before it.
                let mut event_type = String::new();
                for line in body {
                    if let Some(t) = line.text.strip_prefix("Type:") {
                        event_type = unquote(t).to_owned();
                    }
                    for position in values_of(std::slice::from_ref(line), "StartingPosition") {
                        let allowed = if event_type == "DynamoDB" { DYNAMODB_STARTING_POSITIONS } else { STARTING_POSITIONS };
                        if !allowed.contains(&position.as_str()) {
                            errors.push(format!(
                                "{name}: StartingPosition {position:?} of a {event_type} event is not one of {allowed:?}"
                            ));
                        }
                    }
                }
                let uris = own_or_global("CodeUri");
                let bin = uris.first().and_then(|u| {
                    u.trim_start_matches("../").strip_prefix("target/lambda/").map(|b| b.trim_end_matches('/').to_owned())
                });
                match bin {
                    Some(bin) if !bin.is_empty() && !bin.contains('/') => {
                        if let Some(other) = deployed.insert(bin.clone(), name.clone()) {
                            errors.push(format!("binary {bin} is deployed by both {other} and {name}"));
                        }
                    }
                    _ => errors.push(format!("{name}: CodeUri {uris:?} is not a cargo-lambda output ../target/lambda/<bin>/")),
                }
            }
            Some("AWS::Lambda::EventSourceMapping") => {
                for position in values_of(body, "StartingPosition") {
                    if !STARTING_POSITIONS.contains(&position.as_str()) {
                        errors.push(format!("{name}: StartingPosition {position:?} is not one of {STARTING_POSITIONS:?}"));
                    }
                }
            }
            Some("AWS::ApiGatewayV2::Api") => {
                for protocol in values_of(body, "ProtocolType") {
                    if !PROTOCOL_TYPES.contains(&protocol.as_str()) {
                        errors.push(format!("{name}: ProtocolType {protocol:?} is not one of {PROTOCOL_TYPES:?}"));
                    }
                }
            }
            _ => {}
        }
    }
    if deployed.is_empty() {
        errors.push("no AWS::Serverless::Function found in the template".to_owned());
    }

    let not_deployed: BTreeSet<String> =
        NOT_DEPLOYED.iter().map(|(b, _)| (*b).to_owned()).collect();
    for bin in deployed.keys().filter(|b| !bins.contains(*b)) {
        errors.push(format!(
            "drift: {} deploys ../target/lambda/{bin}/ but crates/vitrine-lambda has no binary {bin}",
            deployed[bin]
        ));
    }
    for bin in bins
        .iter()
        .filter(|b| !deployed.contains_key(*b) && !not_deployed.contains(*b))
    {
        errors.push(format!(
            "drift: binary {bin} has no AWS::Serverless::Function with CodeUri ../target/lambda/{bin}/ in infra/template.yaml \
             (deploy it, or list it in NOT_DEPLOYED here and in scripts/check-infra.sh with the reason)"
        ));
    }
    for bin in not_deployed.iter().filter(|b| deployed.contains_key(*b)) {
        errors.push(format!(
            "binary {bin} is in NOT_DEPLOYED but the template deploys it"
        ));
    }
    errors
}

fn template() -> String {
    std::fs::read_to_string(template_path()).expect("reading infra/template.yaml")
}

#[test]
fn the_template_deploys_exactly_the_binaries_of_this_crate_on_valid_settings() {
    let errors = check(&template(), &crate_binaries(&crate_dir()));
    assert!(
        errors.is_empty(),
        "infra/template.yaml:\n  {}",
        errors.join("\n  ")
    );
}

#[test]
fn the_api_binary_is_deployed() {
    assert!(crate_binaries(&crate_dir()).contains("api"));
    assert!(template().contains("CodeUri: ../target/lambda/api/"));
}

/// The checks catch what they are for: each broken copy of the template fails with its message.
#[test]
fn each_rule_catches_a_broken_template() {
    let good = template();
    let bins = crate_binaries(&crate_dir());
    let event = |kind: &str, position: &str| {
        format!(
            "      Events:\n        Changes:\n          Type: {kind}\n          Properties:\n            \
             Stream: !GetAtt DataTable.StreamArn\n            StartingPosition: {position}\n"
        )
    };
    let with_function = |extra: &str| {
        good.replacen(
            "  ApiFunctionLogGroup:\n",
            &format!(
                "  Extra:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
                 CodeUri: ../target/lambda/api/\n{extra}  ApiFunctionLogGroup:\n"
            ),
            1,
        )
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "runtime in Globals",
            good.replacen("Runtime: provided.al2023", "Runtime: provided.al2", 1),
            "Runtime",
        ),
        (
            "architecture parameter",
            good.replacen(
                "AllowedValues: [arm64, x86_64]",
                "AllowedValues: [arm64, x86_64, arm]",
                1,
            ),
            "allows \"arm\"",
        ),
        (
            "literal architecture",
            good.replacen(
                "Architectures: [!Ref Architecture]",
                "Architectures: [aarch64]",
                1,
            ),
            "aarch64",
        ),
        (
            "two architectures",
            good.replacen(
                "Architectures: [!Ref Architecture]",
                "Architectures: [arm64, x86_64]",
                1,
            ),
            "exactly one",
        ),
        (
            "DynamoDB stream at a timestamp",
            with_function(&event("DynamoDB", "AT_TIMESTAMP")),
            "AT_TIMESTAMP",
        ),
        (
            "misspelt starting position",
            with_function(&event("Kinesis", "OLDEST")),
            "OLDEST",
        ),
        (
            "websocket protocol",
            good.replacen(
                "  AlarmTopic:\n",
                "  Ws:\n    Type: AWS::ApiGatewayV2::Api\n    Properties:\n      Name: ws\n      \
                 ProtocolType: WEBSOCKETS\n  AlarmTopic:\n",
                1,
            ),
            "WEBSOCKETS",
        ),
        (
            "a function without a binary",
            good.replacen(
                "CodeUri: ../target/lambda/api/",
                "CodeUri: ../target/lambda/ghost/",
                1,
            ),
            "no binary ghost",
        ),
        (
            "one binary, two functions",
            with_function(""),
            "deployed by both",
        ),
        (
            "plain Lambda function",
            good.replacen(
                "Type: AWS::Serverless::Function",
                "Type: AWS::Lambda::Function",
                1,
            ),
            "AWS::Serverless::Function",
        ),
    ];
    for (what, broken, expected) in cases {
        assert_ne!(broken, good, "{what}: the mutation did not apply");
        let errors = check(&broken, &bins);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{what}: wanted an error with {expected:?}, got {errors:?}"
        );
    }
    let mut more = bins.clone();
    more.insert("dispatcher".to_owned());
    let errors = check(&good, &more);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("binary dispatcher has no AWS::Serverless::Function")),
        "a binary without a function: {errors:?}"
    );
}

#[test]
fn comments_and_quotes_are_read_as_yaml_reads_them() {
    assert_eq!(
        strip_comment("Runtime: provided.al2023 # the runtime"),
        "Runtime: provided.al2023 "
    );
    assert_eq!(strip_comment("Value: \"a # b\""), "Value: \"a # b\"");
    assert_eq!(strip_comment("Sub: \"${A}#x\""), "Sub: \"${A}#x\"");
    let l = lines("x:\n  Auth: { Authorizer: A, StartingPosition: LATEST }\n");
    assert_eq!(values_of(&l, "StartingPosition"), vec!["LATEST"]);
    assert_eq!(values_of(&l, "Position"), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// The event subscriptions: the template against `vitrine_app::events::subscriptions`.
//
// For each subscriber `name` of the code (PascalCase `S`: `admin-alerts` → `AdminAlerts`), the
// template must have `SSubscription` on `EventsTopic` (an AWS::SNS::Topic) delivering to
// `SQueue` (protocol sqs, raw delivery off) with the code's scope and, once its `${Parameter}`s
// are replaced by their values, the code's filter policy; `SQueue` must send what fails to
// `SDeadLetterQueue`, and `SQueuePolicy` must let `EventsTopic` send to `SQueue`. No other
// subscription may be made to `EventsTopic`. The filter policies are written as JSON text (a
// folded block scalar, `!Sub` where a parameter goes in), which these line-based helpers read.

/// The PascalCase form of a subscriber's name, the prefix of its resources' logical ids.
fn logical_prefix(name: &str) -> String {
    name.split(['-', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect()
}

/// A property of a resource (a key directly under its `Properties:`): the text after `key:`
/// and the lines under it.
fn property<'a>(resource: &'a Block, key: &str) -> Option<(String, &'a [Line])> {
    let base = resource.lines.first()?.indent;
    let body = &resource.lines[1..];
    let start = body
        .iter()
        .position(|l| l.indent == base + 2 && l.text == "Properties:")?;
    let props: Vec<usize> = (start + 1..body.len())
        .take_while(|&i| body[i].indent > base + 2)
        .collect();
    let prefix = format!("{key}:");
    let at = props.into_iter().find(|&i| {
        body[i].indent == base + 4
            && body[i].text.starts_with(&prefix)
            && body[i].text[prefix.len()..]
                .chars()
                .next()
                .is_none_or(char::is_whitespace)
    })?;
    let under = body[at + 1..]
        .iter()
        .take_while(|l| l.indent > body[at].indent)
        .count();
    Some((
        body[at].text[prefix.len()..].trim().to_owned(),
        &body[at + 1..at + 1 + under],
    ))
}

/// A property's one-line value, unquoted.
fn scalar(resource: &Block, key: &str) -> Option<String> {
    property(resource, key).map(|(inline, _)| unquote(&inline).to_owned())
}

/// A text property: a block scalar (`>-`, `>`, `|`, `|-`) or a single-quoted line, with
/// whether it is a `!Sub`.
fn text_property(resource: &Block, key: &str) -> Result<(String, bool), String> {
    let (inline, under) = property(resource, key).ok_or_else(|| format!("has no {key}"))?;
    let (inline, sub) = match inline.strip_prefix("!Sub ") {
        Some(rest) => (rest.trim().to_owned(), true),
        None => (inline, false),
    };
    let text = match inline.as_str() {
        ">" | ">-" => under
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        "|" | "|-" => under
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        quoted if quoted.len() >= 2 && quoted.starts_with('\'') && quoted.ends_with('\'') => {
            quoted[1..quoted.len() - 1].replace("''", "'")
        }
        other => {
            return Err(format!(
                "{key} {other:?} is not JSON text (write it as a `>-` block scalar, with !Sub \
                 where a parameter goes in)"
            ));
        }
    };
    Ok((text, sub))
}

/// `Fn::Sub` of `text` with these parameter values: `${Name}` is replaced, `${!Name}` becomes
/// `${Name}`.
fn substitute(text: &str, values: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
        let name = &after[..end];
        match name.strip_prefix('!') {
            Some(literal) => {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            }
            None => out.push_str(
                values
                    .get(name)
                    .ok_or_else(|| format!("${{{name}}} is not a parameter with a value"))?,
            ),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn scope_name(scope: FilterScope) -> &'static str {
    match scope {
        FilterScope::MessageAttributes => "MessageAttributes",
        FilterScope::MessageBody => "MessageBody",
    }
}

/// The template's parameter defaults.
fn parameter_defaults(template: &str) -> BTreeMap<String, String> {
    let all = lines(template);
    let top = blocks(&all, 0);
    section(&top, "Parameters")
        .map(|s| blocks(&s.lines[1..], 2))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let default = values_of(&p.lines[1..], "Default").into_iter().next()?;
            Some((p.name, default))
        })
        .collect()
}

const EVENTS_TOPIC: &str = "EventsTopic";
const LARGE_ORDER_PARAMETER: &str = "LargeOrderCentavos";

/// Every way the template's event subscriptions differ from the code's, with the template's
/// parameters at `values` and the code's settings at `settings`.
fn subscription_errors(
    template: &str,
    values: &BTreeMap<String, String>,
    settings: &Settings,
) -> Vec<String> {
    let mut errors = Vec::new();
    let all = lines(template);
    let top = blocks(&all, 0);
    let resources = section(&top, "Resources")
        .map(|s| blocks(&s.lines[1..], 2))
        .unwrap_or_default();
    let find = |name: &str| resources.iter().find(|r| r.name == name);
    let of_type = |name: &str, kind: &str| -> Result<&Block, String> {
        match find(name) {
            None => Err(format!("{name}: missing (a {kind})")),
            Some(r) if resource_type(r).as_deref() == Some(kind) => Ok(r),
            Some(r) => Err(format!("{name}: is a {:?}, not a {kind}", resource_type(r))),
        }
    };
    if let Err(e) = of_type(EVENTS_TOPIC, "AWS::SNS::Topic") {
        errors.push(e);
    }
    let topic_ref = format!("!Ref {EVENTS_TOPIC}");

    let code = subscriptions(settings);
    let mut expected_ids = BTreeSet::new();
    for subscription in &code {
        let prefix = logical_prefix(subscription.name);
        let id = format!("{prefix}Subscription");
        let queue = format!("{prefix}Queue");
        let dead_letters = format!("{prefix}DeadLetterQueue");
        let queue_policy = format!("{prefix}QueuePolicy");
        expected_ids.insert(id.clone());
        let at = |what: String| format!("{id} (the `{}` subscriber): {what}", subscription.name);

        match of_type(&id, "AWS::SNS::Subscription") {
            Err(e) => errors.push(at(e)),
            Ok(resource) => {
                let expect = |key: &str, wanted: &str, errors: &mut Vec<String>| {
                    let found = scalar(resource, key);
                    if found.as_deref() != Some(wanted) {
                        errors.push(at(format!("{key} is {found:?}, wanted {wanted:?}")));
                    }
                };
                expect("TopicArn", &topic_ref, &mut errors);
                expect("Protocol", "sqs", &mut errors);
                expect("Endpoint", &format!("!GetAtt {queue}.Arn"), &mut errors);
                expect("RawMessageDelivery", "false", &mut errors);
                expect(
                    "FilterPolicyScope",
                    scope_name(subscription.scope),
                    &mut errors,
                );
                let policy = text_property(resource, "FilterPolicy").and_then(|(text, sub)| {
                    let text = if sub {
                        substitute(&text, values)?
                    } else {
                        text
                    };
                    serde_json::from_str::<serde_json::Value>(&text)
                        .map_err(|e| format!("FilterPolicy is not JSON ({e}): {text}"))
                });
                match policy {
                    Err(e) => errors.push(at(e)),
                    Ok(policy) if policy != subscription.policy => errors.push(at(format!(
                        "FilterPolicy is {policy}, the code's is {}",
                        subscription.policy
                    ))),
                    Ok(_) => {}
                }
            }
        }
        match of_type(&queue, "AWS::SQS::Queue") {
            Err(e) => errors.push(at(e)),
            Ok(resource) => {
                let target = property(resource, "RedrivePolicy")
                    .map(|(_, under)| values_of(under, "deadLetterTargetArn"))
                    .unwrap_or_default();
                if target != [format!("!GetAtt {dead_letters}.Arn")] {
                    errors.push(at(format!(
                        "{queue}'s RedrivePolicy sends to {target:?}, not !GetAtt {dead_letters}.Arn"
                    )));
                }
            }
        }
        if let Err(e) = of_type(&dead_letters, "AWS::SQS::Queue") {
            errors.push(at(e));
        }
        match of_type(&queue_policy, "AWS::SQS::QueuePolicy") {
            Err(e) => errors.push(at(e)),
            Ok(resource) => {
                let queues = list_of(&resource.lines[1..], "Queues").unwrap_or_default();
                if queues != [format!("!Ref {queue}")] {
                    errors.push(at(format!(
                        "{queue_policy} applies to {queues:?}, not [!Ref {queue}]"
                    )));
                }
                let sources = values_of(&resource.lines[1..], "aws:SourceArn");
                if sources != [topic_ref.clone()] {
                    errors.push(at(format!(
                        "{queue_policy} lets {sources:?} send, not only {topic_ref}"
                    )));
                }
            }
        }
    }

    // Nothing else subscribes to the topic.
    for resource in &resources {
        let body = &resource.lines[1..];
        let on_topic = |key: &str| {
            values_of(body, key)
                .iter()
                .any(|v| v.split([' ', '.', ',']).any(|w| w == EVENTS_TOPIC))
        };
        match resource_type(resource).as_deref() {
            Some("AWS::SNS::Subscription")
                if on_topic("TopicArn") && !expected_ids.contains(&resource.name) =>
            {
                errors.push(format!(
                    "{}: subscribes to {EVENTS_TOPIC}, but vitrine_app::events::subscriptions has no \
                     such subscriber (expected only {expected_ids:?})",
                    resource.name
                ));
            }
            Some("AWS::Serverless::Function") if on_topic("Topic") => errors.push(format!(
                "{}: an SNS event on {EVENTS_TOPIC} is a subscription the code does not declare; \
                 subscribe a queue instead",
                resource.name
            )),
            _ => {}
        }
    }
    errors
}

/// The parameter values to check the template with: the defaults, or the defaults with the
/// large-order threshold set to `threshold`.
fn values_with(template: &str, threshold: Option<i64>) -> BTreeMap<String, String> {
    let mut values = parameter_defaults(template);
    if let Some(threshold) = threshold {
        values.insert(LARGE_ORDER_PARAMETER.to_owned(), threshold.to_string());
    }
    values
}

/// The subscription errors of `template` at its parameter defaults, and with another
/// large-order threshold (which must reach the filter policy as that number: it comes from the
/// parameter, not from a number written into the policy).
fn all_subscription_errors(template: &str) -> Vec<String> {
    let mut errors =
        subscription_errors(template, &values_with(template, None), &Settings::default());
    let other = 12_345;
    let settings = Settings {
        large_order_centavos: other,
        ..Settings::default()
    };
    for e in subscription_errors(template, &values_with(template, Some(other)), &settings) {
        errors.push(format!("with {LARGE_ORDER_PARAMETER}={other}: {e}"));
    }
    errors
}

#[test]
fn the_template_subscribes_exactly_the_code_subscriptions_with_the_same_filter_policies() {
    let template = template();
    let defaults = parameter_defaults(&template);
    let threshold = defaults
        .get(LARGE_ORDER_PARAMETER)
        .unwrap_or_else(|| panic!("infra/template.yaml has no parameter {LARGE_ORDER_PARAMETER}"));
    assert_eq!(
        threshold.parse::<i64>().ok(),
        Some(Settings::default().large_order_centavos),
        "{LARGE_ORDER_PARAMETER}'s default is the code's default large_order_centavos"
    );
    let errors = all_subscription_errors(&template);
    assert!(
        errors.is_empty(),
        "infra/template.yaml against vitrine_app::events::subscriptions:\n  {}",
        errors.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// The business settings

/// The whole value of the first `key: value` line of `lines` (commas included), unquoted.
fn line_value(lines: &[Line], key: &str) -> Option<String> {
    let prefix = format!("{key}:");
    lines
        .iter()
        .find_map(|l| l.text.strip_prefix(&prefix))
        .map(|v| unquote(v).to_owned())
}

/// What the parameter behind each business setting defaults to when the code's default is the
/// same value: the default as the variable would carry it ("" for none).
fn code_default(var: &str) -> String {
    let d = Settings::default();
    let rates = || {
        d.installments
            .monthly_rate_bp
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    match var {
        v if v == names::PAY_WITHIN_MINUTES.var => (d.pay_within_secs / 60).to_string(),
        v if v == names::LOW_STOCK_THRESHOLD.var => d.low_stock_threshold.to_string(),
        v if v == names::LARGE_ORDER_CENTAVOS.var => d.large_order_centavos.to_string(),
        v if v == names::CATALOG_CACHE_SECS.var => d.catalog_cache_secs.to_string(),
        v if v == names::MAX_UNPAID_ORDERS.var => d.unpaid_cap.orders.to_string(),
        v if v == names::MAX_UNPAID_UNITS.var => d.unpaid_cap.units.to_string(),
        v if v == names::REALTIME_RESUME_HOURS.var => (d.realtime_resume_secs / 3600).to_string(),
        v if v == names::REALTIME_RESUME_MAX_EVENTS.var => d.realtime_resume_max_events.to_string(),
        v if v == names::ABANDONED_CART_HOURS.var => (d.abandoned_cart_secs / 3600).to_string(),
        v if v == names::INSTALLMENT_RATES_BP.var => rates(),
        v if v == names::MIN_INSTALLMENT_CENTAVOS.var => {
            d.installments.min_installment.centavos().to_string()
        }
        v if v == names::ACCOUNT_MAILS_PER_HOUR.var => {
            d.send_limits.account_mails_per_hour.to_string()
        }
        v if v == names::ACCOUNT_MAILS_PER_DAY.var => {
            d.send_limits.account_mails_per_day.to_string()
        }
        v if v == names::ACCOUNT_MAILS_PER_CLIENT_HOUR.var => {
            d.send_limits.account_mails_per_client_hour.to_string()
        }
        v if v == names::SMS_PER_NUMBER_PER_DAY.var => {
            d.send_limits.sms_per_number_per_day.to_string()
        }
        v if v == names::SMS_COUNTRY_CODES.var => d.send_limits.sms_country_codes.join(","),
        // Unset: no alerts address, the built-in rate table.
        _ => String::new(),
    }
}

/// Every way the template fails to give every function each business setting
/// (`vitrine_app::settings::ALL`) from a parameter whose default is the code's default.
fn settings_errors(template: &str) -> Vec<String> {
    let all = lines(template);
    let top = blocks(&all, 0);
    let params = section(&top, "Parameters")
        .map(|s| blocks(&s.lines[1..], 2))
        .unwrap_or_default();
    let globals: Vec<Line> = section(&top, "Globals")
        .map(|s| blocks(&s.lines[1..], 2))
        .unwrap_or_default()
        .into_iter()
        .find(|b| b.name == "Function")
        .map(|b| b.lines[1..].to_vec())
        .unwrap_or_default();
    let mut errors = Vec::new();
    for name in names::ALL {
        let Some(value) = line_value(&globals, name.var) else {
            errors.push(format!(
                "Globals: the functions' Environment does not set {}",
                name.var
            ));
            continue;
        };
        // The first parameter the value refers to (`!Ref P`, or `!If [C, !Ref P, …]`).
        let Some(param) = value.split("!Ref ").nth(1).map(|rest| {
            rest.split([',', ']', ' '])
                .next()
                .unwrap_or_default()
                .trim()
        }) else {
            errors.push(format!(
                "Globals: {} is {value:?}, not taken from a parameter",
                name.var
            ));
            continue;
        };
        let Some(block) = params.iter().find(|p| p.name == param) else {
            errors.push(format!(
                "Globals: {} refers to {param}, which is not a parameter",
                name.var
            ));
            continue;
        };
        let default = line_value(&block.lines[1..], "Default");
        let expected = code_default(name.var);
        if default.as_deref() != Some(expected.as_str()) {
            errors.push(format!(
                "parameter {param} ({}) defaults to {default:?}, the code to {expected:?}",
                name.var
            ));
        }
    }
    errors
}

#[test]
fn every_function_gets_the_business_settings_from_parameters_with_the_code_defaults() {
    let errors = settings_errors(&template());
    assert!(
        errors.is_empty(),
        "infra/template.yaml against vitrine_app::settings:\n  {}",
        errors.join("\n  ")
    );
}

#[test]
fn the_settings_check_catches_a_missing_setting_and_a_drifted_default() {
    let good = template();
    let missing = good.replace(
        "        VITRINE_LOW_STOCK_THRESHOLD: !Ref LowStockThreshold\n",
        "",
    );
    assert_ne!(missing, good);
    let errors = settings_errors(&missing);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("does not set VITRINE_LOW_STOCK_THRESHOLD")),
        "{errors:?}"
    );
    let drifted = good.replacen(
        "    Default: 30\n    MinValue: 1\n    MaxValue: 10080",
        "    Default: 60\n    MinValue: 1\n    MaxValue: 10080",
        1,
    );
    assert_ne!(drifted, good);
    let errors = settings_errors(&drifted);
    assert!(
        errors.iter().any(|e| e.contains("PayWithinMinutes")),
        "{errors:?}"
    );
}

/// The subscription checks catch what they are for: each broken copy of the template fails
/// with its message.
#[test]
fn the_subscription_checks_catch_a_broken_template() {
    let good = template();
    let extra = "  StrayEventsSubscription:\n    Type: AWS::SNS::Subscription\n    Properties:\n      \
                 TopicArn: !Ref EventsTopic\n      Protocol: sqs\n      Endpoint: !GetAtt EmailQueue.Arn\n";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "a value missing from a filter policy",
            good.replacen("\"order.expired\"", "\"order.expire\"", 1),
            "EmailSubscription (the `email` subscriber): FilterPolicy is",
        ),
        (
            "the threshold written as a number instead of the parameter",
            good.replacen("${LargeOrderCentavos}", "100000", 1),
            "AdminAlertsSubscription (the `admin-alerts` subscriber): FilterPolicy is",
        ),
        (
            "the threshold through !Ref (a string)",
            good.replacen(
                "[\">=\", ${LargeOrderCentavos}]",
                "[\">=\", \"${LargeOrderCentavos}\"]",
                1,
            ),
            "FilterPolicy is",
        ),
        (
            "a subscription missing",
            good.replacen(
                "  RealtimeSubscription:\n",
                "  RealtimeSubscriptionGone:\n",
                1,
            ),
            "RealtimeSubscription: missing",
        ),
        (
            "another subscription to the topic",
            good.replacen("  EventsTopic:\n", &format!("{extra}  EventsTopic:\n"), 1),
            "StrayEventsSubscription: subscribes to EventsTopic",
        ),
        (
            "a subscription delivering to another queue",
            good.replacen(
                "      Endpoint: !GetAtt EmailQueue.Arn\n",
                "      Endpoint: !GetAtt SmsQueue.Arn\n",
                1,
            ),
            "Endpoint is Some(\"!GetAtt SmsQueue.Arn\")",
        ),
        (
            "another scope",
            good.replacen(
                "FilterPolicyScope: MessageAttributes",
                "FilterPolicyScope: MessageBody",
                1,
            ),
            "FilterPolicyScope is Some(\"MessageBody\")",
        ),
        (
            "raw delivery",
            good.replacen("RawMessageDelivery: false", "RawMessageDelivery: true", 1),
            "RawMessageDelivery",
        ),
        (
            "a dead-letter queue of another subscriber",
            good.replacen(
                "deadLetterTargetArn: !GetAtt SmsDeadLetterQueue.Arn",
                "deadLetterTargetArn: !GetAtt EmailDeadLetterQueue.Arn",
                1,
            ),
            "SmsQueue's RedrivePolicy",
        ),
        (
            "a queue policy for another topic",
            good.replacen(
                "ArnEquals: { aws:SourceArn: !Ref EventsTopic }",
                "ArnEquals: { aws:SourceArn: !Ref AlarmTopic }",
                1,
            ),
            "lets [\"!Ref AlarmTopic\"] send",
        ),
    ];
    for (what, broken, expected) in cases {
        assert_ne!(broken, good, "{what}: the mutation did not apply");
        let errors = all_subscription_errors(&broken);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{what}: wanted an error with {expected:?}, got {errors:?}"
        );
    }
    assert_eq!(logical_prefix("admin-alerts"), "AdminAlerts");
    assert_eq!(logical_prefix("sms"), "Sms");
}

// ---------------------------------------------------------------------------------------------
// The WebSocket API: its routes go to the `ws` binary's function.
//
// The template must have one AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET and
// RouteSelectionExpression `$request.body.action` (the `resume` message's `action` field); its
// routes are exactly `$connect`, `$disconnect` and `$default` (what `vitrine_lambda::ws`
// serves), each targeting (`!Sub "integrations/${Integration}"`) an AWS_PROXY integration of
// that API whose IntegrationUri invokes `WsFunction`, the function deployed from the `ws`
// binary; a Lambda permission lets API Gateway invoke `WsFunction` for that API; a stage of
// that API deploys it.

const WS_FUNCTION: &str = "WsFunction";
const WS_BINARY: &str = "ws";
const WS_ROUTES: &[&str] = &["$connect", "$disconnect", "$default"];
const WS_ROUTE_SELECTION: &str = "$request.body.action";

/// A `!Sub "text"` / `!Sub text` value's text.
fn sub_text(value: &str) -> Option<&str> {
    value.strip_prefix("!Sub").map(|rest| unquote(rest.trim()))
}

/// Every way the template's WebSocket API differs from what the `ws` function serves.
fn websocket_errors(template: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let all = lines(template);
    let top = blocks(&all, 0);
    let resources = section(&top, "Resources")
        .map(|s| blocks(&s.lines[1..], 2))
        .unwrap_or_default();
    let of_type = |kind: &str| -> Vec<&Block> {
        resources
            .iter()
            .filter(|r| resource_type(r).as_deref() == Some(kind))
            .collect()
    };

    let apis: Vec<&Block> = of_type("AWS::ApiGatewayV2::Api")
        .into_iter()
        .filter(|r| scalar(r, "ProtocolType").as_deref() == Some("WEBSOCKET"))
        .collect();
    let [api] = apis.as_slice() else {
        errors.push(format!(
            "wanted exactly one AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET, found {}",
            apis.len()
        ));
        return errors;
    };
    let api_ref = format!("!Ref {}", api.name);
    let selection = scalar(api, "RouteSelectionExpression");
    if selection.as_deref() != Some(WS_ROUTE_SELECTION) {
        errors.push(format!(
            "{}: RouteSelectionExpression is {selection:?}, wanted {WS_ROUTE_SELECTION:?}",
            api.name
        ));
    }

    match resources.iter().find(|r| r.name == WS_FUNCTION) {
        Some(f) if resource_type(f).as_deref() == Some("AWS::Serverless::Function") => {
            let uri = scalar(f, "CodeUri");
            let wanted = format!("../target/lambda/{WS_BINARY}/");
            if uri.as_deref() != Some(wanted.as_str()) {
                errors.push(format!(
                    "{WS_FUNCTION}: CodeUri is {uri:?}, wanted {wanted:?}"
                ));
            }
        }
        _ => errors.push(format!(
            "{WS_FUNCTION}: missing (the AWS::Serverless::Function of the `{WS_BINARY}` binary)"
        )),
    }

    // The integrations of the API that invoke WsFunction.
    let invokes_ws: BTreeSet<String> = of_type("AWS::ApiGatewayV2::Integration")
        .into_iter()
        .filter(|i| scalar(i, "ApiId").as_deref() == Some(api_ref.as_str()))
        .filter(|i| scalar(i, "IntegrationType").as_deref() == Some("AWS_PROXY"))
        .filter(|i| {
            scalar(i, "IntegrationUri").is_some_and(|uri| {
                uri.contains(&format!("${{{WS_FUNCTION}.Arn}}")) && uri.ends_with("/invocations")
            })
        })
        .map(|i| i.name.clone())
        .collect();

    let mut routes: BTreeMap<String, String> = BTreeMap::new();
    for route in of_type("AWS::ApiGatewayV2::Route") {
        if scalar(route, "ApiId").as_deref() != Some(api_ref.as_str()) {
            continue;
        }
        let key = scalar(route, "RouteKey").unwrap_or_default();
        let target = scalar(route, "Target").unwrap_or_default();
        let integration = sub_text(&target)
            .and_then(|t| t.strip_prefix("integrations/${"))
            .and_then(|t| t.strip_suffix('}'))
            .map(str::to_owned);
        match integration {
            Some(i) if invokes_ws.contains(&i) => {}
            Some(i) => errors.push(format!(
                "{} (route {key}): targets {i}, which is not an AWS_PROXY integration of {} \
                 invoking {WS_FUNCTION} (those are {invokes_ws:?})",
                route.name, api.name
            )),
            None => errors.push(format!(
                "{} (route {key}): Target {target:?} is not !Sub \"integrations/${{<Integration>}}\"",
                route.name
            )),
        }
        if let Some(other) = routes.insert(key.clone(), route.name.clone()) {
            errors.push(format!(
                "route {key} is declared by both {other} and {}",
                route.name
            ));
        }
    }
    let declared: BTreeSet<&str> = routes.keys().map(String::as_str).collect();
    let wanted: BTreeSet<&str> = WS_ROUTES.iter().copied().collect();
    if declared != wanted {
        errors.push(format!(
            "{}: routes are {declared:?}, the `{WS_BINARY}` function serves {wanted:?}",
            api.name
        ));
    }

    let permitted = of_type("AWS::Lambda::Permission").into_iter().any(|p| {
        let function = scalar(p, "FunctionName").unwrap_or_default();
        let source = scalar(p, "SourceArn").unwrap_or_default();
        (function == format!("!Ref {WS_FUNCTION}")
            || function == format!("!GetAtt {WS_FUNCTION}.Arn"))
            && scalar(p, "Principal").as_deref() == Some("apigateway.amazonaws.com")
            && scalar(p, "Action").as_deref() == Some("lambda:InvokeFunction")
            && source.contains(&format!("${{{}}}", api.name))
    });
    if !permitted {
        errors.push(format!(
            "no AWS::Lambda::Permission lets apigateway.amazonaws.com invoke {WS_FUNCTION} for {}",
            api.name
        ));
    }
    let staged = of_type("AWS::ApiGatewayV2::Stage")
        .into_iter()
        .any(|s| scalar(s, "ApiId").as_deref() == Some(api_ref.as_str()));
    if !staged {
        errors.push(format!(
            "{}: no AWS::ApiGatewayV2::Stage deploys it",
            api.name
        ));
    }
    errors
}

#[test]
fn the_websocket_routes_go_to_the_ws_function() {
    assert!(crate_binaries(&crate_dir()).contains(WS_BINARY));
    let errors = websocket_errors(&template());
    assert!(
        errors.is_empty(),
        "infra/template.yaml, the WebSocket API:\n  {}",
        errors.join("\n  ")
    );
}

/// The WebSocket checks catch what they are for: each broken copy of the template fails with
/// its message.
#[test]
fn the_websocket_checks_catch_a_broken_template() {
    let good = template();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "a route missing",
            good.replacen(
                "RouteKey: \"$disconnect\"",
                "RouteKey: \"$disconnected\"",
                1,
            ),
            "routes are",
        ),
        (
            "the integration invoking another function",
            good.replacen(
                "functions/${WsFunction.Arn}/invocations",
                "functions/${ApiFunction.Arn}/invocations",
                1,
            ),
            "which is not an AWS_PROXY integration",
        ),
        (
            "a route targeting something else",
            good.replacen(
                "Target: !Sub \"integrations/${WsIntegration}\"",
                "Target: !Sub \"integrations/${WsStage}\"",
                1,
            ),
            "targets WsStage",
        ),
        (
            "another route selection",
            good.replacen(
                "RouteSelectionExpression: \"$request.body.action\"",
                "RouteSelectionExpression: \"$request.body.type\"",
                1,
            ),
            "RouteSelectionExpression",
        ),
        (
            "the function deployed from another binary",
            good.replacen(
                "CodeUri: ../target/lambda/ws/",
                "CodeUri: ../target/lambda/api2/",
                1,
            ),
            "CodeUri",
        ),
        (
            "no permission to invoke the function",
            good.replacen(
                "FunctionName: !Ref WsFunction",
                "FunctionName: !Ref ApiFunction",
                1,
            ),
            "no AWS::Lambda::Permission",
        ),
        (
            "no WebSocket API",
            good.replacen("ProtocolType: WEBSOCKET", "ProtocolType: HTTP", 1),
            "exactly one AWS::ApiGatewayV2::Api",
        ),
    ];
    for (what, broken, expected) in cases {
        assert_ne!(broken, good, "{what}: the mutation did not apply");
        let errors = websocket_errors(&broken);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{what}: wanted an error with {expected:?}, got {errors:?}"
        );
    }
    assert_eq!(
        sub_text("!Sub \"integrations/${X}\""),
        Some("integrations/${X}")
    );
}

/// The text of the resource `name`: its line, up to the next top-level key or resource.
fn resource_text<'a>(template: &'a str, name: &str) -> Option<&'a str> {
    let start = template.find(&format!("\n  {name}:\n"))? + 1;
    let body = &template[start..];
    let starts_key = |s: &str| s.starts_with(|c: char| c.is_ascii_alphabetic());
    let end = body
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| {
            let next = &body[i..];
            starts_key(next) || next.strip_prefix("  ").is_some_and(starts_key)
        })
        .unwrap_or(body.len());
    Some(&body[..end])
}

#[test]
fn every_function_and_dead_letter_queue_has_its_alarms() {
    let template = template();
    let names: Vec<String> = template
        .lines()
        .filter_map(|l| l.strip_prefix("  ").and_then(|l| l.strip_suffix(':')))
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let is_type = |name: &str, ty: &str| {
        resource_text(&template, name).is_some_and(|t| t.contains(&format!("Type: {ty}")))
    };
    let functions: Vec<&String> = names
        .iter()
        .filter(|n| is_type(n, "AWS::Serverless::Function"))
        .collect();
    assert!(functions.len() >= 10, "{functions:?}");
    let mut missing = Vec::new();
    for f in functions {
        for (suffix, metric) in [("ErrorsAlarm", "Errors"), ("ThrottlesAlarm", "Throttles")] {
            let alarm = format!("{f}{suffix}");
            match resource_text(&template, &alarm) {
                Some(t)
                    if t.contains(&format!("MetricName: {metric}"))
                        && t.contains(&format!("!Ref {f} "))
                        && t.contains("AlarmActions: [!Ref AlarmTopic]") => {}
                _ => missing.push(alarm),
            }
        }
    }
    for q in names.iter().filter(|n| n.ends_with("DeadLetterQueue")) {
        let alarm = format!("{}DeadLetterAlarm", q.trim_end_matches("DeadLetterQueue"));
        match resource_text(&template, &alarm) {
            Some(t)
                if t.contains("ApproximateNumberOfMessagesVisible")
                    && t.contains(&format!("!GetAtt {q}.QueueName"))
                    && t.contains("AlarmActions: [!Ref AlarmTopic]") => {}
            _ => missing.push(alarm),
        }
    }
    for name in [
        "Api5xxRateAlarm",
        "ApiLatencyP99Alarm",
        "EventsStreamIteratorAgeAlarm",
        "Dashboard",
    ] {
        if resource_text(&template, name).is_none() {
            missing.push(name.to_owned());
        }
    }
    assert!(missing.is_empty(), "missing or wrong alarms: {missing:?}");
}

/// Both web ACLs (API stage and CloudFront) apply AWS's managed rule groups and a rate-based
/// rule that answers 429; the table keeps point-in-time recovery and the buckets versions.
#[test]
fn the_web_acls_have_the_managed_rule_groups_and_a_rate_rule_and_data_is_recoverable() {
    let template = template();
    // The edge ACL is a stack of its own, deployed in us-east-1 (CloudFront's ACLs live there).
    let edge = std::fs::read_to_string(crate_dir().join("../../infra/edge-acl.yaml"))
        .expect("reading infra/edge-acl.yaml");
    assert!(edge.contains("Scope: CLOUDFRONT"), "the edge ACL's scope");
    assert!(
        edge.contains("Value: !GetAtt EdgeWebAcl.Arn"),
        "the edge stack outputs its ARN"
    );
    assert!(
        template.contains("WebACLId: !If [HasExternalEdgeAcl, !Ref CloudFrontWebAclArn"),
        "the distribution takes the edge ACL from CloudFrontWebAclArn"
    );
    for (acl, source) in [("ApiWebAcl", &template), ("EdgeWebAcl", &edge)] {
        let text = resource_text(source, acl).unwrap_or_else(|| panic!("{acl} is missing"));
        for group in [
            "AWSManagedRulesCommonRuleSet",
            "AWSManagedRulesKnownBadInputsRuleSet",
            "AWSManagedRulesAmazonIpReputationList",
            "AWSManagedRulesSQLiRuleSet",
        ] {
            assert!(
                text.contains(&format!("Name: {group}")),
                "{acl} lacks {group}"
            );
        }
        assert!(
            text.contains("RateBasedStatement:"),
            "{acl} has no rate rule"
        );
        assert!(
            text.contains("ResponseCode: 429"),
            "{acl}'s rate rule does not answer 429"
        );
        let priorities: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Priority: "))
            .collect();
        let distinct: BTreeSet<&&str> = priorities.iter().collect();
        assert_eq!(
            distinct.len(),
            priorities.len(),
            "{acl}: rule priorities repeat"
        );
    }
    assert!(template.contains("PointInTimeRecoveryEnabled: true"));
    assert!(
        template
            .matches("VersioningConfiguration: { Status: Enabled }")
            .count()
            >= 2
    );
}

/// Users cannot write their own `email` (the username; the address codes and orders go to):
/// the app client's `WriteAttributes` lists `name` (what sign-up sends) and not `email`. Left
/// unset, Cognito lets a user write every standard attribute with their access token.
#[test]
fn users_cannot_write_their_own_email() {
    let template = template();
    let client = resource_text(&template, "UserPoolClient").expect("UserPoolClient");
    let lines = lines(client);
    let write = list_of(&lines, "WriteAttributes").expect("UserPoolClient sets WriteAttributes");
    assert_eq!(write, ["name"], "WriteAttributes");
    assert!(!write.iter().any(|a| a == "email" || a == "email_verified"));
}

/// Lambda Insights is switched by `LambdaInsights` (default `Disabled`): the extension layer in
/// Globals and its managed policy on every function, both under the `LambdaInsightsOn`
/// condition, so a function added later without the policy fails here.
#[test]
fn lambda_insights_is_switched_by_a_parameter_on_every_function() {
    let template = template();
    let parameter =
        resource_text(&template, "LambdaInsights").expect("the LambdaInsights parameter");
    assert!(parameter.contains("Default: Disabled"), "{parameter}");
    assert!(
        parameter.contains("AllowedValues: [Enabled, Disabled]"),
        "{parameter}"
    );
    let globals = &template[template.find("\nGlobals:\n").expect("Globals")..];
    let globals = &globals[..globals.find("\nResources:\n").expect("Resources")];
    assert!(
        globals.contains("Layers:") && globals.contains("- LambdaInsightsOn"),
        "Globals lack the Insights layer under LambdaInsightsOn"
    );
    for name in ["LambdaInsightsExtension-Arm64", "LambdaInsightsExtension]"] {
        assert!(globals.contains(name), "the layer name {name} is missing");
    }
    let policy = "!If [LambdaInsightsOn, !Sub \"arn:${AWS::Partition}:iam::aws:policy/CloudWatchLambdaInsightsExecutionRolePolicy\", !Ref AWS::NoValue]";
    let functions: Vec<&str> = template
        .lines()
        .filter_map(|l| l.strip_prefix("  ").and_then(|l| l.strip_suffix(':')))
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#'))
        .filter(|n| {
            resource_text(&template, n)
                .is_some_and(|t| t.contains("Type: AWS::Serverless::Function"))
        })
        .collect();
    assert!(functions.len() >= 10, "{functions:?}");
    let without: Vec<&&str> = functions
        .iter()
        .filter(|f| !resource_text(&template, f).is_some_and(|t| t.contains(policy)))
        .collect();
    assert!(
        without.is_empty(),
        "functions without the Insights policy under LambdaInsightsOn: {without:?}"
    );
}

/// The number a `!Ref Parameter` of `text` stands for by default, when the parameter is a
/// Number with `MinValue` 1 or more (a limit that cannot be switched off).
fn limit_parameter(template: &str, value: &str) -> Result<i64, String> {
    let name = value
        .strip_prefix("!Ref ")
        .ok_or_else(|| format!("{value}: not a parameter"))?
        .trim();
    let text = resource_text(template, name).ok_or_else(|| format!("no parameter {name}"))?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    if !text.contains("Type: Number") {
        return Err(format!("{name} is not a Number"));
    }
    match (field("Default:"), field("MinValue:")) {
        (Some(default), Some(min)) if min >= 1 && default >= min => Ok(default),
        _ => Err(format!(
            "{name}: needs a Default and a MinValue of 1 or more"
        )),
    }
}

/// What limits the WebSocket API, which cannot take a WAF ACL: its stage throttles every route
/// (`DefaultRouteSettings`) and `$connect` more tightly (`RouteSettings`), each limit a Number
/// parameter that cannot be 0; `$connect` has no authorizer because the `ws` function verifies
/// the token itself (refused without one: `tests/ws.rs`,
/// `a_missing_or_refused_token_refuses_the_upgrade_and_registers_nothing`).
fn ws_throttling_errors(template: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(stage) = resource_text(template, "WsStage") else {
        return vec!["no WsStage".into()];
    };
    // The lines under `      {name}:` (indented deeper).
    let section = |name: &str| -> Option<String> {
        let mut lines = stage.lines().skip_while(|l| *l != format!("      {name}:"));
        lines.next()?;
        Some(
            lines
                .take_while(|l| l.starts_with("        "))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    };
    let limits = |text: &str, what: &str, errors: &mut Vec<String>| -> Option<(i64, i64)> {
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(key).map(str::trim))
                .map(str::to_owned)
        };
        let mut got = Vec::new();
        for key in ["ThrottlingRateLimit:", "ThrottlingBurstLimit:"] {
            match value(key) {
                Some(v) => match limit_parameter(template, &v) {
                    Ok(n) => got.push(n),
                    Err(e) => errors.push(format!("{what} {key} {e}")),
                },
                None => errors.push(format!("{what} has no {key}")),
            }
        }
        (got.len() == 2).then(|| (got[0], got[1]))
    };
    match section("DefaultRouteSettings") {
        Some(text) => {
            limits(&text, "WsStage DefaultRouteSettings", &mut errors);
        }
        None => errors.push("WsStage has no DefaultRouteSettings".into()),
    }
    match section("RouteSettings") {
        Some(text) if text.contains("$connect:") => {
            limits(&text, "WsStage RouteSettings $connect", &mut errors);
        }
        _ => errors.push("WsStage has no RouteSettings for $connect".into()),
    }
    let connect = resource_text(template, "WsConnectRoute").unwrap_or_default();
    if !connect.contains("AuthorizationType: NONE") && connect.contains("AuthorizerId") {
        errors.push("WsConnectRoute: an authorizer other than the function's own check".into());
    }
    errors
}

#[test]
fn the_websocket_stage_throttles_every_route_and_connects_more_tightly() {
    let errors = ws_throttling_errors(&template());
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn the_websocket_throttling_check_catches_a_missing_or_unbounded_limit() {
    let template = template();
    let cases: [(&str, &str, &str); 3] = [
        (
            "no default throttling",
            "        ThrottlingRateLimit: !Ref WsThrottleRateLimit\n",
            "",
        ),
        (
            "no $connect settings",
            "        $connect:\n",
            "        $disconnect:\n",
        ),
        (
            "a limit that can be 0",
            "  WsConnectRateLimit:\n    Type: Number\n    Default: 10\n    MinValue: 1\n",
            "  WsConnectRateLimit:\n    Type: Number\n    Default: 10\n    MinValue: 0\n",
        ),
    ];
    for (what, from, to) in cases {
        assert!(template.contains(from), "{what}: the template changed");
        let broken = template.replacen(from, to, 1);
        assert!(!ws_throttling_errors(&broken).is_empty(), "{what} passed");
    }
}
