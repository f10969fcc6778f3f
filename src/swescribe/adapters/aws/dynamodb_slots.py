"""Launch slots: MaxWorkers as a hard cap, held in one item of the jobs table.

Process-upload invocations, the API and the janitor all launch workers, several at once.
Counting the workers with DescribeInstances and starting the difference is not a cap:
DescribeInstances is eventually consistent, and two launchers that count before either
has launched both start the difference. So every launch first takes a slot: a
conditional UpdateItem that adds an entry to the item's map only while the map holds
fewer than MaxWorkers entries. DynamoDB applies it atomically, so however many launchers
race, no more than MaxWorkers slots are ever held, and no worker starts without one.

A slot is named ``launch-<hex>`` while its RunInstances runs, then takes the id of the
instance it started; if RunInstances failed it is given back at once. A slot comes back
when its instance ends: `reconcile` (on every launch and every janitor sweep) compares
the slots with the instances that exist, frees those whose instance is shutting down or
gone, and frees a ``launch-`` slot whose launcher died before it could say how it went.
It never leaves fewer slots than there are workers running: a running worker without a
slot (started by an older release, or by a launcher that died before naming it) gets one.

The item's key starts with "#", which no job id does (dynamodb_jobs skips such items).
Only the launching roles (api, process-upload, janitor) touch it, with the GetItem and
UpdateItem they already hold on the table; the GPU worker role never does.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any, Final

from botocore.exceptions import ClientError

from swescribe.adapters.aws.dynamodb_items import RESERVED_KEY_PREFIX
from swescribe.adapters.aws.ec2_workers import SlotReport, Terminated, WorkerInstance
from swescribe.adapters.aws.errors import error_code
from swescribe.core.jobs import from_iso, to_iso, utcnow

log = logging.getLogger(__name__)

__all__ = ["SLOTS_KEY", "DynamoLaunchSlots"]

SLOTS_KEY: Final = f"{RESERVED_KEY_PREFIX}launch-slots"
SLOTS_ATTRIBUTE: Final = "launch_slots"
PENDING_PREFIX: Final = "launch-"
LAUNCH_SECONDS: Final = 900.0
"""How long a launch may hold a slot before naming its instance: a launcher runs inside a
Lambda invocation, which lasts at most 15 minutes; past it, the launcher is gone."""
VISIBILITY_SECONDS: Final = 300.0
"""How long an instance may be missing from DescribeInstances after it was named, before
its slot is freed: EC2's eventual consistency hides a new instance for a while."""

_CONDITION_FAILED = "ConditionalCheckFailedException"


class DynamoLaunchSlots:
    """Implements LaunchSlots on one item of the jobs table (map: slot id -> since)."""

    def __init__(self, client: Any, table: str, clock: Callable[[], datetime] = utcnow) -> None:
        self.client = client
        self.table = table
        self.clock = clock

    def held(self) -> dict[str, datetime]:
        """Every slot held now (a strongly consistent read), with when it was taken."""
        response = self.client.get_item(
            TableName=self.table,
            Key=_key(),
            ConsistentRead=True,
            ProjectionExpression="#slots",
            ExpressionAttributeNames={"#slots": SLOTS_ATTRIBUTE},
        )
        raw = response.get("Item", {}).get(SLOTS_ATTRIBUTE, {}).get("M", {})
        held: dict[str, datetime] = {}
        for slot_id, value in raw.items():
            since = from_iso(value.get("S"))
            if since is not None:
                held[slot_id] = since
        return held

    def take(self, limit: int) -> str | None:
        """A new slot's id, or None when `limit` slots are held already."""
        if limit <= 0:
            return None
        slot_id = f"{PENDING_PREFIX}{uuid.uuid4().hex}"
        for first_try in (True, False):
            try:
                self._update(
                    "SET #slots.#slot = :since",
                    "attribute_exists(#slots) AND size(#slots) < :limit",
                    {"#slot": slot_id},
                    {":since": self._now(), ":limit": {"N": str(limit)}},
                )
                return slot_id
            except ClientError as error:
                if error_code(error) != _CONDITION_FAILED:
                    raise
            if not (first_try and self._create()):
                return None
        return None

    def bind(self, slot_id: str, instance_id: str) -> None:
        """The launch that took slot_id started instance_id: the slot is now the instance's
        (a duplicate launch that got the same instance back leaves one slot, not two)."""
        if slot_id == instance_id:
            return
        self._update(
            "REMOVE #slots.#slot SET #slots.#instance = :since",
            "attribute_exists(#slots)",
            {"#slot": slot_id, "#instance": instance_id},
            {":since": self._now()},
            missing_ok=True,
        )

    def give_back(self, slot_id: str) -> None:
        """Free a slot whose launch started nothing."""
        self._update(
            "REMOVE #slots.#slot", "attribute_exists(#slots)", {"#slot": slot_id}, {}, True
        )

    def reconcile(
        self,
        workers: Collection[WorkerInstance],
        dry_run: bool = False,
        terminated: Terminated | None = None,
    ) -> SlotReport:
        """Free the slots of instances that ended and of launches that died; give running
        workers without a slot one. workers: the service's instances in every state but
        terminated (Ec2Launcher.list_workers); terminated, when given, says which of the
        named instances missing from workers EC2 reports terminated (freed at once; the
        others only after VISIBILITY_SECONDS)."""
        now = self.clock()
        held = self.held()
        by_id = {worker.instance_id: worker for worker in workers}
        missing = [s for s in held if not s.startswith(PENDING_PREFIX) and s not in by_id]
        gone = set(terminated(missing)) if missing and terminated is not None else set()
        freed = [
            slot_id
            for slot_id, since in held.items()
            if slot_id in gone or _ended(slot_id, now - since, by_id.get(slot_id))
        ]
        adopted = [w.instance_id for w in workers if w.active and w.instance_id not in held]
        if not dry_run:
            for slot_id in freed:
                self._free(slot_id, held[slot_id])
            if adopted and not held:
                self._create()
            for instance_id in adopted:
                self._update(
                    "SET #slots.#instance = :since",
                    "attribute_exists(#slots)",
                    {"#instance": instance_id},
                    {":since": self._now()},
                    missing_ok=True,
                )
        if freed or adopted:
            log.info(
                "launch slots reconciled",
                extra={"freed": ",".join(freed), "adopted": ",".join(adopted), "dry_run": dry_run},
            )
        return SlotReport(held=len(held) - len(freed) + len(adopted), freed=freed, adopted=adopted)

    # -- DynamoDB -----------------------------------------------------------------------

    def _free(self, slot_id: str, since: datetime) -> None:
        """Remove the slot unless it changed since it was read (renamed, taken again)."""
        self._update(
            "REMOVE #slots.#slot",
            "#slots.#slot = :seen",
            {"#slot": slot_id},
            {":seen": {"S": to_iso(since) or ""}},
            missing_ok=True,
        )

    def _create(self) -> bool:
        """Create the empty map; False when it was there already."""
        try:
            self._update(
                "SET #slots = :empty", "attribute_not_exists(#slots)", {}, {":empty": {"M": {}}}
            )
        except ClientError as error:
            if error_code(error) != _CONDITION_FAILED:
                raise
            return False
        return True

    def _update(
        self,
        expression: str,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
        missing_ok: bool = False,
    ) -> None:
        """One UpdateItem on the slots item; missing_ok: a failed condition is no error."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": _key(),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#slots": SLOTS_ATTRIBUTE, **names},
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self.client.update_item(**request)
        except ClientError as error:
            if not (missing_ok and error_code(error) == _CONDITION_FAILED):
                raise

    def _now(self) -> dict[str, str]:
        return {"S": to_iso(self.clock()) or ""}


def _ended(slot_id: str, age: timedelta, worker: WorkerInstance | None) -> bool:
    if slot_id.startswith(PENDING_PREFIX):
        return age >= timedelta(seconds=LAUNCH_SECONDS)
    if worker is None:  # terminated long ago, or not visible yet: the second is young
        return age >= timedelta(seconds=VISIBILITY_SECONDS)
    return not worker.active  # shutting down or stopped: it takes no more work


def _key() -> dict[str, Any]:
    return {"job_id": {"S": SLOTS_KEY}}
