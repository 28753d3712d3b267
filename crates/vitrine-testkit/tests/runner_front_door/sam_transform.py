"""Prints infra/template.yaml as the SAM translator turns it into CloudFormation (JSON), for the
runner's front-door tests. Usage: .venv/bin/python sam_transform.py TEMPLATE"""
import json
import logging
import sys

import yaml
from samtranslator.translator.transform import transform


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt, ...)."""


def short_form(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + suffix: value}


CfnLoader.add_multi_constructor("!", short_form)


class NoManagedPolicies:
    def load(self):
        return {}


logging.disable(logging.WARNING)
with open(sys.argv[1], encoding="utf-8") as f:
    template = yaml.load(f, Loader=CfnLoader)
for resource in template.get("Resources", {}).values():
    if resource.get("Type") == "AWS::Serverless::Function":
        resource.setdefault("Properties", {})["CodeUri"] = "s3://deployment-bucket/function.zip"
required = {n: "example.com" for n, p in (template.get("Parameters") or {}).items() if "Default" not in p}
json.dump(transform(template, required, NoManagedPolicies()), sys.stdout)
