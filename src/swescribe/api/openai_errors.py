"""OpenAI's error shape for the OpenAI-compatible paths:
`{"error": {"message", "type", "param", "code"}}`, with OpenAI's status codes (400, not
422, for a bad parameter), so its SDKs raise the exception a client expects."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from swescribe.api.headers import HEADERS as SECURITY_HEADERS

OPENAI_PREFIXES = ("/v1/audio/", "/v1/models", "/v1/realtime")
NOT_RETRIED = frozenset({500, 501, 504})
"""Answers the SDKs must not retry (they retry 5xx): sending the file again would start
another job (a 500 comes after the job ran and failed, or was made), and a timed-out one
is still running."""


def is_openai_path(path: str) -> bool:
    return path.startswith(OPENAI_PREFIXES)


def _error_type(status: int) -> str:
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def openai_error_response(
    status: int,
    code: str,
    message: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    status = 400 if status == 422 else status
    if status == 401:
        code = "invalid_api_key"
    merged = {**SECURITY_HEADERS, **(headers or {})}
    if status == 401:
        merged["WWW-Authenticate"] = "Bearer, X-API-Key"
    if status in NOT_RETRIED:
        merged["x-should-retry"] = "false"
    error = {"message": message, "type": _error_type(status), "param": param, "code": code}
    return JSONResponse({"error": error}, status_code=status, headers=merged)
