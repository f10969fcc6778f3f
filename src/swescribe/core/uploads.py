"""One upload link, one file: the upload endpoint reserves the job before it reads a byte.

The reservation is a conditional write on the job (registered, and nobody else's live
reservation), so of racing uploads exactly one streams; the others get a conflict before
they have sent anything worth keeping. The holder renews it while the bytes come in, and
gives it back when the upload fails; a reservation whose holder died (the process was
killed) lapses after UPLOAD_LEASE_SECONDS.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta

from swescribe.core.errors import JobNotFound, TransitionConflict
from swescribe.core.jobs import Job, JobStatus
from swescribe.core.ports import Expect
from swescribe.core.service import Services

UPLOAD_LEASE_SECONDS = 30.0
RENEW_EVERY_SECONDS = 10.0


def reserve_upload(svc: Services, job_id: str, holder: str | None = None) -> str:
    """Reserve the job's upload for a new holder (returned); TransitionConflict when the job
    already has its audio or another upload is streaming."""
    holder = holder or uuid.uuid4().hex
    try:
        _hold(svc, job_id, holder)
    except TransitionConflict:
        job = svc.jobs.get(job_id)
        if job is None:
            raise JobNotFound("the job of this upload link no longer exists") from None
        raise TransitionConflict(_why_taken(job)) from None
    return holder


def renew_upload(svc: Services, job_id: str, holder: str) -> None:
    """Keep holding it (TransitionConflict if it lapsed and someone else took it)."""
    _hold(svc, job_id, holder)


def release_upload(svc: Services, job_id: str, holder: str) -> None:
    """Give the reservation back (a failed upload); nothing if it is no longer ours."""
    now = svc.clock.now()
    with contextlib.suppress(TransitionConflict, JobNotFound):
        svc.jobs.update(
            job_id,
            Expect.upload_free(holder, now),
            {"upload_holder": None, "upload_reserved_until": None, "updated_at": now},
        )


def _hold(svc: Services, job_id: str, holder: str) -> Job:
    now = svc.clock.now()
    return svc.jobs.update(
        job_id,
        Expect.upload_free(holder, now),
        {
            "upload_holder": holder,
            "upload_reserved_until": now + timedelta(seconds=UPLOAD_LEASE_SECONDS),
            "updated_at": now,
        },
    )


def _why_taken(job: Job) -> str:
    if job.status is JobStatus.REGISTERED:
        return f"another upload to job {job.job_id} is in progress; this link takes one file"
    return f"job {job.job_id} already has its audio (it is {job.status.value})"
