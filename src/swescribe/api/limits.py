"""Request limits of the API: body size of JSON requests, a rate limit per API key, and a
limit on failed authentication per client address.

Buckets exist only for what cannot be made up for free: a key that authenticated, and a
client address. A made-up key gets no bucket of its own: its 401 is charged to its
address, and an address that failed too often gets 429 before any key lookup, except for
keys it has already shown to work. Addresses and keys live in separate tables, so a flood
of addresses never evicts a key's drained bucket.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from swescribe.api.body_limit import JsonBodyLimit, header, is_json_request
from swescribe.api.buckets import MAX_BUCKETS, TokenBuckets
from swescribe.api.credentials import scope_key
from swescribe.api.errors import error_response
from swescribe.api.openai_errors import is_openai_path, openai_error_response
from swescribe.core.errors import RateLimited

__all__ = ["ApiLimits", "RequestLimiter", "TokenBuckets", "install_limits", "is_json_request"]


@dataclass(frozen=True)
class ApiLimits:
    rate_per_minute: int = 120
    """Requests per API key and minute (0: no limit; API Gateway throttles on AWS)."""
    burst: int = 30
    max_json_bytes: int = 64 * 1024
    auth_failures_per_minute: int = 10
    """401s per client address and minute before it gets 429 (0: no limit)."""
    auth_failure_burst: int = 20


UNLIMITED_PATHS = frozenset({"/healthz", "/"})
"""Probes and the web page are never rate limited."""
UNLIMITED_PREFIXES = ("/web/", "/v1/uploads/")
"""The page's assets, and uploads: each upload link belongs to a job that was created
with a key (and counted against it), and takes one file."""


@dataclass
class RequestLimiter:
    """The buckets of one app; each part is None when its limit is off."""

    keys: TokenBuckets | None = None
    """Per API key id, filled only once the key has authenticated."""
    anonymous: TokenBuckets | None = None
    """Per client address, for requests without a key."""
    failures: TokenBuckets | None = None
    """Per client address: its 401s."""
    known_keys: OrderedDict[str, None] = field(default_factory=OrderedDict)
    """Digests of X-API-Key values that authenticated (bounded, least recently used out);
    only a key that works gets in, so no stranger can fill it."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_limits(cls, limits: ApiLimits) -> RequestLimiter:
        rate, burst = limits.rate_per_minute, limits.burst
        failures = limits.auth_failures_per_minute
        return cls(
            keys=TokenBuckets(rate, burst) if rate > 0 else None,
            anonymous=TokenBuckets(rate, burst) if rate > 0 else None,
            failures=TokenBuckets(failures, limits.auth_failure_burst) if failures > 0 else None,
        )

    def authenticated(self, scope: Scope, key_id: str) -> None:
        """A request's key worked: remember it, and spend a token of its bucket."""
        digest = _digest(scope_key(scope))
        with self._lock:
            self.known_keys.pop(digest, None)
            self.known_keys[digest] = None
            while len(self.known_keys) > MAX_BUCKETS:
                self.known_keys.popitem(last=False)
        if self.keys is not None:
            _raise_if_waiting(self.keys.take(f"key:{key_id}"))

    def is_known(self, scope: Scope) -> bool:
        value = scope_key(scope)
        with self._lock:
            return bool(value) and _digest(value) in self.known_keys


def install_limits(app: FastAPI, limits: ApiLimits) -> None:
    """The JSON size limit, and outside it the rate limits (a refused request is not read)."""
    limiter = RequestLimiter.from_limits(limits)
    app.state.limiter = limiter
    app.add_middleware(JsonBodyLimit, max_bytes=limits.max_json_bytes)
    if limiter.anonymous is not None or limiter.failures is not None:
        app.add_middleware(RateLimit, limiter=limiter)


def client_address(scope: Scope) -> str:
    """The caller's address; an IPv6 caller by its /64, which one host usually has whole."""
    client = scope.get("client")
    host = str(client[0]) if client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


class RateLimit:
    """429 with Retry-After for an address that failed authentication too often (unless its
    key is known to work), and for keyless requests over the per-address rate. The key's
    own rate is checked once it has authenticated (RequestLimiter.authenticated)."""

    def __init__(self, app: ASGIApp, limiter: RequestLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path in UNLIMITED_PATHS
            or path.startswith(UNLIMITED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        failures, anonymous = self.limiter.failures, self.limiter.anonymous
        wait = 0.0
        if failures is not None and not self.limiter.is_known(scope):
            wait = failures.peek(address)
        # On /metrics a bearer token is the scraper's (SWESCRIBE_METRICS_TOKEN), not a key:
        # it stays counted per address.
        keyless = not (header(scope, b"x-api-key") if path == "/metrics" else scope_key(scope))
        if not wait and anonymous is not None and keyless:
            wait = anonymous.take(address)
        if wait > 0:
            await _too_many(wait, path)(scope, receive, send)
            return

        async def charge_failures(message: Message) -> None:
            start = message["type"] == "http.response.start"
            if start and message["status"] == 401 and failures is not None:
                failures.take(address)
            await send(message)

        await self.app(scope, receive, charge_failures)


def _too_many(wait: float, path: str) -> ASGIApp:
    seconds = max(1, math.ceil(wait))
    message = f"too many requests; try again in {seconds} s"
    if is_openai_path(path):
        response = openai_error_response(429, "rate_limited", message)
    else:
        response = error_response(429, "rate_limited", message)
    response.headers["Retry-After"] = str(seconds)
    return response


def _raise_if_waiting(wait: float) -> None:
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise RateLimited(f"too many requests; try again in {seconds} s", seconds)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("latin-1")).hexdigest()
