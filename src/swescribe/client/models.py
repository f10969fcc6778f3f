"""The plain values the client returns: jobs, registrations, upload targets, transcripts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Format = Literal["txt", "json", "srt", "vtt"]
Task = Literal["transcribe", "translate"]
UploadProgress = Callable[[int, int | None], None]
"""Called as progress(bytes_sent, bytes_total) while uploading; total is None when the
size of a file object cannot be known in advance (a pipe)."""
FINAL_STATUSES = ("completed", "failed")


def from_iso(text: str | None) -> datetime | None:
    """A time as the API writes it (ISO 8601, UTC), aware; None for an absent one."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class ClientError(Exception):
    """Base of every error the client raises on purpose: an error answer (ApiError), an
    unreachable service, a job that did not finish in time."""

    code = "error"


class ApiError(ClientError):
    """The API answered with an error body {"error": {"code", "message"}}."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{message} (HTTP {status}, {code})")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        """Seconds the service asked the client to wait (its Retry-After), if it did."""


@dataclass(frozen=True)
class UploadTarget:
    """Where the audio goes: a PUT of the raw bytes, or a POST form with `fields` (S3)."""

    url: str
    method: str
    headers: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)
    expires_at: datetime | None = None
    max_bytes: int | None = None


@dataclass(frozen=True)
class Registration:
    """The seed's POST /api answer: the job's id (callback_id) and where to upload."""

    callback_id: str
    upload_path: str
    message: str
    upload: UploadTarget

    @property
    def job_id(self) -> str:
        return self.callback_id


@dataclass(frozen=True)
class JobError:
    code: str | None
    message: str | None


@dataclass(frozen=True)
class WebhookStatus:
    state: str
    """none, pending, delivered or failed."""
    attempts: int = 0
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class Job:
    """A job as the API shows it; `raw` keeps every field, including newer ones."""

    job_id: str
    status: str
    created_at: datetime | None
    updated_at: datetime | None
    progress: float | None
    """Share of the audio transcribed so far (0..1) while processing."""
    audio_duration: float | None
    processing_seconds: float | None
    language: str | None
    model_used: str | None
    formats: tuple[str, ...]
    results: Mapping[str, str]
    """Result object keys per format, once completed."""
    s3_key: str | None
    error: JobError | None
    webhook: WebhookStatus
    upload: UploadTarget | None
    """Only on the answer of create_job: where to upload the audio."""
    task: str = "transcribe"
    """"translate": the transcript is the speech in English."""
    eta_seconds: float | None = None
    """Estimated seconds of transcription left while processing (None: not known yet)."""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def filename(self) -> str | None:
        """The uploaded file's (cleaned) name, once the audio has arrived."""
        return self.s3_key.rsplit("/", 1)[-1] if self.s3_key else None

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Job:
        error = body.get("error")
        webhook = body.get("webhook") or {}
        upload = body.get("upload")
        return cls(
            job_id=body["job_id"],
            status=body["status"],
            created_at=from_iso(body.get("created_at")),
            updated_at=from_iso(body.get("updated_at")),
            progress=body.get("progress"),
            eta_seconds=body.get("eta_seconds"),
            audio_duration=body.get("audio_duration"),
            processing_seconds=body.get("processing_seconds"),
            language=body.get("language"),
            model_used=body.get("model_used"),
            formats=tuple(body.get("formats") or ()),
            results=dict(body.get("results") or {}),
            s3_key=body.get("s3_key"),
            error=JobError(error.get("code"), error.get("message")) if error else None,
            webhook=WebhookStatus(
                state=webhook.get("state", "none"),
                attempts=webhook.get("attempts", 0),
                last_error=webhook.get("last_error"),
                delivered_at=from_iso(webhook.get("delivered_at")),
            ),
            upload=upload_target_from(upload) if upload else None,
            task=body.get("task") or "transcribe",
            raw=dict(body),
        )


@dataclass(frozen=True)
class UploadResult:
    key: str
    """The object key the audio was stored under."""
    size: int
    event: str
    """What the upload started, e.g. "launched"."""


@dataclass(frozen=True)
class Segment:
    id: int
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """The JSON transcript as values (the other formats are text: see Client.transcript)."""

    text: str
    language: str | None
    duration: float | None
    segments: tuple[Segment, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)


def upload_target_from(body: Mapping[str, Any]) -> UploadTarget:
    return UploadTarget(
        url=body["url"],
        method=body.get("method", "PUT"),
        headers=dict(body.get("headers") or {}),
        fields=dict(body.get("fields") or {}),
        expires_at=from_iso(body.get("expires_at")),
        max_bytes=body.get("max_bytes"),
    )
