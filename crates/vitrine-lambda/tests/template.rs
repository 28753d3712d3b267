//! The CloudFormation template (`infra/template.yaml`) against this crate, in `cargo test`:
//!
//! - the drift check: the template's functions (`CodeUri: ../target/lambda/<bin>/`) are exactly
//!   this crate's binaries, minus [`NOT_DEPLOYED`];
//! - what cfn-lint does not check (it misses bad values of these enums): every function's
//!   `Runtime` is `provided.al2023`, `Architectures` is arm64 or x86_64, stream event sources'
//!   `StartingPosition` and API Gateway v2 `ProtocolType` are valid values.
//!
//! `scripts/check-infra.sh` checks the same rules on the parsed YAML (and runs cfn-lint and the
//! SAM transform); this test needs no Python and keeps the suite from passing with a binary the
//! template forgot. It reads the template as text, one `Key: value` per line as the template is
//! written (block style, flow maps allowed on one line), which is all these rules need.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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
