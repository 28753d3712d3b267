"""The SAM transform of a template, offline, for the template runner (runner/template.rs).

Usage: python translate.py TEMPLATE [NAME=VALUE ...]
Prints one JSON document: {"template": <the CloudFormation template>, "code": {logical id: binary}}.

The YAML is read with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt, ...), as
scripts/check-infra.sh reads it. Each AWS::Serverless::Function's CodeUri
(../target/lambda/<binary>/, the cargo-lambda output) is recorded before it is replaced by an S3
address, which is what `sam deploy` does after uploading the folder and what the translator needs.
Parameters given as NAME=VALUE are passed to the translator (it needs a value for each parameter
without a default).
"""

import copy
import json
import logging
import re
import sys

import yaml


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

CODE_URI = re.compile(r"^(?:\.\./)?target/lambda/([A-Za-z0-9_-]+)/?$")


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: translate.py TEMPLATE [NAME=VALUE ...]")
    with open(sys.argv[1], encoding="utf-8") as f:
        tpl = yaml.load(f, Loader=CfnLoader)
    given = {}
    for arg in sys.argv[2:]:
        name, sep, value = arg.partition("=")
        if not sep:
            sys.exit(f"a parameter is NAME=VALUE, not {arg!r}")
        given[name] = value

    code = {}
    t = copy.deepcopy(tpl)
    fn_globals = ((t.get("Globals") or {}).get("Function")) or {}
    for name, res in (t.get("Resources") or {}).items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = res.setdefault("Properties", {})
        uri = props.get("CodeUri", fn_globals.get("CodeUri"))
        m = CODE_URI.match(uri) if isinstance(uri, str) else None
        if not m:
            sys.exit(f"{name}: CodeUri {uri!r} is not a cargo-lambda output ../target/lambda/<binary>/")
        code[name] = m.group(1)
        props["CodeUri"] = "s3://deployment-bucket/function.zip"

    logging.disable(logging.WARNING)  # the translator logs feature-toggle chatter
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        """The policies are inline statements; the translator asks IAM only for named ones."""

        def load(self):
            return {}

    params = {n: "example.com" for n, p in (t.get("Parameters") or {}).items() if "Default" not in p}
    params.update(given)
    try:
        out = transform(t, params, NoManagedPolicies())
    except Exception as e:  # the translator reports every invalid resource in one exception
        sys.exit(f"SAM transform: {e}")
    json.dump({"template": out, "code": code}, sys.stdout)


main()
