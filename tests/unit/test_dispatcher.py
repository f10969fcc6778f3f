"""The webhook delivery loop outlives a busy store and a job whose payload cannot be built."""

from __future__ import annotations

import threading
from typing import Any

from swescribe.core.errors import StoreBusy
from swescribe.core.intake import NewJob, create_job
from swescribe.core.jobs import JobStatus, WebhookState
from swescribe.core.ports import Message, WorkItem
from swescribe.core.services import Services
from swescribe.worker.dispatcher import run_dispatcher
from tests.fakes import MemoryJobStore, MemoryQueue, ScriptedSender, memory_services


class FlakyJobs(MemoryJobStore):
    """A job store that is busy for its first `busy` reads."""

    def __init__(self, busy: int) -> None:
        super().__init__()
        self.busy = busy

    def get(self, job_id: str) -> Any:
        if self.busy:
            self.busy -= 1
            raise StoreBusy("database is locked")
        return super().get(job_id)


class FlakyQueue(MemoryQueue):
    """A queue whose first receive fails as a locked SQLite database does."""

    failed = False

    def receive(self, wait_seconds: float, visibility_seconds: float) -> Message | None:
        if not self.failed:
            self.failed = True
            raise StoreBusy("database is locked")
        return super().receive(wait_seconds, visibility_seconds)


def finished_job(svc: Services, status: JobStatus, **changes: Any) -> str:
    job = create_job(svc, "k", NewJob(callback_url="https://example.com/hook"))
    svc.jobs.update(job.job_id, None, {"status": status, **changes})
    svc.webhooks.send(WorkItem("webhook", job.job_id))
    return job.job_id


def state_of(svc: Services, job_id: str) -> WebhookState:
    job = MemoryJobStore.get(svc.jobs, job_id)  # type: ignore[arg-type]  # never busy
    assert job is not None
    return job.webhook_state


def run_until_delivered(svc: Services, sender: ScriptedSender, job_ids: list[str]) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=run_dispatcher, args=(svc, sender, stop), daemon=True)
    thread.start()
    try:
        for _ in range(200):  # bounded: 10 s at most
            states = [state_of(svc, j) for j in job_ids]
            if all(s is WebhookState.DELIVERED for s in states):
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_a_busy_store_delays_the_webhook_but_never_drops_it() -> None:
    svc = memory_services()
    svc.jobs = FlakyJobs(busy=0)
    svc.webhooks = FlakyQueue(svc.clock)  # type: ignore[arg-type]
    job_id = finished_job(svc, JobStatus.FAILED, error_code="invalid_audio")
    svc.jobs.busy = 2  # type: ignore[attr-defined]
    sender = ScriptedSender()
    svc.clock.advance(10)  # type: ignore[attr-defined]
    stop_clock = threading.Event()

    def tick() -> None:  # released items come back once the fake clock passes their delay
        while not stop_clock.wait(0.05):
            svc.clock.advance(1)  # type: ignore[attr-defined]

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        run_until_delivered(svc, sender, [job_id])
    finally:
        stop_clock.set()
    assert state_of(svc, job_id) is WebhookState.DELIVERED
    assert len(sender.sent) == 1, "delivered once, after the store was free again"


def test_a_job_whose_payload_cannot_be_built_does_not_stop_the_next_webhooks() -> None:
    svc = memory_services()
    broken = finished_job(svc, JobStatus.COMPLETED, result_keys={"json": "results/x/missing.json"})
    good = finished_job(svc, JobStatus.FAILED, error_code="invalid_audio")
    sender = ScriptedSender()
    run_until_delivered(svc, sender, [good])
    assert [sent[0] for sent in sender.sent] == ["https://example.com/hook"]
    assert state_of(svc, broken) is not WebhookState.DELIVERED


def test_a_diarized_jobs_webhook_segments_carry_their_speakers() -> None:
    import json

    from swescribe.webhooks.sender import job_payload

    svc = memory_services()
    result = {
        "text": "Hej. Tjena.",
        "language": "sv",
        "duration": 2.0,
        "model": "whisper-base",
        "segments": [
            {"id": 0, "start": 0.0, "end": 1.0, "text": "Hej.", "speaker": "S1"},
            {"id": 1, "start": 1.2, "end": 2.0, "text": "Tjena.", "speaker": "S2"},
        ],
    }
    svc.objects.put_bytes("results/x/t.json", json.dumps(result).encode())
    job_id = finished_job(svc, JobStatus.COMPLETED, result_keys={"json": "results/x/t.json"})
    job = MemoryJobStore.get(svc.jobs, job_id)  # type: ignore[arg-type]
    assert job is not None
    segments = job_payload(svc, job)["transcript"]["segments"]
    assert segments == [
        {"start": 0.0, "end": 1.0, "text": "Hej.", "speaker": "S1"},
        {"start": 1.2, "end": 2.0, "text": "Tjena.", "speaker": "S2"},
    ]
