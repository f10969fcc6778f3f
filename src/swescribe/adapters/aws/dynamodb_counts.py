"""Job counts on DynamoDB for /metrics, without a Scan.

Only the jobs in flight (registered, launching, processing) are counted, on the status
index with Select COUNT (no items come back): they are bounded by the work in hand, not by
history. Finished jobs are left out: they grow with every job ever run, and their totals
are CloudWatch metrics (docs/deploy.md). Counters kept on every transition would drift,
as DynamoDB's TTL deletes finished jobs without telling anyone.
"""

from __future__ import annotations

import logging
from typing import Any

from swescribe.adapters.aws.dynamodb_items import STATUS_INDEX, Expression
from swescribe.core.jobs import JobStatus
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
    total = 0
    for _ in range(MAX_COUNT_PAGES):
        response = client.query(**request)
        total += int(response.get("Count", 0))
        last = response.get("LastEvaluatedKey")
        if last is None:
            return total
        request["ExclusiveStartKey"] = last
    log.warning("job count for %s stopped after %d pages", status.value, MAX_COUNT_PAGES)
    return total
