"""The CloudFormation template as data: loaded with cfn-lint's decoder (which knows the short
tags !Ref, !Sub, !GetAtt, ...) and resolved offline for a given set of parameter values.

The resolver stands in for CloudFormation where no stack exists: a parameter or pseudo
parameter becomes its value, a resource's Ref becomes ``<LogicalId>`` and its Fn::GetAtt
``<LogicalId.Attribute>``, so two expressions naming the same thing resolve alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint.decode

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "setup" / "cloudformation" / "swescribe.yaml"
INSTANCE_ROLE_POLICY_PATH = REPO_ROOT / "setup" / "ec2_instance_role_policy.json"
BUCKET_POLICY_PATH = REPO_ROOT / "setup" / "lambda" / "bucket_policy.json"

STACK_NAME = "swescribe"
REGION = "eu-north-1"
ACCOUNT_ID = "123456789012"
REQUIRED_PARAMETERS = {
    "ArtifactsBucket": "swescribe-artifacts",
    "LambdaCodeKey": "lambda/swescribe-lambda.zip",
    "WorkerWheelKey": "wheels/swescribe-0.1.0-py3-none-any.whl",
    "WorkerAmiId": "ami-0123456789abcdef0",
    "VpcId": "vpc-0123456789abcdef0",
    "SubnetIds": "subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2",
}
"""Values for the parameters without a default (and a wheel), as the setup scripts pass them."""

NO_VALUE = object()
_PLACEHOLDER = re.compile(r"\$\{([^}!][^}]*)\}")
_IAM_VARIABLE = re.compile(r"[a-z0-9-]+:[A-Za-z0-9]+")
"""An IAM policy variable such as ${ec2:InstanceID}: IAM fills it in, not the scripts."""


@cache
def _decoded() -> str:
    template, matches = cfnlint.decode.decode(str(TEMPLATE_PATH))
    if matches or template is None:
        raise AssertionError(f"the template does not load: {matches}")
    return json.dumps(template)


def load_template() -> dict[str, Any]:
    """The template as plain JSON data, intrinsic functions in their long form (Fn::Sub)."""
    template: dict[str, Any] = json.loads(_decoded())
    return template


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, Any]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def parameter_values(template: Mapping[str, Any], **overrides: str) -> dict[str, Any]:
    """Defaults, then REQUIRED_PARAMETERS, then overrides; list parameters split on commas."""
    values: dict[str, Any] = {
        name: spec["Default"] for name, spec in template["Parameters"].items() if "Default" in spec
    }
    values.update(REQUIRED_PARAMETERS)
    values.update(overrides)
    for name, spec in template["Parameters"].items():
        if spec["Type"].startswith("List<") and isinstance(values.get(name), str):
            values[name] = values[name].split(",")
    return {
        name: value if isinstance(value, list) else str(value) for name, value in values.items()
    }


class Resolver:
    """Evaluates intrinsic functions against parameter values and the template's conditions."""

    def __init__(self, template: Mapping[str, Any], **parameters: str) -> None:
        self.template = template
        self.values: dict[str, Any] = {
            **parameter_values(template, **parameters),
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": STACK_NAME,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def condition(self, name: str) -> bool:
        return bool(self._condition(self.template["Conditions"][name]))

    def _condition(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((function, args),) = node.items()
            if function == "Fn::Equals":
                return self.resolve(args[0]) == self.resolve(args[1])
            if function == "Fn::Not":
                return not self._condition(args[0])
            if function == "Fn::And":
                return all(self._condition(arg) for arg in args)
            if function == "Fn::Or":
                return any(self._condition(arg) for arg in args)
            if function == "Condition":
                return self.condition(args)
        return self.resolve(node)

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.values:
            return self.values[name]
        if name in self.template["Resources"]:
            return f"<{name}>"
        raise KeyError(f"Ref to an unknown name {name!r}")

    def sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.template["Resources"]:
                return f"<{name}>"
            return str(self.ref(name))

        return _PLACEHOLDER.sub(replace, text).replace("${!", "${")

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [value for value in map(self.resolve, node) if value is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((function, args),) = node.items()
            if function == "Ref":
                return self.ref(args)
            if function == "Fn::GetAtt":
                resource, attribute = args.split(".", 1) if isinstance(args, str) else args
                return f"<{resource}.{attribute}>"
            if function == "Fn::Sub":
                text, variables = (args, {}) if isinstance(args, str) else args
                return self.sub(text, {k: self.resolve(v) for k, v in variables.items()})
            if function == "Fn::Join":
                return args[0].join(str(part) for part in self.resolve(args[1]))
            if function == "Fn::If":
                name, when_true, when_false = args
                return self.resolve(when_true if self.condition(name) else when_false)
            if function == "Fn::Select":
                return self.resolve(args[1])[int(self.resolve(args[0]))]
            if function == "Fn::Split":
                return self.resolve(args[1]).split(args[0])
            if function.startswith("Fn::"):
                raise NotImplementedError(f"the test resolver does not know {function}")
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}


def fill_placeholders(path: Path, values: Mapping[str, str]) -> dict[str, Any]:
    """A policy file with its ${...} placeholders filled in; every placeholder must be known."""
    text = path.read_text(encoding="utf-8")
    found = {name for name in _PLACEHOLDER.findall(text) if not _IAM_VARIABLE.fullmatch(name)}
    unknown = sorted(found - set(values))
    if unknown:
        raise AssertionError(f"{path.name} has placeholders nobody fills in: {unknown}")
    filled = _PLACEHOLDER.sub(
        lambda match: (
            match.group(0) if _IAM_VARIABLE.fullmatch(match.group(1)) else values[match.group(1)]
        ),
        text,
    )
    document: dict[str, Any] = json.loads(filled)
    return document


def policy_documents(template: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(where, document) for every IAM policy document the template writes inline."""
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                yield f"{name}/{policy['PolicyName']}", policy["PolicyDocument"]
        elif "PolicyDocument" in properties:
            yield name, properties["PolicyDocument"]


def statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return list(found) if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


POLICY_PLACEHOLDERS: dict[str, Any] = {
    "BucketName": {"Ref": "BucketName"},
    "TableName": {"Ref": "TableName"},
    "ArtifactsBucket": {"Ref": "ArtifactsBucket"},
    "WorkerWheelKey": {"Ref": "WorkerWheelKey"},
    "AWS::Region": {"Ref": "AWS::Region"},
    "AWS::AccountId": {"Ref": "AWS::AccountId"},
    "AWS::StackName": {"Ref": "AWS::StackName"},
    "WorkQueueArn": {"Fn::GetAtt": ["WorkQueue", "Arn"]},
    "WebhookQueueArn": {"Fn::GetAtt": ["WebhookQueue", "Arn"]},
    "WorkerLogGroupArn": {
        "Fn::Sub": "arn:aws:logs:${AWS::Region}:${AWS::AccountId}:log-group:${WorkerLogGroup}:*"
    },
}
"""What each placeholder of the two policy files stands for, in the template's terms."""
