"""A run lease in the jobs table: one holder at a time, taken by a conditional write.

The janitor's schedule starts a run whether the last one ended or not, and an operator may
run `swescribe cleanup` meanwhile; the lease keeps two sweeps from working at once. A
holder that dies keeps it until it runs out, so it must outlast the longest run (the
Lambda's timeout) and end before the next scheduled one.

The lease is an item whose key no job takes (RESERVED_KEY_PREFIX, as the launch slots'),
with none of the indexes' attributes, so no job query ever sees it, and a TTL so
DynamoDB removes it. UpdateItem creates it: the roles that update jobs need nothing more.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from swescribe.adapters.aws.dynamodb_items import RESERVED_KEY_PREFIX, TTL_ATTRIBUTE

LEASE_KEY_PREFIX = f"{RESERVED_KEY_PREFIX}lease#"
_KEPT_AFTER_SECONDS = 86400
"""How long DynamoDB's TTL lets a lapsed lease item stay (it is reused meanwhile)."""


class DynamoLease:
    def __init__(
        self, client: Any, table: str, name: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.client = client
        self.table = table
        self.key = {"job_id": {"S": LEASE_KEY_PREFIX + name}}
        self.clock = clock

    def acquire(self, holder: str, seconds: float) -> float | None:
        """Take the lease for seconds; the Unix time it runs out, or None while another
        holder's lease runs."""
        now = self.clock()
        until = now + seconds
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self.key,
                UpdateExpression="SET #holder = :holder, #until = :until, #ttl = :ttl",
                ConditionExpression="attribute_not_exists(#holder) OR #until < :now",
                ExpressionAttributeNames={
                    "#holder": "lease_holder",
                    "#until": "lease_until",
                    "#ttl": TTL_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":holder": {"S": holder},
                    ":until": {"N": repr(until)},
                    ":now": {"N": repr(now)},
                    ":ttl": {"N": str(math.ceil(until) + _KEPT_AFTER_SECONDS)},
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return until

    def release(self, holder: str) -> None:
        """End holder's lease now (the next run need not wait); a lease that ran out and was
        taken by another holder is left alone."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self.key,
                UpdateExpression="SET #until = :ended",
                ConditionExpression="#holder = :holder",
                ExpressionAttributeNames={"#holder": "lease_holder", "#until": "lease_until"},
                ExpressionAttributeValues={":holder": {"S": holder}, ":ended": {"N": "0"}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
