"""Per-key caps in the core, on in-memory ports: what counts against them, and the AWS
shape's upload event over the queued cap (the client is gone: the job fails, told why)."""

from __future__ import annotations

import pytest

from swescribe.core.errors import TooManyJobs
from swescribe.core.intake import NewJob, create_job
from swescribe.core.jobs import JobStatus
from swescribe.core.services import Policy
from swescribe.lambdas.process_upload import process_event
from tests.fakes import FixedClock, MemoryQueue, ScriptedSender, memory_services
from tests.unit.test_process_upload_events import s3_record, sqs


def test_jobs_whose_upload_link_expired_no_longer_count_against_the_waiting_cap() -> None:
    svc = memory_services(Policy(max_waiting_jobs_per_key=2, upload_expires_seconds=3600))
    for _ in range(2):
        create_job(svc, "k", NewJob())
    with pytest.raises(TooManyJobs):
        create_job(svc, "k", NewJob())
    assert isinstance(svc.clock, FixedClock)
    svc.clock.advance(3601)  # the links expired: those jobs can never get their audio
    assert create_job(svc, "k", NewJob()).status is JobStatus.REGISTERED


def test_zero_means_no_cap() -> None:
    svc = memory_services(Policy(max_waiting_jobs_per_key=0, max_queued_jobs_per_key=0))
    for _ in range(5):
        create_job(svc, "k", NewJob(audio_url="https://example.com/a.wav"))
        create_job(svc, "k", NewJob())


def test_an_upload_event_over_the_queued_cap_fails_its_job_with_too_many_jobs() -> None:
    svc = memory_services(Policy(max_queued_jobs_per_key=1))
    first, over = (create_job(svc, "k", NewJob()).job_id for _ in range(2))
    other = create_job(svc, "other", NewJob()).job_id
    records = [s3_record(f"transcription_upload/{job_id}/a.wav") for job_id in (first, over, other)]
    result = process_event(svc, {"Records": [sqs("m1", {"Records": records})]}, ScriptedSender())
    assert result["batchItemFailures"] == [], "not retried: a retry would not drain the queue"
    assert result["outcomes"] == {"launched": 2, "refused": 1}
    refused = svc.jobs.get(over)
    assert refused is not None
    assert refused.status is JobStatus.FAILED
    assert refused.error_code == "too_many_jobs"
    assert "SWESCRIBE_MAX_QUEUED_JOBS_PER_KEY" in (refused.error_message or "")
    assert isinstance(svc.queue, MemoryQueue)
    assert {item.job_id for item in svc.queue.items()} == {first, other}
