"""What a GPU worker is to the launcher and the janitor: its tags, the plan it is
launched by (template, types, markets, subnets, the environment its UserData exports),
an instance as DescribeInstances reports it, and the launch slots that cap how many run."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from swescribe.adapters.aws.userdata import is_env_name
from swescribe.core.jobs import from_iso

SERVICE_TAG = "swescribe:service"
JOB_TAG = "swescribe:job"
IDLE_SINCE_TAG = "swescribe:idle-since"
WORKER_NAME = "swescribe-worker"
DEFAULT_WORKER_COMMAND = "/opt/swescribe/bin/start-worker"
"""Baked into the AMI by run_transcription/build_ami.sh (run_transcription/start-worker.sh):
installs SWESCRIBE_WORKER_WHEEL when set, then runs run_transcription/fast_transcribe.py."""

SPOT = "spot"
ON_DEMAND = "on-demand"
ACTIVE_STATES = ("pending", "running")
LIVE_STATES = ("pending", "running", "shutting-down", "stopping", "stopped")
"""Every state but terminated: what the janitor may still have to deal with."""

CAPACITY_ERRORS = frozenset(
    {
        # no capacity for this type, market or zone now
        "InsufficientInstanceCapacity",
        "InsufficientHostCapacity",
        "InsufficientCapacity",
        "UnfulfillableCapacity",
        "SpotMaxPriceTooLow",
        # an account quota of this market or type family (spot and on-demand count apart)
        "MaxSpotInstanceCountExceeded",
        "VcpuLimitExceeded",
        "InstanceLimitExceeded",
        # this subnet: out of addresses
        "InsufficientFreeAddressesInSubnet",
        # the type is not offered in this zone or region
        "Unsupported",
        "UnsupportedOperation",
        # a new account still being verified for this type or market
        "PendingVerification",
    }
)
"""RunInstances refusals that mean "not this type, market or subnet now": try the next
candidate (next subnet, next type, then on-demand). Any other error is a ServiceFailure."""


# --- plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LaunchPlan:
    """What a launch needs, decided once from Settings at the edge (bootstrap_aws)."""

    launch_template: str
    instance_types: tuple[str, ...] = ("g4dn.xlarge",)
    """Tried in order when spot capacity is refused."""
    on_demand_fallback: bool = True
    """When every type refused spot, try them all again on-demand."""
    max_instances: int = 4
    instance_per_job: bool = False
    subnet_ids: tuple[str, ...] = ()
    """Empty: the launch template's own network settings."""
    worker_env: Mapping[str, str] = field(default_factory=dict)
    """The environment the worker gets (no secrets: UserData is readable)."""
    bucket: str = "transcription-curevo"
    service: str = "swescribe"
    """Value of the swescribe:service tag that marks this deployment's workers (the stack
    name), so two deployments in one account never count or end each other's workers."""
    worker_command: str = DEFAULT_WORKER_COMMAND
    shutdown_on_exit: bool = True

    def __post_init__(self) -> None:
        if not self.launch_template:
            raise ValueError("a launch template name is required")
        if not self.instance_types:
            raise ValueError("at least one instance type is required")
        if self.max_instances < 0:
            raise ValueError("max_instances cannot be negative")
        bad = [name for name in self.worker_env if not is_env_name(name)]
        if bad:
            raise ValueError(f"not valid environment variable names: {bad}")


# --- instances -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerInstance:
    """One worker instance as DescribeInstances reports it (for the janitor)."""

    instance_id: str
    state: str
    launch_time: datetime
    """Aware, in UTC."""
    instance_type: str
    lifecycle: str
    """"spot" or "on-demand"."""
    job_id: str | None
    """The swescribe:job tag (one-instance-per-job mode), else None."""
    idle_since: datetime | None = None
    """The swescribe:idle-since tag: when the janitor first saw it holding no job."""

    @property
    def active(self) -> bool:
        """Pending or running: a worker that is, or soon will be, taking jobs."""
        return self.state in ACTIVE_STATES


def worker_instance_from(raw: Mapping[str, Any]) -> WorkerInstance:
    tags = {tag["Key"]: tag["Value"] for tag in raw.get("Tags", [])}
    launched: datetime = raw["LaunchTime"]
    if launched.tzinfo is None:
        launched = launched.replace(tzinfo=UTC)
    return WorkerInstance(
        instance_id=raw["InstanceId"],
        state=raw["State"]["Name"],
        launch_time=launched.astimezone(UTC),
        instance_type=raw["InstanceType"],
        lifecycle=SPOT if raw.get("InstanceLifecycle") == SPOT else ON_DEMAND,
        job_id=tags.get(JOB_TAG),
        idle_since=from_iso(tags.get(IDLE_SINCE_TAG)),
    )


# --- launch slots --------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotReport:
    """What a reconciliation found: slots held after it, and which it freed and added."""

    held: int
    freed: list[str] = field(default_factory=list)
    """Slots of instances that ended, or of launches that died before naming one."""
    adopted: list[str] = field(default_factory=list)
    """Running workers that had no slot (started before the cap, or by a dead launcher)."""


Terminated = Callable[[list[str]], Collection[str]]
"""Which of these instance ids EC2 reports terminated (Ec2Launcher.terminated_among)."""


class LaunchSlots(Protocol):
    """The hard cap on workers: a launch takes a slot first, which fails once the limit is
    held, whatever DescribeInstances says (adapters/aws/dynamodb_slots.py)."""

    def take(self, limit: int) -> str | None:
        """A slot id, or None when `limit` slots are held already."""
        ...

    def bind(self, slot_id: str, instance_id: str) -> None:
        """The launch holding slot_id started instance_id."""
        ...

    def give_back(self, slot_id: str) -> None:
        """The launch holding slot_id started nothing."""
        ...

    def reconcile(
        self,
        workers: Collection[WorkerInstance],
        dry_run: bool = False,
        terminated: Terminated | None = None,
    ) -> SlotReport:
        """Free the slots of ended instances and dead launches; add running workers'."""
        ...
