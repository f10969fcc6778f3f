"""The JSON body size limit: a plain ASGI middleware, so the upload endpoint's body still
streams to disk without being buffered."""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from swescribe.api.errors import error_response

UPLOAD_PREFIX = "/v1/uploads/"
"""The upload endpoint streams audio under its own, much larger limit."""
JSON_PATHS = ("/api", "/v1/jobs")
DRAIN_MAX_BYTES = 16 << 20
DRAIN_SECONDS = 10.0
"""An oversized body is read and thrown away, up to DRAIN_MAX_BYTES and DRAIN_SECONDS,
before the 413 is sent: a client that writes its whole body before it reads (urllib,
requests) would otherwise find the connection reset under it and never see the 413. A
body declared larger, or one still coming past either bound, gets its 413 at once and
the connection is closed; such a client may see a reset instead."""


class JsonBodyLimit:
    """413 for a JSON request body over max_bytes, declared or streamed; the body (at most
    max_bytes) is read before the app runs and handed to it unchanged."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_json_request(scope):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send, read=0, declared=declared)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away; there is no one to answer
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
            if len(body) > self.max_bytes:
                read = len(body) if more else -1
                await self._refuse(scope, receive, send, read=read, declared=declared)
                return
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, *, read: int, declared: int | None
    ) -> None:
        """The 413, after draining the rest of the body (read bytes of it so far; -1: all)
        when that fits the bounds; otherwise at once, closing the connection."""
        drained = read < 0
        expects_continue = header(scope, b"expect").lower() == "100-continue"
        if not drained and not expects_continue:  # 100-continue: the body was never sent
            fits = declared is None or declared <= DRAIN_MAX_BYTES
            drained = fits and await drain(receive, DRAIN_MAX_BYTES - read)
        response = error_response(
            413,
            "payload_too_large",
            f"the JSON body is larger than the limit of {self.max_bytes} bytes",
        )
        if not drained:
            response.headers["Connection"] = "close"
        await response(scope, receive, send)


async def drain(receive: Receive, max_bytes: int) -> bool:
    """Read and discard the request body; False if it ran past max_bytes or DRAIN_SECONDS
    (or the client left)."""
    deadline = time.monotonic() + DRAIN_SECONDS
    left = max_bytes
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            message = await asyncio.wait_for(receive(), remaining)
        except TimeoutError:
            return False
        if message["type"] != "http.request":
            return False
        left -= len(message.get("body", b""))
        if left < 0:
            return False
        if not message.get("more_body", False):
            return True


def is_json_request(scope: Scope) -> bool:
    """JSON endpoints and JSON bodies, never the audio upload endpoint."""
    path: str = scope["path"]
    if path.startswith(UPLOAD_PREFIX):
        return False
    if any(path == prefix or path.startswith(prefix + "/") for prefix in JSON_PATHS):
        return True
    media_type = header(scope, b"content-type").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return bytes(value).decode("latin-1")
    return ""


def _content_length(scope: Scope) -> int | None:
    value = header(scope, b"content-length").strip()
    return int(value) if value.isascii() and value.isdigit() else None
