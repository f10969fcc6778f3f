"""The job: its states, the allowed transitions, and the values recorded on it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict


class JobStatus(enum.StrEnum):
    REGISTERED = "registered"
    LAUNCHING = "launching"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


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
class Job:
    """One transcription job. The seed's DynamoDB attributes plus what the service needs."""

    job_id: str
    owner: str
    """Id of the API key that created the job; each key sees only its own jobs."""
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    callback_url: str | None = None
    callback_secret: str | None = None
    s3_key: str | None = None
    """The uploaded audio's object key (seed name, kept on the local shape too)."""
    language: str = "sv"
    model: str | None = None
    """Model asked for (None: the deployment's default); the one used is model_used."""
    formats: tuple[str, ...] = ("txt", "json", "srt", "vtt")
    word_timestamps: bool = False
    diarize: bool = False
    """Label speakers (issue 18); speakers: their number when the client knows it."""
    speakers: int | None = None
    audio_url: str | None = None
    task: str = "transcribe"
    """"transcribe", or "translate" (Swedish speech to English text)."""
    prompt: str | None = None
    """Custom vocabulary as an initial prompt: text the model reads before the audio."""
    hotwords: str | None = None
    """Custom vocabulary as faster-whisper hotwords: words to listen for."""
    temperature: float | None = None
    """A sampling temperature (OpenAI's parameter); None: the engine's decoding."""
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

    def public_view(self) -> dict[str, Any]:
        """What an API client may see: everything but the callback secret and owner."""
        return {
            "job_id": self.job_id,
            "status": self.status.value,
            "created_at": to_iso(self.created_at),
            "updated_at": to_iso(self.updated_at),
            "callback_url": self.callback_url,
            "has_callback_secret": bool(self.callback_secret),
            "upload_path": self.upload_prefix,
            "s3_key": self.s3_key,
            "audio_url": self.audio_url,
            "language": self.language,
            "model": self.model,
            "model_used": self.model_used,
            "formats": list(self.formats),
            "word_timestamps": self.word_timestamps,
            "task": self.task,
            "prompt": self.prompt,
            "hotwords": self.hotwords,
            "diarize": self.diarize,
            "speakers": self.speakers,
            "instance_id": self.instance_id,
            "attempts": self.attempts,
            "releases": self.releases,
            "error": (
                {"code": self.error_code, "message": self.error_message}
                if self.status is JobStatus.FAILED
                else None
            ),
            "error_message": self.error_message,
            "audio_duration": self.audio_duration,
            "progress": self.progress,
            "processing_seconds": self.processing_seconds,
            "file_size": self.file_size,
            "results": dict(self.result_keys),
            "webhook": {
                "state": self.webhook_state.value,
                "attempts": self.webhook_attempts,
                "last_error": self.webhook_last_error,
                "delivered_at": to_iso(self.webhook_delivered_at),
            },
        }


class JobChanges(TypedDict, total=False):
    """What JobStore.update writes: any of Job's fields but the three that never change
    (job_id, owner, created_at), with Job's types."""

    status: JobStatus
    updated_at: datetime
    callback_url: str | None
    callback_secret: str | None
    s3_key: str | None
    language: str
    model: str | None
    formats: tuple[str, ...]
    word_timestamps: bool
    diarize: bool
    speakers: int | None
    audio_url: str | None
    task: str
    prompt: str | None
    hotwords: str | None
    temperature: float | None
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


TASKS = ("transcribe", "translate")
"""What Whisper does with the speech: write it down, or translate it into English."""

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


def job_to_record(job: Job) -> dict[str, Any]:
    """The job as plain JSON values (ISO timestamps, enum values): what stores persist."""
    return {name: encode_change(name, getattr(job, name)) for name in Job.__dataclass_fields__}


def job_from_record(record: dict[str, Any]) -> Job:
    """The inverse of job_to_record; unknown keys (newer writers) are ignored."""
    values: dict[str, Any] = {}
    for name in Job.__dataclass_fields__:
        if name not in record:
            continue
        value = record[name]
        if name in _DATETIME_FIELDS:
            value = from_iso(value)
        elif name == "status":
            value = JobStatus(value)
        elif name == "webhook_state":
            value = WebhookState(value)
        elif name == "formats":
            value = tuple(value)
        values[name] = value
    return Job(**values)


def encode_change(name: str, value: Any) -> Any:
    """One changed field as job_to_record would store it."""
    if name not in Job.__dataclass_fields__:
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
