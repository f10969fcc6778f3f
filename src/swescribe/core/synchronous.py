"""Synchronous transcription (the OpenAI-compatible endpoints) on the job pipeline.

A synchronous request is an ordinary job: registered, its file stored as the job's
upload, queued through the same object-created path as any upload, and transcribed by
the same workers under the same limits. Only the waiting differs: the caller's request
stays open until the job ends (the HTTP layer polls `finished_job`).
"""

from __future__ import annotations

import json
from typing import BinaryIO

from swescribe.core.errors import (
    AudioNotFound,
    AudioTooLong,
    InvalidAudio,
    InvalidOption,
    InvalidParameter,
    InvalidRequest,
    JobFailed,
    PayloadTooLarge,
    SwescribeError,
    SyncUnavailable,
    TransitionConflict,
    UnknownModel,
)
from swescribe.core.filenames import refuse_playlist, safe_filename
from swescribe.core.intake import NewJob, check_model, create_job, get_job
from swescribe.core.intake import handle_object_created as _object_created
from swescribe.core.jobs import Job, JobStatus
from swescribe.core.quotas import check_queued_cap
from swescribe.core.services import Services
from swescribe.core.transcript import Transcript

OPENAI_MODEL_ALIASES = (
    "whisper-1",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-mini-transcribe-2025-12-15",
    "gpt-transcribe",
    "gpt-live-transcribe",
    "gpt-realtime-whisper",
    "gpt-4o-transcribe-diarize",
)
"""OpenAI's speech-to-text model names (those its SDK knows, for files and for realtime
sessions): each means this service's configured model. The diarize model's speaker
labels come with response_format=diarized_json, as on OpenAI."""
ASYNC_HINT = (
    "use the async API instead: POST /v1/jobs, upload the file, then GET "
    "/v1/jobs/{job_id}/transcript (docs/api.md)"
)
_INPUT_ERRORS: dict[str, type[SwescribeError]] = {
    cls.code: cls
    for cls in (InvalidAudio, AudioTooLong, InvalidOption, UnknownModel, AudioNotFound)
}
"""Job failures that are the request's fault (a 4xx), by the code the worker recorded."""


def model_for(svc: Services, requested: str) -> str | None:
    """The model a job runs for an OpenAI `model` value: an OpenAI name means the
    service's own (None); an offered name is itself; anything else is refused."""
    name = requested.strip()
    if not name or name in OPENAI_MODEL_ALIASES:
        return None
    try:
        check_model(svc.policy, name)
    except UnknownModel as error:
        raise InvalidParameter(
            f"{error} Any of {', '.join(OPENAI_MODEL_ALIASES)} means the service's default.",
            "model",
        ) from error
    return name


def model_ids(svc: Services) -> tuple[str, ...]:
    """What GET /v1/models lists: OpenAI's names (mapped to the service's model), then
    the names the service offers."""
    return tuple(dict.fromkeys((*OPENAI_MODEL_ALIASES, *svc.policy.offered_models)))


def submit_file(
    svc: Services, owner: str, request: NewJob, audio: BinaryIO, filename: str | None
) -> Job:
    """Register a job for a file in hand, store it as the job's upload, and queue it.

    Raises SyncUnavailable when synchronous requests are off, PayloadTooLarge past the
    synchronous size limit (nothing is kept), InvalidRequest for an empty file,
    TooManyJobs when the key is at its cap of queued jobs (nothing is kept)."""
    policy = svc.policy
    if policy.sync_timeout_seconds <= 0:
        raise SyncUnavailable(f"synchronous transcription is off here; {ASYNC_HINT}")
    refuse_playlist(filename)
    check_queued_cap(svc, owner)  # before the file is read; handle_object_created again
    job = create_job(svc, owner, request)
    key = job.upload_prefix + safe_filename(filename or "audio")
    try:
        try:
            size = svc.objects.put_stream(key, audio, policy.sync_max_bytes)
        except PayloadTooLarge as error:
            raise PayloadTooLarge(too_large_message(policy.sync_max_bytes)) from error
        if size == 0:
            raise InvalidParameter("the file is empty", "file")
        if _object_created(svc, key, size) != "launched":
            raise TransitionConflict(f"job {job.job_id} changed while its file was stored")
    except BaseException:
        svc.objects.delete_prefix(job.upload_prefix)
        svc.jobs.delete(job.job_id)
        raise
    return job


def too_large_message(max_bytes: int) -> str:
    return (
        f"the file is larger than the synchronous limit of {max_bytes} bytes "
        f"(SWESCRIBE_SYNC_MAX_BYTES); {ASYNC_HINT}"
    )


def finished_job(svc: Services, owner: str, job_id: str) -> Job | None:
    """The job once it has ended (completed or failed), else None."""
    job = get_job(svc, owner, job_id)
    return job if job.status.is_final else None


def transcript_of(svc: Services, job: Job) -> Transcript:
    """A completed job's JSON transcript; a failed job raises its failure as an error
    (the input's fault, such as a file that is not audio, or JobFailed)."""
    if job.status is JobStatus.FAILED:
        error = _INPUT_ERRORS.get(job.error_code or "", JobFailed)
        raise error(job.error_message or "the transcription failed")
    return Transcript.from_dict(json.loads(svc.objects.get_bytes(job.result_keys["json"])))


def result_text(svc: Services, job: Job, fmt: str) -> str:
    """A completed job's stored result in one of its formats (srt, vtt, txt)."""
    key = job.result_keys.get(fmt)
    if key is None:
        raise InvalidRequest(f"job {job.job_id} has no {fmt} result")
    return svc.objects.get_bytes(key).decode("utf-8")
