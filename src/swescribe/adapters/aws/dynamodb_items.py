"""How a Job is a DynamoDB item, and the table's shape (the CloudFormation template
matches these constants): attribute values, the TTL, condition expressions."""

from __future__ import annotations

import copy
import math
import typing
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from swescribe.core.jobs import Job, JobStatus, encode_change, job_from_record, job_to_record
from swescribe.core.ports import Expect
from swescribe.core.request import JobRequest

TTL_ATTRIBUTE: Final = "expires_at_epoch"
RESERVED_KEY_PREFIX: Final = "#"
"""Items whose key starts with it are the service's own (the launch slots,
dynamodb_slots.py), never a job: no job id starts with it."""
OWNER_INDEX: Final = "by_owner"
STATUS_INDEX: Final = "by_status"
BILLING_MODE: Final = "PAY_PER_REQUEST"
KEY_SCHEMA: Final[list[dict[str, str]]] = [{"AttributeName": "job_id", "KeyType": "HASH"}]
ATTRIBUTE_DEFINITIONS: Final[list[dict[str, str]]] = [
    {"AttributeName": name, "AttributeType": "S"}
    for name in ("job_id", "owner", "status", "created_at")
]
GLOBAL_SECONDARY_INDEXES: Final[list[dict[str, Any]]] = [
    {
        "IndexName": index,
        "KeySchema": [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            {"AttributeName": "created_at", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    for index, hash_key in ((OWNER_INDEX, "owner"), (STATUS_INDEX, "status"))
]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


_FLOAT_FIELDS = frozenset(
    name
    for typed in (Job, JobRequest)
    for name, hint in typing.get_type_hints(typed).items()
    if hint is float or float in typing.get_args(hint)
)
"""Job and request fields typed float: a whole number read back (Decimal 3) is still 3.0
there."""


def is_job_key(job_id: str) -> bool:
    return not job_id.startswith(RESERVED_KEY_PREFIX)


def create_jobs_table(client: Any, table: str) -> None:
    """Create the table as the deployment has it (the CloudFormation template matches these
    constants) and wait until it is active."""
    client.create_table(
        TableName=table,
        BillingMode=BILLING_MODE,
        KeySchema=copy.deepcopy(KEY_SCHEMA),
        AttributeDefinitions=copy.deepcopy(ATTRIBUTE_DEFINITIONS),
        GlobalSecondaryIndexes=copy.deepcopy(GLOBAL_SECONDARY_INDEXES),
    )
    client.get_waiter("table_exists").wait(
        TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    client.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )


class Expression:
    """Placeholders for one request: #name for every attribute, :name for every value."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#{attribute}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, label: str, value: Any) -> str:
        placeholder = f":{label}"
        self.values[placeholder] = _serializer.serialize(_to_dynamo(value))
        return placeholder

    def parameters(self) -> dict[str, Any]:
        found: dict[str, Any] = {"ExpressionAttributeNames": self.names}
        if self.values:
            found["ExpressionAttributeValues"] = self.values
        return found


def condition_for(words: Expression, expect: Expect | None) -> str:
    """Expect as a ConditionExpression; the item must exist whatever else is asked."""
    parts = [f"attribute_exists({words.name('job_id')})"]
    if expect is None:
        return parts[0]
    statuses = sorted(s.value for s in expect.statuses)
    marks = ", ".join(words.value(f"expect_status{n}", s) for n, s in enumerate(statuses))
    parts.append(f"{words.name('status')} IN ({marks})")
    if expect.worker_id is not None:
        parts.append(f"{words.name('instance_id')} = {words.value('worker', expect.worker_id)}")
    if expect.upload_free_for is not None:
        holder = words.name("upload_holder")
        free_at = encode_change("upload_reserved_until", expect.upload_free_at)
        parts.append(
            f"(attribute_not_exists({holder}) OR {holder} = "
            f"{words.value('holder', expect.upload_free_for)} OR "
            f"{words.name('upload_reserved_until')} <= {words.value('free_at', free_at)})"
        )
    if expect.lease_expired_by is not None:
        lease_end = encode_change("lease_expires_at", expect.lease_expired_by)
        parts.append(
            f"({words.name('status')} <> {words.value('processing', JobStatus.PROCESSING.value)}"
            f" OR {words.name('lease_expires_at')} <= {words.value('lease_end', lease_end)})"
        )
    return " AND ".join(parts)


def item_from_job(job: Job) -> dict[str, Any]:
    """The DynamoDB item (attribute values) for a job: no None attributes, plus the TTL."""
    record = {name: value for name, value in job_to_record(job).items() if value is not None}
    ttl = ttl_epoch(job.expires_at)
    if ttl is not None:
        record[TTL_ATTRIBUTE] = ttl
    return {name: _serializer.serialize(_to_dynamo(value)) for name, value in record.items()}


def job_from_item(item: Mapping[str, Any]) -> Job:
    record = {
        name: _from_dynamo(name, _deserializer.deserialize(value))
        for name, value in item.items()
        if name != TTL_ATTRIBUTE
    }
    return job_from_record(record)


def ttl_epoch(expires_at: datetime | None) -> int | None:
    """Whole seconds, rounded up: DynamoDB never removes a job before its expires_at."""
    return None if expires_at is None else math.ceil(expires_at.timestamp())


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: _to_dynamo(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(inner) for inner in value]
    return value


def _from_dynamo(name: str, value: Any) -> Any:
    if isinstance(value, Decimal):
        if name in _FLOAT_FIELDS:
            return float(value)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _from_dynamo("", inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_from_dynamo("", inner) for inner in value]
    return value
