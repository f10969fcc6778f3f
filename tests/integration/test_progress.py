"""Progress that moves (issue 27): a client polling a long job sees it advance while the
worker transcribes, never backwards, with the duration from the start and a time left.

Before, each 10-minute window was decoded as one batch, so every progress call of a
window came when it ended, and the worker kept one write per 2 s: a client saw 0.0 until
the window was done, then a jump. Here a worker runs the real engine on a 3.7-minute
file built from the human clips and a client polls the job store, as the API does.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from swescribe.core.jobs import Job, JobStatus
from swescribe.engine import Engine, ProgressCallback, TranscribeOptions, Transcript
from swescribe.engine.audio import OpenedAudio
from swescribe.worker.runner import Worker, WorkerConfig
from tests.conftest import AUDIO_DIR
from tests.fakes import memory_services, uploaded

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from longform import MIXES, build_long_form

pytestmark = pytest.mark.model

GROUP = 2
"""Pieces decoded together: the 8 chunks of the file are then several groups, so the
test needs no 10-minute file to see a window's progress (a GPU's 16 or a CPU's 8 show
the same on files long enough to need several groups)."""


class InGroupsOf:
    """The real engine, with a batch size of GROUP (the Transcriber port)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def transcribe(
        self,
        path: Path | OpenedAudio,
        options: TranscribeOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        return self.engine.transcribe(
            path, replace(options or TranscribeOptions(), batch_size=GROUP), progress
        )


def test_a_long_job_reports_progress_as_it_goes_with_duration_and_time_left(
    base_engine: Engine, tmp_path: Path
) -> None:
    wav = tmp_path / "longform_minutes.wav"
    build_long_form(AUDIO_DIR, MIXES["longform_minutes"], wav)
    svc = memory_services()
    job_id = uploaded(svc, wav.name, wav.read_bytes())
    engine = InGroupsOf(base_engine)
    worker = Worker(svc, lambda model: engine, WorkerConfig("w1", poll_seconds=0.0, prefetch=False))
    thread = threading.Thread(target=worker.run, kwargs={"max_jobs": 1})
    thread.start()
    seen: list[Job] = []
    while thread.is_alive():
        job = svc.jobs.get(job_id)
        assert job is not None
        if job.status is JobStatus.PROCESSING:
            seen.append(job)
        time.sleep(0.1)
    thread.join()
    final = svc.jobs.get(job_id)
    assert final is not None
    assert final.status is JobStatus.COMPLETED

    shares = [job.progress for job in seen if job.progress is not None]
    moving = sorted({share for share in shares if 0.0 < share < 1.0})
    assert len(moving) >= 5, f"progress seen while processing: {moving}"
    assert shares == sorted(shares), "progress never goes back"
    first_duration = next(job for job in seen if job.audio_duration is not None)
    assert first_duration.progress == 0.0, "the duration is known before any progress"
    assert first_duration.audio_duration == pytest.approx(final.audio_duration, abs=1.0)
    estimates = [job.eta_seconds for job in seen if job.eta_seconds is not None]
    assert estimates, "a time left was estimated while the job ran"
    assert all(eta >= 0 for eta in estimates)
    assert final.eta_seconds is None
