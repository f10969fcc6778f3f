"""WorkQueue on SQS: long polling, visibility timeouts, and a dead-letter queue by redrive.

SQS counts a message's receives itself and moves it to `<name>-dlq` once it has been
received max_receives times, so a poison item never blocks the queue. A body this adapter
cannot read is left alone for that redrive rather than crashing the worker.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from swescribe.core.ports import Message, WorkItem

log = logging.getLogger(__name__)

MAX_DELAY_SECONDS = 900
"""SQS's longest DelaySeconds (15 minutes)."""
MAX_VISIBILITY_SECONDS = 43_200
"""SQS's longest VisibilityTimeout (12 hours)."""
MAX_WAIT_SECONDS = 20
"""SQS's longest WaitTimeSeconds for one ReceiveMessage."""
MAX_SKIPPED_PER_RECEIVE = 10
"""Unreadable messages one receive() passes over before it gives up for this call."""
_STALE_RECEIPT_CODES = frozenset(
    {
        "ReceiptHandleIsInvalid",
        "InvalidParameterValue",
        "MessageNotInflight",
        "AWS.SimpleQueueService.MessageNotInflight",
    }
)


def create_work_queue(client: Any, name: str, max_receives: int) -> tuple[str, str]:
    """Create `<name>` and `<name>-dlq`; after max_receives receives SQS moves an item to the
    DLQ. Returns (queue_url, dlq_url)."""
    dlq_url: str = client.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
    queue_url: str = client.create_queue(
        QueueName=name, Attributes={"RedrivePolicy": json.dumps(redrive)}
    )["QueueUrl"]
    return queue_url, dlq_url


def encode_item(item: WorkItem) -> str:
    """The body; the owner only when there is one (SQS does not take turns by it, but a
    consumer may want to know whose item it is)."""
    body = {"kind": item.kind, "job_id": item.job_id, "key": item.key}
    if item.owner is not None:
        body["owner"] = item.owner
    return json.dumps(body)


def decode_item(body: str) -> WorkItem:
    """The WorkItem in a message body; ValueError for anything else."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("body is not a JSON object")
    kind, job_id, key = data.get("kind"), data.get("job_id"), data.get("key")
    if not isinstance(kind, str) or not kind or not isinstance(job_id, str) or not job_id:
        raise ValueError("body has no kind and job_id")
    if key is not None and not isinstance(key, str):
        raise ValueError("key is not a string")
    owner = data.get("owner")
    return WorkItem(kind, job_id, key, owner if isinstance(owner, str) else None)


def _seconds(value: float, most: int) -> int:
    """Whole seconds for SQS, rounded up and kept within 0..most."""
    return min(most, max(0, math.ceil(value)))


class SqsWorkQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    def send(self, item: WorkItem, delay_seconds: float = 0.0) -> None:
        """delay_seconds past SQS's 900 s limit is cut to 900: the item comes back early,
        and the consumer's own checks (claim_job's retry_in) send it round again."""
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=encode_item(item),
            DelaySeconds=_seconds(delay_seconds, MAX_DELAY_SECONDS),
        )

    def receive(self, wait_seconds: float, visibility_seconds: float) -> Message | None:
        """One message, hidden for visibility_seconds; None after wait_seconds (long polls of
        at most 20 s each until then)."""
        deadline = time.monotonic() + max(0.0, wait_seconds)
        skipped = 0
        while True:
            wait = _seconds(deadline - time.monotonic(), MAX_WAIT_SECONDS)
            response = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=wait,
                VisibilityTimeout=_seconds(visibility_seconds, MAX_VISIBILITY_SECONDS),
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
            for raw in response.get("Messages", []):
                message = self._message(raw)
                if message is not None:
                    return message
                skipped += 1
            if skipped >= MAX_SKIPPED_PER_RECEIVE:
                return None
            if not response.get("Messages") and time.monotonic() >= deadline:
                return None

    def _message(self, raw: dict[str, Any]) -> Message | None:
        count = int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        try:
            item = decode_item(raw.get("Body", ""))
        except ValueError as error:  # json.JSONDecodeError is a ValueError
            log.warning(
                "unreadable work item left for the dead-letter queue",
                extra={"message_id": raw.get("MessageId"), "receives": count, "error": str(error)},
            )
            return None
        return Message(item, raw["ReceiptHandle"], count)

    def ack(self, message: Message) -> None:
        self._tolerating_stale_receipt(
            "ack",
            message,
            lambda: self.client.delete_message(
                QueueUrl=self.queue_url, ReceiptHandle=message.receipt
            ),
        )

    def release(self, message: Message, delay_seconds: float = 0.0) -> None:
        """Visible again after delay_seconds. Until then SQS counts it as in flight, not
        delayed, so depth() leaves it out."""
        self._change_visibility("release", message, delay_seconds)

    def extend(self, message: Message, visibility_seconds: float) -> None:
        self._change_visibility("extend", message, visibility_seconds)

    def _change_visibility(self, action: str, message: Message, seconds: float) -> None:
        self._tolerating_stale_receipt(
            action,
            message,
            lambda: self.client.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message.receipt,
                VisibilityTimeout=_seconds(seconds, MAX_VISIBILITY_SECONDS),
            ),
        )

    def _tolerating_stale_receipt(
        self, action: str, message: Message, call: Callable[[], object]
    ) -> None:
        """A receipt that expired (the item was redelivered) is a no-op, as in SQLite.

        SQS reports an expired handle as InvalidParameterValue, the code it also uses for a
        visibility past 12 hours in all; the log line keeps SQS's reason to tell them apart.
        """
        try:
            call()
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code not in _STALE_RECEIPT_CODES:
                raise
            log.warning(
                "stale receipt ignored",
                extra={
                    "action": action,
                    "job_id": message.item.job_id,
                    "code": code,
                    "reason": str(error.response.get("Error", {}).get("Message", "")),
                },
            )

    def depth(self) -> int:
        """Visible plus delayed messages (SQS's approximate counts), not those in flight."""
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesDelayed", 0)
        )
