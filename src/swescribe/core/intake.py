"""A job's way in: register it, take its audio (an upload event or an audio_url), queue
it and ask for a worker; read and delete it. Every shape calls these with its adapters."""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import unquote_plus

from swescribe.core.errors import (
    InvalidAudio,
    JobNotFound,
    ServiceFailure,
    SwescribeError,
    TooManyJobs,
    TransitionConflict,
    UnknownModel,
)
from swescribe.core.filenames import refuse_playlist
from swescribe.core.jobs import (
    UPLOAD_ROOT,
    Job,
    JobChanges,
    JobStatus,
    WebhookState,
)
from swescribe.core.ports import TRANSCRIBE, Expect, WorkItem
from swescribe.core.processing import fail_job
from swescribe.core.quotas import check_queued_cap, check_waiting_cap
from swescribe.core.request import JobRequest
from swescribe.core.services import Policy, Services
from swescribe.core.urls import check_url
from swescribe.core.voices import refuse_unknown_voices

log = logging.getLogger(__name__)

DEMAND_COUNT_LIMIT = 1000
"""Enough to see that every allowed worker is needed."""


@dataclass(frozen=True)
class NewJob:
    """A job to register: what to transcribe (request), where the audio comes from when
    it is not uploaded (audio_url), and where to report (callback)."""

    request: JobRequest = field(default_factory=JobRequest)
    callback_url: str | None = None
    callback_secret: str | None = None
    audio_url: str | None = None


def create_job(svc: Services, owner: str, new_job: NewJob) -> Job:
    """Register a job; with audio_url it is queued at once, otherwise it waits for an upload.

    TooManyJobs when owner is at its cap of jobs waiting for audio (or, with audio_url,
    of jobs queued)."""
    allow_http = svc.policy.allow_http_callbacks
    if new_job.callback_url:
        check_url(new_job.callback_url, allow_http=allow_http, what="callback_url")
    if new_job.audio_url:
        check_url(new_job.audio_url, allow_http=allow_http, what="audio_url")
    if new_job.request.model is not None:
        check_model(svc.policy, new_job.request.model)
    if new_job.request.known_speakers:
        refuse_unknown_voices(svc.objects, owner, new_job.request.known_speakers)
    if new_job.audio_url:
        check_queued_cap(svc, owner)
    else:
        check_waiting_cap(svc, owner)
    now = svc.clock.now()
    job = Job(
        job_id=svc.ids.new_job_id(),
        owner=owner,
        status=JobStatus.REGISTERED,
        created_at=now,
        updated_at=now,
        callback_url=new_job.callback_url or None,
        callback_secret=new_job.callback_secret or None,
        request=new_job.request,
        audio_url=new_job.audio_url,
        webhook_state=WebhookState.PENDING if new_job.callback_url else WebhookState.NONE,
        expires_at=now + timedelta(days=svc.policy.job_ttl_days),
    )
    svc.jobs.create(job)
    log.info("job registered", extra={"job_id": job.job_id})
    if new_job.audio_url:
        return _launch(svc, job, key=None, size=None, retried_by_janitor=True)
    return job


def check_model(policy: Policy, model: str) -> None:
    """A client picks among the models the operator offers, by name, never by path."""
    if model in policy.offered_models:
        return
    offered = ", ".join(policy.offered_models) or "none"
    raise UnknownModel(
        f"model {model!r} is not offered here; offered: {offered} "
        "(or leave model out for the service's default)"
    )


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


def handle_object_created(
    svc: Services,
    key: str,
    size: int | None = None,
    retried: bool = False,
    fail_over_cap: bool = False,
) -> str:
    """An upload finished (S3 event or the local upload endpoint). Returns what was done.

    Safe to call twice for the same object: only the first call moves the job on. A
    retried event (its first handling failed, so SQS delivered it again) finds the job
    launching already; if no worker has claimed it yet, capacity is asked for again, as
    the failure may have come after the job was queued but before a worker was launched.
    Raises ServiceFailure when a cloud service refused a step (the event is then retried).
    A job whose key is at its queued cap raises TooManyJobs (the job keeps waiting), or
    with fail_over_cap, where no client waits for the answer (an S3 event), fails with
    too_many_jobs ("refused").
    """
    parsed = parse_upload_key(key)
    if parsed is None:
        log.info("ignored object outside the upload prefix", extra={"key": key})
        return "ignored"
    job_id, filename = parsed
    job = svc.jobs.get(job_id)
    if job is None:
        log.warning("upload for an unknown job", extra={"job_id": job_id})
        return "unknown_job"
    if _is_extra_upload(job, key):
        return _remove_extra_upload(svc, job, key)
    if retried and job.status is JobStatus.LAUNCHING and job.instance_id is None:
        log.info("retried upload event: asking for a worker again", extra={"job_id": job_id})
        _ask_for_capacity(svc, job)
        return "relaunched"
    if job.status is not JobStatus.REGISTERED:
        log.info("duplicate upload event", extra={"job_id": job_id})
        return "duplicate"
    try:
        refuse_playlist(filename)  # the seed's POST form lets the client name the object
        check_queued_cap(svc, job.owner)
    except InvalidAudio as refused:
        return _refuse_upload(svc, job, refused)
    except TooManyJobs as refused:
        if not fail_over_cap:
            raise
        return _refuse_upload(svc, job, refused)
    try:
        _launch(svc, job, key=unquote_plus(key), size=size)
    except TransitionConflict:  # another upload's event moved the job on first
        current = svc.jobs.get(job_id)
        if current is not None and _is_extra_upload(current, key):
            return _remove_extra_upload(svc, current, key)
        return "duplicate"
    return "launched"


def _is_extra_upload(job: Job, key: str) -> bool:
    """An object under the job's upload prefix that is not the one it took: the seed's
    POST form names objects by the client's file name, so S3 bounds them only by prefix."""
    return job.s3_key is not None and unquote_plus(key) != job.s3_key


def _remove_extra_upload(svc: Services, job: Job, key: str) -> str:
    """One object per job: another one is removed (it would never be transcribed, and
    would hold storage past the per-key job caps)."""
    svc.objects.delete(unquote_plus(key))
    log.warning("removed a second upload for the job", extra={"job_id": job.job_id})
    return "removed_extra"


def _refuse_upload(svc: Services, job: Job, refused: SwescribeError) -> str:
    """Fail a registered job whose upload is refused (its name, its key's cap): no worker
    is launched, and its webhook says why."""
    try:
        fail_job(svc, job.job_id, refused.code, str(refused))
    except TransitionConflict:
        return "duplicate"
    return "refused"


def _launch(
    svc: Services, job: Job, key: str | None, size: int | None, retried_by_janitor: bool = False
) -> Job:
    """Launching and queued, then capacity asked for. retried_by_janitor: a failure to get
    a worker is logged and left to the janitor (which asks again for every queued job)
    instead of raised (for callers nobody retries, such as an API request)."""
    changes: JobChanges = {
        "status": JobStatus.LAUNCHING,
        "updated_at": svc.clock.now(),
        "upload_holder": None,
        "upload_reserved_until": None,
    }
    if key is not None:
        changes["s3_key"] = key
    if size is not None:
        changes["file_size"] = size
    expect = Expect.transition(JobStatus.LAUNCHING, source=JobStatus.REGISTERED)
    launched = svc.jobs.update(job.job_id, expect, changes)
    svc.queue.send(WorkItem(TRANSCRIBE, job.job_id, key, owner=job.owner))
    try:
        started = _ask_for_capacity(svc, launched)
    except Exception:
        if not retried_by_janitor:
            raise
        log.exception("worker launch failed; the janitor retries", extra={"job_id": job.job_id})
        started = []
    log.info("job queued", extra={"job_id": job.job_id, "workers_started": len(started)})
    return launched


def _ask_for_capacity(svc: Services, job: Job) -> list[str]:
    """Workers started for a queued job. No capacity now is expected (the janitor asks
    again later); a ServiceFailure (a refused call, not a lack of capacity) is raised."""
    try:
        return svc.launcher.ensure_capacity(worker_demand(svc, job), job)
    except ServiceFailure:
        raise
    except SwescribeError as error:
        log.warning("no worker capacity now", extra={"job_id": job.job_id, "reason": str(error)})
        return []


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


def delete_job(svc: Services, owner: str | None, job_id: str) -> int:
    """Remove a job and every object it owns; returns how many objects went."""
    job = get_job(svc, owner, job_id)
    removed = svc.objects.delete_prefix(job.upload_prefix)
    removed += svc.objects.delete_prefix(job.results_prefix)
    svc.jobs.delete(job.job_id)
    return removed
