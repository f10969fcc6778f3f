"""POST /api: the seed's contract, unchanged, plus additive upload fields."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from swescribe.api.deps import Caller, Context
from swescribe.api.schemas import ErrorResponse, RegisterRequest, RegisterResponse
from swescribe.core.intake import NewJob, create_job
from swescribe.core.jobs import to_iso
from swescribe.core.links import upload_target

router = APIRouter(tags=["seed"])

SEED_MESSAGE = "Upload audio files to the provided S3 path"


@router.post(
    "/api",
    response_model=RegisterResponse,
    responses={401: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
    summary="Register a callback and get an upload path (seed contract)",
)
async def register(body: RegisterRequest, context: Context, caller: Caller) -> RegisterResponse:
    svc = context.svc
    request = NewJob(callback_url=body.callback_url, callback_secret=body.callback_secret)
    job = await run_in_threadpool(create_job, svc, caller.key_id, request)
    target = upload_target(svc, job)
    return RegisterResponse(
        callback_id=job.job_id,
        upload_path=job.upload_prefix,
        message=SEED_MESSAGE,
        upload_url=target.url,
        upload_method=target.method,
        upload_fields=dict(target.fields),
        expires_at=to_iso(target.expires_at) or "",
    )
