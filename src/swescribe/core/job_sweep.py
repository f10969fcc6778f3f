"""The janitor's job sweep: work that was lost goes back on the queue or fails for good.

- processing, lease run out (the worker died without a word): back to launching and
  requeued, or failed once it has had max_attempts;
- launching for longer than stale_after (its queue item was lost, or went to the
  dead-letter queue): requeued; waiting past the policy's max_wait_seconds since it was
  created (no capacity for that long): failed, so the client hears of it;
- finished with its webhook still pending and never attempted (the process stopped
  between the two writes): the webhook is queued again (every finished job created
  within the lookback is read, newest first, page by page);
- then, for every job waiting for a worker, the launcher is asked for capacity again: a
  launch refused earlier is retried, and in one-instance-per-job mode a job given back
  by an interrupted or crashed instance gets a new one.

Duplicate queue items are harmless: claims are conditional. A step that raises (a store
or queue refusing a call) is logged with its job id and recorded in the report's errors;
the sweep goes on with the next job, and the caller decides what a failed step means.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from swescribe.core.errors import ServiceFailure, SwescribeError, TransitionConflict
from swescribe.core.intake import worker_demand
from swescribe.core.jobs import Job, JobStatus, WebhookState
from swescribe.core.ports import TRANSCRIBE, WEBHOOK, Expect, WorkItem
from swescribe.core.processing import fail_job, give_up_on_lost_job
from swescribe.core.services import Services

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class SweepReport:
    dry_run: bool
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    webhooks_requeued: list[str] = field(default_factory=list)
    queue_depth: int = 0
    workers_started: list[str] = field(default_factory=list)
    capacity_error: str | None = None
    errors: list[str] = field(default_factory=list)
    """"<job id or step>: <error>" for every step that raised."""

    def step_failed(self, where: str, error: Exception) -> None:
        log.error(
            "janitor step failed",
            extra={"job_id": where, "error_type": type(error).__name__, "reason": str(error)},
        )
        self.errors.append(f"{where}: {type(error).__name__}: {error}")


FINISHED_PAGE = 500
MAX_FINISHED_PAGES = 200
WEBHOOK_LOOKBACK = timedelta(days=2)
"""Finished jobs created this long before the longest wait are still checked for a
webhook that was never queued."""


def sweep_jobs(svc: Services, stale_after_seconds: float, dry_run: bool = False) -> SweepReport:
    report = SweepReport(dry_run)
    now = svc.clock.now()
    waiting: list[Job | None] = []
    for job in svc.jobs.list_by_status({JobStatus.PROCESSING}):
        if job.lease_expires_at is None or job.lease_expires_at > now:
            continue
        if job.lost_attempts >= svc.policy.max_attempts:
            report.failed.append(job.job_id)
            if not dry_run:
                _guarded(report, job.job_id, give_up_on_lost_job, svc, job)
            continue
        report.requeued.append(job.job_id)
        if not dry_run:
            expired = Expect.transition(
                JobStatus.LAUNCHING, source=JobStatus.PROCESSING, lease_expired_by=now
            )
            waiting += _guarded(report, job.job_id, _requeue, svc, job.job_id, expired) or []
    stale_before = now - timedelta(seconds=stale_after_seconds)
    waited_too_long = now - timedelta(seconds=svc.policy.max_wait_seconds)
    for job in svc.jobs.list_by_status({JobStatus.LAUNCHING}):
        if job.created_at < waited_too_long:
            report.failed.append(job.job_id)
            if not dry_run:
                _guarded(report, job.job_id, _give_up_waiting, svc, job)
            continue
        if job.updated_at > stale_before:
            waiting.append(job)
            continue
        report.requeued.append(job.job_id)
        if not dry_run:
            again = Expect.transition(JobStatus.LAUNCHING, source=JobStatus.LAUNCHING)
            waiting += _guarded(report, job.job_id, _requeue, svc, job.job_id, again) or []
    _requeue_unsent_webhooks(svc, report, stale_before, waited_too_long - WEBHOOK_LOOKBACK)
    report.queue_depth = svc.queue.depth()
    if (waiting or report.queue_depth) and not dry_run:
        _ask_for_capacity(svc, report, waiting)
    acted = report.requeued or report.failed or report.webhooks_requeued
    log.log(
        logging.INFO if acted or report.workers_started or report.errors else logging.DEBUG,
        "job sweep",
        extra={
            "requeued": len(report.requeued),
            "failed": len(report.failed),
            "webhooks_requeued": len(report.webhooks_requeued),
            "workers_started": len(report.workers_started),
            "errors": len(report.errors),
            "dry_run": dry_run,
        },
    )
    return report


def _guarded(report: SweepReport, job_id: str, step: Callable[..., T], *args: Any) -> T | None:
    """step(*args), or None when it raised (the failure is recorded in the report)."""
    try:
        return step(*args)
    except Exception as error:  # one job's failed step never stops the sweep
        report.step_failed(job_id, error)
        return None


def _requeue_unsent_webhooks(
    svc: Services, report: SweepReport, stale_before: datetime, created_after: datetime
) -> None:
    """Finished jobs whose webhook is pending and was never attempted: queued again.

    Read newest first, page by page, back to created_after: a fixed number of the oldest
    finished jobs would leave every newer one unchecked once that many had piled up.
    """
    for status in (JobStatus.COMPLETED, JobStatus.FAILED):
        cursor: str | None = None
        for _ in range(MAX_FINISHED_PAGES):
            page = svc.jobs.list_jobs(None, status=status, limit=FINISHED_PAGE, cursor=cursor)
            for job in page.jobs:
                never_attempted = (
                    job.webhook_state is WebhookState.PENDING and not job.webhook_attempts
                )
                if never_attempted and job.updated_at < stale_before:
                    report.webhooks_requeued.append(job.job_id)
                    if not report.dry_run:
                        _guarded(
                            report, job.job_id, svc.webhooks.send, WorkItem(WEBHOOK, job.job_id)
                        )
            cursor = page.next_cursor
            if cursor is None or not page.jobs or page.jobs[-1].created_at < created_after:
                break


def _ask_for_capacity(svc: Services, report: SweepReport, waiting: list[Job | None]) -> None:
    """A launch refused earlier is retried; in one-instance-per-job mode each waiting job
    gets its own ask. No capacity is a note in the report, any other failure an error."""
    try:
        demand = worker_demand(svc)
        for waiting_job in waiting or [None]:
            report.workers_started += svc.launcher.ensure_capacity(demand, waiting_job)
    except ServiceFailure as error:
        report.step_failed("capacity", error)
    except SwescribeError as error:
        report.capacity_error = str(error)
    except Exception as error:
        report.step_failed("capacity", error)


def _give_up_waiting(svc: Services, job: Job) -> None:
    hours = svc.policy.max_wait_seconds / 3600
    try:
        fail_job(
            svc,
            job.job_id,
            "no_capacity",
            f"no worker could take the job within {hours:g} h of its creation",
        )
    except TransitionConflict:
        pass  # a worker took it meanwhile
    else:
        log.warning("job waited too long for a worker", extra={"job_id": job.job_id})


def _requeue(svc: Services, job_id: str, expect: Expect) -> list[Job | None]:
    """Back to launching with a new queue item; [the job], or [] if it moved meanwhile."""
    try:
        job = svc.jobs.update(
            job_id,
            expect,
            {
                "status": JobStatus.LAUNCHING,
                "instance_id": None,
                "lease_expires_at": None,
                "updated_at": svc.clock.now(),
            },
        )
    except TransitionConflict:
        return []  # a worker took it or finished it meanwhile
    svc.queue.send(WorkItem(TRANSCRIBE, job_id, owner=job.owner))
    log.info("job requeued", extra={"job_id": job_id})
    return [job]
