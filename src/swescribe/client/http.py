"""The Client: one httpx session against a swescribe API, for every call it offers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

import httpx

from swescribe.client.live import LiveStream
from swescribe.client.live_audio import AudioSource
from swescribe.client.live_connect import open_live_stream
from swescribe.client.models import (
    ApiError,
    ClientError,
    Format,
    Job,
    Registration,
    Segment,
    Task,
    Transcript,
    UploadProgress,
    UploadResult,
    UploadTarget,
    from_iso,
)
from swescribe.client.retries import Repeat, RetryPolicy, backoff_hook, retry_after
from swescribe.client.uploads import (
    CHUNK_BYTES,
    ProgressReader,
    is_presigned,
    readable_name,
    remaining_size,
)


def unreachable(url: httpx.URL, error: httpx.HTTPError, service: httpx.URL) -> str:
    """What to say when a call got no answer: where it went (scheme, host and port only:
    an upload link's query is a credential) and, for the service itself, what to do."""
    where = _origin(url)
    reason = str(error) or type(error).__name__
    if where != _origin(service):  # an upload to a bucket's presigned URL
        return f"cannot reach {where} ({reason})"
    return (
        f"cannot reach the service at {where} ({reason}): start it with `swescribe serve`, "
        "or point --url (or SWESCRIBE_URL) at a running one"
    )


def _origin(url: httpx.URL) -> str:
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}" + (f":{url.port}" if url.port else "")


class Client:
    """retry: how calls that are safe to repeat are retried on a lost connection, 429 and
    503 (see client/retries.py); `RetryPolicy(retries=0)` (NO_RETRIES) turns that off.
    Uploads are never retried."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 (frozen)
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"X-API-Key": api_key},
            timeout=timeout,
            transport=transport,
        )
        self._retry = retry
        self._retrying = retry.caller()
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, request: httpx.Request, repeat: Repeat) -> httpx.Response:
        try:
            if repeat is Repeat.NEVER or not self._retry.retries:
                return self._send_once(request)
            what = f"{request.method} {request.url.path}"
            decide = backoff_hook(self._retry, repeat, what, request.url.host)
            return self._retrying(decide, self._send_once, request)
        except httpx.HTTPError as error:
            raise ClientError(unreachable(request.url, error, self._http.base_url)) from None

    def _send_once(self, request: httpx.Request) -> httpx.Response:
        response = self._http.send(request)
        if response.status_code < 400:
            return response
        wait = retry_after(response)
        try:
            body = response.json()["error"]
            code, message = str(body["code"]), str(body["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "http_error", response.text[:200]
        raise ApiError(response.status_code, code, message, wait)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """GET and DELETE are safe to repeat; a POST only when it was never sent."""
        repeat = Repeat.SAFE if method in ("GET", "DELETE") else Repeat.UNSENT
        return self._send(self._http.build_request(method, path, **kwargs), repeat)

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
        task: Task | None = None,
        prompt: str | None = None,
        hotwords: str | None = None,
        diarize: bool | None = None,
        speakers: int | None = None,
        multichannel: bool | None = None,
        max_line_width: int | None = None,
        max_lines: int | None = None,
        max_cue_seconds: float | None = None,
        redact: bool | list[str] | None = None,
    ) -> Job:
        """POST /v1/jobs; the job's `upload` says where its audio goes (none with audio_url).

        prompt and hotwords are custom vocabulary (names, places, terms as they are
        spelled); task="translate" writes Swedish speech as English text; max_line_width,
        max_lines and max_cue_seconds lay out the srt and vtt subtitles; redact (True, or
        kinds such as ["personnummer", "phone"]) replaces personal data by tags in every
        result."""
        body = {
            "filename": None if filename is None else readable_name(filename),
            "callback_url": callback_url,
            "callback_secret": callback_secret,
            "language": language,
            "model": model,
            "formats": formats,
            "word_timestamps": word_timestamps,
            "audio_url": audio_url,
            "task": task,
            "prompt": prompt,
            "hotwords": hotwords,
            "diarize": diarize,
            "speakers": speakers,
            "multichannel": multichannel,
            "max_line_width": max_line_width,
            "max_lines": max_lines,
            "max_cue_seconds": max_cue_seconds,
            "redact": redact,
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
            raise ClientError("this job takes no upload (it was created with audio_url)")
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
        total = remaining_size(source)
        reader = ProgressReader(source, total, progress)
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
            if not is_presigned(url):
                url = url.copy_merge_params({"filename": filename})
            if total is not None:
                headers["Content-Length"] = str(total)
            request = self._http.build_request(
                upload.method, url, content=reader.chunks(chunk_size), headers=headers
            )
        del request.headers["X-API-Key"]  # the upload URL is its own credential
        response = self._send(request, Repeat.NEVER)  # the stream has been read
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
                raise ClientError(f"job {job_id} is still {job.status} after {timeout:.0f} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)

    def transcript(self, job_id: str, fmt: Format = "txt") -> str:
        """A completed job's result as text in txt, json, srt or vtt."""
        return self._result(job_id, fmt).content.decode("utf-8")

    def _result(self, job_id: str, fmt: Format) -> httpx.Response:
        """The result's bytes: from the API, or (AWS) from the signed link its 303 names,
        fetched without the API key (the link is its own credential)."""
        response = self._request("GET", f"/v1/jobs/{job_id}/transcript", params={"format": fmt})
        location = response.headers.get("location")
        if response.is_redirect and location:
            request = self._http.build_request("GET", httpx.URL(location))
            del request.headers["X-API-Key"]
            response = self._send(request, Repeat.SAFE)
        return response

    def transcript_segments(self, job_id: str) -> Transcript:
        """The JSON transcript as values: text, language, duration and timed segments."""
        body = self._result(job_id, "json").json()
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

    def stream(
        self,
        audio: AudioSource,
        *,
        language: str | None = "sv",
        prompt: str | None = None,
        model: str | None = None,
        realtime: bool = True,
        rate: int | None = None,
        final_timeout: float = 30.0,
    ) -> LiveStream:
        """Live transcription over /v1/realtime: iterate the answer for SpeechStarted,
        Partial (confirmed text and the tentative tail), SpeechStopped and Final events.

        audio: a file path or binary stream (decoded with PyAV), or raw PCM16 mono
        little-endian (bytes, an iterable of chunks, or a stream with `rate` given) at
        `rate` 16000 (the default for raw bytes) or 24000. realtime: send at real-time
        pace, as a live source does; False: as fast as the server takes it. language None
        detects it per turn. Raises ApiError (a refused key: 401) or LiveError (the
        server's error event, with its code)."""
        return open_live_stream(
            self._base_url,
            self._api_key,
            audio,
            language=language,
            prompt=prompt,
            model=model,
            realtime=realtime,
            rate=rate,
            open_timeout=self._timeout,
            final_timeout=final_timeout,
        )
