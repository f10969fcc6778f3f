"""A launch or janitor step that a cloud service refuses: never a job left silently
waiting. The refusal is logged with the job id and raised as a ServiceFailure, the SQS
retry of the upload event asks for a worker again, and the janitor goes on with the next
job (and reports what failed)."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from swescribe.core.errors import ServiceFailure
from swescribe.core.intake import NewJob, create_job, handle_object_created
from swescribe.core.job_sweep import sweep_jobs
from swescribe.core.jobs import Job, JobStatus, WebhookState
from swescribe.core.ports import WorkItem
from swescribe.core.services import Services
from swescribe.lambdas.process_upload import process_event
from tests.fakes import FixedClock, MemoryQueue, RecordingLauncher, ScriptedSender, memory_services


class RefusedLauncher(RecordingLauncher):
    """A launcher whose cloud refuses the first `refusals` calls (AccessDenied)."""

    def __init__(self, refusals: int = 1, error: Exception | None = None) -> None:
        super().__init__()
        self.refusals = refusals
        self.error = error or ServiceFailure("RunInstances failed: AWS answered AccessDenied")

    def ensure_capacity(self, demand: int, job: Job | None = None) -> list[str]:
        if self.refusals > 0:
            self.refusals -= 1
            raise self.error
        return super().ensure_capacity(demand, job)


def services(launcher: RecordingLauncher) -> Services:
    svc = memory_services()
    svc.launcher = launcher
    return svc


def upload_event(job_id: str, receives: int) -> dict[str, Any]:
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"object": {"key": f"transcription_upload/{job_id}/a.wav", "size": 3}},
    }
    return {
        "eventSource": "aws:sqs",
        "messageId": f"m{receives}",
        "body": json.dumps({"Records": [record]}),
        "attributes": {"ApproximateReceiveCount": str(receives)},
    }


def test_a_refused_launch_fails_the_event_and_its_retry_launches_the_worker() -> None:
    launcher = RefusedLauncher(refusals=1)
    svc = services(launcher)
    job_id = create_job(svc, "k", NewJob()).job_id
    first = process_event(svc, {"Records": [upload_event(job_id, 1)]}, ScriptedSender())
    assert first["batchItemFailures"] == [{"itemIdentifier": "m1"}]
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.LAUNCHING, "queued before the launch was refused"
    retry = process_event(svc, {"Records": [upload_event(job_id, 2)]}, ScriptedSender())
    assert retry == {"batchItemFailures": [], "outcomes": {"relaunched": 1}}
    assert launcher.jobs == [job_id]
    assert cast(MemoryQueue, svc.queue).items() == [
        WorkItem("transcribe", job_id, job.s3_key, owner="k")
    ]


def test_an_aws_error_in_the_launch_step_is_logged_with_the_job_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "Query")
    svc = services(RefusedLauncher(error=denied))
    job_id = create_job(svc, "k", NewJob()).job_id
    result = process_event(svc, {"Records": [upload_event(job_id, 1)]}, ScriptedSender())
    assert result["batchItemFailures"] == [{"itemIdentifier": "m1"}]
    (record,) = [r for r in caplog.records if r.getMessage() == "aws call failed"]
    assert (record.job_id, record.error_code) == (job_id, "AccessDenied")


def test_a_first_duplicate_event_asks_for_nothing_and_a_claimed_job_is_never_relaunched() -> None:
    launcher = RecordingLauncher()
    svc = services(launcher)
    job_id = create_job(svc, "k", NewJob()).job_id
    key = f"transcription_upload/{job_id}/a.wav"
    assert handle_object_created(svc, key) == "launched"
    assert handle_object_created(svc, key) == "duplicate"
    svc.jobs.update(job_id, None, {"status": JobStatus.PROCESSING, "instance_id": "i-1"})
    assert handle_object_created(svc, key, retried=True) == "duplicate"
    assert launcher.jobs == [job_id]


def test_a_job_created_with_an_audio_url_survives_a_refused_launch() -> None:
    svc = services(RefusedLauncher(refusals=1))
    job = create_job(svc, "k", NewJob(audio_url="https://example.com/a.wav"))
    assert job.status is JobStatus.LAUNCHING
    assert [item.job_id for item in cast(MemoryQueue, svc.queue).items()] == [job.job_id]


def test_the_janitor_goes_on_past_a_refused_step_and_reports_it() -> None:
    svc = memory_services()
    with_hook = NewJob(callback_url="https://example.com/hook")
    first = create_job(svc, "k", with_hook).job_id
    second = create_job(svc, "k", with_hook).job_id
    for job_id in (first, second):
        svc.jobs.update(job_id, None, {"status": JobStatus.COMPLETED})
    cast(FixedClock, svc.clock).advance(3600)
    refused = {first}
    webhooks = cast(MemoryQueue, svc.webhooks)
    send = webhooks.send

    def refusing_send(item: WorkItem, delay_seconds: float = 0.0) -> None:
        if item.job_id in refused:
            raise ServiceFailure("SendMessage failed: AWS answered AccessDenied")
        send(item, delay_seconds)

    svc.webhooks.send = refusing_send  # type: ignore[method-assign]
    report = sweep_jobs(svc, stale_after_seconds=900)
    assert sorted(report.webhooks_requeued) == sorted([first, second])
    assert [item.job_id for item in webhooks.items()] == [second]
    assert len(report.errors) == 1
    assert report.errors[0].startswith(f"{first}: ServiceFailure")


def test_the_unsent_webhook_check_reads_past_the_oldest_500_finished_jobs() -> None:
    svc = memory_services()
    clock = cast(FixedClock, svc.clock)
    for _ in range(520):  # finished, webhooks delivered
        job_id = create_job(svc, "k", NewJob(callback_url="https://example.com/hook")).job_id
        svc.jobs.update(
            job_id,
            None,
            {"status": JobStatus.COMPLETED, "webhook_state": WebhookState.DELIVERED},
        )
        clock.advance(1)
    newest = create_job(svc, "k", NewJob(callback_url="https://example.com/hook")).job_id
    svc.jobs.update(newest, None, {"status": JobStatus.COMPLETED})
    clock.advance(3600)
    assert sweep_jobs(svc, stale_after_seconds=900).webhooks_requeued == [newest]
