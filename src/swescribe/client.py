"""A small typed client for the swescribe API: the /v1 jobs API, the seed's /api, uploads.

    from swescribe.client import Client

    with Client("http://127.0.0.1:8000", api_key) as client:
        job = client.create_job(filename="talk.wav")
        client.upload(job, "talk.wav", progress=lambda sent, total: print(sent, total))
        done = client.wait(job.job_id)
        print(client.transcript(done.job_id, "srt"))

Webhook receivers check a delivery with `verify_webhook(headers, raw_body, secret)`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal, cast

import httpx

from swescribe.core.errors import SwescribeError
from swescribe.core.jobs import from_iso
from swescribe.webhooks.signing import WebhookVerificationError, verify_webhook

__all__ = [
    "ApiError",
    "Client",
    "Format",
    "Job",
    "JobError",
    "Registration",
    "Segment",
    "Transcript",
    "UploadProgress",
    "UploadResult",
    "UploadTarget",
    "WebhookStatus",
    "WebhookVerificationError",
    "verify_webhook",
]

Format = Literal["txt", "json", "srt", "vtt"]
UploadProgress = Callable[[int, int | None], None]
"""Called as progress(bytes_sent, bytes_total) while uploading; total is None when the
size of a file object cannot be known in advance (a pipe)."""
FINAL_STATUSES = ("completed", "failed")
CHUNK_BYTES = 1 << 20


class ApiError(SwescribeError):
    """The API answered with an error body {"error": {"code", "message"}}."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} (HTTP {status}, {code})")
        self.status = status
        self.code = code
        self.message = message


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
    raw: Mapping[str, Any] = field(repr=False, compare=False)

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
            upload=_upload_target(upload) if upload else None,
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


def _upload_target(body: Mapping[str, Any]) -> UploadTarget:
    return UploadTarget(
        url=body["url"],
        method=body.get("method", "PUT"),
        headers=dict(body.get("headers") or {}),
        fields=dict(body.get("fields") or {}),
        expires_at=from_iso(body.get("expires_at")),
        max_bytes=body.get("max_bytes"),
    )


class _ProgressReader:
    """A binary file object that reports how much of it has been read."""

    def __init__(
        self, source: IO[bytes], total: int | None, progress: UploadProgress | None
    ) -> None:
        self._source = source
        self._start = source.tell() if total is not None else 0
        self._total = total
        self._progress = progress
        self.sent = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        if chunk:
            self.sent += len(chunk)
            if self._progress:
                self._progress(self.sent, self._total)
        return chunk

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        while chunk := self.read(chunk_size):
            yield chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """httpx rewinds a form's file to its start before sending it."""
        if offset == 0 and whence == os.SEEK_SET:
            self.sent = 0
            return self._source.seek(self._start) - self._start
        return self._source.seek(offset, whence) - self._start

    def tell(self) -> int:
        return self._source.tell() - self._start


def readable_name(name: str) -> str:
    """A file name as text that can travel: a name that is not UTF-8 on disk (Python holds
    its bytes as lone surrogates) gets U+FFFD for each undecodable byte."""
    return os.fsencode(name).decode("utf-8", "replace")


def _remaining_size(source: IO[bytes]) -> int | None:
    """Bytes from the current position to the end, or None for a stream that cannot seek."""
    try:
        if not source.seekable():
            return None
        here = source.tell()
        end = source.seek(0, os.SEEK_END)
        source.seek(here)
    except (OSError, ValueError):
        return None
    return end - here


def _is_presigned(url: httpx.URL) -> bool:
    """A presigned S3 URL names its key and signs its query: nothing may be added to it."""
    return any(name.lower().endswith("signature") for name in url.params)


class Client:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"X-API-Key": api_key},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self._http.send(request)
        except httpx.HTTPError as error:
            raise SwescribeError(f"cannot reach {request.url.host}: {error}") from None
        if response.status_code >= 400:
            try:
                body = response.json()["error"]
                raise ApiError(response.status_code, body["code"], body["message"])
            except (ValueError, KeyError, TypeError):
                raise ApiError(response.status_code, "http_error", response.text[:200]) from None
        return response

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._send(self._http.build_request(method, path, **kwargs))

    def register(
        self, callback_url: str | None = None, callback_secret: str | None = None
    ) -> Registration:
        """The seed's POST /api: a job waiting for its audio at `upload`."""
        body = {"callback_url": callback_url, "callback_secret": callback_secret}
        answer = self._request(
            "POST", "/api", json={k: v for k, v in body.items() if v is not None}
        ).json()
        return Registration(
            callback_id=answer["callback_id"],
            upload_path=answer["upload_path"],
            message=answer["message"],
            upload=UploadTarget(
                url=answer["upload_url"],
                method=answer.get("upload_method", "PUT"),
                fields=dict(answer.get("upload_fields") or {}),
                expires_at=from_iso(answer.get("expires_at")),
            ),
        )

    def create_job(
        self,
        *,
        filename: str | None = None,
        callback_url: str | None = None,
        callback_secret: str | None = None,
        language: str | None = None,
        model: str | None = None,
        formats: list[Format] | None = None,
        word_timestamps: bool | None = None,
        audio_url: str | None = None,
    ) -> Job:
        """POST /v1/jobs; the job's `upload` says where its audio goes (none with audio_url)."""
        body = {
            "filename": None if filename is None else readable_name(filename),
            "callback_url": callback_url,
            "callback_secret": callback_secret,
            "language": language,
            "model": model,
            "formats": formats,
            "word_timestamps": word_timestamps,
            "audio_url": audio_url,
        }
        answer = self._request(
            "POST", "/v1/jobs", json={k: v for k, v in body.items() if v is not None}
        )
        return Job.from_api(answer.json())

    def upload(
        self,
        target: Job | Registration | UploadTarget,
        source: str | os.PathLike[str] | IO[bytes],
        *,
        filename: str | None = None,
        progress: UploadProgress | None = None,
        chunk_size: int = CHUNK_BYTES,
    ) -> UploadResult:
        """Stream a file (a path, or a binary file object from its current position) to
        the upload URL of a job or registration, chunk_size bytes at a time."""
        upload = target if isinstance(target, UploadTarget) else target.upload
        if upload is None:
            raise SwescribeError("this job takes no upload (it was created with audio_url)")
        if isinstance(source, str | os.PathLike):
            path = Path(source)
            with path.open("rb") as handle:
                name = readable_name(filename or path.name)
                return self._upload(upload, handle, name, progress, chunk_size)
        name = readable_name(filename or Path(str(getattr(source, "name", "") or "audio")).name)
        return self._upload(upload, source, name, progress, chunk_size)

    def _upload(
        self,
        upload: UploadTarget,
        source: IO[bytes],
        filename: str,
        progress: UploadProgress | None,
        chunk_size: int,
    ) -> UploadResult:
        total = _remaining_size(source)
        reader = _ProgressReader(source, total, progress)
        url = httpx.URL(upload.url)
        headers = dict(upload.headers)
        if upload.fields:  # an S3 POST form: the fields first, the file last
            request = self._http.build_request(
                upload.method,
                url,
                data=dict(upload.fields),
                files={"file": (filename, cast(IO[bytes], reader), "application/octet-stream")},
                headers=headers,
            )
        else:
            if not _is_presigned(url):
                url = url.copy_merge_params({"filename": filename})
            if total is not None:
                headers["Content-Length"] = str(total)
            request = self._http.build_request(
                upload.method, url, content=reader.chunks(chunk_size), headers=headers
            )
        del request.headers["X-API-Key"]  # the upload URL is its own credential
        response = self._send(request)
        if progress and total is None:
            progress(reader.sent, reader.sent)
        try:
            answer = response.json()
        except ValueError:  # S3 answers an upload with an empty body
            answer = {}
        return UploadResult(
            key=answer.get("key", ""),
            size=answer.get("size", reader.sent),
            event=answer.get("event", ""),
        )

    def get_job(self, job_id: str) -> Job:
        return Job.from_api(self._request("GET", f"/v1/jobs/{job_id}").json())

    def list_jobs(
        self, status: str | None = None, limit: int | None = None, page_size: int = 50
    ) -> Iterator[Job]:
        """Your jobs, newest first, following the pages until `limit` jobs (None: all)."""
        cursor: str | None = None
        yielded = 0
        while True:
            wanted = page_size if limit is None else min(page_size, limit - yielded)
            if wanted <= 0:
                return
            params: dict[str, str | int] = {"limit": wanted}
            if status:
                params["status"] = status
            if cursor:
                params["cursor"] = cursor
            page = self._request("GET", "/v1/jobs", params=params).json()
            for body in page["jobs"]:
                yield Job.from_api(body)
                yielded += 1
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def delete_job(self, job_id: str) -> int:
        """Delete a job with its audio and results; returns how many objects went."""
        answer = self._request("DELETE", f"/v1/jobs/{job_id}").json()
        return int(answer.get("objects_removed", 0))

    def wait(
        self,
        job_id: str,
        timeout: float = 3600.0,
        on_update: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll until the job completes or fails, backing off from 0.5 s to 5 s.

        on_update sees the job each time its status or progress changes.
        """
        deadline = time.monotonic() + timeout
        delay = 0.5
        last_seen = None
        while True:
            job = self.get_job(job_id)
            seen = (job.status, job.progress)
            if on_update and seen != last_seen:
                on_update(job)
            last_seen = seen
            if job.is_final:
                return job
            if time.monotonic() + delay > deadline:
                raise SwescribeError(f"job {job_id} is still {job.status} after {timeout:.0f} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)

    def transcript(self, job_id: str, fmt: Format = "txt") -> str:
        """A completed job's result as text in txt, json, srt or vtt."""
        response = self._request("GET", f"/v1/jobs/{job_id}/transcript", params={"format": fmt})
        return response.content.decode("utf-8")

    def transcript_segments(self, job_id: str) -> Transcript:
        """The JSON transcript as values: text, language, duration and timed segments."""
        response = self._request("GET", f"/v1/jobs/{job_id}/transcript", params={"format": "json"})
        body = response.json()
        return Transcript(
            text=body.get("text", ""),
            language=body.get("language"),
            duration=body.get("duration"),
            segments=tuple(
                Segment(int(s.get("id", i)), float(s["start"]), float(s["end"]), s["text"])
                for i, s in enumerate(body.get("segments") or ())
            ),
            raw=body,
        )
