"""Request and response bodies (pydantic lives only at the HTTP edge)."""

from __future__ import annotations

from typing import Annotated, Literal, Self, cast

from pydantic import BaseModel, ConfigDict, Field

from swescribe.core.formats import FORMATS
from swescribe.core.intake import NewJob
from swescribe.core.jobs import Job, JobStatus, WebhookState, to_iso
from swescribe.core.layout import (
    DEFAULT_LINE_WIDTH,
    DEFAULT_LINES,
    MAX_CUE_SECONDS,
    MAX_LINE_WIDTH,
    MAX_LINES,
    MIN_CUE_SECONDS,
    MIN_LINE_WIDTH,
    MIN_LINES,
)
from swescribe.core.ports import UploadTarget
from swescribe.core.redaction import parse_kinds
from swescribe.core.request import (
    LANGUAGE_PATTERN,
    MAX_HOTWORDS_CHARS,
    MAX_KNOWN_SPEAKERS,
    MAX_MODEL_NAME_CHARS,
    MAX_PROMPT_CHARS,
    MAX_SPEAKER_NAME_CHARS,
    MAX_SPEAKERS,
    MAX_TEMPERATURE,
    MIN_TEMPERATURE,
    MODEL_NAME_PATTERN,
    REQUEST_FIELDS,
    JobRequest,
    request_to_record,
)

Format = Literal["txt", "json", "srt", "vtt"]


def _all_formats() -> list[Format]:
    return cast(list[Format], list(FORMATS))


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class RegisterRequest(BaseModel):
    """The seed's body for POST /api."""

    model_config = ConfigDict(extra="forbid")
    callback_url: str | None = Field(default=None, max_length=2048)
    callback_secret: str | None = Field(default=None, min_length=1, max_length=512)


class RegisterResponse(BaseModel):
    """The seed's response, plus the additive upload_url, upload_method, upload_fields
    (the form fields of an S3 presigned POST; empty for a PUT) and expires_at."""

    callback_id: str
    upload_path: str
    message: str
    upload_url: str
    upload_method: str
    upload_fields: dict[str, str] = Field(default_factory=dict)
    expires_at: str


class RequestOptions(BaseModel):
    """A job's transcription options on the wire (core.request.JobRequest's fields, with
    its bounds): what a client sends to create a job and reads back on it."""

    language: str = Field(default="sv", pattern=LANGUAGE_PATTERN)
    model: str | None = Field(
        default=None, max_length=MAX_MODEL_NAME_CHARS, pattern=MODEL_NAME_PATTERN
    )
    formats: list[Format] = Field(default_factory=_all_formats, min_length=1)
    word_timestamps: bool = False
    diarize: bool = False
    """Label speakers S1, S2, … (segments and words carry `speaker`)."""
    speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)
    """The number of speakers when known; implies diarize."""
    known_speakers: list[Annotated[str, Field(max_length=MAX_SPEAKER_NAME_CHARS)]] | None = Field(
        default=None, max_length=MAX_KNOWN_SPEAKERS
    )
    """Enrolled voices (/v1/speakers, names or ids) to name speakers by when diarizing:
    null, all of the key's; []: none. Naming some implies diarize."""
    task: Literal["transcribe", "translate"] = "transcribe"
    prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    hotwords: str | None = Field(default=None, max_length=MAX_HOTWORDS_CHARS)
    temperature: float | None = Field(default=None, ge=MIN_TEMPERATURE, le=MAX_TEMPERATURE)
    multichannel: bool = False
    """Transcribe each channel on its own (one party per channel): segments carry
    `channel` (0-based) and the channel as their speaker, CH1, CH2, …"""
    max_line_width: int = Field(default=DEFAULT_LINE_WIDTH, ge=MIN_LINE_WIDTH, le=MAX_LINE_WIDTH)
    """Subtitles (srt, vtt): the most characters on a line (a longer word stands alone)."""
    max_lines: int = Field(default=DEFAULT_LINES, ge=MIN_LINES, le=MAX_LINES)
    """Subtitles: the most lines in a cue."""
    max_cue_seconds: float | None = Field(default=None, ge=MIN_CUE_SECONDS, le=MAX_CUE_SECONDS)
    """Subtitles: the longest a cue lasts, cut at words; null: a segment's length."""
    redact: bool | list[Annotated[str, Field(max_length=32)]] = Field(
        default=False, examples=[True, ["personnummer", "phone"]]
    )
    """Personal data replaced by tags in every result before it is stored: true (every
    kind), or kinds: personnummer, samordningsnummer, phone, email, account, address,
    name (docs/redaction.md). A job shows the kinds it redacts."""

    def to_request(self) -> JobRequest:
        """The domain's request (validated there once more, by the same constants)."""
        values = {name: getattr(self, name) for name in REQUEST_FIELDS}
        redact = parse_kinds(self.redact) if self.redact else ()
        return JobRequest(**{**values, "formats": tuple(self.formats), "redact": redact})


class CreateJobRequest(RequestOptions):
    model_config = ConfigDict(extra="forbid")
    callback_url: str | None = Field(default=None, max_length=2048)
    callback_secret: str | None = Field(default=None, min_length=1, max_length=512)
    audio_url: str | None = Field(default=None, max_length=2048)
    filename: str | None = Field(default=None, max_length=255)

    def to_new_job(self) -> NewJob:
        return NewJob(
            request=self.to_request(),
            callback_url=self.callback_url,
            callback_secret=self.callback_secret,
            audio_url=self.audio_url,
        )


class UploadInfo(BaseModel):
    """Where and how to upload a new job's audio."""

    url: str
    method: str
    expires_at: str
    max_bytes: int
    headers: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def from_target(cls, target: UploadTarget) -> UploadInfo:
        return cls(
            url=target.url,
            method=target.method,
            expires_at=to_iso(target.expires_at) or "",
            max_bytes=target.max_bytes,
            headers=dict(target.headers),
            fields=dict(target.fields),
        )


class JobErrorView(BaseModel):
    code: str | None
    message: str | None


class WebhookView(BaseModel):
    state: WebhookState
    attempts: int
    last_error: str | None
    delivered_at: str | None


class JobView(RequestOptions):
    """What an API client sees of a job: everything but the callback secret and owner."""

    job_id: str
    status: JobStatus
    created_at: str
    updated_at: str
    callback_url: str | None
    has_callback_secret: bool
    upload_path: str
    s3_key: str | None
    audio_url: str | None
    model_used: str | None
    instance_id: str | None
    attempts: int
    releases: int
    error: JobErrorView | None
    """Set when the job failed."""
    error_message: str | None
    """The seed's attribute (error.message)."""
    audio_duration: float | None
    progress: float | None
    """Share of the audio transcribed so far (0..1) while processing."""
    eta_seconds: float | None
    """Estimated seconds of transcription left while processing (the worker's pace so
    far); null until it can be estimated, and once the job is no longer processing."""
    processing_seconds: float | None
    file_size: int | None
    results: dict[str, str]
    """Format -> the stored result's key."""
    webhook: WebhookView

    @classmethod
    def from_job(cls, job: Job) -> Self:
        failed = job.status is JobStatus.FAILED
        return cls(
            **request_to_record(job.request),
            job_id=job.job_id,
            status=job.status,
            created_at=to_iso(job.created_at) or "",
            updated_at=to_iso(job.updated_at) or "",
            callback_url=job.callback_url,
            has_callback_secret=bool(job.callback_secret),
            upload_path=job.upload_prefix,
            s3_key=job.s3_key,
            audio_url=job.audio_url,
            model_used=job.model_used,
            instance_id=job.instance_id,
            attempts=job.attempts,
            releases=job.releases,
            error=JobErrorView(code=job.error_code, message=job.error_message) if failed else None,
            error_message=job.error_message,
            audio_duration=job.audio_duration,
            progress=job.progress,
            eta_seconds=job.eta_seconds if job.status is JobStatus.PROCESSING else None,
            processing_seconds=job.processing_seconds,
            file_size=job.file_size,
            results=dict(job.result_keys),
            webhook=WebhookView(
                state=job.webhook_state,
                attempts=job.webhook_attempts,
                last_error=job.webhook_last_error,
                delivered_at=to_iso(job.webhook_delivered_at),
            ),
        )


class CreatedJobView(JobView):
    """A new job, with where to upload its audio (None when it was given an audio_url)."""

    upload: UploadInfo | None = None


class JobList(BaseModel):
    jobs: list[JobView]
    next_cursor: str | None


class AudioLink(BaseModel):
    url: str
    """Plays the audio with no API key (HTTP Range supported) until expires_at."""
    expires_at: str
