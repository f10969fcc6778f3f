"""Issue 24: a killed worker's copy of the audio does not outlive its job. The worker
keeps a job's files in a folder named after the job; the sweep (inside serve, and
`swescribe cleanup`) removes the folders of jobs that ended or were deleted."""

from __future__ import annotations

import threading
from pathlib import Path

from swescribe.core.intake import delete_job
from swescribe.worker.runner import Worker, WorkerConfig
from swescribe.worker.scratch import sweep_scratch
from tests.fakes import memory_services, uploaded
from tests.unit.test_worker import StandInEngine


class KilledMidJob(StandInEngine):
    """Records the worker's scratch folder, then never returns (a SIGKILL, as far as
    the files are concerned: nothing after this line runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.folders: list[Path] = []
        self.entered = threading.Event()

    def transcribe(self, path, options=None, progress=None):  # type: ignore[no-untyped-def]
        self.folders.append(path.parent)
        self.entered.set()
        threading.Event().wait()  # the process "dies" here; its daemon thread is left
        raise AssertionError("unreachable")


def test_a_killed_workers_copy_is_removed_once_its_job_is_deleted(tmp_path: Path) -> None:
    svc = memory_services()
    killed = uploaded(svc, "secret.wav", b"the audio")
    engine = KilledMidJob()
    config = WorkerConfig("w1", poll_seconds=0.0, prefetch=False, scratch_dir=tmp_path)
    runner = Worker(svc, lambda model: engine, config)
    threading.Thread(target=runner.run, daemon=True).start()
    assert engine.entered.wait(5)
    (folder,) = engine.folders
    assert folder.parent == tmp_path
    assert folder.name.startswith(f"job-{killed}.")
    assert (folder / "secret.wav").read_bytes() == b"the audio"
    running = uploaded(svc, "other.wav", b"x")
    live = tmp_path / f"job-{running}.abc"
    live.mkdir()
    unrelated = tmp_path / "upload-1234"
    unrelated.write_bytes(b"an upload in flight")

    assert sweep_scratch(tmp_path, svc.jobs) == [], "a job still running keeps its files"
    delete_job(svc, None, killed)
    assert sweep_scratch(tmp_path, svc.jobs) == [folder]
    assert not folder.exists()
    assert live.exists()
    assert unrelated.exists()


def test_no_scratch_folder_is_no_error(tmp_path: Path) -> None:
    assert sweep_scratch(tmp_path / "never-made", memory_services().jobs) == []
