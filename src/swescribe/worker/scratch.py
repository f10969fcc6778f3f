"""A worker's scratch files, one folder per job (job-<job_id>.<random>), so that what a
dead worker left behind can be found by its job and removed by the sweep."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from swescribe.core.ports import JobStore

log = logging.getLogger(__name__)

PREFIX = "job-"


def scratch_prefix(job_id: str) -> str:
    """The name a job's scratch folder starts with (tempfile adds a random end)."""
    return f"{PREFIX}{job_id}."


def sweep_scratch(scratch_dir: Path, jobs: JobStore) -> list[Path]:
    """Remove the scratch folders of jobs that ended or were deleted: what a killed worker
    left (a live one removes its own when the job ends). Returns what was removed."""
    removed: list[Path] = []
    if not scratch_dir.is_dir():
        return removed
    for folder in sorted(scratch_dir.glob(f"{PREFIX}*.*")):
        job_id = folder.name.removeprefix(PREFIX).split(".", 1)[0]
        job = jobs.get(job_id)
        if job is not None and not job.status.is_final:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
        log.info("removed a finished job's scratch files", extra={"job_id": job_id})
    return removed
