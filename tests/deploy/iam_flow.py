"""The steps of the seed's flow, each run by the component that runs it in AWS, under that
component's role (tests/deploy/iam_env.py): API Gateway events to the API Lambda, S3
events and webhook items through SQS to the process-upload Lambda as its event source
mapping delivers them, the GPU worker with a stand-in engine, the janitor's schedule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from swescribe.adapters.aws.dynamodb_jobs import DynamoJobStore
from swescribe.bootstrap_aws import build_aws_services
from swescribe.config import Settings
from swescribe.core.jobs import Job
from swescribe.engine import ProgressCallback, Segment, TranscribeOptions, Transcript
from swescribe.worker.runner import Worker, WorkerConfig
from tests.deploy.iam_env import TABLE, Account, recording
from tests.gateway import gateway_event as api_gateway_event

API_KEY_ID = "key-iam-test"
SECRET = "iam-test-secret"
AUDIO = b"RIFF-not-really-audio"


class StandInEngine:
    """Transcribes any file to a fixed sentence (no model). With spot_notice_midway it
    sets the worker's stop flag mid-job, as the spot notice watcher does (ec2_worker)."""

    def __init__(self, spot_notice_midway: bool = False) -> None:
        self.spot_notice_midway = spot_notice_midway
        self.worker: Worker | None = None
        self.options: list[TranscribeOptions | None] = []

    def transcribe(
        self,
        path: Path,
        options: TranscribeOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        self.options.append(options)
        if self.spot_notice_midway and self.worker is not None:
            self.worker.stopping.set()
        if progress is not None:
            progress(0.5, 1.0)
        segment = Segment(0, 0.0, 1.0, "Hej och välkommen.")
        return Transcript(segment.text, "sv", 1.0, (segment,), "stand-in")


def gateway_event(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return api_gateway_event(method, path, body, api_key_id=API_KEY_ID)


def call_api(
    account: Account, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    """One request through the API Lambda, as the API role."""
    from swescribe.lambdas.api import handler

    with account.acting_as("ApiFunctionRole"):
        response = handler(gateway_event(method, path, body), None)
    text = response["body"]
    try:
        return int(response["statusCode"]), json.loads(text)
    except json.JSONDecodeError:
        return int(response["statusCode"]), text


def register(account: Account, callback_url: str) -> str:
    status, body = call_api(
        account, "POST", "/api", {"callback_url": callback_url, "callback_secret": SECRET}
    )
    assert status == 200, body
    return str(body["callback_id"])


def upload(account: Account, job_id: str, name: str = "intervju.wav") -> str:
    """The client's upload (its own credentials, not a role of the stack) and S3's event
    on the upload-events queue (S3's service principal, by the queue policy)."""
    key = f"transcription_upload/{job_id}/{name}"
    account.client("s3").put_object(
        Bucket=account.resolver.values["BucketName"],
        Key=key,
        Body=AUDIO,
        ServerSideEncryption="AES256",
    )
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": account.resolver.values["BucketName"]},
            "object": {"key": key, "size": len(AUDIO)},
        },
    }
    account.client("sqs").send_message(
        QueueUrl=account.queue_url("UploadEventsQueue"),
        MessageBody=json.dumps({"Records": [record]}),
    )
    return key


def pump(account: Account, queue: str, role: str = "ProcessUploadFunctionRole") -> dict[str, Any]:
    """Lambda's SQS event source mapping, with the function's role: receive a batch,
    invoke the handler, delete what did not fail. Returns the handler's answer."""
    from swescribe.lambdas.process_upload import handler

    url = account.queue_url(queue)
    with account.acting_as(role):
        sqs = account.client("sqs")
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        event = {"Records": [_sqs_record(message) for message in messages]}
        result: dict[str, Any] = handler(event, None)
        failed = {failure["itemIdentifier"] for failure in result["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return result


def _sqs_record(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {"ApproximateReceiveCount": "1"},
        "eventSource": "aws:sqs",
    }


def job(account: Account, job_id: str) -> Job:
    found = DynamoJobStore(account.client("dynamodb"), TABLE).get(job_id)
    assert found is not None, f"no job {job_id}"
    return found


def workers(account: Account, states: tuple[str, ...] = ("pending", "running")) -> list[str]:
    reservations = account.client("ec2").describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": list(states)}]
    )["Reservations"]
    return sorted(i["InstanceId"] for r in reservations for i in r["Instances"])


def run_worker(
    account: Account,
    instance_id: str,
    engine: StandInEngine,
    dynamodb_requests: list[tuple[str, dict[str, Any]]] | None = None,
) -> Worker:
    """The GPU worker on `instance_id`, configured by that instance's UserData, taking one
    item as the worker role (the model replaced by a stand-in engine). The worker's
    DynamoDB requests are added to dynamodb_requests when given."""
    env = {**account.worker_env(instance_id), "SWESCRIBE_TERMINATE_ON_EXIT": "1"}
    with account.acting_as("WorkerRole", env), recording("dynamodb") as seen:
        settings = Settings.from_env(backend="aws")
        svc = build_aws_services(settings, worker=True)  # as ec2_worker builds it
        config = WorkerConfig(instance_id, poll_seconds=0.0, heartbeat_seconds=30.0)
        runner = Worker(svc, lambda model: engine, config)
        engine.worker = runner
        runner.run(max_jobs=1, idle_exit_seconds=0.0)
    if dynamodb_requests is not None:
        dynamodb_requests += seen
    return runner


def terminate_self(account: Account, instance_id: str) -> list[str]:
    """The worker's last act, as the worker role; returns the shell commands it fell back
    to (recorded, never run) had TerminateInstances been refused."""
    from swescribe import ec2_worker

    fallbacks: list[str] = []

    def record(command: str) -> int:
        fallbacks.append(command)
        return 0

    with (
        account.acting_as("WorkerRole", account.worker_env(instance_id)),
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr(ec2_worker.os, "system", record)
        ec2_worker.terminate_self(Settings.from_env(backend="aws"), instance_id)
    return fallbacks
