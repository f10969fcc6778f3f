"""`swescribe serve` as people start and stop it (issue 27): Ctrl-C or SIGTERM with a job
running hands the job back at once, and the next start takes it up within seconds."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import audio
from tests.e2e.service import RunningService, start_service

pytestmark = pytest.mark.model


def _stored_job(data_dir: Path, job_id: str) -> dict:  # type: ignore[type-arg]
    """The job as serve left it in its data directory (no serve running)."""
    with sqlite3.connect(data_dir / "swescribe.db") as db:
        status, record = db.execute(
            "SELECT status, record FROM jobs WHERE job_id = ?", (job_id,)
        ).fetchone()
    return {**json.loads(record), "status": status}


def _start_a_long_job(service: RunningService) -> str:
    with service.client() as http:
        registration = http.post("/api", json={}).json()
    clip = audio("espeak_long.wav")
    uploaded = httpx.put(
        registration["upload_url"],
        params={"filename": clip.name},
        content=clip.read_bytes(),
        timeout=60,
    )
    assert uploaded.status_code == 200, uploaded.text
    job_id = str(registration["callback_id"])
    job = service.wait_for_status(job_id, ("processing",), timeout=120)
    assert (job["attempts"], job["releases"]) == (1, 0)
    time.sleep(2.0)  # well inside the transcription of the first window
    return job_id


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_stopping_serve_hands_the_running_job_back_and_the_next_start_takes_it_up(
    tmp_path: Path, how: str
) -> None:
    data_dir = tmp_path / "serve"
    first = start_service(data_dir, workers=1, own_process_group=True)
    try:
        job_id = _start_a_long_job(first)
        stopped_at = time.monotonic()
        if how == "ctrl-c":  # a terminal sends SIGINT to serve and its workers alike
            os.killpg(first.process.pid, signal.SIGINT)
        else:  # a process manager signals serve alone
            first.process.send_signal(signal.SIGTERM)
        first.process.wait(timeout=60)
        stop_seconds = time.monotonic() - stopped_at
    finally:
        first.stop()
    assert first.process.returncode == 0, first.logs()[-3000:]
    for pid in first.worker_pids():
        assert not Path(f"/proc/{pid}").exists(), f"worker {pid} outlived serve"
    left = _stored_job(data_dir, job_id)
    assert left["status"] == "launching", (left["status"], first.logs()[-3000:])
    assert left["instance_id"] is None
    assert left["attempts"] - left["releases"] == 0, "the stop counted as a lost attempt"
    assert stop_seconds < 15, f"serve took {stop_seconds:.1f} s to stop"

    second = start_service(data_dir, workers=1, port=int(first.url.rsplit(":", 1)[1]))
    try:
        taken = second.wait_for_status(job_id, ("processing", "completed"), timeout=20)
        assert taken["attempts"] - taken["releases"] == 1
    finally:
        second.stop()
