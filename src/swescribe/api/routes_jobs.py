"""/v1/jobs: create, read, list, fetch transcripts, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from swescribe.api.deps import Caller, Context
from swescribe.api.schemas import (
    AudioLink,
    CreatedJobView,
    CreateJobRequest,
    ErrorResponse,
    Format,
    JobList,
    JobView,
    UploadInfo,
)
from swescribe.core import links
from swescribe.core.filenames import refuse_playlist
from swescribe.core.formats import MEDIA_TYPES
from swescribe.core.intake import create_job, delete_job, get_job
from swescribe.core.jobs import JobStatus, to_iso

router = APIRouter(prefix="/v1", tags=["jobs"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


@router.post(
    "/jobs",
    status_code=201,
    response_model=CreatedJobView,
    responses={**ERRORS, 429: {"model": ErrorResponse}},
    summary="Create a transcription job",
)
async def create(body: CreateJobRequest, context: Context, caller: Caller) -> CreatedJobView:
    svc = context.svc
    refuse_playlist(body.filename)  # before the job exists, so a refusal leaves none behind
    job = await run_in_threadpool(create_job, svc, caller.key_id, body.to_new_job())
    upload = None
    if not body.audio_url:
        upload = UploadInfo.from_target(links.upload_target(svc, job, body.filename or ""))
    return CreatedJobView.from_job(job).model_copy(update={"upload": upload})


@router.get(
    "/jobs/{job_id}",
    response_model=JobView,
    responses=ERRORS,
    summary="A job's status and results",
)
async def read(job_id: str, context: Context, caller: Caller) -> JobView:
    job = await run_in_threadpool(get_job, context.svc, caller.key_id, job_id)
    return JobView.from_job(job)


@router.get("/jobs", response_model=JobList, responses=ERRORS, summary="List your jobs")
async def list_jobs(
    context: Context,
    caller: Caller,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> JobList:
    page = await run_in_threadpool(context.svc.jobs.list_jobs, caller.key_id, status, limit, cursor)
    return JobList(jobs=[JobView.from_job(j) for j in page.jobs], next_cursor=page.next_cursor)


@router.get(
    "/jobs/{job_id}/transcript",
    responses={
        **ERRORS,
        303: {"description": "AWS: the transcript is at Location (a presigned S3 GET)"},
        409: {"model": ErrorResponse},
    },
    summary="Download the transcript as txt, json, srt or vtt",
)
async def transcript(
    job_id: str, context: Context, caller: Caller, format: Format = "txt"
) -> Response:
    key = await run_in_threadpool(links.result_key, context.svc, caller.key_id, job_id, format)
    if context.result_redirects:
        url = await run_in_threadpool(links.result_link, context.svc, key)
        return RedirectResponse(url, status_code=303)
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
