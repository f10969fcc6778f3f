"""Job counts on DynamoDB for /metrics and the per-key caps, without a Scan.

Only the jobs in flight (registered, launching, processing) are counted, on the status
index with Select COUNT (no items come back): they are bounded by the work in hand, not by
history. Finished jobs are left out: they grow with every job ever run, and their totals
are CloudWatch metrics (docs/deploy.md). Counters kept on every transition would drift,
as DynamoDB's TTL deletes finished jobs without telling anyone.

One key's jobs in one status (the per-key caps) are counted on the owner index, from the
moment the caller names: the read is bounded by that key's recent jobs, not its history.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from swescribe.adapters.aws.dynamodb_items import OWNER_INDEX, STATUS_INDEX, Expression
from swescribe.core.jobs import JobStatus, encode_change
from swescribe.core.ports import JobCounts

log = logging.getLogger(__name__)

IN_FLIGHT = (JobStatus.REGISTERED, JobStatus.LAUNCHING, JobStatus.PROCESSING)
MAX_COUNT_PAGES = 20
"""Index pages (1 MB each) one status count reads at most; past it the count is a floor."""


def count_in_flight(client: Any, table: str) -> JobCounts:
    return JobCounts(by_status={status: _count(client, table, status) for status in IN_FLIGHT})


def _count(client: Any, table: str, status: JobStatus) -> int:
    words = Expression()
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": STATUS_INDEX,
        "Select": "COUNT",
        "KeyConditionExpression": f"{words.name('status')} = {words.value('status', status.value)}",
        **words.parameters(),
    }
    return _paged_count(client, request, status.value)


def count_owned(
    client: Any, table: str, owner: str, status: JobStatus, created_since: datetime | None
) -> int:
    """owner's jobs in status created since created_since: a Select COUNT query on the
    owner index (status filtered after the read, so the read is the key's jobs since)."""
    words = Expression()
    key_condition = f"{words.name('owner')} = {words.value('owner', owner)}"
    if created_since is not None:
        since = encode_change("created_at", created_since)
        key_condition += f" AND {words.name('created_at')} >= {words.value('since', since)}"
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": OWNER_INDEX,
        "Select": "COUNT",
        "KeyConditionExpression": key_condition,
        "FilterExpression": f"{words.name('status')} = {words.value('status', status.value)}",
        **words.parameters(),
    }
    return _paged_count(client, request, f"{status.value} of one key")


def _paged_count(client: Any, request: dict[str, Any], what: str) -> int:
    total = 0
    for _ in range(MAX_COUNT_PAGES):
        response = client.query(**request)
        total += int(response.get("Count", 0))
        last = response.get("LastEvaluatedKey")
        if last is None:
            return total
        request["ExclusiveStartKey"] = last
    log.warning("job count for %s stopped after %d pages", what, MAX_COUNT_PAGES)
    return total
