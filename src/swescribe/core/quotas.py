"""Per-key caps: one key cannot hold without bound jobs that wait for audio, nor fill the
transcription queue ahead of every other key.

Counted on the job store before the job is created or queued: two requests of one key
racing each other may both pass at the last free place (a cap is a bound on what one
key can pile up, not an exact meter). Jobs whose upload link has expired no longer
count as waiting: nothing can give them audio, and they would lock the key out until
their record expires.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from swescribe.core.errors import TooManyJobs
from swescribe.core.jobs import JobStatus
from swescribe.core.services import Services


def check_waiting_cap(svc: Services, owner: str) -> None:
    """TooManyJobs when owner already has the most jobs waiting for audio allowed."""
    cap = svc.policy.max_waiting_jobs_per_key
    if cap <= 0:
        return
    links_valid_since = svc.clock.now() - timedelta(seconds=svc.policy.upload_expires_seconds)
    waiting = svc.jobs.count_jobs(owner, JobStatus.REGISTERED, created_since=links_valid_since)
    if waiting >= cap:
        raise TooManyJobs(
            f"this key has {waiting} jobs waiting for their audio, the most it may have "
            f"(SWESCRIBE_MAX_WAITING_JOBS_PER_KEY={cap}): upload the audio of those jobs, "
            "or delete the ones you will not use (DELETE /v1/jobs/{job_id}), then try again"
        )


def _still_waiting(svc: Services) -> datetime | None:
    """The janitor fails a job queued longer than max_wait_seconds since its creation, so
    older ones need not be read (None: no such limit)."""
    if svc.policy.max_wait_seconds <= 0:
        return None
    return svc.clock.now() - timedelta(seconds=svc.policy.max_wait_seconds)


def check_queued_cap(svc: Services, owner: str) -> None:
    """TooManyJobs when owner already has the most jobs queued for a worker allowed."""
    cap = svc.policy.max_queued_jobs_per_key
    if cap <= 0:
        return
    queued = svc.jobs.count_jobs(owner, JobStatus.LAUNCHING, created_since=_still_waiting(svc))
    if queued >= cap:
        raise TooManyJobs(
            f"this key has {queued} jobs queued for transcription, the most it may have "
            f"(SWESCRIBE_MAX_QUEUED_JOBS_PER_KEY={cap}): try again when some of them have "
            "started (GET /v1/jobs?status=launching lists them)"
        )
