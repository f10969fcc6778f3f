"""JobStore on DynamoDB (table `transcription-jobs`): every transition is a conditional write.

Items keep the seed's attributes at top level (job_id, status, s3_key, callback_url,
callback_secret, created_at, updated_at, instance_id, error_message) beside every other Job
field, valued as job_to_record() writes them: ISO timestamps with microseconds (string order
is time order), floats as Decimal, None never stored. expires_at_epoch (N) is the TTL.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from swescribe.adapters.aws.dynamodb_counts import count_in_flight, count_owned
from swescribe.adapters.aws.dynamodb_items import (
    ATTRIBUTE_DEFINITIONS,
    BILLING_MODE,
    GLOBAL_SECONDARY_INDEXES,
    KEY_SCHEMA,
    OWNER_INDEX,
    STATUS_INDEX,
    TTL_ATTRIBUTE,
    Expression,
    condition_for,
    create_jobs_table,
    is_job_key,
    item_from_job,
    job_from_item,
    ttl_epoch,
)
from swescribe.core.cursors import decode_cursor, encode_cursor
from swescribe.core.errors import InvalidRequest, JobNotFound, TransitionConflict
from swescribe.core.jobs import Job, JobChanges, JobStatus, encode_change
from swescribe.core.ports import Expect, JobCounts, Page

log = logging.getLogger(__name__)

FILTERED_PAGE_SIZE = 200
"""Items read per request when a filter drops some (the filter runs after Limit)."""
MAX_QUERY_PAGES = 10
"""Requests one list call makes at most; past it the page is short and has a cursor."""
MAX_KEY_BYTES = 2048
"""DynamoDB's longest partition key value."""
MAX_SCAN_PAGES = 100
"""Scan pages (1 MB each) an all-owners listing reads at most."""


__all__ = [
    "ATTRIBUTE_DEFINITIONS",
    "BILLING_MODE",
    "GLOBAL_SECONDARY_INDEXES",
    "KEY_SCHEMA",
    "TTL_ATTRIBUTE",
    "DynamoJobStore",
    "create_jobs_table",
]


class DynamoJobStore:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def create(self, job: Job) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=item_from_job(job),
                ConditionExpression="attribute_not_exists(#job_id)",
                ExpressionAttributeNames={"#job_id": "job_id"},
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                raise TransitionConflict(f"job {job.job_id} already exists") from None
            raise

    def get(self, job_id: str) -> Job | None:
        if not _storable_id(job_id):
            return None
        item = self._raw_item(job_id)
        return job_from_item(item) if item else None

    def update(self, job_id: str, expect: Expect | None, changes: JobChanges) -> Job:
        """One UpdateItem whose ConditionExpression carries `expect`; the job as written."""
        request = self._update_request(job_id, expect, changes)
        try:
            response = self.client.update_item(
                **request, ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD"
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            old_item: Any = error.response.get("Item")
            self._raise_for_failed_condition(job_id, old_item, expect)
        return job_from_item(response["Attributes"])

    def _update_request(
        self, job_id: str, expect: Expect | None, changes: JobChanges
    ) -> dict[str, Any]:
        """The UpdateItem parameters for `changes` under `expect` (no ReturnValues)."""
        if "job_id" in changes:
            raise ValueError("a job's job_id cannot change")
        if not _storable_id(job_id):
            raise JobNotFound(f"no job {job_id!r}")
        if expect is not None and not expect.statuses:
            self._raise_for_failed_condition(job_id, self._raw_item(job_id), expect)
        words = Expression()
        sets: list[str] = []
        removes: list[str] = []
        for name, value in changes.items():
            encoded = encode_change(name, value)
            attributes = [(name, encoded)]
            if name == "expires_at":
                attributes.append((TTL_ATTRIBUTE, ttl_epoch(changes["expires_at"])))
            for attribute, stored in attributes:
                if stored is None:
                    removes.append(words.name(attribute))
                else:
                    new_value = words.value(f"new_{attribute}", stored)
                    sets.append(f"{words.name(attribute)} = {new_value}")
        if not sets and not removes:
            sets.append(f"{words.name('status')} = {words.name('status')}")
        expression = " ".join(
            part
            for part in (
                f"SET {', '.join(sets)}" if sets else "",
                f"REMOVE {', '.join(removes)}" if removes else "",
            )
            if part
        )
        condition = condition_for(words, expect)
        return {
            "TableName": self.table,
            "Key": _key(job_id),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            **words.parameters(),
        }

    def _raw_item(self, job_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self.table, Key=_key(job_id), ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    @staticmethod
    def _raise_for_failed_condition(
        job_id: str, old_item: dict[str, Any] | None, expect: Expect | None
    ) -> typing.NoReturn:
        if not old_item:
            raise JobNotFound(f"no job {job_id!r}")
        current = job_from_item(old_item)
        wanted = "/".join(sorted(s.value for s in expect.statuses)) if expect else "any"
        raise TransitionConflict(f"job {job_id} is {current.status.value}; expected {wanted}")

    def list_jobs(
        self,
        owner: str | None,
        status: JobStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """Newest first. owner None and no status scans the whole table: for operators."""
        after = _decode_cursor(cursor) if cursor else None
        if limit < 1:
            return Page([], None)
        if owner is None and status is None:
            return self._scan_page(limit, after)
        words = Expression()
        if owner is not None:
            index, hash_attribute, hash_value = OWNER_INDEX, "owner", owner
        else:
            assert status is not None
            index, hash_attribute, hash_value = STATUS_INDEX, "status", status.value
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "ScanIndexForward": False,
            "KeyConditionExpression": (
                f"{words.name(hash_attribute)} = {words.value('hash', hash_value)}"
            ),
        }
        filtered = owner is not None and status is not None
        if filtered:
            assert status is not None
            request["FilterExpression"] = (
                f"{words.name('status')} = {words.value('status', status.value)}"
            )
        request.update(words.parameters())
        if after is not None:
            request["ExclusiveStartKey"] = _index_key(hash_attribute, hash_value, *after)
        found, last = self._query(request, limit + 1, FILTERED_PAGE_SIZE if filtered else None)
        if len(found) > limit:
            return Page(found[:limit], encode_cursor(*_order_key(found[limit - 1])))
        if last is None:
            return Page(found, None)
        return Page(found, encode_cursor(_string(last, "created_at"), _string(last, "job_id")))

    def _scan_page(self, limit: int, after: tuple[str, str] | None) -> Page:
        """Every job, sorted here: a whole-table read, fine for operators and the janitor."""
        jobs = sorted(
            (
                job_from_item(item)
                for item in self._scan_all()
                if is_job_key(str(item["job_id"]["S"]))
            ),
            key=_order_key,
            reverse=True,
        )
        if after is not None:
            jobs = [job for job in jobs if _order_key(job) < after]
        page = jobs[:limit]
        more = len(jobs) > limit
        return Page(page, encode_cursor(*_order_key(page[-1])) if more else None)

    def _scan_all(self) -> Iterable[dict[str, Any]]:
        request: dict[str, Any] = {"TableName": self.table}
        for _ in range(MAX_SCAN_PAGES):
            response = self.client.scan(**request)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if last is None:
                return
            request["ExclusiveStartKey"] = last
        log.warning("job scan stopped after %d pages; the listing is partial", MAX_SCAN_PAGES)

    def list_by_status(self, statuses: Collection[JobStatus], limit: int = 500) -> list[Job]:
        """Oldest first across the statuses asked for."""
        if limit < 1:
            return []
        jobs: list[Job] = []
        for status in statuses:
            jobs += self._oldest_with_status(status, limit)
        return sorted(jobs, key=_order_key)[:limit]

    def _oldest_with_status(self, status: JobStatus, limit: int) -> list[Job]:
        words = Expression()
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": STATUS_INDEX,
            "ScanIndexForward": True,
            "KeyConditionExpression": (
                f"{words.name('status')} = {words.value('status', status.value)}"
            ),
            **words.parameters(),
        }
        return self._query(request, limit, None)[0]

    def _query(
        self, request: dict[str, Any], wanted: int, page_size: int | None
    ) -> tuple[list[Job], dict[str, Any] | None]:
        """Up to `wanted` jobs from at most MAX_QUERY_PAGES requests, and where it stopped.

        page_size None reads exactly what is still wanted; a filtered query reads page_size
        items a request, as the filter drops some after DynamoDB counted them.
        """
        found: list[Job] = []
        last: dict[str, Any] | None = None
        for _ in range(MAX_QUERY_PAGES):
            response = self.client.query(**request, Limit=page_size or wanted - len(found))
            found += [job_from_item(item) for item in response.get("Items", [])]
            last = response.get("LastEvaluatedKey")
            if len(found) >= wanted or last is None:
                break
            request["ExclusiveStartKey"] = last
        return found, last

    def count_jobs(
        self, owner: str, status: JobStatus, created_since: datetime | None = None
    ) -> int:
        return count_owned(self.client, self.table, owner, status, created_since)

    def counts(self) -> JobCounts:
        """The jobs in flight, counted on the status index (see dynamodb_counts)."""
        return count_in_flight(self.client, self.table)

    def delete(self, job_id: str) -> bool:
        if not _storable_id(job_id):
            return False
        response = self.client.delete_item(
            TableName=self.table, Key=_key(job_id), ReturnValues="ALL_OLD"
        )
        return bool(response.get("Attributes"))


def _storable_id(job_id: str) -> bool:
    """A partition key is 1..2048 bytes; any other id names no job (and would be a
    ValidationException, a 500, rather than a 404). Nor does the service's own item."""
    return 0 < len(job_id.encode()) <= MAX_KEY_BYTES and is_job_key(job_id)


def _key(job_id: str) -> dict[str, Any]:
    return {"job_id": {"S": job_id}}


def _index_key(hash_attribute: str, hash_value: str, created_at: str, job_id: str) -> Any:
    return {
        hash_attribute: {"S": hash_value},
        "created_at": {"S": created_at},
        "job_id": {"S": job_id},
    }


def _order_key(job: Job) -> tuple[str, str]:
    created_at: str = encode_change("created_at", job.created_at)
    return created_at, job.job_id


def _string(item: Mapping[str, Any], attribute: str) -> str:
    text: str = item[attribute]["S"]
    return text


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _decode_cursor(cursor: str) -> tuple[str, str]:
    created_at, job_id = decode_cursor(cursor)
    if not _storable_id(job_id):
        raise InvalidRequest("cursor is not one this API returned")
    return created_at, job_id
