"""The local shape's upload endpoint, behind the signed, expiring URL a job returns.

The body is streamed to a staging file with the size limit enforced as it arrives,
then moved into the object store; the finished upload goes through the same
object-created path as an S3 event.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from swescribe.api.app import Context
from swescribe.api.headers import SANDBOX_CSP
from swescribe.api.schemas import ErrorResponse
from swescribe.core.errors import InvalidRequest, JobNotFound, PayloadTooLarge, TransitionConflict
from swescribe.core.filenames import safe_filename
from swescribe.core.jobs import JobStatus
from swescribe.core.media import attachment, stored_media_type
from swescribe.core.service import handle_object_created, parse_upload_key

router = APIRouter(prefix="/v1", tags=["uploads"])


@router.put(
    "/uploads/{token}",
    responses={
        401: {"model": ErrorResponse},
        404: {"model": ErrorResponse},
        409: {"model": ErrorResponse},
        413: {"model": ErrorResponse},
    },
    summary="Upload the audio for a job (the URL comes from job creation)",
)
async def upload(
    token: str,
    request: Request,
    context: Context,
    filename: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
    uploads = context.uploads
    assert uploads is not None
    key, max_bytes = uploads.verify_token(token)
    if key.endswith("/"):
        key += safe_filename(filename or "audio")
    parsed = parse_upload_key(key)
    if parsed is None:
        raise InvalidRequest("upload link does not name a job upload")
    job = await run_in_threadpool(context.svc.jobs.get, parsed[0])
    if job is None:
        raise JobNotFound("the job of this upload link no longer exists")
    if job.status is not JobStatus.REGISTERED:
        raise TransitionConflict(
            f"job {job.job_id} already has its audio (it is {job.status.value})"
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"upload is larger than the limit of {max_bytes} bytes")
    size = await _stream_to_object(request, context, key, max_bytes, uploads.staging_dir)
    if size == 0:
        await run_in_threadpool(context.svc.objects.delete_prefix, key)
        raise InvalidRequest("the upload is empty")
    outcome = await run_in_threadpool(handle_object_created, context.svc, key, size)
    return {"key": key, "size": size, "event": outcome}


async def _stream_to_object(
    request: Request, context: Context, key: str, max_bytes: int, staging_dir: Path
) -> int:
    staging_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=staging_dir, prefix="upload-")
    staged = Path(name)
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"upload is larger than the limit of {max_bytes} bytes")
                out.write(chunk)
        if size:
            await run_in_threadpool(context.svc.objects.put_file, key, staged)
    finally:
        staged.unlink(missing_ok=True)
    return size


@router.get(
    "/objects/{token}",
    responses={401: {"model": ErrorResponse}, 404: {"model": ErrorResponse}},
    summary="Read a job's stored audio (the URL comes from GET /v1/jobs/{id}/audio-link)",
    response_class=FileResponse,
)
async def read_object(token: str, context: Context) -> FileResponse:
    uploads = context.uploads
    if uploads is None or uploads.readable_file is None:
        raise JobNotFound("this service keeps no objects on this machine")
    path = uploads.readable_file(token)
    if not await run_in_threadpool(path.is_file):
        raise JobNotFound("the object of this link no longer exists")
    # Never a page: a fixed audio type or opaque bytes, a download, sandboxed, unsniffed.
    return FileResponse(
        path,
        media_type=stored_media_type(path.name),
        headers={
            "Content-Disposition": attachment(path.name),
            "Content-Security-Policy": SANDBOX_CSP,
            "X-Content-Type-Options": "nosniff",
        },
    )
