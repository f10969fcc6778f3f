"""One webhook POST, and the retry rules: which outcomes are retried, and when."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from swescribe.core.errors import UnsafeURL
from swescribe.outbound import check_outbound_url
from swescribe.webhooks.signing import signature_headers

RETRIED_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 2.0
    """First retry after about this many seconds; doubling from there."""
    max_delay: float = 600.0
    timeout: float = 10.0
    """Connect and read timeout of one attempt."""
    allow_http: bool = False
    """Local dev mode: http to loopback receivers."""


@dataclass(frozen=True)
class DeliveryRecord:
    status: int | None
    error: str | None
    retry_after: float | None = None
    """The receiver's Retry-After, in seconds, when it sent one."""


def should_retry(status: int | None, error: str | None) -> bool:
    """Timeouts, connection errors, 408, 429 and 5xx are retried; other 4xx are not."""
    if status is None:
        return error is not None and not error.startswith("unsafe_url")
    return status in RETRIED_STATUSES or status >= 500


def next_delay(
    attempt: int, policy: RetryPolicy, rng: random.Random, retry_after: float | None = None
) -> float:
    """Exponential backoff with full jitter in its upper half; a Retry-After is honoured."""
    # The exponent is bounded: 2 ** 1024 does not fit a float, and 2 ** 64 is past any cap.
    ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** min(attempt - 1, 64))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.max_delay))
    return delay


def deliver_once(
    url: str, body: bytes, secret: str | None, msg_id: str, *, policy: RetryPolicy
) -> DeliveryRecord:
    """POST body to url, signed; never raises, never follows redirects."""
    try:
        check_outbound_url(url, allow_http=policy.allow_http, what="callback_url")
    except UnsafeURL as error:
        return DeliveryRecord(None, f"unsafe_url: {error}")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "swescribe-webhooks/1",
        **signature_headers(secret, msg_id, body),
    }
    try:
        with httpx.Client(timeout=policy.timeout, follow_redirects=False) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException as error:
        return DeliveryRecord(None, f"timeout: {type(error).__name__}")
    except httpx.HTTPError as error:
        return DeliveryRecord(None, f"connection error: {type(error).__name__}: {error}")
    failure = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return DeliveryRecord(response.status_code, failure, _retry_after(response))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isascii() and value.strip().isdigit():  # "²".isdigit() is true too
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000" or no zone: HTTP dates are always UTC
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
