"""Ports: what the service needs from the outside world, as typing.Protocols.

Each shape (local, aws) provides one adapter per port; tests use the same adapters or
fakes that implement these protocols.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from swescribe.core.jobs import Job, JobChanges, JobStatus, sources_of


@dataclass(frozen=True)
class Expect:
    """The condition a conditional write checks (DynamoDB ConditionExpression, SQL WHERE)."""

    statuses: frozenset[JobStatus]
    worker_id: str | None = None
    """When set, instance_id must equal it: only the worker holding the job may finish it."""
    lease_expired_by: datetime | None = None
    """When set, a job in processing qualifies only if its lease ended by this time."""
    upload_free_for: str | None = None
    """When set, the job's upload must be unreserved, reserved by this holder, or reserved
    until no later than upload_free_at."""
    upload_free_at: datetime | None = None

    @classmethod
    def status(cls, *statuses: JobStatus, worker_id: str | None = None) -> Expect:
        """The job is (still) in one of statuses: for writes that keep the status."""
        return cls(frozenset(statuses), worker_id=worker_id)

    @classmethod
    def transition(
        cls,
        target: JobStatus,
        *,
        source: JobStatus | None = None,
        worker_id: str | None = None,
        lease_expired_by: datetime | None = None,
    ) -> Expect:
        """The condition of a write that moves a job to target: its status is one from
        which ALLOWED_TRANSITIONS allows target, or only source (which it must allow)."""
        allowed = sources_of(target)
        if source is not None:
            if source not in allowed:
                raise ValueError(f"no transition {source.value} -> {target.value}")
            allowed = frozenset({source})
        return cls(allowed, worker_id=worker_id, lease_expired_by=lease_expired_by)

    @classmethod
    def upload_free(cls, holder: str, now: datetime) -> Expect:
        """A registered job whose upload nobody but holder has reserved as of now."""
        return cls(frozenset({JobStatus.REGISTERED}), upload_free_for=holder, upload_free_at=now)

    def matches(self, job: Job) -> bool:
        """The same condition evaluated in Python (fakes, and to explain a conflict)."""
        if job.status not in self.statuses:
            return False
        if self.worker_id is not None and job.instance_id != self.worker_id:
            return False
        if self.upload_free_for is not None and not self._upload_free(job):
            return False
        if self.lease_expired_by is not None and job.status is JobStatus.PROCESSING:
            return (
                job.lease_expires_at is not None and job.lease_expires_at <= self.lease_expired_by
            )
        return True

    def _upload_free(self, job: Job) -> bool:
        if job.upload_holder is None or job.upload_holder == self.upload_free_for:
            return True
        until, now = job.upload_reserved_until, self.upload_free_at
        return until is not None and now is not None and until <= now


@dataclass(frozen=True)
class Page:
    jobs: list[Job]
    next_cursor: str | None


@dataclass(frozen=True)
class JobCounts:
    """Stored jobs by status (and webhook state), as /metrics shows them."""

    by_status: Mapping[JobStatus, int]
    """Every status the store counts; a store may count only the in-flight ones."""
    by_webhook_state: Mapping[str, int] | None = None
    """None where the store does not count them."""


class JobStore(Protocol):
    def create(self, job: Job) -> None:
        """Store a new job; a duplicate job_id raises TransitionConflict."""

    def get(self, job_id: str) -> Job | None: ...

    def update(self, job_id: str, expect: Expect | None, changes: JobChanges) -> Job:
        """Apply changes if expect holds; return the new job.

        Raises JobNotFound for a missing job and TransitionConflict when expect fails.
        updated_at is set by the caller in changes.
        """

    def list_jobs(
        self,
        owner: str | None,
        status: JobStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """Newest first; owner None lists every owner's jobs (operators, janitor)."""

    def list_by_status(self, statuses: Collection[JobStatus], limit: int = 500) -> list[Job]: ...

    def delete(self, job_id: str) -> bool: ...

    def count_jobs(
        self, owner: str, status: JobStatus, created_since: datetime | None = None
    ) -> int:
        """The owner's jobs in status, created at or after created_since (None: any time):
        read on an index by owner (for the per-key caps), never every stored job; a store
        may stop counting at a bound it documents and return that floor."""

    def counts(self) -> JobCounts:
        """Counts kept as jobs change, or otherwise bounded by the jobs in flight: never a
        read of every stored job (this serves /metrics)."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


@dataclass(frozen=True)
class UploadTarget:
    """Where and how a client uploads: a presigned PUT, or a POST form with fields."""

    url: str
    method: str
    expires_at: datetime
    fields: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    max_bytes: int = 0


class ObjectStore(Protocol):
    def put_bytes(self, key: str, data: bytes, content_type: str = "") -> None: ...

    def put_file(self, key: str, path: Path, content_type: str = "") -> None: ...

    def put_stream(self, key: str, stream: BinaryIO, max_bytes: int) -> int:
        """Write from stream; raises PayloadTooLarge past max_bytes and leaves nothing."""

    def get_bytes(self, key: str) -> bytes: ...

    def download(self, key: str, target: Path) -> int:
        """Stream the object into target; returns its size."""

    def open_read(self, key: str) -> Iterator[bytes]:
        """The object's bytes in chunks (for streaming responses)."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None:
        """The object's size in bytes, None when there is no such object (no listing: a
        role that may read a key need not list its prefix)."""

    def list_objects(self, prefix: str) -> list[ObjectInfo]: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def delete(self, key: str) -> None:
        """The one object named key (no other key that starts with it); none is fine."""

    def upload_target(
        self, key_prefix: str, filename: str, expires_in: int, max_bytes: int
    ) -> UploadTarget:
        """A signed, expiring place to upload one file under key_prefix."""

    def download_link(self, key: str, expires_in: int) -> str:
        """A signed URL that serves the object (with HTTP Range) for expires_in seconds,
        needing no API key: what an <audio> element can play."""


TRANSCRIBE = "transcribe"
"""A WorkItem's kind: transcribe the job."""
WEBHOOK = "webhook"
"""A WorkItem's kind: deliver the job's webhook."""


@dataclass(frozen=True)
class WorkItem:
    """What travels on the queue: small, and enough to find the job."""

    kind: str
    """TRANSCRIBE or WEBHOOK."""
    job_id: str
    key: str | None = None
    owner: str | None = None
    """The job's key, for a queue that takes turns between keys (None: webhooks, items
    sent before owners travelled)."""


@dataclass(frozen=True)
class Message:
    item: WorkItem
    receipt: str
    receive_count: int


class WorkQueue(Protocol):
    """At-least-once queue with visibility timeouts (SQS semantics)."""

    def send(self, item: WorkItem, delay_seconds: float = 0.0) -> None: ...

    def receive(self, wait_seconds: float, visibility_seconds: float) -> Message | None: ...

    def ack(self, message: Message) -> None: ...

    def release(self, message: Message, delay_seconds: float = 0.0) -> None:
        """Give the item back (visible again after delay_seconds)."""

    def extend(self, message: Message, visibility_seconds: float) -> None: ...

    def depth(self) -> int:
        """Items waiting (visible or delayed), not counting ones in flight.

        Approximate: SQS counts an item released with a delay as in flight until then.
        """


class WorkerLauncher(Protocol):
    def ensure_capacity(self, demand: int, job: Job | None = None) -> list[str]:
        """Start workers if the running ones cannot absorb `demand`; ids started.

        demand is the number of jobs that need a worker now, running or waiting (so a
        busy worker counts as taken). job is the job just queued, when there is one
        (one-instance-per-job mode launches for it and names it in the instance's
        UserData, as the seed does).
        """


class Counters(Protocol):
    """Monotonic totals for /metrics: they only grow, also when jobs are deleted."""

    def add(self, amounts: Mapping[str, float]) -> None: ...

    def read(self) -> dict[str, float]: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class IdGenerator(Protocol):
    def new_job_id(self) -> str: ...


@dataclass(frozen=True)
class WebhookAttempt:
    """The outcome of one webhook POST."""

    delivered: bool
    status: int | None
    error: str | None
    retry_in: float | None
    """Seconds to wait before the next attempt; None when this error is not retried."""


class WebhookSender(Protocol):
    def send(
        self, url: str, body: bytes, secret: str | None, msg_id: str, attempt: int
    ) -> WebhookAttempt: ...


class SecretBox(Protocol):
    """Seals a secret the service must read back (a job's callback secret) for storage.

    `context` (the job id) is bound into the sealed value, so a value copied onto another
    row does not open there."""

    def seal(self, secret: str, context: str) -> str: ...

    def open(self, stored: str, context: str) -> str:
        """The secret; a value stored plain by an older swescribe as it is. Raises
        SecretUnreadable for a value sealed under another key or altered."""
        ...

    def is_sealed(self, stored: str) -> bool: ...
