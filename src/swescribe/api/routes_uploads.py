"""The local shape's upload endpoint, behind the signed, expiring URL a job returns.

The body is streamed to a staging file with the size limit enforced as it arrives,
then moved into the object store; the finished upload goes through the same
object-created path as an S3 event. Which uploads are accepted, and what a failed one
leaves behind, core/uploads.py decides.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from swescribe.api.deps import Context
from swescribe.api.headers import SANDBOX_CSP
from swescribe.api.schemas import ErrorResponse
from swescribe.core.errors import JobNotFound
from swescribe.core.media import attachment, stored_media_type
from swescribe.core.services import Services
from swescribe.core.uploads import (
    RENEW_EVERY_SECONDS,
    Upload,
    abandon_upload,
    accept_upload,
    finish_upload,
    renew_upload,
    reserve_upload,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["uploads"])


@router.put(
    "/uploads/{token}",
    responses={
        401: {"model": ErrorResponse},
        404: {"model": ErrorResponse},
        409: {"model": ErrorResponse},
        413: {"model": ErrorResponse},
        429: {"model": ErrorResponse},
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
    linked_key, max_bytes = uploads.verify_token(token)
    declared = request.headers.get("content-length")
    declared_size = int(declared) if declared and declared.isdigit() else None
    accepted = accept_upload(linked_key, max_bytes, filename, declared_size)
    svc = context.svc
    holder = await run_in_threadpool(reserve_upload, svc, accepted.job_id)
    try:
        renew = functools.partial(renew_upload, svc, accepted.job_id, holder)
        size = await _stream_to_object(request, svc, accepted, uploads.staging_dir, renew)
        outcome = await run_in_threadpool(finish_upload, svc, accepted, size)
    except ClientDisconnect:  # the client left (or stalled): nothing of ours went wrong
        await run_in_threadpool(abandon_upload, svc, accepted, holder)
        log.info(
            "upload ended before its body was complete; the link takes it again",
            extra={"job_id": accepted.job_id},
        )
        raise  # api/body_deadline.py ends the request without another word
    except BaseException:
        await run_in_threadpool(abandon_upload, svc, accepted, holder)
        raise
    return {"key": accepted.key, "size": size, "event": outcome}


async def _stream_to_object(
    request: Request,
    svc: Services,
    accepted: Upload,
    staging_dir: Path,
    renew: Callable[[], None],
) -> int:
    """The body into a staging file, then into the object store; renew (the upload
    reservation) runs every RENEW_EVERY_SECONDS while the bytes come in."""
    staging_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=staging_dir, prefix="upload-")
    staged = Path(name)
    size = 0
    renewed = time.monotonic()
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                accepted.check_size(size)
                out.write(chunk)
                if time.monotonic() - renewed >= RENEW_EVERY_SECONDS:
                    await run_in_threadpool(renew)
                    renewed = time.monotonic()
        if size:
            await run_in_threadpool(renew)  # still ours (not lapsed and taken) as it is stored
            await run_in_threadpool(svc.objects.put_file, accepted.key, staged)
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
