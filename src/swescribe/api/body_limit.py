"""The JSON body size limit: a plain ASGI middleware, so the upload endpoint's body still
streams to disk without being buffered."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from swescribe.api.errors import error_response

UPLOAD_PREFIX = "/v1/uploads/"
"""The upload endpoint streams audio under its own, much larger limit."""
JSON_PATHS = ("/api", "/v1/jobs")
DRAIN_LIMIT = 1 << 20
"""A client that declared a larger body than this is disconnected after its 413 instead of
being read to the end (smaller ones are drained, so the client surely sees the 413)."""


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
            await self._refuse(scope, receive, send, close=declared > DRAIN_LIMIT)
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
                await self._refuse(scope, receive, send, close=False)
                return
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, *, close: bool) -> None:
        response = error_response(
            413,
            "payload_too_large",
            f"the JSON body is larger than the limit of {self.max_bytes} bytes",
        )
        if close:
            response.headers["Connection"] = "close"
        await response(scope, receive, send)


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
