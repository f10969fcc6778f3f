"""The CloudFormation template, offline: cfn-lint accepts it, it keeps the deploy contract
(parameter names and defaults, outputs, function names) that the setup scripts rely on, and
it sets what moto's CloudFormation leaves out (see test_stack_on_moto.py): the bucket's
public access block, lifecycle, notification and policy, the table's TTL and recovery, the
API stage and usage plan, metric filters and alarms."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from swescribe.adapters.aws import dynamodb_jobs
from tests.deploy.cfn import TEMPLATE_PATH, Resolver, load_template, resources_of_type

CONTRACT_PARAMETERS: dict[str, tuple[str, str | None]] = {
    "BucketName": ("String", "transcription-curevo"),
    "TableName": ("String", "transcription-jobs"),
    "ArtifactsBucket": ("String", None),
    "LambdaCodeKey": ("String", None),
    "WorkerWheelKey": ("String", ""),
    "WorkerAmiId": ("AWS::EC2::Image::Id", None),
    "VpcId": ("AWS::EC2::VPC::Id", None),
    "SubnetIds": ("List<AWS::EC2::Subnet::Id>", None),
    "WorkerInstanceTypes": ("String", "g4dn.xlarge,g5.xlarge,g6.xlarge"),
    "MaxWorkers": ("Number", "4"),
    "InstancePerJob": ("String", "false"),
    "WorkerIdleSeconds": ("Number", "300"),
    "Model": ("String", "kb-whisper-small"),
    "LogRetentionDays": ("Number", "30"),
    "ApiThrottleRate": ("Number", "10"),
    "ApiThrottleBurst": ("Number", "20"),
    "UploadRetentionDays": ("Number", "7"),
    "ResultRetentionDays": ("Number", "30"),
    "AlarmEmail": ("String", ""),
    "OnDemandFallback": ("String", "false"),
    "AllowedModels": ("String", ""),
    "ApiLogging": ("String", "false"),
}
"""Name: (type, default or None for no default), as the setup scripts pass them."""

CONTRACT_OUTPUTS = {
    "ApiUrl",
    "ApiKeyId",
    "UsagePlanId",
    "BucketName",
    "TableName",
    "WorkQueueUrl",
    "WebhookQueueUrl",
    "UploadEventsQueueUrl",
    "LaunchTemplateName",
    "WorkerLogGroup",
    "DashboardName",
    "ApiFunctionName",
    "ProcessUploadFunctionName",
    "JanitorFunctionName",
}

FAILED_JOB_PATTERN = '{ $.message = "job failed" }'


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def resolver(template: dict[str, Any]) -> Resolver:
    return Resolver(template)


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return properties


# --- cfn-lint and the contract -------------------------------------------------------------


def cfn_lint_command() -> list[str]:
    beside_python = Path(sys.executable).with_name("cfn-lint")
    found = str(beside_python) if beside_python.exists() else shutil.which("cfn-lint")
    if found is None:
        pytest.fail("cfn-lint is not installed (pip install -e '.[dev]')")
    return [found]


def test_cfn_lint_accepts_the_template() -> None:
    result = subprocess.run(
        [*cfn_lint_command(), str(TEMPLATE_PATH)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_parameters_have_the_names_types_and_defaults_the_scripts_pass(
    template: dict[str, Any],
) -> None:
    found = {
        name: (spec["Type"], str(spec["Default"]) if "Default" in spec else None)
        for name, spec in template["Parameters"].items()
    }
    assert found == CONTRACT_PARAMETERS
    assert template["Parameters"]["InstancePerJob"]["AllowedValues"] == ["true", "false"]


def test_outputs_have_the_names_the_scripts_read(
    template: dict[str, Any], resolver: Resolver
) -> None:
    outputs = template["Outputs"]
    assert set(outputs) == CONTRACT_OUTPUTS
    value = {name: resolver.resolve(output["Value"]) for name, output in outputs.items()}
    assert value["ApiUrl"] == "https://<RestApi>.execute-api.eu-north-1.amazonaws.com/prod"
    assert value["LaunchTemplateName"] == "swescribe-worker"
    assert value["ApiFunctionName"] == "<ApiFunction>"
    assert value["ApiKeyId"] == "<InitialApiKey>"


def test_lambdas_share_one_zip_with_the_seed_handlers(
    template: dict[str, Any], resolver: Resolver
) -> None:
    functions = {
        resolver.resolve(spec["Properties"]["FunctionName"]): resolver.resolve(spec["Properties"])
        for spec in resources_of_type(template, "AWS::Lambda::Function").values()
    }
    assert {name: fn["Handler"] for name, fn in functions.items()} == {
        "swescribe-api": "lambda_api.handler",
        "swescribe-process-upload": "lambda_process_upload.handler",
        "swescribe-janitor": "lambda_janitor.handler",
    }
    for fn in functions.values():
        assert fn["Runtime"] == "python3.12"
        assert fn["Architectures"] == ["x86_64"]
        assert fn["Code"] == {
            "S3Bucket": "swescribe-artifacts",
            "S3Key": "lambda/swescribe-lambda.zip",
        }
    assert len({fn["Role"] for fn in functions.values()}) == 3, "one role per function"


def test_worker_wheel_setting_is_empty_when_no_wheel_key_is_given(template: dict[str, Any]) -> None:
    with_wheel = Resolver(template).resolve(props(template, "ApiFunction")["Environment"])
    without = Resolver(template, WorkerWheelKey="").resolve(
        props(template, "ApiFunction")["Environment"]
    )
    assert with_wheel["Variables"]["SWESCRIBE_WORKER_WHEEL"] == (
        "s3://swescribe-artifacts/wheels/swescribe-0.1.0-py3-none-any.whl"
    )
    assert without["Variables"]["SWESCRIBE_WORKER_WHEEL"] == ""


def test_instance_per_job_parameter_becomes_the_settings_flag(template: dict[str, Any]) -> None:
    environment = props(template, "JanitorFunction")["Environment"]
    per_job = Resolver(template, InstancePerJob="true").resolve(environment)["Variables"]
    pooled = Resolver(template).resolve(environment)["Variables"]
    assert (per_job["SWESCRIBE_INSTANCE_PER_JOB"], pooled["SWESCRIBE_INSTANCE_PER_JOB"]) == (
        "1",
        "0",
    )


def test_workers_carry_the_stack_name_so_two_stacks_never_touch_each_others(
    template: dict[str, Any],
) -> None:
    resolver = Resolver(template)
    for name in ("ApiFunction", "ProcessUploadFunction", "JanitorFunction"):
        variables = resolver.resolve(props(template, name)["Environment"])["Variables"]
        assert variables["SWESCRIBE_SERVICE_TAG"] == "swescribe", name  # the stack's name
    launch = resolver.resolve(props(template, "WorkerLaunchTemplate")["LaunchTemplateData"])
    for spec in launch["TagSpecifications"]:
        assert {"Key": "swescribe:service", "Value": "swescribe"} in spec["Tags"]
    other = Resolver(template)
    other.values["AWS::StackName"] = "swescribe-staging"
    variables = other.resolve(props(template, "JanitorFunction")["Environment"])["Variables"]
    assert variables["SWESCRIBE_SERVICE_TAG"] == "swescribe-staging"


# --- what moto's CloudFormation does not apply --------------------------------------------


def test_bucket_blocks_public_access_and_expires_uploads_and_results(
    template: dict[str, Any], resolver: Resolver
) -> None:
    bucket = resolver.resolve(props(template, "TranscriptionBucket"))
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "VersioningConfiguration" not in bucket
    rules = bucket["LifecycleConfiguration"]["Rules"]
    expiry = {rule.get("Prefix"): rule.get("ExpirationInDays") for rule in rules}
    assert expiry["transcription_upload/"] == "7"
    assert expiry["results/"] == "30"
    assert any(rule.get("AbortIncompleteMultipartUpload") for rule in rules)
    assert all(rule["Status"] == "Enabled" for rule in rules)


def test_uploads_notify_the_upload_events_queue_without_a_dependency_cycle(
    template: dict[str, Any], resolver: Resolver
) -> None:
    bucket = template["Resources"]["TranscriptionBucket"]
    (notification,) = resolver.resolve(bucket["Properties"])["NotificationConfiguration"][
        "QueueConfigurations"
    ]
    assert notification["Queue"] == "<UploadEventsQueue.Arn>"
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Filter"]["S3Key"]["Rules"] == [
        {"Name": "prefix", "Value": "transcription_upload/"}
    ]
    # S3 checks the queue policy when the bucket is made, so the bucket waits for it, and the
    # policy names the bucket by its name (a GetAtt of the bucket would close a cycle).
    assert bucket["DependsOn"] == "UploadEventsQueuePolicy"
    policy = props(template, "UploadEventsQueuePolicy")
    assert "TranscriptionBucket" not in json.dumps(policy)
    (statement,) = resolver.resolve(policy)["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == (
        "arn:aws:s3:::transcription-curevo"
    )


def test_table_keeps_the_adapter_schema_with_ttl_and_point_in_time_recovery(
    template: dict[str, Any], resolver: Resolver
) -> None:
    table = resolver.resolve(props(template, "JobsTable"))
    assert table["BillingMode"] == dynamodb_jobs.BILLING_MODE
    assert table["KeySchema"] == dynamodb_jobs.KEY_SCHEMA
    assert table["AttributeDefinitions"] == dynamodb_jobs.ATTRIBUTE_DEFINITIONS
    assert table["GlobalSecondaryIndexes"] == dynamodb_jobs.GLOBAL_SECONDARY_INDEXES
    assert table["TimeToLiveSpecification"] == {
        "AttributeName": dynamodb_jobs.TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}


def test_api_stage_logs_json_access_lines_without_the_key_and_throttles(
    template: dict[str, Any], resolver: Resolver
) -> None:
    stage = Resolver(template, ApiLogging="true").resolve(props(template, "ApiStage"))
    assert stage["StageName"] == "prod"
    access = stage["AccessLogSetting"]
    assert access["DestinationArn"].endswith(":log-group:<ApiAccessLogGroup>")
    fields = json.loads(access["Format"])
    assert fields["apiKeyId"] == "$context.identity.apiKeyId"
    assert "$context.identity.apiKey" not in fields.values(), "never log the key itself"
    (settings,) = stage["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == ("10", "20")
    assert settings["DataTraceEnabled"] is False, "data traces would log request bodies"
    assert settings["LoggingLevel"] == "ERROR"


def test_every_api_method_requires_a_key_and_proxies_to_the_api_function(
    template: dict[str, Any], resolver: Resolver
) -> None:
    methods = {
        name: resolver.resolve(spec["Properties"])
        for name, spec in resources_of_type(template, "AWS::ApiGateway::Method").items()
    }
    assert {m["ResourceId"] for m in methods.values()} == {
        "<RestApi.RootResourceId>",
        "<ProxyResource>",
    }
    assert props(template, "ProxyResource")["PathPart"] == "{proxy+}"
    for method in methods.values():
        assert method["HttpMethod"] == "ANY"
        assert method["ApiKeyRequired"] is True
        assert method["Integration"]["Type"] == "AWS_PROXY"
        assert "/functions/<ApiFunction.Arn>/invocations" in method["Integration"]["Uri"]
    assert resolver.resolve(props(template, "RestApi"))["EndpointConfiguration"] == {
        "Types": ["REGIONAL"]
    }


def test_usage_plan_throttles_the_prod_stage_and_holds_the_initial_key(
    template: dict[str, Any], resolver: Resolver
) -> None:
    plan = resolver.resolve(props(template, "UsagePlan"))
    assert plan["Throttle"] == {"RateLimit": "10", "BurstLimit": "20"}
    assert plan["ApiStages"] == [{"ApiId": "<RestApi>", "Stage": "<ApiStage>"}]
    key = resolver.resolve(props(template, "InitialApiKeyInUsagePlan"))
    assert key == {"KeyId": "<InitialApiKey>", "KeyType": "API_KEY", "UsagePlanId": "<UsagePlan>"}


def test_failed_jobs_are_counted_from_every_lambda_and_the_worker(
    template: dict[str, Any], resolver: Resolver
) -> None:
    filters = [
        resolver.resolve(spec["Properties"])
        for spec in resources_of_type(template, "AWS::Logs::MetricFilter").values()
    ]
    assert {f["LogGroupName"] for f in filters} == {
        "<ApiLogGroup>",
        "<ProcessUploadLogGroup>",
        "<JanitorLogGroup>",
        "<WorkerLogGroup>",
    }
    for metric_filter in filters:
        assert metric_filter["FilterPattern"] == FAILED_JOB_PATTERN
        (transformation,) = metric_filter["MetricTransformations"]
        assert (transformation["MetricNamespace"], transformation["MetricName"]) == (
            "swescribe",
            "FailedJobs",
        )


def alarm_metrics(template: dict[str, Any], resolver: Resolver) -> dict[tuple[str, str, str], Any]:
    """(namespace, metric, dimension value) -> the alarm's resolved properties."""
    found = {}
    for spec in resources_of_type(template, "AWS::CloudWatch::Alarm").values():
        alarm = resolver.resolve(spec["Properties"])
        dimension = alarm.get("Dimensions", [{"Value": ""}])[0]["Value"]
        found[(alarm["Namespace"], alarm["MetricName"], dimension)] = alarm
    return found


def test_alarms_watch_dead_letters_failures_workers_waiting_jobs_and_lambda_errors(
    template: dict[str, Any], resolver: Resolver
) -> None:
    alarms = alarm_metrics(template, resolver)
    for dlq in ("WorkDeadLetterQueue", "WebhookDeadLetterQueue", "UploadEventsDeadLetterQueue"):
        alarm = alarms[("AWS/SQS", "ApproximateNumberOfMessagesVisible", f"<{dlq}.QueueName>")]
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    failed = alarms[("swescribe", "FailedJobs", "")]
    assert (failed["Statistic"], failed["Period"], failed["Threshold"]) == ("Sum", 3600, 5)
    workers = alarms[("swescribe", "WorkerInstances", "swescribe")]
    assert (workers["Statistic"], workers["Threshold"]) == ("Maximum", "4")
    waiting = alarms[("AWS/SQS", "ApproximateAgeOfOldestMessage", "<WorkQueue.QueueName>")]
    assert waiting["Threshold"] == 900
    for function in ("ApiFunction", "ProcessUploadFunction", "JanitorFunction"):
        assert ("AWS/Lambda", "Errors", f"<{function}>") in alarms


def test_alarms_notify_the_topic_only_when_an_email_is_given(template: dict[str, Any]) -> None:
    silent = alarm_metrics(template, Resolver(template))
    loud = alarm_metrics(template, Resolver(template, AlarmEmail="ops@example.com"))
    assert all("AlarmActions" not in alarm for alarm in silent.values())
    assert all(alarm["AlarmActions"] == ["<AlarmTopic>"] for alarm in loud.values())
    for name in ("AlarmTopic", "AlarmEmailSubscription"):
        assert template["Resources"][name]["Condition"] == "HasAlarmEmail"


def test_dashboard_body_is_json_naming_the_stacks_queues_and_functions(
    template: dict[str, Any], resolver: Resolver
) -> None:
    body = json.loads(resolver.resolve(props(template, "Dashboard")["DashboardBody"]))
    text = json.dumps(body)
    for name in ("<WorkQueue.QueueName>", "<WorkDeadLetterQueue.QueueName>", "<ApiFunction>"):
        assert name in text
    assert "WorkerInstances" in text
    assert "FailedJobs" in text


def test_worker_security_group_allows_https_out_and_nothing_in(
    template: dict[str, Any], resolver: Resolver
) -> None:
    group = resolver.resolve(props(template, "WorkerSecurityGroup"))
    assert "SecurityGroupIngress" not in group
    assert [
        (rule["IpProtocol"], rule["FromPort"], rule["ToPort"], rule["CidrIp"])
        for rule in group["SecurityGroupEgress"]
    ] == [("tcp", 443, 443, "0.0.0.0/0")]
    assert group["VpcId"] == "vpc-0123456789abcdef0"
