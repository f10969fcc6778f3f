"""The process_upload Lambda's event handling, on in-memory ports: every event shape S3
and SQS deliver, with the awkward cases the seed's simple handler would trip on."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from swescribe.core.intake import NewJob, create_job
from swescribe.core.jobs import JobStatus
from swescribe.core.ports import JobStore, WebhookAttempt
from swescribe.core.services import Services
from swescribe.lambdas.process_upload import process_event
from tests.fakes import MemoryQueue, ScriptedSender, memory_services


def s3_record(key: str, size: int = 10, name: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {
        "eventSource": "aws:s3",
        "eventName": name,
        "s3": {"bucket": {"name": "transcription-curevo"}, "object": {"key": key, "size": size}},
    }


def sqs(message_id: str, body: object) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {"eventSource": "aws:sqs", "messageId": message_id, "body": text}


@pytest.fixture
def svc() -> Services:
    return memory_services()


def registered(svc: Services) -> str:
    return create_job(svc, "k", NewJob(callback_url="https://client.example/hook")).job_id


def test_several_records_url_encoded_keys_and_keys_outside_the_prefix(svc: Services) -> None:
    first, second = registered(svc), registered(svc)
    body = {
        "Records": [
            s3_record(f"transcription_upload/{first}/min+intervju+%C3%A5.mp3"),
            s3_record(f"transcription_upload%2F{second}%2Fa.wav"),
            s3_record("results/x/transcription_1.txt"),
            s3_record(f"transcription_upload/{first}/deleted.mp3", name="ObjectRemoved:Delete"),
        ]
    }
    result = process_event(svc, {"Records": [sqs("m1", body)]}, ScriptedSender())
    assert result["batchItemFailures"] == []
    assert result["outcomes"] == {"launched": 2, "ignored": 1}
    job = svc.jobs.get(first)
    assert job is not None
    assert job.status is JobStatus.LAUNCHING
    assert job.s3_key == f"transcription_upload/{first}/min intervju å.mp3"


def test_test_events_unknown_jobs_malformed_bodies_and_duplicates_are_not_failures(
    svc: Services,
) -> None:
    job_id = registered(svc)
    key = f"transcription_upload/{job_id}/a.wav"
    event = {
        "Records": [
            sqs("t", {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}),
            sqs("u", {"Records": [s3_record("transcription_upload/nobody/a.wav")]}),
            sqs("m", "{not json"),
            sqs("a", [1, 2]),
            sqs("d1", {"Records": [s3_record(key)]}),
            sqs("d2", {"Records": [s3_record(key)]}),
        ]
    }
    result = process_event(svc, event, ScriptedSender())
    assert result["batchItemFailures"] == []
    assert result["outcomes"] == {"ignored": 3, "unknown_job": 1, "launched": 1, "duplicate": 1}
    assert len(cast(MemoryQueue, svc.queue).items()) == 1, "queued once"


def test_a_direct_s3_invocation_works_like_one_through_sqs(svc: Services) -> None:
    job_id = registered(svc)
    result = process_event(
        svc, {"Records": [s3_record(f"transcription_upload/{job_id}/a.wav")]}, ScriptedSender()
    )
    assert result["outcomes"] == {"launched": 1}


def test_webhook_items_are_delivered_one_attempt_each(svc: Services) -> None:
    job_id = registered(svc)
    svc.jobs.update(job_id, None, {"status": JobStatus.FAILED, "error_code": "x"})
    sender = ScriptedSender([WebhookAttempt(False, 503, "HTTP 503", 5.0)])
    item = {"kind": "webhook", "job_id": job_id, "key": None}
    result = process_event(svc, {"Records": [sqs("w", item)]}, sender)
    assert result["outcomes"] == {"webhook": 1}
    assert len(sender.sent) == 1
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.webhook_attempts == 1
    assert cast(MemoryQueue, svc.webhooks).items()[0].job_id == job_id, "the retry is queued"


class BrokenStore:
    """A job store whose every read fails, as DynamoDB does when it throttles past retries."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: object, **kwargs: object) -> Any:
            raise RuntimeError("ProvisionedThroughputExceededException")

        return fail


def test_a_message_that_fails_is_reported_for_redelivery_alone(svc: Services) -> None:
    svc.jobs = cast(JobStore, BrokenStore())
    event = {
        "Records": [
            sqs("bad", {"Records": [s3_record("transcription_upload/j1/a.wav")]}),
            sqs("fine", {"Service": "Amazon S3", "Event": "s3:TestEvent"}),
        ]
    }
    result = process_event(svc, event, ScriptedSender())
    assert result["batchItemFailures"] == [{"itemIdentifier": "bad"}]


def test_malformed_records_are_dropped_without_failing_their_batch(svc: Services) -> None:
    good = registered(svc)
    odd_size = registered(svc)
    bad_record = s3_record(f"transcription_upload/{odd_size}/a.wav")
    bad_record["s3"]["object"]["size"] = "not a number"
    event = {
        "Records": [
            sqs("m1", {"Records": [1, "text", None, {"eventName": "ObjectCreated:Put", "s3": 7}]}),
            sqs("m2", {"Records": [bad_record]}),
            sqs("m3", {"Records": [s3_record(f"transcription_upload/{good}/b.wav")]}),
            "not a record",
        ]
    }
    result = process_event(svc, event, ScriptedSender())
    assert result["batchItemFailures"] == []
    assert result["outcomes"] == {"ignored": 2, "launched": 2}
    for job_id in (good, odd_size):
        job = svc.jobs.get(job_id)
        assert job is not None
        assert job.status is JobStatus.LAUNCHING
