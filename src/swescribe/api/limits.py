"""Request limits of the API: body size of JSON requests, and a rate limit per API key.

Both are plain ASGI middleware (not BaseHTTPMiddleware), so the upload endpoint's body
still streams to disk without being buffered, and a refused request costs no more than
reading its headers.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from swescribe.api.errors import error_response


@dataclass(frozen=True)
class ApiLimits:
    rate_per_minute: int = 120
    """Requests per API key and minute (0: no limit; API Gateway throttles on AWS)."""
    burst: int = 30
    max_json_bytes: int = 64 * 1024


UNLIMITED_PATHS = frozenset({"/healthz", "/metrics", "/"})
"""Probes, scrapers and the web page are never rate limited."""
UNLIMITED_PREFIXES = ("/web/", "/v1/uploads/")
"""The page's assets, and uploads: each upload link belongs to a job that was created
with a key (and counted against it), and takes one file."""
UPLOAD_PREFIX = "/v1/uploads/"
"""The upload endpoint streams audio under its own, much larger limit."""
JSON_PATHS = ("/api", "/v1/jobs")
MAX_BUCKETS = 10_000
DRAIN_LIMIT = 1 << 20
"""A client that declared a larger body than this is disconnected after its 413 instead of
being read to the end (smaller ones are drained, so the client surely sees the 413)."""


def install_limits(app: FastAPI, limits: ApiLimits) -> None:
    """The JSON size limit, and outside it the rate limit (a throttled request is not read)."""
    app.add_middleware(JsonBodyLimit, max_bytes=limits.max_json_bytes)
    if limits.rate_per_minute > 0:
        app.add_middleware(RateLimit, buckets=TokenBuckets(limits.rate_per_minute, limits.burst))


class TokenBuckets:
    """One token bucket per name: up to `burst` tokens, refilled at rate_per_minute / 60 a
    second; a request spends one. Memory is bounded: a bucket idle long enough to be full
    again is dropped (a new one would be the same), and past max_buckets the least
    recently used goes. Safe to share between threads."""

    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        if rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive (0 means no limiter at all)")
        self.rate = rate_per_minute / 60.0
        self.capacity = float(max(burst, 1))
        self.clock = clock
        self.max_buckets = max(max_buckets, 1)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        """name -> (tokens, when they were counted), least recently used first."""
        self._lock = threading.Lock()

    def take(self, name: str) -> float:
        """Spend a token of name's bucket: 0.0 if it had one, else the seconds until it will."""
        with self._lock:
            now = self.clock()
            tokens = self._tokens(self._buckets.pop(name, None), now)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[name] = (tokens, now)
            self._evict(now)
            return wait

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)

    def _tokens(self, bucket: tuple[float, float] | None, now: float) -> float:
        if bucket is None:
            return self.capacity
        tokens, counted = bucket
        return min(self.capacity, tokens + max(0.0, now - counted) * self.rate)

    def _evict(self, now: float) -> None:
        while self._buckets:
            name, bucket = next(iter(self._buckets.items()))
            full = self._tokens(bucket, now) >= self.capacity
            if not full and len(self._buckets) <= self.max_buckets:
                return
            del self._buckets[name]


def bucket_name(scope: Scope) -> str:
    """The caller's bucket: its X-API-Key, else its address.

    The whole header is hashed rather than the key's id (``sws_<id>``): the id is shown
    in listings and logs, and anyone who knows it could otherwise spend its owner's
    allowance. A valid key has exactly one header value, so it still gets one bucket.
    """
    for name, value in scope.get("headers", ()):
        if name == b"x-api-key" and value:
            return "key:" + hashlib.sha256(value).hexdigest()[:32]
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


class RateLimit:
    """429 with Retry-After once a caller's bucket is empty."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path in UNLIMITED_PATHS
            or path.startswith(UNLIMITED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(bucket_name(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        seconds = max(1, math.ceil(wait))
        response = error_response(
            429, "rate_limited", f"too many requests; try again in {seconds} s"
        )
        response.headers["Retry-After"] = str(seconds)
        await response(scope, receive, send)


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
    media_type = _header(scope, b"content-type").split(";", 1)[0].strip().lower()
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


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return bytes(value).decode("latin-1")
    return ""


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length").strip()
    return int(value) if value.isascii() and value.isdigit() else None
