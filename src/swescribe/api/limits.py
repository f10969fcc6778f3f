"""Request limits of the API: body size and pace of requests, a rate limit per API key,
and a limit on failed authentication per client address.

Every limited request is charged to one bucket: its key's when the key it presents
authenticates, else its client address's. The rate limiter checks the key itself, first:

- A made-up key is no key. Its request is charged to its address like a keyless one,
  and its 401 to the address's failures; the header buys nothing, on any path.
- An address that failed authentication too often gets 429 for anything but a key that
  authenticates. The key is checked before that refusal, not remembered once it worked:
  a key created a second ago, or first used since a restart, is never locked out by
  someone else's failures from its address (a NAT, a proxy, loopback). The check gives
  a guesser nothing: a key's secret has 256 bits (core/apikeys.py), and one check costs
  an indexed read, as a 401 did.
- Upload links are checked by their route: a forged link's 401 counts against its
  address, and an address past its failures gets 429 there too. Honest uploads spend no
  token: each link belongs to a job that a key created, and takes one file.

Addresses and keys live in separate tables, so a flood of addresses never evicts a key's
drained bucket. The client address is the peer uvicorn saw, or, only when that peer is
one of SWESCRIBE_TRUSTED_PROXIES, the hop it forwarded for (api/server.py).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from swescribe.api.body_deadline import BodyDeadline
from swescribe.api.body_limit import JsonBodyLimit, is_json_request
from swescribe.api.buckets import TokenBuckets
from swescribe.api.credentials import AUTHENTICATED_KEY, scope_key
from swescribe.api.errors import error_response, status_for
from swescribe.api.openai_errors import is_openai_path, openai_error_response
from swescribe.core.apikeys import ApiKey
from swescribe.core.errors import RateLimited, SwescribeError

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
    body_timeout_seconds: float = 30.0
    """The longest a request body may pause; a JSON body arrives whole within it."""


UNLIMITED_PATHS = frozenset({"/healthz", "/"})
"""Probes and the web page are never rate limited."""
UNLIMITED_PREFIXES = ("/web/",)
"""The page's assets."""
UPLOAD_PREFIX = "/v1/uploads/"
"""Upload links: refused to an address past its failures, never charged a token."""

Authenticate = Callable[[str], ApiKey | None]


@dataclass
class RequestLimiter:
    """The buckets of one app; each part is None when its limit is off."""

    keys: TokenBuckets | None = None
    """Per API key id."""
    anonymous: TokenBuckets | None = None
    """Per client address, for requests without a key that authenticates."""
    failures: TokenBuckets | None = None
    """Per client address: its 401s."""
    authenticate: Authenticate | None = None
    """The key store's check; None where no key is the app's to check (API Gateway)."""

    @classmethod
    def from_limits(
        cls, limits: ApiLimits, authenticate: Authenticate | None = None
    ) -> RequestLimiter:
        rate, burst = limits.rate_per_minute, limits.burst
        failures = limits.auth_failures_per_minute
        return cls(
            keys=TokenBuckets(rate, burst) if rate > 0 else None,
            anonymous=TokenBuckets(rate, burst) if rate > 0 else None,
            failures=TokenBuckets(failures, limits.auth_failure_burst) if failures > 0 else None,
            authenticate=authenticate,
        )

    def charge(self, address: str, key: ApiKey | None) -> float:
        """Spend a request's token, its key's or else its address's (none for an address
        past its failures): 0.0 to go on, else the seconds until it may."""
        if key is not None:
            return self.keys.take(f"key:{key.key_id}") if self.keys is not None else 0.0
        wait = self.failures_wait(address)
        if not wait and self.anonymous is not None:
            wait = self.anonymous.take(address)
        return wait

    def failures_wait(self, address: str) -> float:
        """0.0 unless the address failed authentication too often: then the seconds to wait."""
        return self.failures.peek(address) if self.failures is not None else 0.0

    def failed(self, address: str) -> None:
        if self.failures is not None:
            self.failures.take(address)


def install_limits(app: FastAPI, limits: ApiLimits, authenticate: Authenticate | None) -> None:
    """Outermost the rate limits (a refused request is not read), then the body deadline,
    then the JSON size limit."""
    limiter = RequestLimiter.from_limits(limits, authenticate)
    app.state.limiter = limiter
    app.add_middleware(JsonBodyLimit, max_bytes=limits.max_json_bytes)
    app.add_middleware(BodyDeadline, seconds=limits.body_timeout_seconds)
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
    """429 with Retry-After when a request's bucket is empty (RequestLimiter.charge); 401s
    counted against the address. The key a request presents is checked here, once: the
    route finds it in the scope (credentials.authenticated_key)."""

    def __init__(self, app: ASGIApp, limiter: RequestLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] not in ("http", "websocket")
            or path in UNLIMITED_PATHS
            or path.startswith(UNLIMITED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        if path.startswith(UPLOAD_PREFIX):
            wait = self.limiter.failures_wait(address)
        else:
            try:
                key = await self._authenticated(scope)
            except SwescribeError as error:  # the key store is busy: 503, as in a route
                await _refuse(_error(error, path), scope, receive, send)
                return
            if key is not None:
                scope[AUTHENTICATED_KEY] = key
            wait = self.limiter.charge(address, key)
        if wait > 0:
            await _refuse(_too_many(wait, path), scope, receive, send)
            return
        opened = False

        async def count_failures(message: Message) -> None:
            nonlocal opened
            kind = message["type"]
            opened = opened or kind == "websocket.accept"
            refused = kind in ("http.response.start", "websocket.http.response.start")
            if (refused and message["status"] == 401) or (
                kind == "websocket.close" and not opened and message.get("code") == 1008
            ):  # a WebSocket handshake refused for its key, by answer or by close
                self.limiter.failed(address)
            await send(message)

        await self.app(scope, receive, count_failures)

    async def _authenticated(self, scope: Scope) -> ApiKey | None:
        presented = scope_key(scope)
        if not presented or self.limiter.authenticate is None:
            return None
        return await run_in_threadpool(self.limiter.authenticate, presented)


async def _refuse(response: JSONResponse, scope: Scope, receive: Receive, send: Send) -> None:
    """The refusal; a WebSocket handshake gets it as its HTTP answer where the server
    can send one (uvicorn does), else a close (policy violation) before it opens."""
    if scope["type"] == "websocket" and "websocket.http.response" not in scope.get(
        "extensions", {}
    ):
        await send({"type": "websocket.close", "code": 1008, "reason": ""})
        return
    await response(scope, receive, send)


def _too_many(wait: float, path: str) -> JSONResponse:
    seconds = max(1, math.ceil(wait))
    response = _error(RateLimited(f"too many requests; try again in {seconds} s", seconds), path)
    response.headers["Retry-After"] = str(seconds)
    return response


def _error(error: SwescribeError, path: str) -> JSONResponse:
    """The error as a route would answer it, in the shape of its path."""
    if is_openai_path(path):
        return openai_error_response(status_for(error), error.code, str(error))
    return error_response(status_for(error), error.code, str(error))
