"""`swescribe cleanup` on the local shape, as a command: a job whose worker was lost is
reported by --dry-run and left alone, then requeued by a real run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from swescribe.bootstrap import build_local_services
from swescribe.config import Settings
from swescribe.core.intake import NewJob, create_job, handle_object_created
from swescribe.core.jobs import JobStatus
from swescribe.core.ports import Message, WorkItem
from swescribe.core.processing import claim_job


def cleanup(data_dir: Path, *args: str) -> dict[str, object]:
    env = {**os.environ, "SWESCRIBE_DATA_DIR": str(data_dir), "SWESCRIBE_BACKEND": "local"}
    done = subprocess.run(
        [sys.executable, "-m", "swescribe", "cleanup", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def test_cleanup_dry_run_reports_a_lost_job_and_a_real_run_requeues_it(tmp_path: Path) -> None:
    svc = build_local_services(Settings.from_env({}, data_dir=tmp_path))
    job_id = create_job(svc, "k", NewJob()).job_id
    handle_object_created(svc, f"transcription_upload/{job_id}/a.wav", 1)
    message = svc.queue.receive(0, 60)
    assert message is not None
    claim_job(svc, Message(WorkItem("transcribe", job_id), message.receipt, 1), "gone-worker")
    svc.queue.ack(message)
    expired = svc.clock.now() - timedelta(minutes=10)
    svc.jobs.update(job_id, None, {"lease_expires_at": expired})  # the worker died

    dry = cleanup(tmp_path, "--dry-run")
    assert dry["backend"] == "local"
    assert dry["jobs"]["dry_run"] is True  # type: ignore[index]
    assert dry["jobs"]["requeued"] == [job_id]  # type: ignore[index]
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.PROCESSING, "a dry run changes nothing"

    real = cleanup(tmp_path)
    assert real["jobs"]["requeued"] == [job_id]  # type: ignore[index]
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.LAUNCHING
    assert svc.queue.depth() == 1, "a new work item for the next worker"
