"""The janitor's job sweep on in-memory ports: lost work requeued, hopeless work failed."""

from __future__ import annotations

import logging
from typing import cast

import pytest

from swescribe.core.intake import NewJob, create_job, handle_object_created
from swescribe.core.job_sweep import sweep_jobs
from swescribe.core.jobs import JobStatus
from swescribe.core.ports import Message, WorkItem
from swescribe.core.processing import claim_job
from swescribe.core.services import Policy, Services
from tests.fakes import FixedClock, MemoryQueue, RecordingLauncher, memory_services


def launched(svc: Services, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        job_id = create_job(svc, "k", NewJob()).job_id
        handle_object_created(svc, f"transcription_upload/{job_id}/a.wav", 1)
        ids.append(job_id)
    return ids


def test_an_expired_lease_is_requeued_and_a_hopeless_job_failed() -> None:
    svc = memory_services(Policy(lease_seconds=60, max_attempts=2))
    alive, lost, hopeless = launched(svc, 3)
    queue = cast(MemoryQueue, svc.queue)
    queue.entries.clear()
    claim_job(svc, Message(WorkItem("transcribe", lost), "r1", 1), "w-lost")
    svc.jobs.update(hopeless, None, {"attempts": 1})
    claim_job(svc, Message(WorkItem("transcribe", hopeless), "r2", 1), "w-gone")
    cast(FixedClock, svc.clock).advance(61)
    claim_job(svc, Message(WorkItem("transcribe", alive), "r3", 1), "w-alive")

    dry = sweep_jobs(svc, stale_after_seconds=3600, dry_run=True)
    assert sorted(dry.requeued) == [lost]
    assert dry.failed == [hopeless]
    assert svc.jobs.get(lost).status is JobStatus.PROCESSING  # type: ignore[union-attr]

    report = sweep_jobs(svc, stale_after_seconds=3600)
    assert report.requeued == [lost]
    assert report.failed == [hopeless]
    requeued = svc.jobs.get(lost)
    assert requeued is not None
    assert requeued.status is JobStatus.LAUNCHING
    assert requeued.instance_id is None
    failed = svc.jobs.get(hopeless)
    assert failed is not None
    assert failed.error_code == "too_many_attempts"
    assert svc.jobs.get(alive).status is JobStatus.PROCESSING  # type: ignore[union-attr]
    assert queue.items() == [WorkItem("transcribe", lost, owner="k")]
    # The requeued job waits and the alive one runs: two jobs need a worker.
    assert cast(RecordingLauncher, svc.launcher).calls[-1] == 2, "capacity asked for again"


def test_a_job_launching_too_long_is_requeued_once() -> None:
    svc = memory_services()
    (stale,) = launched(svc, 1)
    cast(MemoryQueue, svc.queue).entries.clear()  # its item went to the dead-letter queue
    cast(FixedClock, svc.clock).advance(1000)
    assert sweep_jobs(svc, stale_after_seconds=900).requeued == [stale]
    assert sweep_jobs(svc, stale_after_seconds=900).requeued == [], "updated_at was renewed"
    assert cast(MemoryQueue, svc.queue).items() == [WorkItem("transcribe", stale, owner="k")]


def test_the_janitor_lambda_prints_its_numbers_as_cloudwatch_embedded_metrics() -> None:
    import json

    from swescribe.lambdas.janitor import metrics_line

    report = {
        "workers_active": 2,
        "jobs": {"queue_depth": 5, "requeued": ["a"], "failed": ["b", "c"]},
        "instances": {"terminated": ["i-1"]},
    }
    record = json.loads(metrics_line(report))
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "swescribe"
    assert directive["Dimensions"] == [["Service"]]
    names = [metric["Name"] for metric in directive["Metrics"]]
    assert all(name in record for name in names), "every metric has its value at the top"
    assert (record["WorkerInstances"], record["QueueDepth"], record["JobsGivenUp"]) == (2, 5, 2)
    assert record["InstancesTerminated"] == 1


def test_a_job_no_worker_took_within_the_maximum_wait_fails_and_tells_the_client() -> None:
    svc = memory_services(Policy(max_wait_seconds=3600))
    job = create_job(svc, "k", NewJob(callback_url="https://example.com/hook"))
    handle_object_created(svc, f"transcription_upload/{job.job_id}/a.wav", 1)
    webhooks = cast(MemoryQueue, svc.webhooks)
    cast(FixedClock, svc.clock).advance(1800)
    assert sweep_jobs(svc, stale_after_seconds=900).failed == []
    cast(FixedClock, svc.clock).advance(1801)

    assert sweep_jobs(svc, stale_after_seconds=900, dry_run=True).failed == [job.job_id]
    assert webhooks.items() == [], "a dry run changes nothing"
    report = sweep_jobs(svc, stale_after_seconds=900)
    assert report.failed == [job.job_id]
    failed = svc.jobs.get(job.job_id)
    assert failed is not None
    assert failed.status is JobStatus.FAILED
    assert failed.error_code == "no_capacity"
    assert failed.error_message == "no worker could take the job within 1 h of its creation"
    assert [item.job_id for item in webhooks.items()] == [job.job_id]


def test_a_finished_job_whose_webhook_was_never_queued_gets_it_queued_again() -> None:
    svc = memory_services()
    job = create_job(svc, "k", NewJob(callback_url="https://example.com/hook"))
    # As if the process stopped between marking the job completed and queueing its webhook.
    svc.jobs.update(job.job_id, None, {"status": JobStatus.COMPLETED})
    other = create_job(svc, "k", NewJob(callback_url="https://example.com/hook"))
    svc.jobs.update(other.job_id, None, {"status": JobStatus.FAILED, "webhook_attempts": 1})
    webhooks = cast(MemoryQueue, svc.webhooks)
    assert sweep_jobs(svc, stale_after_seconds=900).webhooks_requeued == [], "too recent"
    cast(FixedClock, svc.clock).advance(901)

    assert sweep_jobs(svc, stale_after_seconds=900, dry_run=True).webhooks_requeued == [job.job_id]
    assert webhooks.items() == []
    report = sweep_jobs(svc, stale_after_seconds=900)
    assert report.webhooks_requeued == [job.job_id], "an attempted webhook has its own retries"
    assert [item.job_id for item in webhooks.items()] == [job.job_id]


def test_a_sweep_that_does_nothing_logs_nothing_and_one_that_acts_logs_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """serve sweeps every minute: a line each time buried its terminal in noise."""
    svc = memory_services()
    caplog.set_level(logging.INFO, logger="swescribe.core.job_sweep")
    sweep_jobs(svc, stale_after_seconds=900)
    sweep_jobs(svc, stale_after_seconds=900)
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []
    launched(svc, 1)
    cast(FixedClock, svc.clock).advance(1000)
    sweep_jobs(svc, stale_after_seconds=900)
    [line] = [r for r in caplog.records if r.message == "job sweep" and r.levelno >= logging.INFO]
    assert line.getMessage() == "job sweep"
    assert line.requeued == 1  # type: ignore[attr-defined]
