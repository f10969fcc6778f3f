"""The size limit of the synchronous audio endpoints (/v1/audio/*), enforced while the
multipart body arrives: before the form is parsed, so an oversized body is never
written out whole, and answered with a 413 in OpenAI's shape that names the async API.

The body is spooled (in memory up to 1 MiB, then a temporary file) and handed to the
app unchanged. A body over the limit is read and thrown away, within DRAIN_SECONDS and
twice the limit, before the 413: OpenAI's SDK (httpx) sends the whole body before it
reads an answer, and would otherwise see a reset connection and retry.
"""

from __future__ import annotations

import tempfile
from typing import IO

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from swescribe.api.body_limit import drain, header
from swescribe.api.credentials import scope_key
from swescribe.api.deps import ApiContext
from swescribe.api.openai_errors import openai_error_response
from swescribe.core.synchronous import too_large_message

AUDIO_PREFIX = "/v1/audio/"
FORM_OVERHEAD_BYTES = 64 * 1024
"""Room for the form's other fields and part headers beside the file."""
SPOOL_MEMORY_BYTES = 1024 * 1024
CHUNK = 64 * 1024


class AudioBodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(AUDIO_PREFIX):
            await self.app(scope, receive, send)
            return
        context = scope["app"].state.context
        if not await _key_works(context, scope):
            # Before any of the body is read: a wrong key must not cost the service a
            # spooled and parsed upload. The rate limits outside count this 401.
            await _unauthorized()(scope, receive, send)
            return
        max_file = int(context.svc.policy.sync_max_bytes)
        limit = max_file + FORM_OVERHEAD_BYTES
        declared = header(scope, b"content-length").strip()
        if declared.isdigit() and int(declared) > limit:
            # Expect: 100-continue (curl, for large bodies): the body was never sent.
            continues = header(scope, b"expect").lower() == "100-continue"
            drained = continues or (int(declared) <= 2 * limit and await drain(receive, 2 * limit))
            await _too_large(max_file, drained)(scope, receive, send)
            return
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                chunk = message.get("body", b"")
                size += len(chunk)
                more = bool(message.get("more_body", False))
                if size > limit:
                    drained = not more or await drain(receive, 2 * limit - size)
                    await _too_large(max_file, drained)(scope, receive, send)
                    return
                spool.write(chunk)
            spool.seek(0)
            await self.app(scope, _replay(spool, receive), send)


async def _key_works(context: ApiContext, scope: Scope) -> bool:
    """Whether the request's key would pass require_key (always, behind API Gateway,
    which checked it; there the synchronous endpoints answer 501 anyway)."""
    if context.trust_gateway_identity or context.keys is None:
        return True
    presented = scope_key(scope)
    keys = context.keys
    return bool(presented) and await run_in_threadpool(keys.authenticate, presented) is not None


def _unauthorized() -> ASGIApp:
    response = openai_error_response(
        401,
        "invalid_api_key",
        "missing, invalid or revoked API key: send X-API-Key or Authorization: Bearer",
    )
    response.headers["Connection"] = "close"  # the body was not read
    return response


def _too_large(max_file: int, drained: bool) -> ASGIApp:
    response = openai_error_response(
        413, "payload_too_large", too_large_message(max_file), param="file"
    )
    if not drained:
        response.headers["Connection"] = "close"
    return response


def _replay(spool: IO[bytes], receive: Receive) -> Receive:
    done = False

    async def replayed() -> Message:
        nonlocal done
        if done:
            return await receive()
        chunk = spool.read(CHUNK)
        more = len(chunk) == CHUNK
        done = not more
        return {"type": "http.request", "body": chunk, "more_body": more}

    return replayed
