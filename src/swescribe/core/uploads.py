"""The local upload endpoint's rules: which uploads it accepts, and one file per link.

An upload is accepted (accept_upload) only into a job's upload prefix and within the
link's size, checked before a byte is read and again as the bytes arrive. The endpoint
then reserves the job: a conditional write (registered, and nobody else's live
reservation), so of racing uploads exactly one streams; the others get a conflict before
they have sent anything worth keeping. The holder renews it while the bytes come in; a
finished upload launches the job (finish_upload), a failed one leaves nothing behind
(abandon_upload); a reservation whose holder died (the process was killed) lapses after
UPLOAD_LEASE_SECONDS.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from swescribe.core.errors import InvalidRequest, JobNotFound, PayloadTooLarge, TransitionConflict
from swescribe.core.filenames import DEFAULT_NAME, refuse_playlist, safe_filename
from swescribe.core.intake import handle_object_created, parse_upload_key
from swescribe.core.jobs import Job, JobStatus
from swescribe.core.ports import Expect
from swescribe.core.quotas import check_queued_cap
from swescribe.core.services import Services

UPLOAD_LEASE_SECONDS = 30.0
RENEW_EVERY_SECONDS = 10.0


@dataclass(frozen=True)
class Upload:
    """One accepted upload: the job it is for, the object key its bytes go to, and how
    many bytes it may have."""

    job_id: str
    key: str
    max_bytes: int

    def check_size(self, size: int) -> None:
        """PayloadTooLarge once size (declared, or received so far) passes the limit."""
        if size > self.max_bytes:
            raise PayloadTooLarge(f"upload is larger than the limit of {self.max_bytes} bytes")


def accept_upload(
    linked_key: str, max_bytes: int, filename: str | None = None, declared_size: int | None = None
) -> Upload:
    """The upload a verified link allows. linked_key is an object key or a job's upload
    prefix, which the client's filename (made safe; "audio" without one) completes.
    InvalidRequest unless the key is a job's upload; PayloadTooLarge when the declared
    size already passes max_bytes."""
    key = linked_key
    if key.endswith("/"):
        key += safe_filename(filename or DEFAULT_NAME)
    parsed = parse_upload_key(key)
    if parsed is None:
        raise InvalidRequest("upload link does not name a job upload")
    refuse_playlist(parsed[1])
    upload = Upload(job_id=parsed[0], key=key, max_bytes=max_bytes)
    if declared_size is not None:
        upload.check_size(declared_size)
    return upload


def finish_upload(svc: Services, upload: Upload, size: int) -> str:
    """The object is stored: launch the job (handle_object_created's outcome, always
    "launched"). InvalidRequest for an empty upload; TransitionConflict when the job was
    deleted or failed while the bytes came in; TooManyJobs when its key reached its
    queued cap meanwhile. On any, call abandon_upload."""
    if size == 0:
        raise InvalidRequest("the upload is empty")
    outcome = handle_object_created(svc, upload.key, size)
    if outcome != "launched":
        raise TransitionConflict(f"job {upload.job_id} changed during the upload ({outcome})")
    return outcome


def abandon_upload(svc: Services, upload: Upload, holder: str) -> None:
    """A failed or cut-off upload leaves nothing: no object, and the link free again. Once
    the job is launched the object is its audio and stays."""
    job = svc.jobs.get(upload.job_id)
    if job is not None and job.status is not JobStatus.REGISTERED and job.s3_key == upload.key:
        return
    svc.objects.delete_prefix(upload.key)
    release_upload(svc, upload.job_id, holder)


def reserve_upload(svc: Services, job_id: str, holder: str | None = None) -> str:
    """Reserve the job's upload for a new holder (returned); TransitionConflict when the job
    already has its audio or another upload is streaming; TooManyJobs, before a byte is
    sent, when its key is at its cap of queued jobs (the link stays usable)."""
    job = svc.jobs.get(job_id)
    if job is not None and job.status is JobStatus.REGISTERED:
        check_queued_cap(svc, job.owner)
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
