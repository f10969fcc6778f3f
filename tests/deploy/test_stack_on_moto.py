"""The template deployed into in-process moto CloudFormation, read back through the service
APIs, and the launcher and settings of the AWS shape run against what it made.

moto 5.2.5's CloudFormation skips, with a warning, these resource types of the template:
AWS::S3::BucketPolicy, AWS::SQS::QueuePolicy, AWS::ApiGateway::Account, AWS::ApiGateway::Stage,
AWS::ApiGateway::UsagePlan, AWS::ApiGateway::ApiKey, AWS::ApiGateway::UsagePlanKey,
AWS::Logs::MetricFilter, AWS::CloudWatch::Alarm and AWS::SNS::Subscription (so the outputs
ApiKeyId and UsagePlanId stay empty). Of the types it does make it ignores some properties:
the bucket keeps only its encryption (no public access block, ownership, lifecycle or
notification), the table has no TTL or point-in-time recovery, and the security group keeps
the default egress rule (its ingress rules are the only ones moto reads). test_template.py
checks those in the template itself.
"""

from __future__ import annotations

import ast
import io
import json
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from swescribe.adapters.aws import dynamodb_jobs
from swescribe.adapters.aws.ec2_launcher import Ec2Launcher
from swescribe.adapters.aws.ec2_workers import SERVICE_TAG
from swescribe.bootstrap_aws import plan_from_settings, require_aws_settings
from swescribe.config import Settings
from tests.deploy.cfn import (
    INSTANCE_ROLE_POLICY_PATH,
    REGION,
    STACK_NAME,
    TEMPLATE_PATH,
    fill_placeholders,
    load_template,
)
from tests.support import fake_aws

ARTIFACTS = "swescribe-artifacts"
LAMBDA_KEY = "lambda/swescribe-lambda.zip"
WHEEL_KEY = "wheels/swescribe-0.1.0-py3-none-any.whl"
ALARM_EMAIL = "ops@example.com"

MOTO_SKIPS = {
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::ApiGateway::Account",
    "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::UsagePlan",
    "AWS::ApiGateway::ApiKey",
    "AWS::ApiGateway::UsagePlanKey",
    "AWS::Logs::MetricFilter",
    "AWS::CloudWatch::Alarm",
    "AWS::SNS::Subscription",
}
"""What moto 5.2.5 leaves out; a newer moto may make some of them."""

FUNCTIONS = ("swescribe-api", "swescribe-process-upload", "swescribe-janitor")


@dataclass(frozen=True)
class Stack:
    outputs: dict[str, str]
    resources: dict[str, str]
    """Logical id -> physical id, for what moto made."""
    skipped_types: set[str]
    vpc_id: str
    subnet_ids: list[str]
    image_id: str


def client(service: str) -> Any:
    factory: Any = boto3.client
    return factory(service, region_name=REGION)


def lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_api.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def deploy() -> Stack:
    """What the setup scripts do before the stack: the artifacts, a VPC; then the stack."""
    s3 = client("s3")
    s3.create_bucket(Bucket=ARTIFACTS, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=ARTIFACTS, Key=LAMBDA_KEY, Body=lambda_zip())
    s3.put_object(Bucket=ARTIFACTS, Key=WHEEL_KEY, Body=b"wheel")
    ec2 = client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.20.{n}.0/24")["Subnet"]["SubnetId"]
        for n in (1, 2)
    ]
    images = ec2.describe_images(Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*"]}])
    image_id = images["Images"][0]["ImageId"]
    parameters = {
        "ArtifactsBucket": ARTIFACTS,
        "LambdaCodeKey": LAMBDA_KEY,
        "WorkerWheelKey": WHEEL_KEY,
        "WorkerAmiId": image_id,
        "VpcId": vpc_id,
        "SubnetIds": ",".join(subnet_ids),
        "AlarmEmail": ALARM_EMAIL,
    }
    cloudformation = client("cloudformation")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cloudformation.create_stack(
            StackName=STACK_NAME,
            TemplateBody=TEMPLATE_PATH.read_text(encoding="utf-8"),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM"],
        )
        (described,) = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"]
        summaries = cloudformation.list_stack_resources(StackName=STACK_NAME)[
            "StackResourceSummaries"
        ]
    skipped = {
        str(w.message).split()[3] for w in caught if str(w.message).startswith("Tried to parse ")
    }
    assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
    return Stack(
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        resources={
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in summaries
            if r.get("LogicalResourceId")
        },
        skipped_types=skipped,
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        image_id=image_id,
    )


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with pytest.MonkeyPatch.context() as env, fake_aws(env, REGION):
        yield deploy()


def queue_attributes(name: str) -> dict[str, str]:
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes: dict[str, str] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    return attributes


def lambda_environment(name: str) -> dict[str, str]:
    configuration = client("lambda").get_function_configuration(FunctionName=name)
    return {k: str(v) for k, v in configuration["Environment"]["Variables"].items()}


def test_stack_completes_and_moto_skips_only_the_known_types(stack: Stack) -> None:
    assert stack.skipped_types <= MOTO_SKIPS
    made_or_skipped = {
        name
        for name, resource in load_template()["Resources"].items()
        if name in stack.resources or resource["Type"] in stack.skipped_types
    }
    assert made_or_skipped == set(load_template()["Resources"])
    assert stack.outputs["LaunchTemplateName"] == "swescribe-worker"
    assert stack.outputs["WorkerLogGroup"] == "/swescribe/swescribe/worker"
    assert stack.outputs["BucketName"] == "transcription-curevo"
    assert stack.outputs["TableName"] == "transcription-jobs"
    assert stack.outputs["ApiUrl"] == (
        f"https://{stack.resources['RestApi']}.execute-api.{REGION}.amazonaws.com/prod"
    )
    assert [stack.outputs[f"{n}FunctionName"] for n in ("Api", "ProcessUpload", "Janitor")] == [
        *FUNCTIONS
    ]


def test_bucket_encrypts_new_objects_with_aes256(stack: Stack) -> None:
    encryption = client("s3").get_bucket_encryption(Bucket="transcription-curevo")
    (rule,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_table_has_the_job_store_keys_indexes_and_billing(stack: Stack) -> None:
    table = client("dynamodb").describe_table(TableName="transcription-jobs")["Table"]
    assert table["KeySchema"] == dynamodb_jobs.KEY_SCHEMA
    assert table["AttributeDefinitions"] == dynamodb_jobs.ATTRIBUTE_DEFINITIONS
    assert table["BillingModeSummary"]["BillingMode"] == dynamodb_jobs.BILLING_MODE
    indexes = [
        {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
        for index in table["GlobalSecondaryIndexes"]
    ]
    assert indexes == dynamodb_jobs.GLOBAL_SECONDARY_INDEXES


@pytest.mark.parametrize(
    ("queue", "max_receives", "visibility"),
    [
        ("swescribe-work", 100, "900"),
        ("swescribe-webhooks", 10, "720"),
        ("swescribe-upload-events", 5, "720"),
    ],
)
def test_queues_send_poison_messages_to_their_dead_letter_queue(
    stack: Stack, queue: str, max_receives: int, visibility: str
) -> None:
    attributes = queue_attributes(queue)
    dead_letter = queue_attributes(f"{queue}-dlq")
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead_letter["QueueArn"],
        "maxReceiveCount": max_receives,
    }
    assert attributes["VisibilityTimeout"] == visibility
    assert attributes["SqsManagedSseEnabled"] == dead_letter["SqsManagedSseEnabled"] == "true"
    assert dead_letter["MessageRetentionPeriod"] == str(14 * 24 * 3600)


def test_launch_template_requires_imdsv2_encrypts_its_disk_and_terminates_on_shutdown(
    stack: Stack,
) -> None:
    (version,) = client("ec2").describe_launch_template_versions(
        LaunchTemplateName="swescribe-worker"
    )["LaunchTemplateVersions"]
    data = version["LaunchTemplateData"]
    assert data["MetadataOptions"] == {
        "HttpEndpoint": "enabled",
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 1,
    }
    (disk,) = data["BlockDeviceMappings"]
    assert disk["DeviceName"] == "/dev/sda1", "the root device of build_ami.sh's Ubuntu AMI"
    assert disk["Ebs"] == {
        "DeleteOnTermination": True,
        "Encrypted": True,
        "VolumeSize": 100,
        "VolumeType": "gp3",
    }
    assert data["InstanceInitiatedShutdownBehavior"] == "terminate"
    assert data["ImageId"] == stack.image_id
    assert data["InstanceType"] == "g4dn.xlarge"
    assert data["SecurityGroupIds"] == [stack.resources["WorkerSecurityGroup"]]
    assert "NetworkInterfaces" not in data, "the launcher passes SubnetId itself"
    profile = client("iam").get_instance_profile(
        InstanceProfileName=stack.resources["WorkerInstanceProfile"]
    )["InstanceProfile"]
    assert data["IamInstanceProfile"]["Arn"] == profile["Arn"]
    assert [role["RoleName"] for role in profile["Roles"]] == [stack.resources["WorkerRole"]]


def test_worker_role_policy_is_the_instance_role_policy_file(stack: Stack) -> None:
    iam = client("iam")
    role = stack.resources["WorkerRole"]
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["swescribe-worker"]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    document = iam.get_role_policy(RoleName=role, PolicyName="swescribe-worker")["PolicyDocument"]
    if isinstance(document, str):  # moto renders a policy made by CloudFormation as repr()
        document = ast.literal_eval(document)
    account = client("sts").get_caller_identity()["Account"]
    (worker_log,) = client("logs").describe_log_groups(
        logGroupNamePrefix="/swescribe/swescribe/worker"
    )["logGroups"]
    expected = fill_placeholders(
        INSTANCE_ROLE_POLICY_PATH,
        {
            "BucketName": "transcription-curevo",
            "TableName": "transcription-jobs",
            "ArtifactsBucket": ARTIFACTS,
            "WorkerWheelKey": WHEEL_KEY,
            "AWS::Region": REGION,
            "AWS::AccountId": account,
            "AWS::StackName": STACK_NAME,
            "WorkQueueArn": queue_attributes("swescribe-work")["QueueArn"],
            "WebhookQueueArn": queue_attributes("swescribe-webhooks")["QueueArn"],
            "WorkerLogGroupArn": worker_log["arn"],
        },
    )
    assert document == expected


def test_lambdas_run_the_seed_handlers_with_settings_the_aws_shape_accepts(
    stack: Stack,
) -> None:
    handlers = {
        name: client("lambda").get_function_configuration(FunctionName=name)["Handler"]
        for name in FUNCTIONS
    }
    assert handlers == {
        "swescribe-api": "lambda_api.handler",
        "swescribe-process-upload": "lambda_process_upload.handler",
        "swescribe-janitor": "lambda_janitor.handler",
    }
    environments = [lambda_environment(name) for name in FUNCTIONS]
    assert environments[0] == environments[1] == environments[2]
    settings = Settings.from_env(environments[0])
    require_aws_settings(settings)
    assert settings.backend == "aws"
    assert settings.dev_mode is False
    assert settings.queue_url == stack.outputs["WorkQueueUrl"]
    assert settings.webhook_queue_url == stack.outputs["WebhookQueueUrl"]
    assert (settings.bucket, settings.table) == ("transcription-curevo", "transcription-jobs")
    assert settings.launch_template == stack.outputs["LaunchTemplateName"]
    assert settings.instance_types == ("g4dn.xlarge", "g5.xlarge", "g6.xlarge")
    assert (settings.max_instances, settings.instance_per_job) == (4, False)
    assert settings.subnet_ids == tuple(stack.subnet_ids)
    assert settings.worker_idle_seconds == 300.0
    assert settings.model == "kb-whisper-small"
    assert settings.worker_wheel == f"s3://{ARTIFACTS}/{WHEEL_KEY}"


def test_process_upload_takes_upload_events_and_webhooks_reporting_batch_failures(
    stack: Stack,
) -> None:
    mappings = client("lambda").list_event_source_mappings(FunctionName="swescribe-process-upload")[
        "EventSourceMappings"
    ]
    sources = {m["EventSourceArn"].rsplit(":", 1)[1]: m for m in mappings}
    assert set(sources) == {"swescribe-upload-events", "swescribe-webhooks"}
    for mapping in sources.values():
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sources["swescribe-upload-events"]["BatchSize"] == 10
    # One webhook an invocation: a slow receiver delays no other key's webhook in its batch.
    assert sources["swescribe-webhooks"]["BatchSize"] == 1


def test_janitor_runs_every_five_minutes(stack: Stack) -> None:
    events = client("events")
    (rule,) = events.list_rules()["Rules"]
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"].endswith(":function:swescribe-janitor")
    policy = json.loads(client("lambda").get_policy(FunctionName="swescribe-janitor")["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}


def test_api_methods_require_a_key_and_proxy_to_the_api_function(stack: Stack) -> None:
    resources = client("apigateway").get_resources(restApiId=stack.resources["RestApi"])["items"]
    methods = {r["path"]: r["resourceMethods"]["ANY"] for r in resources}
    assert set(methods) == {"/", "/{proxy+}"}
    for method in methods.values():
        assert method["apiKeyRequired"] is True
        assert method["methodIntegration"]["type"] == "AWS_PROXY"
        assert method["methodIntegration"]["uri"].endswith(":function:swescribe-api/invocations")


def test_log_groups_keep_logs_for_the_retention_days(stack: Stack) -> None:
    groups = {
        group["logGroupName"]: group.get("retentionInDays")
        for group in client("logs").describe_log_groups()["logGroups"]
    }
    expected = {
        *(f"/aws/lambda/{name}" for name in FUNCTIONS),
        "/swescribe/swescribe/worker",
        "/swescribe/swescribe/api-access",
        f"API-Gateway-Execution-Logs_{stack.resources['RestApi']}/prod",
    }
    assert {name: groups.get(name) for name in expected} == dict.fromkeys(expected, 30)


def test_alarm_topic_exists_when_an_email_is_given(stack: Stack) -> None:
    topics = [t["TopicArn"] for t in client("sns").list_topics()["Topics"]]
    assert topics == [f"arn:aws:sns:{REGION}:123456789012:swescribe-alarms"]


def test_launcher_starts_a_tagged_worker_from_the_stacks_template_and_subnets(
    stack: Stack,
) -> None:
    settings = Settings.from_env(lambda_environment("swescribe-process-upload"))
    ec2 = client("ec2")
    launcher = Ec2Launcher(ec2, plan_from_settings(settings))
    (instance_id,) = launcher.ensure_capacity(demand=1)
    (reservation,) = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    (instance,) = reservation["Instances"]
    assert instance["SubnetId"] == stack.subnet_ids[0]
    assert instance["ImageId"] == stack.image_id
    assert instance["InstanceType"] == "g4dn.xlarge"
    assert instance["InstanceLifecycle"] == "spot"
    assert {tag["Key"]: tag["Value"] for tag in instance["Tags"]}[SERVICE_TAG] == "swescribe"
    assert [worker.instance_id for worker in launcher.list_workers()] == [instance_id]
