"""Every component under its own IAM role, as the CloudFormation template writes it.

In-process moto plays the account. The stack's bucket, table, queues, subnets and launch
template are made with moto's auth off (the "deployer"); then each role of the template is
created in moto IAM from the template's own policy document (parameters and pseudo
parameters resolved by tests/deploy/cfn.py, resource names replaced by what moto made),
assumed through STS, and the component's real code runs with those credentials and moto's
IAM checks on (``enable_iam_authentication``), with the environment the template gives it.

What moto checks, and how the documents are adapted to it (moto 5.x, moto/iam/access_control.py):

- the Action of every request, for every service;
- the Resource only for S3, SQS, IAM and STS; DynamoDB and EC2 requests are checked against
  Resource ``*``, so statements about those two services get Resource ``*`` here (their
  Actions are still checked);
- S3 DeleteObjects (a POST on the bucket) is checked as s3:DeleteObject on the *bucket*
  ARN, where AWS checks s3:DeleteObject on each key; statements allowing s3:DeleteObject
  also name the bucket ARN here;
- Conditions are not evaluated for identity policies (they pass), so condition keys are
  tested on their own (tests/deploy/test_iam_conditions.py).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.authorization import enable_iam_authentication

from swescribe.adapters.aws.dynamodb_jobs import create_jobs_table
from swescribe.adapters.aws.userdata import parse_user_data
from tests.deploy import cfn

REGION = cfn.REGION
BUCKET = "swescribe-iam-test-uploads"
TABLE = "transcription-jobs"
LAMBDA_ROLES = {
    "ApiFunctionRole": "ApiFunction",
    "ProcessUploadFunctionRole": "ProcessUploadFunction",
    "JanitorFunctionRole": "JanitorFunction",
}
WORKER_ROLE = "WorkerRole"
QUEUES = {
    "WorkQueue": "work",
    "WorkDeadLetterQueue": "work-dlq",
    "WebhookQueue": "webhooks",
    "WebhookDeadLetterQueue": "webhooks-dlq",
    "UploadEventsQueue": "upload-events",
    "UploadEventsDeadLetterQueue": "upload-events-dlq",
}
TEST_ENV = {"SWESCRIBE_DEV_MODE": "1"}
"""On top of the template's environment: webhooks may go to the receiver on loopback."""
_RESOURCE_STAR_SERVICES = frozenset({"dynamodb", "ec2"})


def _actions(statement: Mapping[str, Any]) -> list[str]:
    return [str(action) for action in cfn.as_list(statement.get("Action", []))]


def for_moto(document: Mapping[str, Any], bucket: str) -> dict[str, Any]:
    """The policy document adapted to what moto can check (see the module docstring)."""
    adapted = copy.deepcopy(dict(document))
    for statement in cfn.statements(adapted):
        services = {action.split(":", 1)[0] for action in _actions(statement)}
        if services & _RESOURCE_STAR_SERVICES:
            assert services <= _RESOURCE_STAR_SERVICES, f"mixed services in {statement}"
            statement["Resource"] = "*"  # moto checks DynamoDB and EC2 against "*" only
        if "s3:DeleteObject" in _actions(statement):
            statement["Resource"] = [*cfn.as_list(statement["Resource"]), f"arn:aws:s3:::{bucket}"]
    adapted["Statement"] = cfn.statements(adapted)
    return adapted


def without_action(document: Mapping[str, Any], action: str) -> dict[str, Any]:
    """The document with one action taken out of every statement (empty statements go)."""
    trimmed = copy.deepcopy(dict(document))
    kept = []
    for statement in cfn.statements(trimmed):
        remaining = [name for name in _actions(statement) if name != action]
        if remaining:
            statement["Action"] = remaining
            kept.append(statement)
    trimmed["Statement"] = kept
    return trimmed


def _realise(node: Any, names: Mapping[str, str]) -> Any:
    """Resolver output with <Resource> / <Resource.Attribute> replaced by moto's values."""
    if isinstance(node, str):
        for placeholder, value in names.items():
            node = node.replace(placeholder, value)
        return node
    if isinstance(node, list):
        return [_realise(value, names) for value in node]
    if isinstance(node, dict):
        return {key: _realise(value, names) for key, value in node.items()}
    return node


@dataclass
class Account:
    """The stack's resources in moto and, per role, its assumed credentials."""

    resolver: cfn.Resolver
    names: dict[str, str]
    subnet_ids: list[str]
    roles: dict[str, dict[str, str]] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        """A deployer's client (use it outside `acting_as`: moto's auth is off there)."""
        return boto3.client(service, region_name=REGION)

    def queue_url(self, logical_id: str) -> str:
        return self.names[f"<{logical_id}>"]

    def resolved(self, node: Any) -> Any:
        return _realise(self.resolver.resolve(node), self.names)

    def policy(self, role: str) -> dict[str, Any]:
        """The role's policy document exactly as the template writes it (resolved)."""
        resource = self.resolver.template["Resources"][role]
        (policy,) = resource["Properties"]["Policies"]
        document: dict[str, Any] = self.resolved(policy["PolicyDocument"])
        return document

    def create_role(self, role: str, document: Mapping[str, Any] | None = None) -> None:
        """The role in moto IAM (the template's trust policy), its policy, assumed via STS."""
        iam = self.client("iam")
        trust = self.resolved(
            self.resolver.template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
        )
        with_suffix = f"{role}-{uuid.uuid4().hex[:8]}"
        arn = iam.create_role(RoleName=with_suffix, AssumeRolePolicyDocument=json.dumps(trust))[
            "Role"
        ]["Arn"]
        adapted = for_moto(document or self.policy(role), BUCKET)
        iam.put_role_policy(
            RoleName=with_suffix, PolicyName=role, PolicyDocument=json.dumps(adapted)
        )
        credentials = self.client("sts").assume_role(RoleArn=arn, RoleSessionName=role)[
            "Credentials"
        ]
        self.documents[role] = adapted
        self.roles[role] = {
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }

    def lambda_env(self, role: str) -> dict[str, str]:
        function = self.resolver.template["Resources"][LAMBDA_ROLES[role]]
        variables = self.resolved(function["Properties"]["Environment"]["Variables"])
        return {name: str(value) for name, value in variables.items()}

    def worker_env(self, instance_id: str) -> dict[str, str]:
        """What the instance's UserData exports: the worker's whole configuration."""
        raw = self.client("ec2").describe_instance_attribute(
            InstanceId=instance_id, Attribute="userData"
        )["UserData"]["Value"]
        return parse_user_data(base64.b64decode(raw).decode())

    @contextmanager
    def acting_as(self, role: str, env: Mapping[str, str] | None = None) -> Iterator[None]:
        """Run the block with the role's credentials, its environment and IAM enforced.

        env None: the Lambda's environment from the template (for the three Lambda roles).
        """
        from swescribe.lambdas import api, process_upload

        component_env = dict(env) if env is not None else self.lambda_env(role)
        with pytest.MonkeyPatch.context() as patch:
            for name in list(os.environ):
                if name.startswith("SWESCRIBE_"):
                    patch.delenv(name)
            for name, value in {**component_env, **TEST_ENV, **self.roles[role]}.items():
                patch.setenv(name, value)
            patch.setattr(boto3, "DEFAULT_SESSION", None)  # credentials are read afresh
            api._asgi_handler.cache_clear()
            process_upload._wiring.cache_clear()
            try:
                with enable_iam_authentication():
                    yield
            finally:
                api._asgi_handler.cache_clear()
                process_upload._wiring.cache_clear()


@contextmanager
def recording(service: str) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """(operation, parameters) of every request made to service through boto3's default
    session while the block runs (inside `acting_as`: the component's own requests)."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append((model.name, copy.deepcopy(params)))

    boto3.setup_default_session()
    events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
    events.register(f"provide-client-params.{service}", record)
    try:
        yield seen
    finally:
        events.unregister(f"provide-client-params.{service}", record)


def _deploy(template: dict[str, Any]) -> Account:
    """What the stack creates, made by the deployer with moto's auth off."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.20.{n}.0/24")["Subnet"]["SubnetId"]
        for n in (1, 2)
    ]
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    resolver = cfn.Resolver(
        template,
        BucketName=BUCKET,
        TableName=TABLE,
        VpcId=vpc_id,
        SubnetIds=",".join(subnet_ids),
        WorkerAmiId=image_id,
    )
    names: dict[str, str] = {}
    sqs = boto3.client("sqs", region_name=REGION)
    for logical_id, suffix in QUEUES.items():
        url = sqs.create_queue(QueueName=f"{cfn.STACK_NAME}-{suffix}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        names[f"<{logical_id}.Arn>"] = arn
        names[f"<{logical_id}>"] = url
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    create_jobs_table(boto3.client("dynamodb", region_name=REGION), TABLE)
    group_id = ec2.create_security_group(
        GroupName="swescribe-workers", Description="workers", VpcId=vpc_id
    )["GroupId"]
    template_name = resolver.resolve(
        template["Resources"]["WorkerLaunchTemplate"]["Properties"]["LaunchTemplateName"]
    )
    template_id = ec2.create_launch_template(
        LaunchTemplateName=template_name,
        LaunchTemplateData={
            "ImageId": image_id,
            "InstanceType": "g4dn.xlarge",
            "SecurityGroupIds": [group_id],
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
        },
    )["LaunchTemplate"]["LaunchTemplateId"]
    names["<WorkerLaunchTemplate>"] = template_id
    names["<WorkerSecurityGroup.GroupId>"] = group_id
    names["<WorkerRole.Arn>"] = f"arn:aws:iam::{cfn.ACCOUNT_ID}:role/WorkerRole"
    return Account(resolver, names, subnet_ids)


@contextmanager
def deployed_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    """In-process moto with the stack's resources; roles are created by the tests."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "SWESCRIBE_")):
            monkeypatch.delenv(name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "deployer",
        "AWS_SECRET_ACCESS_KEY": "deployer",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    with mock_aws():
        yield _deploy(cfn.load_template())
