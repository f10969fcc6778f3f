"""Retrying what is safe to repeat: a lost connection, 429 and 503, honouring Retry-After.

GET and DELETE are retried on any of these. A POST (creating a job, registering) is
retried only when its connection could not be made, so nothing reached the service; an
upload is never retried: its body is a stream that has been read.
"""

from __future__ import annotations

import email.utils
import enum
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import stamina

from swescribe.client.models import ApiError

log = logging.getLogger("swescribe.client")

RETRY_STATUSES = frozenset({429, 503})
"""The service says "not now": rate limited, or its store busy."""
LOCAL_REFUSED_WAIT = 0.2
"""Seconds between tries when a service on this machine refuses the connection: it is
not running, or is just starting, so it is tried again briefly and quietly (the policy's
count of tries, never its growing waits)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long the client retries; `RetryPolicy(retries=0)` turns it off."""

    retries: int = 4
    """Tries after the first one."""
    wait_initial: float = 0.5
    """Seconds before the first retry; doubling from there, plus up to wait_jitter."""
    wait_max: float = 30.0
    """The longest wait between two tries; a longer Retry-After ends the retrying."""
    wait_jitter: float = 1.0
    timeout: float = 120.0
    """Seconds after which no further try starts."""

    def caller(self) -> stamina.RetryingCaller:
        return stamina.RetryingCaller(
            attempts=self.retries + 1,
            timeout=self.timeout,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            wait_jitter=self.wait_jitter,
        )


NO_RETRIES = RetryPolicy(retries=0)


class Repeat(enum.Enum):
    """What a call may be repeated after."""

    SAFE = "safe"
    """GET, DELETE: any lost connection, 429 and 503."""
    UNSENT = "unsent"
    """A POST: only a connection that was never made."""
    NEVER = "never"
    """An upload."""


def retry_after(response: httpx.Response) -> float | None:
    """The response's Retry-After in seconds (delay-seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def backoff_hook(
    policy: RetryPolicy, repeat: Repeat, what: str, host: str = ""
) -> Callable[[Exception], bool | float]:
    """stamina's `on`: whether to retry after an error, and how long to wait when the
    service said (Retry-After); logs each retry it asks for. host: the service's, whose
    refusals on this machine are retried briefly (LOCAL_REFUSED_WAIT)."""
    failures = 0
    local = is_loopback(host)

    def decide(error: Exception) -> bool | float:
        nonlocal failures
        failures += 1
        decision = _decision(policy, repeat, error)
        if decision is not False and local and isinstance(error, httpx.ConnectError):
            log.debug(f"{what}: {_reason(error)}; retrying ({failures}/{policy.retries})")
            return LOCAL_REFUSED_WAIT
        if decision is not False and failures <= policy.retries:
            wait = "" if decision is True else f" in {decision:g} s"
            log.warning(f"{what}: {_reason(error)}; retrying{wait} ({failures}/{policy.retries})")
        return decision

    return decide


def is_loopback(host: str) -> bool:
    """Whether host names this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _decision(policy: RetryPolicy, repeat: Repeat, error: Exception) -> bool | float:
    if repeat is Repeat.NEVER:
        return False
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        return True  # nothing was sent
    if repeat is not Repeat.SAFE:
        return False
    if isinstance(error, httpx.TransportError):
        return True
    if isinstance(error, ApiError) and error.status in RETRY_STATUSES:
        if error.retry_after is None:
            return True
        return error.retry_after if error.retry_after <= policy.wait_max else False
    return False


def _reason(error: Exception) -> str:
    if isinstance(error, ApiError):
        return f"HTTP {error.status}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
