"""What a real account does that the template alone does not show (issue 26): each test
states the account's behaviour and checks the template (tests/deploy/cfn.py resolves it)
or the component against it. `pytest -k real_account`."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest

from swescribe.adapters.aws.sqs_queue import SqsWorkQueue
from swescribe.core.ports import TRANSCRIBE, WorkItem
from tests.conftest import REPO_ROOT
from tests.deploy.cfn import Resolver, load_template, resources_of_type
from tests.support import fake_aws

LAMBDAS = ("ApiFunction", "ProcessUploadFunction", "JanitorFunction")
SUPPORTED_PYTHONS = {"python3.12", "python3.13"}
"""Lambda runtimes on Amazon Linux 2023 in standard support (python3.11 runs on Amazon
Linux 2, whose support ends)."""


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def lambda_env(template: dict[str, Any], name: str, **parameters: str) -> dict[str, str]:
    resolved = Resolver(template, **parameters).resolve(
        template["Resources"][name]["Properties"]["Environment"]["Variables"]
    )
    return {key: str(value) for key, value in resolved.items()}


def test_real_account_the_app_stack_leaves_the_accounts_api_gateway_logging_role_alone(
    template: dict[str, Any],
) -> None:
    """API Gateway's CloudWatch role is one setting per account and region: an
    AWS::ApiGateway::Account in the stack overwrites another stack's, and created right
    after its role it races IAM ("role ARN does not have required permissions"), which
    rolls back the whole first create. The setup script sets it (only when unset)."""
    assert resources_of_type(template, "AWS::ApiGateway::Account") == {}
    assert "ApiGatewayCloudWatchRole" not in template["Resources"]
    stage = template["Resources"]["ApiStage"]
    assert "ApiGatewayAccount" not in stage.get("DependsOn", [])
    for logging in ("false", "true"):
        resolved = Resolver(template, ApiLogging=logging).resolve(stage["Properties"])
        (settings,) = resolved["MethodSettings"]
        assert ("AccessLogSetting" in resolved) is (logging == "true")
        assert settings["LoggingLevel"] == ("ERROR" if logging == "true" else "OFF")
        assert settings["ThrottlingRateLimit"] == "10", "throttling holds either way"
    assert template["Parameters"]["ApiLogging"]["Default"] == "false"


def test_real_account_spot_falls_back_to_on_demand_only_when_the_stack_says_so(
    template: dict[str, Any],
) -> None:
    """On-demand GPUs cost about three times spot: the fallback is the owner's choice."""
    assert template["Parameters"]["OnDemandFallback"]["Default"] == "false"
    for name in LAMBDAS:
        assert lambda_env(template, name)["SWESCRIBE_ON_DEMAND_FALLBACK"] == "0"
        assert (
            lambda_env(template, name, OnDemandFallback="true")["SWESCRIBE_ON_DEMAND_FALLBACK"]
            == "1"
        )


def test_real_account_the_lambdas_run_a_supported_python(template: dict[str, Any]) -> None:
    builder = (REPO_ROOT / "setup" / "lambda" / "build_lambda_package.py").read_text()
    abi = re.search(r'^ABI = "(cp\d+)"$', builder, re.MULTILINE)
    assert abi is not None
    runtimes = {
        spec["Properties"]["Runtime"]
        for spec in resources_of_type(template, "AWS::Lambda::Function").values()
    }
    assert runtimes <= SUPPORTED_PYTHONS
    (runtime,) = runtimes
    assert abi.group(1) == "cp" + runtime.removeprefix("python").replace(".", ""), "its wheels"


def test_real_account_a_janitor_run_ends_before_the_next_one_starts(
    template: dict[str, Any],
) -> None:
    """EventBridge starts a run every interval whether the last one ended or not."""
    rule = template["Resources"]["JanitorSchedule"]["Properties"]["ScheduleExpression"]
    found = re.fullmatch(r"rate\((\d+) minutes?\)", rule)
    assert found is not None, rule
    timeout = int(template["Resources"]["JanitorFunction"]["Properties"]["Timeout"])
    assert timeout < int(found.group(1)) * 60


def test_real_account_the_allowed_models_reach_every_lambda_and_the_workers(
    template: dict[str, Any],
) -> None:
    """A job may name a model only if SWESCRIBE_ALLOWED_MODELS lists it: without it in
    the stack, no deployment could offer a second model."""
    from swescribe.bootstrap_aws import worker_env_from_settings
    from swescribe.config import Settings

    assert template["Parameters"]["AllowedModels"]["Default"] == ""
    for name in LAMBDAS:
        env = lambda_env(template, name, AllowedModels="kb-whisper-small,kb-whisper-large")
        assert env["SWESCRIBE_ALLOWED_MODELS"] == "kb-whisper-small,kb-whisper-large"
        settings = Settings.from_env({**env, "SWESCRIBE_BACKEND": "aws"})
        worker = worker_env_from_settings(settings)
        assert worker["SWESCRIBE_ALLOWED_MODELS"] == "kb-whisper-small,kb-whisper-large"


def test_real_account_the_api_role_cannot_scan_the_jobs_table(template: dict[str, Any]) -> None:
    """The IAM-checked tests (test_iam_components.py) run every API route under this
    role: none scans, so the role may not (a Scan reads every key's jobs)."""
    document = template["Resources"]["ApiFunctionRole"]["Properties"]["Policies"][0]
    actions = {
        action
        for statement in document["PolicyDocument"]["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert "dynamodb:Scan" not in actions
    assert "dynamodb:Query" in actions


def test_real_account_thirty_give_backs_keep_a_healthy_job_out_of_the_dead_letter_queue(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every receive counts against the work queue's maxReceiveCount: spot give-backs,
    prefetch releases and claim retries too. A healthy job given back 30 times (a bad day
    for spot capacity) is still on the work queue, its DLQ and alarm empty: the job's own
    attempt count in DynamoDB (max_attempts lost workers) decides when it fails."""
    redrive = template["Resources"]["WorkQueue"]["Properties"]["RedrivePolicy"]
    with fake_aws(monkeypatch):
        sqs = boto3.client("sqs", region_name="eu-north-1")
        dlq = sqs.create_queue(QueueName="work-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": redrive["maxReceiveCount"]}
        url = sqs.create_queue(QueueName="work", Attributes={"RedrivePolicy": json.dumps(policy)})[
            "QueueUrl"
        ]
        queue = SqsWorkQueue(sqs, url)
        queue.send(WorkItem(TRANSCRIBE, "healthy-job"))
        for give_back in range(30):
            message = queue.receive(wait_seconds=0, visibility_seconds=900)
            assert message is not None, f"gone to the DLQ after {give_back} give-backs"
            queue.release(message)
        last = queue.receive(wait_seconds=0, visibility_seconds=900)
        assert last is not None
        assert last.item.job_id == "healthy-job"
        dead = sqs.get_queue_attributes(
            QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
    assert dead == "0"
