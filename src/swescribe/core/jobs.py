"""The job: its states, the allowed transitions, and the values recorded on it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict

from swescribe.core.errors import JobNotFound, NotReady
from swescribe.core.request import (
    REQUEST_FIELDS,
    JobRequest,
    request_from_record,
    request_to_record,
)


class JobStatus(enum.StrEnum):
    REGISTERED = "registered"
    LAUNCHING = "launching"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)

    @property
    def description(self) -> str:
        """The state in a user's words, as the web page and the CLI say it."""
        return _STATUS_DESCRIPTIONS[self]


_STATUS_DESCRIPTIONS = {
    JobStatus.REGISTERED: "waiting for audio",
    JobStatus.LAUNCHING: "queued",
    JobStatus.PROCESSING: "transcribing",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
}


class WebhookState(enum.StrEnum):
    NONE = "none"
    """No callback_url on the job."""
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.REGISTERED: frozenset({JobStatus.LAUNCHING, JobStatus.FAILED}),
    # Launching again: the janitor requeues a job whose queue item was lost.
    JobStatus.LAUNCHING: frozenset({JobStatus.PROCESSING, JobStatus.FAILED, JobStatus.LAUNCHING}),
    # Back to launching: the worker was lost (crash, spot notice, SIGTERM) and the work
    # item goes back on the queue. Processing again: another worker claims the job once
    # the lost one's lease has run out.
    JobStatus.PROCESSING: frozenset(
        {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.LAUNCHING, JobStatus.PROCESSING}
    ),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
}
"""Every status change a store makes: the conditions of status-changing writes are built
from this table (Expect.transition), and the unit tests check every write against it."""


def sources_of(target: JobStatus) -> frozenset[JobStatus]:
    """Every state from which target may be reached."""
    return frozenset(s for s, targets in ALLOWED_TRANSITIONS.items() if target in targets)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime | None) -> str | None:
    """The seed's timestamp format: 2024-12-01T14:30:22Z (UTC, whole seconds)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class UnreadableSecret:
    """Stands for a callback secret the store holds but cannot open (sealed under another
    key file, or altered): the job stays readable, and its webhook fails with this reason
    rather than going out unsigned or signed with a wrong key."""

    reason: str


@dataclass(frozen=True)
class Job:
    """One transcription job. The seed's DynamoDB attributes plus what the service needs."""

    job_id: str
    owner: str
    """Id of the API key that created the job; each key sees only its own jobs."""
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    callback_url: str | None = None
    callback_secret: str | UnreadableSecret | None = None
    s3_key: str | None = None
    """The uploaded audio's object key (seed name, kept on the local shape too)."""
    request: JobRequest = field(default_factory=JobRequest)
    """What the client asked of the transcription (language, model, formats, …)."""
    audio_url: str | None = None
    """Where the worker fetches the audio when the client gave a URL instead of a file."""
    instance_id: str | None = None
    attempts: int = 0
    """Times a worker claimed the job."""
    releases: int = 0
    """Claims that ended with the job given back on purpose (SIGTERM, a spot notice)."""
    lease_expires_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None
    model_used: str | None = None
    audio_duration: float | None = None
    progress: float | None = None
    """Share of the audio transcribed so far (0..1) while processing."""
    processing_seconds: float | None = None
    file_size: int | None = None
    result_keys: dict[str, str] = field(default_factory=dict)
    webhook_state: WebhookState = WebhookState.NONE
    webhook_attempts: int = 0
    webhook_last_error: str | None = None
    webhook_delivered_at: datetime | None = None
    expires_at: datetime | None = None
    """When the job record may be removed (DynamoDB TTL; the local janitor honours it too)."""
    upload_holder: str | None = None
    """The upload streaming in through the local upload endpoint now (one at a time)."""
    upload_reserved_until: datetime | None = None
    """When upload_holder's reservation ends unless renewed (a crashed upload's lapses)."""

    @property
    def lost_attempts(self) -> int:
        """Claims that ended without a word from the worker (a crash, a lost instance):
        what max_attempts limits. A job given back on purpose is not the job's fault."""
        return self.attempts - self.releases

    @property
    def upload_prefix(self) -> str:
        return upload_prefix(self.job_id)

    @property
    def results_prefix(self) -> str:
        return results_prefix(self.job_id)

    @property
    def file_name(self) -> str | None:
        """The uploaded audio's name (its key's last part), or the URL it is fetched from."""
        if self.s3_key:
            return self.s3_key.rsplit("/", 1)[-1]
        return self.audio_url

    def result_key(self, fmt: str) -> str:
        """Where the finished job's transcript in this format is stored."""
        if self.status is not JobStatus.COMPLETED:
            raise NotReady(f"job {self.job_id} is {self.status.description}, not completed")
        key = self.result_keys.get(fmt)
        if key is None:
            formats = ", ".join(self.request.formats)
            raise JobNotFound(f"job {self.job_id} has no {fmt} result (formats: {formats})")
        return key


class JobChanges(TypedDict, total=False):
    """What JobStore.update writes: any of Job's fields but the four that never change
    (job_id, owner, created_at, and the client's request), with Job's types."""

    status: JobStatus
    updated_at: datetime
    callback_url: str | None
    callback_secret: str | None
    s3_key: str | None
    audio_url: str | None
    instance_id: str | None
    attempts: int
    releases: int
    lease_expires_at: datetime | None
    error_code: str | None
    error_message: str | None
    model_used: str | None
    audio_duration: float | None
    progress: float | None
    processing_seconds: float | None
    file_size: int | None
    result_keys: dict[str, str]
    webhook_state: WebhookState
    webhook_attempts: int
    webhook_last_error: str | None
    webhook_delivered_at: datetime | None
    expires_at: datetime | None
    upload_holder: str | None
    upload_reserved_until: datetime | None


UPLOAD_ROOT = "transcription_upload"
RESULTS_ROOT = "results"


def upload_prefix(job_id: str) -> str:
    return f"{UPLOAD_ROOT}/{job_id}/"


def results_prefix(job_id: str) -> str:
    return f"{RESULTS_ROOT}/{job_id}/"


def result_key(job_id: str, finished_at: datetime, stem: str, fmt: str) -> str:
    """results/<job_id>/transcription_<YYYYmmdd_HHMMSS>_<stem>.<fmt> (the seed's name)."""
    stamp = finished_at.astimezone(UTC).strftime("%Y%m%d_%H%M%S")
    return f"{results_prefix(job_id)}transcription_{stamp}_{stem}.{fmt}"


_DATETIME_FIELDS = frozenset(
    {
        "created_at",
        "updated_at",
        "lease_expires_at",
        "webhook_delivered_at",
        "expires_at",
        "upload_reserved_until",
    }
)


_STORED_FIELDS = tuple(name for name in Job.__dataclass_fields__ if name != "request")
STORED_ATTRIBUTES: tuple[str, ...] = tuple(
    stored
    for name in Job.__dataclass_fields__
    for stored in (REQUEST_FIELDS if name == "request" else (name,))
)
"""The names of a stored job's values (job_to_record's keys), the request's options in
the request's place: the DynamoDB attributes that the worker role's policy lists."""


def job_to_record(job: Job) -> dict[str, Any]:
    """The job as plain JSON values (ISO timestamps, enum values): what stores persist.
    The request's options sit flat beside the job's own fields, as the seed's table has
    its attributes (and the worker role's DynamoDB attribute list names them)."""
    options = request_to_record(job.request)
    return {
        name: options[name] if name in options else encode_change(name, getattr(job, name))
        for name in STORED_ATTRIBUTES
    }


def job_from_record(record: dict[str, Any]) -> Job:
    """The inverse of job_to_record; unknown keys (newer writers) are ignored."""
    values: dict[str, Any] = {"request": request_from_record(record)}
    for name in _STORED_FIELDS:
        if name not in record:
            continue
        value = record[name]
        if name in _DATETIME_FIELDS:
            value = from_iso(value)
        elif name == "status":
            value = JobStatus(value)
        elif name == "webhook_state":
            value = WebhookState(value)
        values[name] = value
    return Job(**values)


def encode_change(name: str, value: Any) -> Any:
    """One changed field as job_to_record would store it."""
    if name not in _STORED_FIELDS:
        raise ValueError(f"Job has no field {name!r}")
    if name in _DATETIME_FIELDS:
        return None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value
