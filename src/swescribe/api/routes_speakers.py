"""/v1/speakers: enrol, list and delete the voices a key's diarized jobs name speakers by.

A voiceprint is biometric personal data: each key sees only its own, a list shows the
name, id and creation time (never the vector), DELETE removes it from storage, and no
log line carries one. Enrolling needs the speaker encoder (numpy): the local service
has it; where the API runs without it (the AWS API Lambda) POST is a 501 that says so.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from swescribe.api.deps import ApiContext, Caller, Context
from swescribe.api.schemas import ErrorResponse
from swescribe.core.errors import (
    EnrolmentUnavailable,
    InvalidRequest,
    JobNotFound,
    PayloadTooLarge,
)
from swescribe.core.intake import get_job
from swescribe.core.jobs import to_iso
from swescribe.core.request import MAX_SPEAKER_NAME_CHARS
from swescribe.core.voices import Voiceprint, VoiceRegistry, check_name, enrol

router = APIRouter(prefix="/v1", tags=["speakers"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}
CHUNK = 1 << 20


class SpeakerView(BaseModel):
    """An enrolled voice as a client sees it: never its voiceprint."""

    id: str
    name: str
    created_at: str
    seconds: float
    """Seconds of speech the voiceprint was made from."""

    @classmethod
    def from_voice(cls, voice: Voiceprint) -> SpeakerView:
        return cls(
            id=voice.voice_id,
            name=voice.name,
            created_at=to_iso(voice.created_at) or "",
            seconds=round(voice.seconds, 2),
        )


class SpeakerList(BaseModel):
    speakers: list[SpeakerView]


class DeletedSpeaker(BaseModel):
    id: str
    name: str
    deleted: bool = True


class SegmentEnrolment(BaseModel):
    """Enrol a voice from a stretch of one of the key's jobs' uploaded audio."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=MAX_SPEAKER_NAME_CHARS)
    job_id: str = Field(min_length=1, max_length=128)
    start: float = Field(ge=0)
    end: float = Field(gt=0)


@router.post(
    "/speakers",
    status_code=201,
    response_model=SpeakerView,
    responses={**ERRORS, 409: {"model": ErrorResponse}, 501: {"model": ErrorResponse}},
    summary="Enrol a voice: an uploaded recording (multipart name + file) or a job's segment",
)
async def create(request: Request, context: Context, caller: Caller) -> SpeakerView:
    if context.enroller is None:
        raise EnrolmentUnavailable(
            "enrolling a voice needs the speaker encoder, which this API process does not "
            "carry (the AWS API Lambda); enrol with `swescribe serve` or the CLI instead"
        )
    with tempfile.TemporaryDirectory(dir=_scratch_root(context)) as scratch:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            name, audio = await _uploaded(request, context, Path(scratch))
            start, end = 0.0, None
        else:
            segment = _segment(await _json_body(request))
            name, start, end = check_name(segment.name), segment.start, segment.end
            audio = await run_in_threadpool(
                _job_audio, context, caller.key_id, segment.job_id, Path(scratch)
            )
        voice = await run_in_threadpool(
            enrol, _registry(context), context.enroller, caller.key_id, name, audio, start, end
        )
    return SpeakerView.from_voice(voice)


@router.get("/speakers", response_model=SpeakerList, responses=ERRORS, summary="Your voices")
async def list_speakers(context: Context, caller: Caller) -> SpeakerList:
    voices = await run_in_threadpool(_registry(context).voices, caller.key_id)
    return SpeakerList(speakers=[SpeakerView.from_voice(v) for v in voices])


@router.delete(
    "/speakers/{name_or_id}",
    response_model=DeletedSpeaker,
    responses=ERRORS,
    summary="Delete an enrolled voice (its voiceprint is removed from storage)",
)
async def delete(name_or_id: str, context: Context, caller: Caller) -> DeletedSpeaker:
    voice = await run_in_threadpool(_registry(context).remove, caller.key_id, name_or_id)
    return DeletedSpeaker(id=voice.voice_id, name=voice.name)


def _registry(context: ApiContext) -> VoiceRegistry:
    return VoiceRegistry(context.svc.objects)


def _scratch_root(context: ApiContext) -> Path | None:
    if context.uploads is None:
        return None
    context.uploads.staging_dir.mkdir(parents=True, exist_ok=True)
    return context.uploads.staging_dir


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise InvalidRequest(
            "send JSON {name, job_id, start, end}, or a multipart form with name and file"
        ) from None


def _segment(body: Any) -> SegmentEnrolment:
    try:
        return SegmentEnrolment.model_validate(body)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem.get("loc", ())) or "body"
        raise InvalidRequest(f"{where}: {problem.get('msg', 'invalid')}") from None


async def _uploaded(request: Request, context: ApiContext, scratch: Path) -> tuple[str, Path]:
    """The form's name and file, the file copied to scratch within the sync size limit."""
    limit = context.svc.policy.sync_max_bytes
    async with request.form(max_files=1, max_fields=4) as form:
        name, upload = form.get("name"), form.get("file")
        if not isinstance(name, str) or not isinstance(upload, UploadFile):
            raise InvalidRequest("send a multipart form with `name` and the recording as `file`")
        target = scratch / "enrol.audio"
        size = 0
        with target.open("wb") as out:
            while chunk := await upload.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the recording is larger than {limit} bytes")
                out.write(chunk)
    return name, target


def _job_audio(context: ApiContext, owner: str, job_id: str, scratch: Path) -> Path:
    job = get_job(context.svc, owner, job_id)
    if not job.s3_key or not context.svc.objects.exists(job.s3_key):
        raise JobNotFound(f"job {job_id} has no stored audio (not uploaded, or fetched by URL)")
    target = scratch / "job.audio"
    context.svc.objects.download(job.s3_key, target)
    return target
