"""Signed links to a job's objects: where a client uploads its audio, where it plays back,
and where a result is read without passing through the API.

POST /api and POST /v1/jobs hand out the same upload target; GET /v1/jobs/{id}/audio-link
the playback link; GET /v1/jobs/{id}/transcript on AWS a 303 to the result's link. All
expire, counted from the service's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from swescribe.core.errors import JobNotFound
from swescribe.core.intake import get_job
from swescribe.core.jobs import Job
from swescribe.core.ports import UploadTarget
from swescribe.core.services import Services

AUDIO_LINK_SECONDS = 3600
RESULT_LINK_SECONDS = 300
"""A result link is followed at once (a redirect): five minutes covers a slow client."""


@dataclass(frozen=True)
class AudioLink:
    url: str
    expires_at: datetime


def upload_target(svc: Services, job: Job, filename: str = "") -> UploadTarget:
    """Where the client uploads the job's audio, within the policy's expiry and size.
    Without a filename the client names the file (S3: a POST form; local: ?filename=)."""
    return svc.objects.upload_target(
        job.upload_prefix,
        filename,
        svc.policy.upload_expires_seconds,
        svc.policy.max_upload_bytes,
    )


def audio_link(
    svc: Services, owner: str | None, job_id: str, expires_in: int = AUDIO_LINK_SECONDS
) -> AudioLink:
    """A link that plays the job's uploaded audio without an API key; JobNotFound when
    the job is not the owner's or has no stored audio (not uploaded, or fetched by URL)."""
    job = get_job(svc, owner, job_id)
    if not job.s3_key or not svc.objects.exists(job.s3_key):
        raise JobNotFound(f"job {job_id} has no stored audio (not uploaded, or fetched by URL)")
    expires_at = svc.clock.now() + timedelta(seconds=expires_in)
    return AudioLink(svc.objects.download_link(job.s3_key, expires_in), expires_at)


def result_key(svc: Services, owner: str | None, job_id: str, fmt: str) -> str:
    """The stored key of a completed job's result in fmt; NotReady before it completes,
    JobNotFound when the job is not the owner's or was not asked for fmt."""
    return get_job(svc, owner, job_id).result_key(fmt)


def result_link(svc: Services, key: str, expires_in: int = RESULT_LINK_SECONDS) -> str:
    """A signed link that serves the result (as a download) without an API key: on AWS the
    transcript route answers with it, as a Lambda response is at most 6 MB."""
    return svc.objects.download_link(key, expires_in)
