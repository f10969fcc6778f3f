"""A small typed client for the swescribe API (the /v1 jobs API and uploads)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from swescribe.core.errors import SwescribeError

UploadProgress = Callable[[int, int], None]
"""Called as progress(bytes_sent, bytes_total) while uploading."""
FINAL_STATUSES = ("completed", "failed")


class ApiError(SwescribeError):
    """The API answered with an error body {"error": {"code", "message"}}."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} (HTTP {status}, {code})")
        self.status = status
        self.code = code


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

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise SwescribeError(f"cannot reach {self._http.base_url}: {error}") from None
        if response.status_code >= 400:
            try:
                body = response.json()["error"]
                raise ApiError(response.status_code, body["code"], body["message"])
            except (ValueError, KeyError, TypeError):
                raise ApiError(response.status_code, "http_error", response.text[:200]) from None
        return response

    def create_job(self, **fields: Any) -> dict[str, Any]:
        """POST /v1/jobs; fields as in the API (callback_url, language, model, ...)."""
        body = {k: v for k, v in fields.items() if v is not None}
        result: dict[str, Any] = self._request("POST", "/v1/jobs", json=body).json()
        return result

    def upload(
        self, job: dict[str, Any], path: Path, progress: UploadProgress | None = None
    ) -> dict[str, Any]:
        """Stream path to the job's upload URL."""
        upload = job["upload"]
        total = path.stat().st_size

        def chunks() -> Iterator[bytes]:
            sent = 0
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    sent += len(chunk)
                    yield chunk
                    if progress:
                        progress(sent, total)

        url = httpx.URL(upload["url"]).copy_merge_params({"filename": path.name})
        headers = {**upload.get("headers", {}), "Content-Length": str(total)}
        response = self._request(upload["method"], str(url), content=chunks(), headers=headers)
        result: dict[str, Any] = response.json()
        return result

    def get_job(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"/v1/jobs/{job_id}").json()
        return result

    def wait(
        self,
        job_id: str,
        timeout: float = 3600.0,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the job completes or fails, backing off from 0.5 s to 5 s.

        on_update sees the job each time its status or progress changes.
        """
        deadline = time.monotonic() + timeout
        delay = 0.5
        last_seen = None
        while True:
            job = self.get_job(job_id)
            seen = (job["status"], job.get("progress"))
            if on_update and seen != last_seen:
                on_update(job)
            last_seen = seen
            if job["status"] in FINAL_STATUSES:
                return job
            if time.monotonic() + delay > deadline:
                raise SwescribeError(f"job {job_id} is still {job['status']} after {timeout:.0f} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)

    def transcript(self, job_id: str, fmt: str = "txt") -> str:
        response = self._request("GET", f"/v1/jobs/{job_id}/transcript", params={"format": fmt})
        return response.content.decode("utf-8")
