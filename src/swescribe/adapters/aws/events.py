"""What arrives at the process_upload Lambda: S3 notifications (through SQS or directly),
S3's test event, and webhook work items from the webhook queue. Pure parsing, no I/O."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from swescribe.core.ports import WorkItem


@dataclass(frozen=True)
class ObjectCreated:
    bucket: str
    key: str
    """As S3 sends it: URL-encoded, '+' for space (the service decodes it)."""
    size: int | None


@dataclass(frozen=True)
class Unit:
    """One piece of work from an event, and the SQS message it came in (if any)."""

    message_id: str | None
    uploads: tuple[ObjectCreated, ...] = ()
    work_item: WorkItem | None = None
    ignored: str | None = None
    """Why nothing is to be done (a test event, another event type, a malformed body)."""
    receives: int = 1
    """SQS's ApproximateReceiveCount: more than 1 means an earlier handling failed."""


def units(event: Mapping[str, Any]) -> Iterator[Unit]:
    """Every unit of work in a Lambda event, one per SQS message or per direct S3 record."""
    for record in event.get("Records") or ():
        if not isinstance(record, dict):
            yield Unit(None, ignored="a record that is not an object")
        elif record.get("eventSource") == "aws:sqs":
            yield _from_sqs(record)
        elif record.get("eventSource") == "aws:s3":
            yield _from_s3_records(None, [record])
        else:
            yield Unit(None, ignored=f"unknown record source {record.get('eventSource')!r}")


def _from_sqs(record: Mapping[str, Any]) -> Unit:
    unit = _sqs_unit(record)
    attributes = record.get("attributes")
    try:
        receives = int((attributes or {}).get("ApproximateReceiveCount", 1))
    except (AttributeError, TypeError, ValueError):
        receives = 1
    return replace(unit, receives=receives) if receives > 1 else unit


def _sqs_unit(record: Mapping[str, Any]) -> Unit:
    message_id = str(record.get("messageId", ""))
    try:
        body = json.loads(record.get("body") or "")
    except json.JSONDecodeError:
        return Unit(message_id, ignored="body is not JSON")
    if not isinstance(body, dict):
        return Unit(message_id, ignored="body is not a JSON object")
    if body.get("Event") == "s3:TestEvent":
        return Unit(message_id, ignored="s3:TestEvent")
    if "Records" in body:
        return _from_s3_records(message_id, body["Records"])
    if isinstance(body.get("kind"), str) and isinstance(body.get("job_id"), str):
        return Unit(message_id, work_item=WorkItem(body["kind"], body["job_id"], body.get("key")))
    return Unit(message_id, ignored="neither an S3 notification nor a work item")


def _from_s3_records(message_id: str | None, records: Any) -> Unit:
    uploads = []
    for record in records if isinstance(records, list) else ():
        upload = _object_created(record)
        if upload is not None:
            uploads.append(upload)
    if not uploads:
        return Unit(message_id, ignored="no ObjectCreated records")
    return Unit(message_id, uploads=tuple(uploads))


def _object_created(record: Any) -> ObjectCreated | None:
    """The upload an S3 record announces; None for other events and malformed records
    (a bad record is dropped, never the batch it came in)."""
    if not isinstance(record, dict):
        return None
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return None
    s3 = record.get("s3")
    s3 = s3 if isinstance(s3, dict) else {}
    found = s3.get("object")
    found = found if isinstance(found, dict) else {}
    key, size = found.get("key"), found.get("size")
    if not isinstance(key, str):
        return None
    bucket = s3.get("bucket")
    bucket_name = str(bucket.get("name", "")) if isinstance(bucket, dict) else ""
    try:
        size_bytes = int(size) if size is not None else None
    except (TypeError, ValueError):
        size_bytes = None  # the worker measures the object itself
    return ObjectCreated(bucket_name, key, size_bytes)
