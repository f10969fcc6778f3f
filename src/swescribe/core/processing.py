"""A queued job's way through a worker: claim it, hold its lease, report progress, give it
back, complete or fail it, and deliver its webhook. Workers, the janitor and the webhook
dispatchers call these; like the rest of the core, they differ only in the adapters."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Unpack

from swescribe.core.errors import JobNotFound, TransitionConflict
from swescribe.core.jobs import Job, JobChanges, JobStatus, UnreadableSecret, WebhookState
from swescribe.core.ports import (
    TRANSCRIBE,
    WEBHOOK,
    Expect,
    Message,
    WebhookAttempt,
    WebhookSender,
    WorkItem,
)
from swescribe.core.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What a transcription produced, as recorded on the job."""

    model_used: str
    audio_duration: float
    processing_seconds: float
    file_size: int
    result_keys: dict[str, str]


@dataclass(frozen=True)
class Claim:
    """What a worker got for a work item: the job, or when (if ever) to look again."""

    job: Job | None
    retry_in: float | None = None
    """Seconds until the item is worth another look (another worker's lease runs out);
    None with no job means the item is spent and can be dropped."""


def claim_job(svc: Services, message: Message, worker_id: str) -> Claim:
    """Take the job a work item names.

    A redelivered item (its worker died) is claimed again once the lease has run out; an
    item that arrives while a live worker still holds the lease comes back after it.
    After max_attempts the job fails instead.
    """
    job = svc.jobs.get(message.item.job_id)
    if job is None or job.status.is_final:
        return Claim(None)
    now = svc.clock.now()
    if job.lost_attempts >= svc.policy.max_attempts:
        give_up_on_lost_job(svc, job)
        return Claim(None)
    try:
        claimed = svc.jobs.update(
            job.job_id,
            Expect.transition(JobStatus.PROCESSING, lease_expired_by=now),
            {
                "status": JobStatus.PROCESSING,
                "instance_id": worker_id,
                "attempts": job.attempts + 1,
                "progress": 0.0,
                "lease_expires_at": now + timedelta(seconds=svc.policy.lease_seconds),
                "updated_at": now,
            },
        )
    except TransitionConflict:
        current = svc.jobs.get(job.job_id)
        if current is None or current.status is not JobStatus.PROCESSING:
            return Claim(None)
        lease_end = current.lease_expires_at or now
        log.info("job held by another worker", extra={"job_id": job.job_id})
        return Claim(None, retry_in=max(1.0, (lease_end - now).total_seconds() + 1.0))
    return Claim(claimed)


def give_up_on_lost_job(svc: Services, job: Job) -> None:
    """Fail a job whose workers were lost max_attempts times (crashes, interruptions)."""
    with contextlib.suppress(TransitionConflict):  # finished or failed meanwhile
        fail_job(
            svc,
            job.job_id,
            "too_many_attempts",
            f"gave up after {job.lost_attempts} attempts (workers lost mid-job)",
        )


def renew_lease(svc: Services, job_id: str, worker_id: str) -> Job:
    now = svc.clock.now()
    return svc.jobs.update(
        job_id,
        Expect.status(JobStatus.PROCESSING, worker_id=worker_id),
        {"lease_expires_at": now + timedelta(seconds=svc.policy.lease_seconds), "updated_at": now},
    )


def report_progress(svc: Services, job_id: str, worker_id: str, done: float, total: float) -> Job:
    """Record how far the worker is (clients show it while they wait)."""
    share = min(1.0, max(0.0, done / total)) if total > 0 else 0.0
    return svc.jobs.update(
        job_id,
        Expect.status(JobStatus.PROCESSING, worker_id=worker_id),
        {"progress": round(share, 3), "audio_duration": round(total, 3)},
    )


def release_job(svc: Services, job_id: str, worker_id: str | None) -> Job:
    """A worker gives the job back (SIGTERM, spot notice): launching again, lease cleared.
    The claim is counted as a release, so it does not count against max_attempts."""
    job = svc.jobs.get(job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id!r}")
    return svc.jobs.update(
        job_id,
        Expect.transition(JobStatus.LAUNCHING, source=JobStatus.PROCESSING, worker_id=worker_id),
        {
            "status": JobStatus.LAUNCHING,
            "instance_id": None,
            "lease_expires_at": None,
            "releases": job.releases + 1,
            "updated_at": svc.clock.now(),
        },
    )


def release_jobs_held_by(svc: Services, worker_ids: Collection[str]) -> list[str]:
    """Give back the jobs that stopped workers still hold (one was killed before it could
    give its job back itself): launching again with a new work item, the claim counted
    as a release. The old item, hidden until its visibility runs out, finds the job taken
    or finished then (claims are conditional)."""
    released = []
    for job in svc.jobs.list_by_status({JobStatus.PROCESSING}):
        if job.instance_id not in worker_ids:
            continue
        try:
            release_job(svc, job.job_id, job.instance_id)
        except (TransitionConflict, JobNotFound):
            continue  # finished or deleted meanwhile
        svc.queue.send(WorkItem(TRANSCRIBE, job.job_id, job.s3_key, owner=job.owner))
        log.info("job given back for a stopped worker", extra={"job_id": job.job_id})
        released.append(job.job_id)
    return released


def complete_job(svc: Services, job_id: str, worker_id: str, outcome: Outcome) -> Job:
    job = svc.jobs.update(
        job_id,
        Expect.transition(JobStatus.COMPLETED, worker_id=worker_id),
        {
            "status": JobStatus.COMPLETED,
            "model_used": outcome.model_used,
            "audio_duration": outcome.audio_duration,
            "processing_seconds": outcome.processing_seconds,
            "file_size": outcome.file_size,
            "result_keys": dict(outcome.result_keys),
            "progress": 1.0,
            "lease_expires_at": None,
            "error_code": None,
            "error_message": None,
            "updated_at": svc.clock.now(),
        },
    )
    _queue_webhook(svc, job)
    _count(
        svc,
        jobs_completed=1,
        processing_seconds=outcome.processing_seconds,
        audio_seconds=outcome.audio_duration,
    )
    log.info("job completed", extra={"job_id": job_id})
    return job


def fail_job(
    svc: Services,
    job_id: str,
    code: str,
    message: str,
    worker_id: str | None = None,
    **recorded: Unpack[JobChanges],
) -> Job:
    """Mark the job failed with a reason the client can act on, and notify."""
    changes: JobChanges = {
        "status": JobStatus.FAILED,
        "error_code": code,
        "error_message": message[:1000],
        "lease_expires_at": None,
        "updated_at": svc.clock.now(),
    }
    changes.update(recorded)
    job = svc.jobs.update(job_id, Expect.transition(JobStatus.FAILED, worker_id=worker_id), changes)
    _queue_webhook(svc, job)
    _count(svc, jobs_failed=1)
    log.info("job failed", extra={"job_id": job_id, "error_code": code})
    return job


def _count(svc: Services, **amounts: float) -> None:
    """Add to the metrics' totals; a failure here never undoes or fails the job."""
    if svc.counters is None:
        return
    try:
        svc.counters.add(amounts)
    except Exception:
        log.warning("counters not updated", extra={"counters": ",".join(amounts)})


def _queue_webhook(svc: Services, job: Job) -> None:
    """A job registered with a callback has its webhook pending; the worker, which never
    sees the callback's URL (nor its secret), goes by that state."""
    if job.callback_url or job.webhook_state is WebhookState.PENDING:
        svc.webhooks.send(WorkItem(WEBHOOK, job.job_id))


def webhook_message_id(job: Job) -> str:
    """Stable across retries and redeliveries, so receivers can drop duplicates."""
    return f"msg_{job.job_id}_{job.status.value}"


def deliver_webhook(
    svc: Services, job_id: str, sender: WebhookSender, payload: dict[str, Any]
) -> Job:
    """One delivery attempt; schedules the next one on the webhook queue when it may help."""
    job = svc.jobs.get(job_id)
    if job is None or not job.callback_url or job.webhook_state is WebhookState.DELIVERED:
        raise JobNotFound(f"no webhook to deliver for {job_id!r}")
    attempt_number = job.webhook_attempts + 1
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    if isinstance(job.callback_secret, UnreadableSecret):
        attempt = WebhookAttempt(False, None, job.callback_secret.reason, None)
        log.warning(
            "webhook not sent: its callback secret is unreadable",
            extra={"job_id": job_id, "reason": job.callback_secret.reason},
        )
    else:
        attempt = sender.send(
            job.callback_url, body, job.callback_secret, webhook_message_id(job), attempt_number
        )
    changes: JobChanges = {
        "webhook_attempts": attempt_number,
        "webhook_last_error": attempt.error,
    }
    now = svc.clock.now()
    if attempt.delivered:
        changes["webhook_state"] = WebhookState.DELIVERED
        changes["webhook_delivered_at"] = now
    elif attempt.retry_in is not None and attempt_number < svc.policy.webhook_max_attempts:
        changes["webhook_state"] = WebhookState.PENDING
        svc.webhooks.send(WorkItem(WEBHOOK, job_id), delay_seconds=attempt.retry_in)
    else:
        changes["webhook_state"] = WebhookState.FAILED
    _count(svc, webhook_attempts=1, webhooks_delivered=int(attempt.delivered))
    log.info(
        "webhook attempt",
        extra={"job_id": job_id, "attempt": attempt_number, "status": attempt.status},
    )
    return svc.jobs.update(job_id, None, changes)
