"""The worker loop on in-memory ports with a stand-in engine (no model): claim, results,
completion, failure reasons, prefetch of the next item, and release on stop."""

from __future__ import annotations

import errno
import json
import threading
import time
from pathlib import Path
from typing import Any, cast

from swescribe.core.intake import NewJob, create_job, handle_object_created
from swescribe.core.jobs import JobStatus
from swescribe.core.ports import Message
from swescribe.core.request import JobRequest
from swescribe.core.services import Services
from swescribe.engine import ProgressCallback, Segment, TranscribeOptions, Transcript
from swescribe.worker.runner import Worker, WorkerConfig
from tests.fakes import MemoryObjectStore, MemoryQueue, memory_services, uploaded


class StandInEngine:
    """Transcribes any file to its own name; can hold a job until released."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []
        self.gate: threading.Event | None = None
        self.says = ""
        """Words the transcript adds after the file's name."""

    def transcribe(
        self,
        path: Path,
        options: TranscribeOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        self.seen.append((path.name, path.read_bytes()))
        if progress is not None:
            progress(0.5, 1.0)
        if self.gate is not None:
            self.gate.wait(5)
            if progress is not None:
                progress(1.0, 1.0)
        segment = Segment(0, 0.0, 1.0, f"text of {path.stem} {self.says}".strip())
        return Transcript(segment.text, "sv", 1.0, (segment,), "stand-in")


def worker(svc: Services, engine: StandInEngine, **config: Any) -> Worker:
    settings = {"poll_seconds": 0.0, "heartbeat_seconds": 0.05, **config}
    return Worker(svc, lambda model: engine, WorkerConfig("w1", **settings))


def test_jobs_complete_with_every_result_file_and_the_next_one_prefetched() -> None:
    svc = memory_services()
    first = uploaded(svc, "första.wav", b"one")
    second = uploaded(svc, "andra.wav", b"two")
    engine = StandInEngine()
    assert worker(svc, engine).run(max_jobs=2) == 2
    assert engine.seen == [("första.wav", b"one"), ("andra.wav", b"two")]
    for job_id, stem in ((first, "första"), (second, "andra")):
        job = svc.jobs.get(job_id)
        assert job is not None
        assert job.status is JobStatus.COMPLETED
        assert sorted(job.result_keys) == ["json", "srt", "txt", "vtt"]
        assert svc.objects.get_bytes(job.result_keys["txt"]) == f"text of {stem}\n".encode()
        assert job.result_keys["txt"].endswith(f"_{stem}.txt")
    assert cast(MemoryQueue, svc.queue).entries == []


def run_while_first_job_holds(
    svc: Services, grace: float, seconds: float
) -> tuple[list[Message | None], StandInEngine]:
    """Run a worker whose first job blocks; after `seconds`, see what a second, idle worker
    could take from the queue, then let everything finish."""
    engine = StandInEngine()
    engine.gate = threading.Event()
    runner = worker(svc, engine, prefetch_grace_seconds=grace)
    thread = threading.Thread(target=runner.run, kwargs={"max_jobs": 2})
    thread.start()
    threading.Event().wait(seconds)
    seen_by_idle_worker = [svc.queue.receive(0.0, 0.0)]  # visibility 0: look, take nothing
    engine.gate.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    return seen_by_idle_worker, engine


def test_a_busy_worker_prefetches_the_next_item_after_its_grace_period() -> None:
    svc = memory_services()
    uploaded(svc, "första.wav", b"one")
    second = uploaded(svc, "andra.wav", b"two")
    seen, engine = run_while_first_job_holds(svc, grace=0.0, seconds=0.5)
    assert seen == [None], "the next item was taken ahead by the busy worker"
    assert [name for name, _ in engine.seen] == ["första.wav", "andra.wav"]
    job = svc.jobs.get(second)
    assert job is not None
    assert job.status is JobStatus.COMPLETED


def test_an_idle_worker_gets_a_queued_item_before_a_busy_worker_prefetches_it() -> None:
    svc = memory_services()
    uploaded(svc, "första.wav", b"one")
    second = uploaded(svc, "andra.wav", b"two")
    seen, _ = run_while_first_job_holds(svc, grace=5.0, seconds=0.5)
    assert seen[0] is not None
    assert seen[0].item.job_id == second


def test_a_missing_upload_fails_the_job_with_a_reason() -> None:
    svc = memory_services()
    job_id = uploaded(svc, "a.wav", b"x")
    svc.objects.delete_prefix(f"transcription_upload/{job_id}/")
    worker(svc, StandInEngine(), prefetch=False).run(max_jobs=1)
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert job.error_code == "audio_not_found"
    assert "gone" in (job.error_message or "")


def test_an_upload_over_the_limit_fails_before_download() -> None:
    from swescribe.core.services import Policy

    svc = memory_services(Policy(max_upload_bytes=2))
    job_id = uploaded(svc, "a.wav", b"too big")
    engine = StandInEngine()
    worker(svc, engine).run(max_jobs=1)
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.error_code == "payload_too_large"
    assert engine.seen == []


def test_stopping_releases_the_current_job_and_the_prefetched_item() -> None:
    svc = memory_services()
    first = uploaded(svc, "a.wav", b"one")
    second = uploaded(svc, "b.wav", b"two")
    engine = StandInEngine()
    engine.gate = threading.Event()
    runner = worker(svc, engine, prefetch_grace_seconds=0.0)
    thread = threading.Thread(target=runner.run)
    thread.start()
    for _ in range(200):
        job = svc.jobs.get(first)
        if job is not None and job.progress and svc.queue.depth() == 0:
            break  # the first job runs and the second item is prefetched (hidden)
        threading.Event().wait(0.01)
    assert svc.queue.depth() == 0
    runner.stopping.set()
    engine.gate.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    released = svc.jobs.get(first)
    assert released is not None
    assert released.status is JobStatus.LAUNCHING, "given back, not failed"
    assert released.instance_id is None
    untouched = svc.jobs.get(second)
    assert untouched is not None
    assert untouched.status is JobStatus.LAUNCHING
    queue = cast(MemoryQueue, svc.queue)
    assert queue.depth() == 2, "both items are back on the queue, visible now"


class FullDisk(MemoryObjectStore):
    """An object store whose disk is full: every write fails as the OS says it does."""

    def put_bytes(self, key: str, data: bytes, content_type: str = "") -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_fails_the_job_with_a_reason_and_keeps_the_audio() -> None:
    svc = memory_services()
    job_id = uploaded(svc, "a.wav", b"audio")
    full = FullDisk()  # the disk fills up after the upload
    full.objects = cast(MemoryObjectStore, svc.objects).objects
    svc.objects = full
    worker(svc, StandInEngine(), prefetch=False).run(max_jobs=1)
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert job.error_code == "storage_error"
    assert "No space left on device" in (job.error_message or "")
    assert svc.objects.exists(f"transcription_upload/{job_id}/a.wav"), "the upload is kept"


class FlakyQueue(MemoryQueue):
    """A queue that is unreachable for its first receives (a restarting database)."""

    def __init__(self, inner: MemoryQueue, failures: int) -> None:
        super().__init__(inner.clock, inner.max_receives)
        self.entries = inner.entries
        self.failures = failures

    def receive(self, wait_seconds: float, visibility_seconds: float) -> Message | None:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("database is restarting")
        return super().receive(wait_seconds, visibility_seconds)


def test_a_queue_outage_is_waited_out_and_the_job_still_completes() -> None:
    svc = memory_services()
    job_id = uploaded(svc, "a.wav", b"audio")
    svc.queue = FlakyQueue(cast(MemoryQueue, svc.queue), failures=3)
    assert worker(svc, StandInEngine(), prefetch=False).run(max_jobs=1) == 1
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.COMPLETED


class FlakyExtendQueue(MemoryQueue):
    """A queue whose first visibility extensions fail as a network error would."""

    def __init__(self, clock: Any) -> None:
        super().__init__(clock)
        self.extend_calls = 0

    def extend(self, message: Message, visibility_seconds: float) -> None:
        self.extend_calls += 1
        if self.extend_calls <= 2:
            raise ConnectionError("connection reset by peer")
        super().extend(message, visibility_seconds)


def test_the_heartbeat_outlives_a_network_error_and_keeps_the_job() -> None:
    svc = memory_services()
    flaky = FlakyExtendQueue(svc.clock)
    svc.queue = flaky
    job_id = uploaded(svc, "a.wav", b"one")
    engine = StandInEngine()
    engine.gate = threading.Event()
    runner = worker(svc, engine, prefetch=False)
    thread = threading.Thread(target=runner.run, kwargs={"max_jobs": 1})
    thread.start()
    for _ in range(200):  # bounded: 2 s
        if flaky.extend_calls >= 5:
            break
        threading.Event().wait(0.01)
    engine.gate.set()
    thread.join(timeout=5)
    assert flaky.extend_calls >= 5, "the heartbeat kept beating after two failures"
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.COMPLETED


class DeletedWhileRunning(StandInEngine):
    """The client's DELETE /v1/jobs/{id} arrives while the job's transcript is made."""

    def __init__(self, svc: Services) -> None:
        super().__init__()
        self.svc = svc

    def transcribe(
        self,
        path: Path,
        options: TranscribeOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        from swescribe.core.intake import delete_job

        job_id = next(iter(cast(Any, self.svc.jobs).jobs))
        delete_job(self.svc, None, job_id)
        return super().transcribe(path, options)


def test_a_job_deleted_during_its_last_phase_leaves_no_results_and_no_queue_item() -> None:
    """Issue 24 (suspected): the results written after the DELETE stayed behind, and the
    worker's failed completion left the queue item unacknowledged."""
    svc = memory_services()
    job_id = uploaded(svc, "intervju.wav", b"audio")
    assert worker(svc, DeletedWhileRunning(svc)).run(max_jobs=1) == 1
    assert svc.jobs.get(job_id) is None
    left = [key for key in cast(MemoryObjectStore, svc.objects).objects if job_id in key]
    assert left == [], "nothing of the deleted job stays stored"
    assert cast(MemoryQueue, svc.queue).entries == []


class BurstThenPause(StandInEngine):
    """Progress comes in a burst (a decode group's pieces finish together), then nothing
    while the next group decodes."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def transcribe(
        self,
        path: Path,
        options: TranscribeOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        assert progress is not None
        progress(0.0, 100.0)
        time.sleep(1.1)  # a pace to estimate the time left from (worker/progress.py)
        for done in (10.0, 20.0, 30.0):
            progress(done, 100.0)
        self.gate.wait(10)
        return super().transcribe(path, options)


def test_the_last_progress_of_a_burst_is_written_while_the_engine_is_quiet() -> None:
    """Issue 27: the worker kept the first update of each 2 s and dropped the rest, so a
    burst's last value (the furthest) waited for the next burst. Now it is written within
    the pace, with the duration from the first call and a time left."""
    svc = memory_services()
    job_id = uploaded(svc, "lång.wav", b"audio")
    engine = BurstThenPause()
    runner = worker(svc, engine, progress_seconds=0.2)
    thread = threading.Thread(target=runner.run, kwargs={"max_jobs": 1})
    thread.start()
    try:
        deadline = time.monotonic() + 5
        job = svc.jobs.get(job_id)
        while time.monotonic() < deadline:
            job = svc.jobs.get(job_id)
            if job is not None and job.progress == 0.3:
                break
            time.sleep(0.02)
        assert job is not None
        assert job.progress == 0.3, "the burst's last value is written"
        assert job.audio_duration == 100.0
        assert job.eta_seconds is not None
        assert job.eta_seconds >= 0
    finally:
        engine.gate.set()
        thread.join(timeout=10)
    done = svc.jobs.get(job_id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED
    assert done.eta_seconds is None


def test_a_job_asking_for_redaction_stores_no_personal_data_in_any_result() -> None:
    svc = memory_services()
    request = JobRequest(redact=("personnummer", "phone"))
    job_id = create_job(svc, "k", NewJob(request=request)).job_id
    key = f"transcription_upload/{job_id}/samtal.wav"
    svc.objects.put_bytes(key, b"audio")
    assert handle_object_created(svc, key, 5) == "launched"
    engine = StandInEngine()
    engine.says = "personnummer 811218-9876 telefon 070-123 45 67"
    assert worker(svc, engine).run(max_jobs=1) == 1
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.COMPLETED
    for fmt, result in job.result_keys.items():
        stored = svc.objects.get_bytes(result).decode()
        assert "9876" not in stored, fmt
        assert "45 67" not in stored, fmt
        assert "[PERSONNUMMER]" in stored, fmt
        assert "[TELEFON]" in stored, fmt
    data = json.loads(svc.objects.get_bytes(job.result_keys["json"]))
    assert [r["kind"] for r in data["redactions"]] == ["personnummer", "phone"]
