"""Service functions: the one place where the job flow is decided, for every shape.

The local API, the Lambda handlers, the workers and the janitor all call these; they
differ only in the adapters they pass in.
"""

from __future__ import annotations

import contextlib
import json
import logging
import posixpath
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

from swescribe.core.errors import (
    InvalidRequest,
    JobNotFound,
    SwescribeError,
    TransitionConflict,
)
from swescribe.core.formats import FORMATS
from swescribe.core.jobs import (
    UPLOAD_ROOT,
    Job,
    JobStatus,
    WebhookState,
)
from swescribe.core.ports import (
    Clock,
    Counters,
    Expect,
    IdGenerator,
    JobStore,
    Message,
    ObjectStore,
    WebhookSender,
    WorkerLauncher,
    WorkItem,
    WorkQueue,
)
from swescribe.core.urls import check_url

log = logging.getLogger(__name__)

TRANSCRIBE = "transcribe"
DEMAND_COUNT_LIMIT = 1000
"""Enough to see that every allowed worker is needed."""
WEBHOOK = "webhook"
ALL_FORMATS = FORMATS


@dataclass(frozen=True)
class Policy:
    """Operational limits; the defaults suit one machine and a small AWS deployment."""

    lease_seconds: float = 300.0
    max_attempts: int = 3
    job_ttl_days: int = 30
    upload_expires_seconds: int = 3600
    max_upload_bytes: int = 2 * 1024**3
    webhook_max_attempts: int = 6
    max_audio_seconds: float = 0.0
    """Longer audio fails its job (0: no limit)."""
    max_wait_seconds: float = 24 * 3600.0
    """A job no worker has taken this long after its creation fails (janitor)."""
    allow_http_callbacks: bool = False
    """Local dev mode: plain http (and loopback hosts) allowed for callbacks and audio URLs."""


@dataclass
class Services:
    jobs: JobStore
    objects: ObjectStore
    queue: WorkQueue
    webhooks: WorkQueue
    launcher: WorkerLauncher
    clock: Clock
    ids: IdGenerator
    policy: Policy = field(default_factory=Policy)
    counters: Counters | None = None
    """Totals for /metrics; None where the platform keeps them (CloudWatch on AWS)."""


@dataclass(frozen=True)
class NewJob:
    callback_url: str | None = None
    callback_secret: str | None = None
    language: str = "sv"
    model: str | None = None
    formats: tuple[str, ...] = ALL_FORMATS
    word_timestamps: bool = False
    audio_url: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What a transcription produced, as recorded on the job."""

    model_used: str
    audio_duration: float
    processing_seconds: float
    file_size: int
    result_keys: dict[str, str]


def create_job(svc: Services, owner: str, request: NewJob) -> Job:
    """Register a job; with audio_url it is queued at once, otherwise it waits for an upload."""
    allow_http = svc.policy.allow_http_callbacks
    if request.callback_url:
        check_url(request.callback_url, allow_http=allow_http, what="callback_url")
    if request.audio_url:
        check_url(request.audio_url, allow_http=allow_http, what="audio_url")
    unknown = [f for f in request.formats if f not in ALL_FORMATS]
    if unknown or not request.formats:
        raise InvalidRequest(f"formats must be a non-empty subset of {', '.join(ALL_FORMATS)}")
    now = svc.clock.now()
    job = Job(
        job_id=svc.ids.new_job_id(),
        owner=owner,
        status=JobStatus.REGISTERED,
        created_at=now,
        updated_at=now,
        callback_url=request.callback_url or None,
        callback_secret=request.callback_secret or None,
        language=request.language,
        model=request.model,
        formats=tuple(dict.fromkeys(request.formats)),
        word_timestamps=request.word_timestamps,
        audio_url=request.audio_url,
        webhook_state=WebhookState.PENDING if request.callback_url else WebhookState.NONE,
        expires_at=now + timedelta(days=svc.policy.job_ttl_days),
    )
    svc.jobs.create(job)
    log.info("job registered", extra={"job_id": job.job_id})
    if request.audio_url:
        return _launch(svc, job, key=None, size=None)
    return job


def get_job(svc: Services, owner: str | None, job_id: str) -> Job:
    """The job if it exists and belongs to owner (None: any owner); JobNotFound otherwise."""
    job = svc.jobs.get(job_id)
    if job is None or (owner is not None and job.owner != owner):
        raise JobNotFound(f"no job {job_id!r}")
    return job


def parse_upload_key(key: str) -> tuple[str, str] | None:
    """(job_id, filename) for transcription_upload/<job_id>/<filename>, else None.

    Keys in S3 events are URL-encoded ('+' for space); callers pass them raw.
    """
    decoded = unquote_plus(key)
    parts = decoded.split("/")
    if len(parts) != 3 or parts[0] != UPLOAD_ROOT or not parts[1] or not parts[2]:
        return None
    if parts[2] in (".", "..") or posixpath.normpath(decoded) != decoded:
        return None
    return parts[1], parts[2]


def handle_object_created(svc: Services, key: str, size: int | None = None) -> str:
    """An upload finished (S3 event or the local upload endpoint). Returns what was done.

    Safe to call twice for the same object: only the first call moves the job on.
    """
    parsed = parse_upload_key(key)
    if parsed is None:
        log.info("ignored object outside the upload prefix", extra={"key": key})
        return "ignored"
    job_id, _ = parsed
    job = svc.jobs.get(job_id)
    if job is None:
        log.warning("upload for an unknown job", extra={"job_id": job_id})
        return "unknown_job"
    if job.status is not JobStatus.REGISTERED:
        log.info("duplicate upload event", extra={"job_id": job_id})
        return "duplicate"
    try:
        _launch(svc, job, key=unquote_plus(key), size=size)
    except TransitionConflict:
        return "duplicate"
    return "launched"


def _launch(svc: Services, job: Job, key: str | None, size: int | None) -> Job:
    changes: dict[str, Any] = {"status": JobStatus.LAUNCHING, "updated_at": svc.clock.now()}
    if key is not None:
        changes["s3_key"] = key
    if size is not None:
        changes["file_size"] = size
    launched = svc.jobs.update(job.job_id, Expect.status(JobStatus.REGISTERED), changes)
    svc.queue.send(WorkItem(TRANSCRIBE, job.job_id, key))
    try:
        started = svc.launcher.ensure_capacity(worker_demand(svc, launched), launched)
    except SwescribeError as error:  # the job is queued; the janitor asks again later
        log.warning("no worker capacity now", extra={"job_id": job.job_id, "reason": str(error)})
        started = []
    log.info("job queued", extra={"job_id": job.job_id, "workers_started": len(started)})
    return launched


def worker_demand(svc: Services, just_queued: Job | None = None) -> int:
    """Jobs that need a worker now: being transcribed or waiting for a worker.

    Counted from the job store, not the queue: a queue's depth leaves out items that
    busy workers hold (or prefetched), and SQS's count lags a send by seconds.
    """
    in_hand = {
        job.job_id
        for job in svc.jobs.list_by_status(
            {JobStatus.LAUNCHING, JobStatus.PROCESSING}, limit=DEMAND_COUNT_LIMIT
        )
    }
    if just_queued is not None:
        in_hand.add(just_queued.job_id)  # an index may not show it yet
    return max(len(in_hand), svc.queue.depth())


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
    if job.attempts >= svc.policy.max_attempts:
        give_up_on_lost_job(svc, job)
        return Claim(None)
    try:
        claimed = svc.jobs.update(
            job.job_id,
            Expect(frozenset({JobStatus.LAUNCHING, JobStatus.PROCESSING}), lease_expired_by=now),
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
            f"gave up after {job.attempts} attempts (workers lost mid-job)",
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
    """A worker gives the job back (SIGTERM, spot notice): launching again, lease cleared."""
    return svc.jobs.update(
        job_id,
        Expect.status(JobStatus.PROCESSING, worker_id=worker_id),
        {
            "status": JobStatus.LAUNCHING,
            "instance_id": None,
            "lease_expires_at": None,
            "updated_at": svc.clock.now(),
        },
    )


def complete_job(svc: Services, job_id: str, worker_id: str, outcome: Outcome) -> Job:
    job = svc.jobs.update(
        job_id,
        Expect.status(JobStatus.PROCESSING, worker_id=worker_id),
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
    **recorded: Any,
) -> Job:
    """Mark the job failed with a reason the client can act on, and notify."""
    job = svc.jobs.update(
        job_id,
        Expect(
            frozenset({JobStatus.REGISTERED, JobStatus.LAUNCHING, JobStatus.PROCESSING}),
            worker_id=worker_id,
        ),
        {
            "status": JobStatus.FAILED,
            "error_code": code,
            "error_message": message[:1000],
            "lease_expires_at": None,
            "updated_at": svc.clock.now(),
            **recorded,
        },
    )
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
    if job.callback_url:
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
    attempt = sender.send(
        job.callback_url, body, job.callback_secret, webhook_message_id(job), attempt_number
    )
    changes: dict[str, Any] = {
        "webhook_attempts": attempt_number,
        "webhook_last_error": attempt.error,
    }
    now = svc.clock.now()
    if attempt.delivered:
        changes.update(webhook_state=WebhookState.DELIVERED, webhook_delivered_at=now)
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


def delete_job(svc: Services, owner: str | None, job_id: str) -> int:
    """Remove a job and every object it owns; returns how many objects went."""
    job = get_job(svc, owner, job_id)
    removed = svc.objects.delete_prefix(job.upload_prefix)
    removed += svc.objects.delete_prefix(job.results_prefix)
    svc.jobs.delete(job.job_id)
    return removed
