"""/v1/jobs: create, read, list, fetch transcripts, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from swescribe.api.deps import Caller, Context
from swescribe.api.schemas import AudioLink, CreateJobRequest, ErrorResponse, Format, JobList
from swescribe.core import links
from swescribe.core.errors import JobNotFound, NotReady
from swescribe.core.formats import MEDIA_TYPES
from swescribe.core.jobs import JobStatus, to_iso
from swescribe.core.ports import UploadTarget
from swescribe.core.service import NewJob, create_job, delete_job, get_job

router = APIRouter(prefix="/v1", tags=["jobs"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


def _upload_info(target: UploadTarget) -> dict[str, Any]:
    return {
        "url": target.url,
        "method": target.method,
        "expires_at": to_iso(target.expires_at),
        "max_bytes": target.max_bytes,
        "headers": dict(target.headers),
        "fields": dict(target.fields),
    }


@router.post("/jobs", status_code=201, responses=ERRORS, summary="Create a transcription job")
async def create(body: CreateJobRequest, context: Context, caller: Caller) -> dict[str, Any]:
    request = NewJob(
        callback_url=body.callback_url,
        callback_secret=body.callback_secret,
        language=body.language,
        model=body.model,
        formats=tuple(body.formats),
        word_timestamps=body.word_timestamps,
        diarize=body.diarize,
        speakers=body.speakers,
        audio_url=body.audio_url,
        task=body.task,
        prompt=body.prompt,
        hotwords=body.hotwords,
        temperature=body.temperature,
    )
    svc = context.svc
    job = await run_in_threadpool(create_job, svc, caller.key_id, request)
    view = job.public_view()
    if body.audio_url:
        view["upload"] = None
    else:
        view["upload"] = _upload_info(links.upload_target(svc, job, body.filename or ""))
    return view


@router.get("/jobs/{job_id}", responses=ERRORS, summary="A job's status and results")
async def read(job_id: str, context: Context, caller: Caller) -> dict[str, Any]:
    job = await run_in_threadpool(get_job, context.svc, caller.key_id, job_id)
    return job.public_view()


@router.get("/jobs", response_model=JobList, responses=ERRORS, summary="List your jobs")
async def list_jobs(
    context: Context,
    caller: Caller,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> JobList:
    page = await run_in_threadpool(context.svc.jobs.list_jobs, caller.key_id, status, limit, cursor)
    return JobList(jobs=[j.public_view() for j in page.jobs], next_cursor=page.next_cursor)


@router.get(
    "/jobs/{job_id}/transcript",
    responses={**ERRORS, 409: {"model": ErrorResponse}},
    summary="Download the transcript as txt, json, srt or vtt",
)
async def transcript(
    job_id: str, context: Context, caller: Caller, format: Format = "txt"
) -> Response:
    job = await run_in_threadpool(get_job, context.svc, caller.key_id, job_id)
    if job.status is not JobStatus.COMPLETED:
        raise NotReady(f"job {job_id} is {job.status.value}, not completed")
    key = job.result_keys.get(format)
    if key is None:
        raise JobNotFound(f"job {job_id} has no {format} result (formats: {list(job.formats)})")
    filename = key.rsplit("/", 1)[-1]
    return StreamingResponse(
        context.svc.objects.open_read(key),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/jobs/{job_id}/audio-link",
    response_model=AudioLink,
    responses=ERRORS,
    summary="A short-lived link that plays the job's uploaded audio (no key needed)",
)
async def audio_link(job_id: str, context: Context, caller: Caller) -> AudioLink:
    link = await run_in_threadpool(links.audio_link, context.svc, caller.key_id, job_id)
    return AudioLink(url=link.url, expires_at=to_iso(link.expires_at) or "")


@router.delete("/jobs/{job_id}", responses=ERRORS, summary="Delete a job and all its data")
async def delete(job_id: str, context: Context, caller: Caller) -> dict[str, Any]:
    removed = await run_in_threadpool(delete_job, context.svc, caller.key_id, job_id)
    return {"job_id": job_id, "deleted": True, "objects_removed": removed}
