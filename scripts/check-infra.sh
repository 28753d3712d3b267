#!/usr/bin/env bash
# Checks infra/template.yaml without an AWS account, in a few seconds:
#
# 1. the SAM transform, run offline (aws-sam-translator, as `sam deploy` would run it), so errors
#    in the Serverless resources show up here rather than at deploy time;
# 2. cfn-lint on the template and on its transformed output, for us-east-1 and sa-east-1:
#    no errors and no warnings (a warning that is wrong for this template is ignored on its
#    resource, in the template, with the reason next to it);
# 3. our own rules, which cfn-lint does not check (it misses bad enum values for Runtime,
#    StartingPosition and ProtocolType):
#    - every function is an AWS::Serverless::Function with Runtime provided.al2023 and X-Ray
#      tracing Active (Globals included);
#    - Architectures: one value, arm64 or x86_64 (or a parameter that only allows those);
#    - StartingPosition of stream event sources and ProtocolType of API Gateway v2 APIs valid;
#    - no "*" in the Action of an identity policy (least privilege: actions are named);
#    - the drift check: the functions' binaries (CodeUri ../target/lambda/<bin>/) are exactly the
#      binaries of crates/vitrine-lambda (minus NOT_DEPLOYED below);
#    and a self-test: each rule is shown to catch a broken copy of the template;
# 4. cfn-lint on infra/edge-acl.yaml (the CLOUDFRONT-scope web ACL, a stack of its own in
#    us-east-1), for us-east-1.
#
# The drift check and the Runtime/Architectures/StartingPosition/ProtocolType rules also run in
# `cargo test`, as crates/vitrine-lambda/tests/template.rs.
#
# Installs cfn-lint and aws-sam-translator into .venv/ when missing (as scripts/test.sh does).
# Exit status 0 when everything passes; otherwise 1, with what failed on standard error.
# Usage: scripts/check-infra.sh [template]   (default infra/template.yaml)
set -euo pipefail
template=infra/template.yaml
if [ $# -gt 0 ]; then template=$(realpath "$1"); fi
cd "$(dirname "$0")/.."
out=target/check-infra
mkdir -p "$out"

if [ ! -x .venv/bin/cfn-lint ] || ! .venv/bin/python -c 'import samtranslator' 2>/dev/null; then
  echo "==> installing cfn-lint and aws-sam-translator into .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'cfn-lint>=1,<2' 'aws-sam-translator>=1.90,<2'
fi

failed=()
transformed="$out/template.transformed.json"
rm -f "$transformed"

echo "==> SAM transform, vitrine rules and their self-test ($template)"
set +e
AWS_DEFAULT_REGION=sa-east-1 .venv/bin/python - "$template" "$transformed" <<'PY'
import copy
import json
import logging
import pathlib
import re
import sys

import yaml

try:
    import tomllib  # Python 3.11+
except ModuleNotFoundError:
    tomllib = None

TEMPLATE, TRANSFORMED = sys.argv[1], sys.argv[2]
LAMBDA_CRATE = pathlib.Path("crates/vitrine-lambda")

# Binaries of crates/vitrine-lambda that are not Lambda functions and so have no function in
# the template (benchmark baselines, local tools). Each entry says why. Empty today.
NOT_DEPLOYED = {
    # "name": "why it is not deployed",
}

RUNTIME = "provided.al2023"
ARCHITECTURES = {"arm64", "x86_64"}
# StartingPosition per event source type (AWS::Lambda::EventSourceMapping and SAM Events).
STARTING_POSITIONS = {
    "DynamoDB": {"TRIM_HORIZON", "LATEST"},
    "Kinesis": {"TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"},
    "MSK": {"TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"},
    "SelfManagedKafka": {"TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"},
}
ANY_STARTING_POSITION = set().union(*STARTING_POSITIONS.values())
PROTOCOL_TYPES = {"HTTP", "WEBSOCKET"}
CODE_URI = re.compile(r"^(?:\.\./)?target/lambda/([A-Za-z0-9_-]+)/?$")


# --- YAML with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt, ...) -----------------
class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {"Fn::" + suffix: value}


CfnLoader.add_multi_constructor("!", _tag)


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


# --- the rules ------------------------------------------------------------------------------
def merged(globals_, props):
    """SAM's Globals merge, as far as these rules need it: maps merge, the rest overrides."""
    out = copy.deepcopy(globals_)
    for key, value in (props or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def lambda_binaries(crate):
    """Binary targets of the crate: [[bin]] entries, src/bin/*.rs, src/bin/*/main.rs, src/main.rs."""
    text = (crate / "Cargo.toml").read_text(encoding="utf-8")
    if tomllib:
        manifest = tomllib.loads(text)
        package = manifest.get("package", {})
        bins = {b["name"] for b in manifest.get("bin", []) if "name" in b}
    else:  # older Python: the [[bin]] names and the package name are enough
        package = {"name": crate.name}
        bins = set(re.findall(r'(?m)^\[\[bin\]\]\s*\n(?:[^\[\n]*\n)*?name\s*=\s*"([^"]+)"', text))
    if package.get("autobins", True):
        bin_dir = crate / "src" / "bin"
        if bin_dir.is_dir():
            bins |= {p.stem for p in bin_dir.glob("*.rs")}
            bins |= {p.parent.name for p in bin_dir.glob("*/main.rs")}
        if (crate / "src" / "main.rs").is_file():
            bins.add(package.get("name", crate.name))
    return bins


def allow_actions(document):
    """(sid, action) of every Allow statement of a policy document."""
    statements = (document or {}).get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for i, st in enumerate(statements):
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        sid = st.get("Sid", f"statement {i + 1}")
        if "NotAction" in st:
            yield sid, "NotAction"
        actions = st.get("Action", [])
        for action in actions if isinstance(actions, list) else [actions]:
            yield sid, action


def check(tpl, crate=LAMBDA_CRATE):
    """Every broken rule, as a list of messages (empty when the template is fine)."""
    errors = []
    params = tpl.get("Parameters", {}) or {}
    resources = tpl.get("Resources", {}) or {}
    fn_globals = ((tpl.get("Globals") or {}).get("Function")) or {}
    tables = {n for n, r in resources.items() if r.get("Type") == "AWS::DynamoDB::Table"}

    def architecture_ok(name, value):
        if isinstance(value, str):
            if value not in ARCHITECTURES:
                errors.append(f"{name}: Architectures value {value!r} is not one of {sorted(ARCHITECTURES)}")
            return
        if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in params:
            p = params[value["Ref"]]
            allowed = p.get("AllowedValues")
            if not allowed:
                errors.append(f"{name}: parameter {value['Ref']} (Architectures) needs AllowedValues within {sorted(ARCHITECTURES)}")
            elif not set(allowed) <= ARCHITECTURES:
                errors.append(f"{name}: parameter {value['Ref']} allows {sorted(set(allowed) - ARCHITECTURES)}, not an architecture (use {sorted(ARCHITECTURES)})")
            if "Default" in p and p["Default"] not in ARCHITECTURES:
                errors.append(f"{name}: parameter {value['Ref']} defaults to {p['Default']!r}, not one of {sorted(ARCHITECTURES)}")
            return
        errors.append(f"{name}: Architectures value {value!r} is neither arm64/x86_64 nor a Ref to a parameter")

    def starting_position_ok(where, kind, props):
        position = props.get("StartingPosition")
        allowed = STARTING_POSITIONS.get(kind)
        if allowed is None:
            if position is not None:
                errors.append(f"{where}: StartingPosition is only for stream and Kafka sources, not {kind}")
            return
        if position is None:
            errors.append(f"{where}: a {kind} event source needs StartingPosition ({sorted(allowed)})")
        elif isinstance(position, str) and position not in allowed:
            errors.append(f"{where}: StartingPosition {position!r} is not valid for {kind} ({sorted(allowed)})")

    functions = {}
    for name, res in resources.items():
        kind = res.get("Type")
        props = res.get("Properties") or {}
        if kind == "AWS::Lambda::Function":
            errors.append(f"{name}: declare Lambda functions as AWS::Serverless::Function with CodeUri ../target/lambda/<bin>/ so these rules and the drift check see them")
        elif kind == "AWS::Serverless::Function":
            fn = merged(fn_globals, props)
            if fn.get("Runtime") != RUNTIME:
                errors.append(f"{name}: Runtime is {fn.get('Runtime')!r}; every vitrine function runs on {RUNTIME}")
            if fn.get("Tracing") != "Active":
                errors.append(f"{name}: Tracing is {fn.get('Tracing')!r}; X-Ray tracing must be Active")
            archs = fn.get("Architectures")
            if not isinstance(archs, list) or len(archs) != 1:
                errors.append(f"{name}: Architectures must be a list of exactly one value, is {archs!r}")
            else:
                architecture_ok(name, archs[0])
            code_uri = fn.get("CodeUri")
            m = CODE_URI.match(code_uri) if isinstance(code_uri, str) else None
            if not m:
                errors.append(f"{name}: CodeUri {code_uri!r} is not a cargo-lambda output ../target/lambda/<binary>/")
            else:
                functions.setdefault(m.group(1), []).append(name)
            for ev_name, ev in (fn.get("Events") or {}).items():
                ev_props = ev.get("Properties") or {}
                where = f"{name}.Events.{ev_name}"
                starting_position_ok(where, ev.get("Type"), ev_props)
                stream = ev_props.get("Stream")
                if ev.get("Type") == "DynamoDB" and not (
                    isinstance(stream, dict) and stream.get("Fn::GetAtt", [None])[0] in tables
                ):
                    errors.append(f"{where}: Stream should be !GetAtt <table>.StreamArn of a table of this template")
            for i, policy in enumerate(fn.get("Policies") or []):
                if isinstance(policy, dict) and "Statement" in policy:
                    for sid, action in allow_actions(policy):
                        if action == "NotAction" or (isinstance(action, str) and "*" in action):
                            errors.append(f"{name}.Policies[{i}] {sid}: action {action!r}: name the actions, no wildcards")
        elif kind == "AWS::Lambda::EventSourceMapping":
            arn = props.get("EventSourceArn")
            source = arn.get("Fn::GetAtt", [None])[0] if isinstance(arn, dict) else None
            position = props.get("StartingPosition")
            if position is not None and position not in ANY_STARTING_POSITION:
                errors.append(f"{name}: StartingPosition {position!r} is not one of {sorted(ANY_STARTING_POSITION)}")
            elif source in tables:
                starting_position_ok(name, "DynamoDB", props)
        elif kind == "AWS::ApiGatewayV2::Api":
            protocol = props.get("ProtocolType")
            if protocol is None and "Body" not in props and "BodyS3Location" not in props:
                errors.append(f"{name}: ProtocolType is required ({sorted(PROTOCOL_TYPES)})")
            elif protocol is not None and protocol not in PROTOCOL_TYPES:
                errors.append(f"{name}: ProtocolType {protocol!r} is not one of {sorted(PROTOCOL_TYPES)}")
        elif kind in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [props.get("PolicyDocument")] + [
                p.get("PolicyDocument") for p in props.get("Policies") or [] if isinstance(p, dict)
            ]
            for doc in documents:
                for sid, action in allow_actions(doc):
                    if action == "NotAction" or (isinstance(action, str) and "*" in action):
                        errors.append(f"{name} {sid}: action {action!r}: name the actions, no wildcards")

    # The drift check.
    for binary, names in functions.items():
        if len(names) > 1:
            errors.append(f"binary {binary} is deployed by more than one function: {', '.join(names)}")
    if not (crate / "Cargo.toml").is_file():
        errors.append(f"{crate} does not exist: the functions {sorted(functions)} have no binaries")
        return errors
    binaries = lambda_binaries(crate)
    for binary in sorted(set(NOT_DEPLOYED) - binaries):
        errors.append(f"NOT_DEPLOYED in scripts/check-infra.sh names {binary}, which is not a binary of {crate}: remove it")
    for binary in sorted(set(functions) & set(NOT_DEPLOYED)):
        errors.append(f"binary {binary} is in NOT_DEPLOYED but the template deploys it ({', '.join(functions[binary])})")
    for binary in sorted(set(functions) - binaries):
        errors.append(f"drift: {', '.join(functions[binary])} deploys ../target/lambda/{binary}/ but {crate} has no binary {binary}")
    for binary in sorted(binaries - set(functions) - set(NOT_DEPLOYED)):
        errors.append(f"drift: binary {binary} of {crate} has no AWS::Serverless::Function (CodeUri ../target/lambda/{binary}/) in the template; deploy it or add it to NOT_DEPLOYED with the reason")
    return errors


# --- the self-test: each rule catches a broken copy of the template -----------------------------
def self_test(tpl):
    def some_function(t):
        return next(n for n, r in t["Resources"].items() if r["Type"] == "AWS::Serverless::Function")

    def add_fn(t, name, **props):
        t["Resources"][name] = {"Type": "AWS::Serverless::Function", "Properties": props}

    table = next(n for n, r in tpl["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table")
    existing = some_function(tpl)
    existing_uri = tpl["Resources"][existing]["Properties"]["CodeUri"]
    stream = {"Fn::GetAtt": [table, "StreamArn"]}
    cases = [
        ("Runtime in Globals", "provided.al2023",
         lambda t: t["Globals"]["Function"].__setitem__("Runtime", "provided.al2")),
        ("Runtime on a function", "provided.al2023",
         lambda t: t["Resources"][existing]["Properties"].__setitem__("Runtime", "provided")),
        ("Architecture parameter", "not an architecture",
         lambda t: t["Parameters"]["Architecture"]["AllowedValues"].append("arm")),
        ("literal Architectures", "not one of",
         lambda t: t["Resources"][existing]["Properties"].__setitem__("Architectures", ["aarch64"])),
        ("two Architectures", "exactly one",
         lambda t: t["Resources"][existing]["Properties"].__setitem__("Architectures", ["arm64", "x86_64"])),
        ("tracing off", "Tracing",
         lambda t: t["Resources"][existing]["Properties"].__setitem__("Tracing", "PassThrough")),
        ("StartingPosition AT_TIMESTAMP on a DynamoDB stream", "not valid for DynamoDB",
         lambda t: t["Resources"][existing]["Properties"].setdefault("Events", {}).__setitem__(
             "S", {"Type": "DynamoDB", "Properties": {"Stream": stream, "StartingPosition": "AT_TIMESTAMP"}})),
        ("StartingPosition misspelt", "not valid",
         lambda t: t["Resources"][existing]["Properties"].setdefault("Events", {}).__setitem__(
             "S", {"Type": "Kinesis", "Properties": {"Stream": "arn", "StartingPosition": "OLDEST"}})),
        ("StartingPosition missing", "needs StartingPosition",
         lambda t: t["Resources"][existing]["Properties"].setdefault("Events", {}).__setitem__(
             "S", {"Type": "DynamoDB", "Properties": {"Stream": stream}})),
        ("EventSourceMapping StartingPosition", "StartingPosition",
         lambda t: t["Resources"].__setitem__("M", {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
             "EventSourceArn": stream, "FunctionName": "f", "StartingPosition": "EARLIEST"}})),
        ("ProtocolType", "ProtocolType",
         lambda t: t["Resources"].__setitem__("Ws", {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
             "Name": "ws", "ProtocolType": "WEBSOCKETS"}})),
        ("wildcard action", "no wildcards",
         lambda t: t["Resources"][existing]["Properties"]["Policies"].append(
             {"Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]})),
        ("plain AWS::Lambda::Function", "AWS::Serverless::Function",
         lambda t: t["Resources"].__setitem__("Raw", {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": RUNTIME}})),
        ("a function without a binary", "has no binary ghost",
         lambda t: add_fn(t, "Ghost", CodeUri="../target/lambda/ghost/")),
        ("a binary without a function", "has no AWS::Serverless::Function",
         lambda t: t["Resources"].pop(existing)),
        ("CodeUri elsewhere", "not a cargo-lambda output",
         lambda t: t["Resources"][existing]["Properties"].__setitem__("CodeUri", "../build/api.zip")),
        ("one binary, two functions", "more than one function",
         lambda t: add_fn(t, "Twin", CodeUri=existing_uri)),
    ]
    failures = []
    for title, expected, mutate in cases:
        broken = copy.deepcopy(tpl)
        mutate(broken)
        errors = check(broken)
        if not any(expected in e for e in errors):
            failures.append(f"self-test: the rule for {title} did not catch it (wanted {expected!r}, got {errors})")
    missing_crate = check(tpl, crate=pathlib.Path("crates/no-such-crate"))
    if not any("does not exist" in e for e in missing_crate):
        failures.append("self-test: a missing crates/vitrine-lambda was not reported")
    return failures, len(cases) + 1


# --- the SAM transform, offline -------------------------------------------------------------------
def sam_transform(tpl):
    logging.disable(logging.WARNING)  # the translator logs feature-toggle chatter
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        """Our policies are inline statements; the translator asks IAM only for named ones."""
        def load(self):
            return {}

    t = copy.deepcopy(tpl)
    for res in t.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function":
            # What `sam deploy` does first: upload the folder, put its S3 address here.
            res.setdefault("Properties", {})["CodeUri"] = "s3://deployment-bucket/function.zip"
    required = {n: "example.com" for n, p in (t.get("Parameters") or {}).items() if "Default" not in p}
    return transform(t, required, NoManagedPolicies())


tpl = load(TEMPLATE)
problems = check(tpl)
for p in problems:
    print(f"  FAIL {p}", file=sys.stderr)
failures, count = self_test(tpl)
for f in failures:
    print(f"  FAIL {f}", file=sys.stderr)
try:
    transformed = sam_transform(tpl)
except Exception as e:  # the translator reports every invalid resource in one exception
    print(f"  FAIL SAM transform: {e}", file=sys.stderr)
    problems.append("transform")
else:
    with open(TRANSFORMED, "w", encoding="utf-8") as f:
        json.dump(transformed, f, indent=1)
if problems or failures:
    sys.exit(1)
fns = sorted(n for n, r in tpl["Resources"].items() if r.get("Type") == "AWS::Serverless::Function")
print(f"  ok: functions {', '.join(fns)} match the binaries of {LAMBDA_CRATE}; runtime, architecture, "
      f"event sources, protocols and IAM actions valid; {count} self-test cases caught; SAM transform ok")
PY
[ $? -eq 0 ] || failed+=("vitrine rules or SAM transform (FAIL lines above)")
set -e

echo "==> cfn-lint (us-east-1, sa-east-1): the template and its SAM-transformed output"
lint_files=("$template")
[ -f "$transformed" ] && lint_files+=("$transformed")
set +e
.venv/bin/cfn-lint --regions us-east-1 sa-east-1 -- "${lint_files[@]}"
rc=$?
set -e
# cfn-lint's status is a bit mask: 2 errors, 4 warnings, 8 informational; 1 means it failed.
if [ $((rc & 7)) -ne 0 ]; then
  failed+=("cfn-lint: errors or warnings (status $rc)")
else
  if [ $((rc & 8)) -ne 0 ]; then
    echo "  (the informational findings above do not fail the check)"
  fi
  echo "  ok: cfn-lint clean (${#lint_files[@]} files)"
fi

echo "==> cfn-lint (us-east-1): the edge ACL stack (infra/edge-acl.yaml)"
set +e
.venv/bin/cfn-lint --regions us-east-1 -- infra/edge-acl.yaml
rc=$?
set -e
if [ $((rc & 7)) -ne 0 ]; then
  failed+=("cfn-lint infra/edge-acl.yaml: errors or warnings (status $rc)")
else
  echo "  ok: cfn-lint clean (infra/edge-acl.yaml)"
fi

if [ ${#failed[@]} -ne 0 ]; then
  printf 'check-infra: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "check-infra: ok"
