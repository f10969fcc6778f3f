"""Least privilege, checked over every IAM document the stack writes and both policy files:
no Allow grants every action of a service, Resource "*" appears only for actions that AWS
offers no resource-level permissions for, and the dangerous EC2 and IAM actions carry the
conditions that keep them on this deployment's own workers. The seed's two policy files
equal the template's documents once their placeholders are filled in."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from swescribe.adapters.aws.s3 import S3ObjectStore
from tests.deploy.cfn import (
    BUCKET_POLICY_PATH,
    INSTANCE_ROLE_POLICY_PATH,
    POLICY_PLACEHOLDERS,
    REGION,
    Resolver,
    as_list,
    fill_placeholders,
    load_template,
    policy_documents,
    resources_of_type,
    statements,
)

RESOURCE_STAR_ALLOWED = {
    "ec2:DescribeInstances": (
        "EC2 Describe* calls have no resource-level permissions; the launcher and janitor "
        "list this deployment's workers by their swescribe:service tag"
    ),
}
"""Actions that may be granted on Resource "*", each with the reason."""

MANAGED_POLICIES_ALLOWED: dict[str, list[str]] = {}
"""No role of the stack has a managed policy. (API Gateway's CloudWatch role, with AWS's
own, is one account-wide setting that setup_infrastructure.sh makes outside the stack.)"""

TAG_CONDITION = {"StringEquals": {"ec2:ResourceTag/swescribe:service": "swescribe"}}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def resolver(template: dict[str, Any]) -> Resolver:
    return Resolver(template)


@pytest.fixture(scope="module")
def documents(template: dict[str, Any], resolver: Resolver) -> dict[str, Any]:
    """Every policy document: the template's (resolved) and the two files (filled in)."""
    found = {where: resolver.resolve(doc) for where, doc in policy_documents(template)}
    values = placeholder_values(resolver)
    for path in (INSTANCE_ROLE_POLICY_PATH, BUCKET_POLICY_PATH):
        found[path.name] = fill_placeholders(path, values)
    return found


def placeholder_values(resolver: Resolver) -> dict[str, str]:
    return {name: str(resolver.resolve(node)) for name, node in POLICY_PLACEHOLDERS.items()}


def allow_statements(documents: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (where, statement)
        for where, document in documents.items()
        for statement in statements(document)
        if statement["Effect"] == "Allow"
    ]


def test_every_role_and_resource_policy_is_checked(documents: dict[str, Any]) -> None:
    assert set(documents) == {
        "TranscriptionBucketPolicy",
        "UploadEventsQueuePolicy",
        "WorkerRole/swescribe-worker",
        "ApiFunctionRole/swescribe-api",
        "ProcessUploadFunctionRole/swescribe-process-upload",
        "JanitorFunctionRole/swescribe-janitor",
        "ec2_instance_role_policy.json",
        "bucket_policy.json",
    }


def test_no_allow_grants_every_action_or_uses_not_action(documents: dict[str, Any]) -> None:
    for where, statement in allow_statements(documents):
        assert "NotAction" not in statement, where
        assert "NotResource" not in statement, where
        for action in as_list(statement["Action"]):
            assert action != "*", where
            assert not action.endswith(":*"), f"{where}: {action}"


def test_resource_star_only_for_actions_without_resource_level_permissions(
    documents: dict[str, Any],
) -> None:
    for where, statement in allow_statements(documents):
        if "*" in as_list(statement["Resource"]):
            unexplained = set(as_list(statement["Action"])) - set(RESOURCE_STAR_ALLOWED)
            assert not unexplained, f"{where} grants {unexplained} on every resource"


def test_only_the_api_gateway_logging_role_has_a_managed_policy(template: dict[str, Any]) -> None:
    managed = {
        name: role["Properties"]["ManagedPolicyArns"]
        for name, role in resources_of_type(template, "AWS::IAM::Role").items()
        if "ManagedPolicyArns" in role["Properties"]
    }
    assert managed == MANAGED_POLICIES_ALLOWED
    assert not resources_of_type(template, "AWS::IAM::ManagedPolicy")


def test_instances_are_terminated_or_retagged_only_when_tagged_as_swescribe_workers(
    documents: dict[str, Any],
) -> None:
    for where, statement in allow_statements(documents):
        actions = set(as_list(statement["Action"]))
        if actions & {"ec2:TerminateInstances", "ec2:DeleteTags"}:
            assert statement["Condition"]["StringEquals"] == TAG_CONDITION["StringEquals"], where
        if "ec2:CreateTags" in actions:
            condition = statement["Condition"]["StringEquals"]
            assert (
                condition.get("ec2:CreateAction") == "RunInstances"
                or condition == TAG_CONDITION["StringEquals"]
            ), where


def test_workers_launch_only_tagged_and_only_from_the_stacks_template(
    documents: dict[str, Any],
) -> None:
    for role in ("ApiFunctionRole/swescribe-api", "JanitorFunctionRole/swescribe-janitor"):
        launch = [
            statement
            for statement in statements(documents[role])
            if "ec2:RunInstances" in as_list(statement["Action"])
        ]
        resources = {resource for statement in launch for resource in statement["Resource"]}
        assert (
            "arn:aws:ec2:eu-north-1:123456789012:launch-template/<WorkerLaunchTemplate>"
            in resources
        )
        assert "arn:aws:ec2:eu-north-1::image/ami-0123456789abcdef0" in resources
        for statement in launch:
            if any(":instance/" in resource for resource in statement["Resource"]):
                assert statement["Condition"] == {
                    "StringEquals": {"aws:RequestTag/swescribe:service": "swescribe"}
                }


def test_only_the_worker_role_can_be_passed_and_only_to_ec2(documents: dict[str, Any]) -> None:
    passing = [
        (where, statement)
        for where, statement in allow_statements(documents)
        if "iam:PassRole" in as_list(statement["Action"])
    ]
    assert {where for where, _ in passing} == {
        "ApiFunctionRole/swescribe-api",
        "ProcessUploadFunctionRole/swescribe-process-upload",
        "JanitorFunctionRole/swescribe-janitor",
    }
    for _, statement in passing:
        assert statement["Resource"] == "<WorkerRole.Arn>"
        assert statement["Condition"] == {
            "StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}
        }


def test_object_access_stays_under_the_upload_result_and_voice_prefixes(
    documents: dict[str, Any],
) -> None:
    bucket = "arn:aws:s3:::transcription-curevo"
    wheel = "arn:aws:s3:::swescribe-artifacts/wheels/swescribe-0.1.0-py3-none-any.whl"
    allowed = {f"{bucket}/{p}/*" for p in ("transcription_upload", "results", "speakers")} | {wheel}
    for where, statement in allow_statements(documents):
        actions = as_list(statement["Action"])
        if not any(action.startswith("s3:") for action in actions):
            continue
        for resource in as_list(statement["Resource"]):
            if resource == bucket:  # ListBucket, bounded by an s3:prefix condition
                assert actions == ["s3:ListBucket"], where
                prefixes = as_list(statement["Condition"]["StringLike"]["s3:prefix"])
                assert set(prefixes) <= {"transcription_upload/*", "results/*", "speakers/*"}, where
            else:
                assert resource in allowed, f"{where}: {resource}"


def test_worker_role_trusts_ec2_and_lambda_roles_trust_lambda(template: dict[str, Any]) -> None:
    principals = {
        name: role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        for name, role in resources_of_type(template, "AWS::IAM::Role").items()
    }
    assert principals == {
        "WorkerRole": {"Service": "ec2.amazonaws.com"},
        "ApiFunctionRole": {"Service": "lambda.amazonaws.com"},
        "ProcessUploadFunctionRole": {"Service": "lambda.amazonaws.com"},
        "JanitorFunctionRole": {"Service": "lambda.amazonaws.com"},
    }


def denied_by_bucket_policy(policy: dict[str, Any], sse_header: str | None) -> bool:
    """Whether the DenyUnencryptedUploads statement refuses a PutObject carrying this
    x-amz-server-side-encryption value (StringNotEquals also matches an absent key)."""
    (statement,) = [s for s in statements(policy) if s["Sid"] == "DenyUnencryptedUploads"]
    required = statement["Condition"]["StringNotEquals"]["s3:x-amz-server-side-encryption"]
    return bool(sse_header != required)


def test_bucket_policy_lets_swescribes_presigned_uploads_through(
    documents: dict[str, Any],
) -> None:
    policy = documents["bucket_policy.json"]
    s3 = boto3.client(
        "s3",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    store = S3ObjectStore(s3, "transcription-curevo")
    put = store.upload_target("transcription_upload/abc123/", "audio.mp3", 900, 1 << 30)
    post = store.upload_target("transcription_upload/abc123/", "", 900, 1 << 30)
    assert not denied_by_bucket_policy(policy, put.headers["x-amz-server-side-encryption"])
    assert not denied_by_bucket_policy(policy, post.fields["x-amz-server-side-encryption"])
    assert denied_by_bucket_policy(policy, None), "an upload without SSE is refused"
    (tls,) = [s for s in statements(policy) if s["Sid"] == "DenyInsecureTransport"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert tls["Effect"] == "Deny"


# --- the seed's two policy files ------------------------------------------------------------


def test_instance_role_policy_file_is_the_worker_roles_policy(
    template: dict[str, Any], resolver: Resolver
) -> None:
    (policy,) = template["Resources"]["WorkerRole"]["Properties"]["Policies"]
    assert resolver.resolve(policy["PolicyDocument"]) == fill_placeholders(
        INSTANCE_ROLE_POLICY_PATH, placeholder_values(resolver)
    )


def test_bucket_policy_file_is_the_templates_bucket_policy(
    template: dict[str, Any], resolver: Resolver
) -> None:
    bucket_policy = template["Resources"]["TranscriptionBucketPolicy"]["Properties"]
    document = resolver.resolve(bucket_policy["PolicyDocument"])
    assert document == fill_placeholders(BUCKET_POLICY_PATH, placeholder_values(resolver))
    assert bucket_policy["Bucket"] == {"Ref": "TranscriptionBucket"}
