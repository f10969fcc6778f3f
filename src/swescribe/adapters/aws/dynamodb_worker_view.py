"""The jobs table as a GPU worker may see it: every attribute but the callback's.

The worker role's policy (setup/cloudformation/swescribe.yaml, WorkerRole) allows GetItem
and UpdateItem only on WORKER_ATTRIBUTES (``dynamodb:Attributes``), only with a projection
(``dynamodb:Select`` SPECIFIC_ATTRIBUTES) and never returning whole items
(``dynamodb:ReturnValues`` NONE, UPDATED_OLD or UPDATED_NEW). So a worker, which may be
handed any job id by the queue, cannot read any job's callback_url or callback_secret:
webhooks are sent by the process-upload Lambda, never by a worker. This store asks only
for what that policy allows: a projected GetItem, and an UpdateItem answering
UPDATED_NEW followed by a projected, consistent GetItem for the job as written.
"""

from __future__ import annotations

from typing import Any, Final

from botocore.exceptions import ClientError

from swescribe.adapters.aws.dynamodb_items import TTL_ATTRIBUTE, job_from_item
from swescribe.adapters.aws.dynamodb_jobs import DynamoJobStore
from swescribe.core.errors import JobNotFound
from swescribe.core.jobs import STORED_ATTRIBUTES, Job, JobChanges
from swescribe.core.ports import Expect

HIDDEN_FROM_WORKERS: Final = frozenset({"callback_url", "callback_secret"})
WORKER_ATTRIBUTES: Final[tuple[str, ...]] = (
    *(name for name in STORED_ATTRIBUTES if name not in HIDDEN_FROM_WORKERS),
    TTL_ATTRIBUTE,
)
"""Every attribute a worker may name in a request: the template lists exactly these."""


class WorkerJobStore(DynamoJobStore):
    """DynamoJobStore for the worker: reads and writes never touch the callback's fields."""

    def _raw_item(self, job_id: str) -> dict[str, Any] | None:
        names = {f"#a{index}": name for index, name in enumerate(WORKER_ATTRIBUTES)}
        response = self.client.get_item(
            TableName=self.table,
            Key={"job_id": {"S": job_id}},
            ConsistentRead=True,
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def update(self, job_id: str, expect: Expect | None, changes: JobChanges) -> Job:
        hidden = HIDDEN_FROM_WORKERS & set(changes)
        if hidden:
            raise ValueError(f"a worker never writes {sorted(hidden)}")
        request = self._update_request(job_id, expect, changes)
        try:
            self.client.update_item(**request, ReturnValues="UPDATED_NEW")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            self._raise_for_failed_condition(job_id, self._raw_item(job_id), expect)
        item = self._raw_item(job_id)
        if not item:
            raise JobNotFound(f"no job {job_id!r}")
        return job_from_item(item)
