"""SqsWorkQueue on in-process moto: what the WorkQueue contract cannot see (SQS limits,
the dead-letter queue's contents, unreadable bodies, stale receipts, delayed depth)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from swescribe.adapters.aws import sqs_queue
from swescribe.adapters.aws.clients import client
from swescribe.adapters.aws.sqs_queue import SqsWorkQueue, create_work_queue
from swescribe.core.ports import Message, WorkItem
from tests.support import AWS_REGION, fake_aws

ITEM = WorkItem("transcribe", "job1", "transcription_upload/job1/a.mp3")


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with fake_aws(monkeypatch):
        yield client("sqs", AWS_REGION)


def make_queue(sqs: Any, max_receives: int = 5) -> tuple[SqsWorkQueue, str]:
    queue_url, dlq_url = create_work_queue(sqs, "work", max_receives)
    return SqsWorkQueue(sqs, queue_url), dlq_url


def sent_params(sqs: Any, operation: str) -> list[dict[str, Any]]:
    """The parameters of every later call of operation (a botocore event, not a mock)."""
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(dict(params))

    sqs.meta.events.register(f"provide-client-params.sqs.{operation}", record)
    return sent


def dead_letters(sqs: Any, dlq_url: str) -> list[str]:
    response = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [message["Body"] for message in response.get("Messages", [])]


def test_create_work_queue_redrives_to_the_dlq_after_max_receives(sqs: Any) -> None:
    queue_url, dlq_url = create_work_queue(sqs, "work", 3)
    assert queue_url.endswith("/work")
    assert dlq_url.endswith("/work-dlq")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    policy = json.loads(attributes["Attributes"]["RedrivePolicy"])
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
    assert policy["deadLetterTargetArn"] == dlq_arn["Attributes"]["QueueArn"]
    assert int(policy["maxReceiveCount"]) == 3


def test_the_body_is_the_work_item_as_json(sqs: Any) -> None:
    queue, _ = make_queue(sqs)
    queue.send(ITEM)
    raw = sqs.receive_message(QueueUrl=queue.queue_url, WaitTimeSeconds=0)["Messages"][0]
    assert json.loads(raw["Body"]) == {
        "kind": "transcribe",
        "job_id": "job1",
        "key": "transcription_upload/job1/a.mp3",
    }


def test_a_delay_past_sqs_limits_is_clamped_to_0_to_900_seconds(sqs: Any) -> None:
    queue, _ = make_queue(sqs)
    sent = sent_params(sqs, "SendMessage")
    queue.send(ITEM, delay_seconds=3600)
    queue.send(WorkItem("webhook", "job2"), delay_seconds=-5)
    queue.send(WorkItem("webhook", "job3"), delay_seconds=0.2)
    assert [params["DelaySeconds"] for params in sent] == [900, 0, 1]
    message = queue.receive(0, 30)
    assert message is not None
    assert message.item.job_id == "job2", "the negative delay was sent at once"
    assert queue.depth() == 2, "the clamped and the rounded-up items wait, delayed"


def test_depth_counts_delayed_items_but_not_those_in_flight(sqs: Any) -> None:
    queue, _ = make_queue(sqs)
    queue.send(ITEM, delay_seconds=600)
    queue.send(WorkItem("transcribe", "job2"))
    assert queue.depth() == 2
    message = queue.receive(0, 30)
    assert message is not None
    assert message.item.job_id == "job2"
    assert queue.depth() == 1


def test_after_max_receives_the_item_lands_in_the_dead_letter_queue(sqs: Any) -> None:
    queue, dlq_url = make_queue(sqs, max_receives=2)
    queue.send(ITEM)
    for count in (1, 2):
        message = queue.receive(0, 1)
        assert message is not None
        assert message.receive_count == count
        time.sleep(1.1)
    assert queue.receive(0, 1) is None
    assert queue.depth() == 0
    assert [json.loads(body)["job_id"] for body in dead_letters(sqs, dlq_url)] == ["job1"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not json", id="not-json"),
        pytest.param("[1, 2]", id="not-an-object"),
        pytest.param('{"kind": "transcribe"}', id="no-job-id"),
        pytest.param('{"kind": 1, "job_id": "j"}', id="kind-not-a-string"),
        pytest.param("  ", id="blank"),
    ],
)
def test_an_unreadable_body_is_skipped_and_the_next_item_still_comes(sqs: Any, body: str) -> None:
    queue, _ = make_queue(sqs)
    sqs.send_message(QueueUrl=queue.queue_url, MessageBody=body)
    queue.send(ITEM)
    message = queue.receive(0, 30)
    assert message is not None
    assert message.item == ITEM


def test_an_unreadable_body_is_left_for_the_dead_letter_queue(sqs: Any) -> None:
    queue, dlq_url = make_queue(sqs, max_receives=1)
    sqs.send_message(QueueUrl=queue.queue_url, MessageBody="not json")
    assert queue.receive(0, 1) is None
    time.sleep(1.1)
    assert queue.receive(0, 1) is None
    assert dead_letters(sqs, dlq_url) == ["not json"]


def test_stale_and_unknown_receipts_are_ignored(sqs: Any) -> None:
    queue, _ = make_queue(sqs)
    queue.send(ITEM)
    first = queue.receive(0, 1)
    assert first is not None
    time.sleep(1.1)
    second = queue.receive(0, 30)
    assert second is not None
    queue.extend(first, 30)
    queue.release(first, 5)
    queue.ack(second)
    queue.ack(second)
    queue.extend(second, 30)
    queue.release(second)
    made_up = Message(ITEM, "not-a-receipt-handle", 1)
    queue.ack(made_up)
    queue.extend(made_up, 30)
    queue.release(made_up)
    assert queue.depth() == 0


def test_errors_other_than_a_stale_receipt_still_raise(sqs: Any) -> None:
    queue, _ = make_queue(sqs)
    queue.send(ITEM)
    message = queue.receive(0, 30)
    assert message is not None
    sqs.delete_queue(QueueUrl=queue.queue_url)
    with pytest.raises(ClientError):
        queue.ack(message)


def test_a_long_wait_is_split_into_long_polls_of_at_most_20_seconds(
    sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqs_queue, "MAX_WAIT_SECONDS", 1)
    queue, _ = make_queue(sqs)
    sent = sent_params(sqs, "ReceiveMessage")
    started = time.monotonic()
    assert queue.receive(1.5, 30) is None
    assert time.monotonic() - started >= 1.5
    assert [params["WaitTimeSeconds"] for params in sent] == [1, 1]
    assert all(params["MaxNumberOfMessages"] == 1 for params in sent)
    assert all(params["VisibilityTimeout"] == 30 for params in sent)


def test_a_long_poll_returns_an_item_as_soon_as_it_is_visible(sqs: Any) -> None:
    queue, _ = make_queue(sqs)
    queue.send(ITEM, delay_seconds=1)
    started = time.monotonic()
    message = queue.receive(5, 30)
    assert message is not None
    assert message.item == ITEM
    assert time.monotonic() - started < 4
