"""Faults on a real `swescribe serve`: the API killed mid-upload, and a webhook receiver
that is slow to answer."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from swescribe.core.uploads import UPLOAD_LEASE_SECONDS
from tests.conftest import audio
from tests.e2e.service import RunningService, start_service

pytestmark = pytest.mark.model


def test_the_api_killed_mid_upload_leaves_no_corrupt_job(tmp_path: Path) -> None:
    """SIGKILL while an upload streams in: after a restart the job still waits for its
    audio, nothing half-written is anywhere, and uploading again completes the job."""
    data_dir = tmp_path / "serve"
    first = start_service(data_dir, workers=1)
    with first.client() as http:
        registration = http.post("/api", json={}).json()
    clip = audio("lattlast_stts.wav").read_bytes()

    def slow_body() -> Iterator[bytes]:
        for start in range(0, len(clip), 64 * 1024):
            yield clip[start : start + 64 * 1024]
            time.sleep(0.2)  # about 3 s for the whole file

    def upload() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server dies under it: the point
            httpx.put(registration["upload_url"], params={"filename": "a.wav"}, content=slow_body())

    uploader = threading.Thread(target=upload)
    uploader.start()
    staging = data_dir / "staging"
    deadline = time.monotonic() + 20
    while not list(staging.glob("upload-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(staging.glob("upload-*")), "the upload was streaming to its staging file"
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=10)
    uploader.join(timeout=30)

    second = start_service(data_dir, workers=1, port=int(first.url.rsplit(":", 1)[1]))
    try:
        job_id = registration["callback_id"]
        with second.client() as http:
            job = http.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "registered", job
        assert job["s3_key"] is None
        assert not (data_dir / "objects" / registration["upload_path"]).exists()
        assert list(staging.iterdir()) == [], "serve cleared the dead upload's staging file"
        # The dead upload's reservation lapses UPLOAD_LEASE_SECONDS after it was taken;
        # until then the link answers 409 (one upload at a time), never a second file.
        deadline = time.monotonic() + UPLOAD_LEASE_SECONDS + 15
        while True:
            again = httpx.put(
                registration["upload_url"], params={"filename": "a.wav"}, content=clip, timeout=30
            )
            if again.status_code != 409 or time.monotonic() > deadline:
                break
            assert "in progress" in again.json()["error"]["message"]
            time.sleep(1)
        assert again.status_code == 200, again.text
        done = second.wait_for_status(job_id, ("completed",))
        assert done["file_size"] == len(clip)
    finally:
        second.stop()


class SlowReceiver:
    """A webhook receiver that takes `delay` seconds to answer each delivery."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received_at: list[float] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(receiver.delay)
                receiver.received_at.append(time.monotonic())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_slow_webhook_receiver_does_not_hold_up_transcription(tmp_path: Path) -> None:
    service: RunningService = start_service(tmp_path / "serve", workers=1)
    receiver = SlowReceiver(delay=6.0)
    try:
        with service.client() as http:
            slow = http.post("/api", json={"callback_url": receiver.url}).json()
            httpx.put(
                slow["upload_url"],
                params={"filename": "a.wav"},
                content=audio("cv_18742722.wav").read_bytes(),
            )
            service.wait_for_status(slow["callback_id"], ("completed",))
            others = []
            for clip in ("cv_18748646.wav", "cv_18746434.wav"):
                other = http.post("/v1/jobs", json={"filename": clip}).json()
                httpx.put(other["upload"]["url"], content=audio(clip).read_bytes())
                others.append(other["job_id"])
            for job_id in others:
                service.wait_for_status(job_id, ("completed",), timeout=60)
            finished_others = time.monotonic()
        deadline = time.monotonic() + 30
        while not receiver.received_at and time.monotonic() < deadline:
            time.sleep(0.1)
        assert receiver.received_at, "the slow receiver got its webhook in the end"
        assert finished_others < receiver.received_at[0], (
            "two more jobs were transcribed while the first job's webhook was still waiting "
            "for the slow receiver"
        )
    finally:
        receiver.stop()
        service.stop()
