"""AWS errors at the client boundary, over in-process moto: throttling that outlasts the
client's retries fails only its own message, and leaves nothing half-done."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from swescribe.adapters.aws.clients import client
from swescribe.adapters.aws.dynamodb_jobs import DynamoJobStore, create_jobs_table
from swescribe.core.jobs import Job, JobStatus, utcnow
from swescribe.core.services import Services
from swescribe.lambdas.process_upload import process_event
from tests.fakes import ScriptedSender, memory_services
from tests.support import fake_aws

TABLE = "transcription-jobs"


class Throttled:
    """A DynamoDB client whose chosen operation answers ThrottlingException (as it does
    once botocore's own retries are spent); everything else goes to moto."""

    def __init__(self, inner: Any, operation: str) -> None:
        self.inner = inner
        self.operation = operation
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        if name != self.operation:
            return getattr(self.inner, name)

        def refuse(**kwargs: object) -> Any:
            self.refused += 1
            error = {"Code": "ThrottlingException", "Message": "Rate exceeded"}
            raise ClientError({"Error": error}, self.operation)

        return refuse


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with fake_aws(monkeypatch):
        create_jobs_table(boto3.client("dynamodb", region_name="eu-north-1"), TABLE)
        yield client("dynamodb", "eu-north-1")


def test_swescribe_clients_retry_throttling_themselves(dynamodb: Any) -> None:
    retries = dynamodb.meta.config.retries
    assert retries["mode"] == "standard", "standard mode retries throttling with backoff"
    assert retries["total_max_attempts"] >= 5


def test_throttling_that_outlasts_the_retries_fails_only_that_message(dynamodb: Any) -> None:
    now = utcnow()
    DynamoJobStore(dynamodb, TABLE).create(Job("job1", "k", JobStatus.REGISTERED, now, now))
    throttled = Throttled(dynamodb, "update_item")
    svc: Services = memory_services()
    svc.jobs = DynamoJobStore(throttled, TABLE)
    upload = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "b"}, "object": {"key": "transcription_upload/job1/a.wav"}},
    }
    event = {
        "Records": [
            {
                "eventSource": "aws:sqs",
                "messageId": "throttled",
                "body": json.dumps({"Records": [upload]}),
            },
            {"eventSource": "aws:sqs", "messageId": "test", "body": '{"Event": "s3:TestEvent"}'},
        ]
    }
    result = process_event(svc, event, ScriptedSender())
    assert result["batchItemFailures"] == [{"itemIdentifier": "throttled"}]
    assert throttled.refused == 1
    job = DynamoJobStore(dynamodb, TABLE).get("job1")
    assert job is not None
    assert job.status is JobStatus.REGISTERED, "nothing half-done: the redelivery starts clean"
    assert svc.queue.depth() == 0, "and nothing queued for it yet"
