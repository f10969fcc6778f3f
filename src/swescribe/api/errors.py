"""The one place where errors become HTTP responses: {"error": {"code", "message"}}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from swescribe.api.headers import HEADERS as SECURITY_HEADERS
from swescribe.api.openai_errors import is_openai_path, openai_error_response
from swescribe.core import errors

log = logging.getLogger(__name__)

STATUS_CODES: dict[type[errors.SwescribeError], int] = {
    errors.Unauthorized: 401,
    errors.JobNotFound: 404,
    errors.TransitionConflict: 409,
    errors.NotReady: 409,
    errors.KeyNotFound: 404,
    errors.PayloadTooLarge: 413,
    errors.UnsafeURL: 422,
    errors.InvalidRequest: 422,
    errors.InvalidOption: 422,
    errors.UnknownModel: 422,
    errors.InvalidAudio: 422,
    errors.AudioNotFound: 404,
    errors.ModelUnavailable: 503,
    errors.StoreBusy: 503,
    errors.RateLimited: 429,
    errors.TooManyJobs: 429,
    errors.SyncUnavailable: 501,
    errors.SyncTimeout: 504,
    errors.JobFailed: 500,
    errors.SpeakerNotFound: 404,
    errors.SpeakerExists: 409,
    errors.EnrolmentUnavailable: 501,
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The error body, with the security headers itself: a 500 is answered outside every
    middleware of ours."""
    headers = dict(SECURITY_HEADERS)
    if status == 401:
        headers["WWW-Authenticate"] = "X-API-Key"
    if status == 503:
        headers["Retry-After"] = "1"
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def status_for(error: errors.SwescribeError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 400


def _respond(
    request: Request, status: int, code: str, message: str, param: str | None = None
) -> JSONResponse:
    """The error in the shape of the path: OpenAI's on the OpenAI-compatible paths."""
    if is_openai_path(request.url.path):
        return openai_error_response(status, code, message, param)
    return error_response(status, code, message)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.SwescribeError)
    async def domain_error(request: Request, error: errors.SwescribeError) -> JSONResponse:
        param = getattr(error, "param", None)
        response = _respond(request, status_for(error), error.code, str(error), param)
        if isinstance(error, errors.RateLimited):
            response.headers["Retry-After"] = str(error.retry_after)
        if isinstance(error, errors.TooManyJobs):  # waiting seconds will not help
            response.headers["x-should-retry"] = "false"
        if isinstance(error, errors.SyncTimeout):
            response.headers["X-Swescribe-Job-Id"] = error.job_id
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        problems, params = [], []
        for item in error.errors()[:5]:
            where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
            problems.append(f"{where or 'body'}: {item.get('msg', 'invalid')}")
            params.append(str(item.get("loc", ("",))[-1]))
        message = "; ".join(problems) or "invalid request"
        return _respond(request, 422, "invalid_request", message, params[0] if params else None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return _respond(request, error.status_code, code, str(error.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _respond(request, 500, "internal_error", "internal error; it has been logged")
