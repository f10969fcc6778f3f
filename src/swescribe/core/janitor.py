"""The janitor's job sweep: work that was lost goes back on the queue or fails for good.

- processing, lease run out (the worker died without a word): back to launching and
  requeued, or failed once it has had max_attempts;
- launching for longer than stale_after (its queue item was lost, or went to the
  dead-letter queue): requeued; waiting past the policy's max_wait_seconds since it was
  created (no capacity for that long): failed, so the client hears of it;
- finished with its webhook still pending and never attempted (the process stopped
  between the two writes): the webhook is queued again;
- then, for every job waiting for a worker, the launcher is asked for capacity again: a
  launch refused earlier is retried, and in one-instance-per-job mode a job given back
  by an interrupted or crashed instance gets a new one.

Duplicate queue items are harmless: claims are conditional.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from swescribe.core.errors import SwescribeError, TransitionConflict
from swescribe.core.jobs import Job, JobStatus, WebhookState
from swescribe.core.ports import Expect, WorkItem
from swescribe.core.service import TRANSCRIBE, WEBHOOK, Services, worker_demand
from swescribe.core.work import fail_job, give_up_on_lost_job

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    dry_run: bool
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    webhooks_requeued: list[str] = field(default_factory=list)
    queue_depth: int = 0
    workers_started: list[str] = field(default_factory=list)
    capacity_error: str | None = None


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
                give_up_on_lost_job(svc, job)
            continue
        report.requeued.append(job.job_id)
        if not dry_run:
            expired = Expect(frozenset({JobStatus.PROCESSING}), lease_expired_by=now)
            waiting += _requeue(svc, job.job_id, expired)
    stale_before = now - timedelta(seconds=stale_after_seconds)
    waited_too_long = now - timedelta(seconds=svc.policy.max_wait_seconds)
    for job in svc.jobs.list_by_status({JobStatus.LAUNCHING}):
        if job.created_at < waited_too_long:
            report.failed.append(job.job_id)
            if not dry_run:
                _give_up_waiting(svc, job)
            continue
        if job.updated_at > stale_before:
            waiting.append(job)
            continue
        report.requeued.append(job.job_id)
        if not dry_run:
            waiting += _requeue(svc, job.job_id, Expect.status(JobStatus.LAUNCHING))
    for job in svc.jobs.list_by_status({JobStatus.COMPLETED, JobStatus.FAILED}):
        never_attempted = job.webhook_state is WebhookState.PENDING and not job.webhook_attempts
        if never_attempted and job.updated_at < stale_before:
            report.webhooks_requeued.append(job.job_id)
            if not dry_run:
                svc.webhooks.send(WorkItem(WEBHOOK, job.job_id))
    report.queue_depth = svc.queue.depth()
    if (waiting or report.queue_depth) and not dry_run:
        demand = worker_demand(svc)
        try:
            for waiting_job in waiting or [None]:
                report.workers_started += svc.launcher.ensure_capacity(demand, waiting_job)
        except SwescribeError as error:
            report.capacity_error = str(error)
    log.info(
        "job sweep",
        extra={
            "requeued": len(report.requeued),
            "failed": len(report.failed),
            "webhooks_requeued": len(report.webhooks_requeued),
            "workers_started": len(report.workers_started),
            "dry_run": dry_run,
        },
    )
    return report


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
    svc.queue.send(WorkItem(TRANSCRIBE, job_id))
    log.info("job requeued", extra={"job_id": job_id})
    return [job]
