"""Request and response bodies (pydantic lives only at the HTTP edge)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from swescribe.core.service import MAX_HOTWORDS_CHARS, MAX_PROMPT_CHARS

Format = Literal["txt", "json", "srt", "vtt"]


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


class CreateJobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    callback_url: str | None = Field(default=None, max_length=2048)
    callback_secret: str | None = Field(default=None, min_length=1, max_length=512)
    language: str = Field(default="sv", pattern=r"^[a-z]{2,3}$|^auto$")
    model: str | None = Field(default=None, max_length=64, pattern=r"^[a-z0-9.-]+$")
    formats: list[Format] = Field(default=["txt", "json", "srt", "vtt"], min_length=1)
    word_timestamps: bool = False
    diarize: bool = False
    """Label speakers S1, S2, … (segments and words carry `speaker`)."""
    speakers: int | None = Field(default=None, ge=1, le=32)
    """The number of speakers when known; implies diarize."""
    audio_url: str | None = Field(default=None, max_length=2048)
    filename: str | None = Field(default=None, max_length=255)
    task: Literal["transcribe", "translate"] = "transcribe"
    prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    hotwords: str | None = Field(default=None, max_length=MAX_HOTWORDS_CHARS)
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)


class UploadInfo(BaseModel):
    url: str
    method: str
    expires_at: str
    max_bytes: int
    headers: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, str] = Field(default_factory=dict)


class JobResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    job_id: str
    status: str
    upload: UploadInfo | None = None


class JobList(BaseModel):
    jobs: list[dict[str, Any]]
    next_cursor: str | None


class AudioLink(BaseModel):
    url: str
    """Plays the audio with no API key (HTTP Range supported) until expires_at."""
    expires_at: str
