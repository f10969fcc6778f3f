"""One webhook POST, and the retry rules: which outcomes are retried, and when."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from swescribe import __version__
from swescribe.core.errors import UnsafeURL
from swescribe.core.urls import check_url
from swescribe.outbound import guarded_client
from swescribe.webhooks.signing import signature_headers

RETRIED_STATUSES = frozenset({408, 429})
RESPONSE_BYTES = 4096
"""The receiver's body is never read; this caps what the client may buffer of it."""
USER_AGENT = f"swescribe-webhooks/{__version__}"
"""Receivers may log or filter on it; the version is the package's (pyproject)."""


@dataclass(frozen=True)
class DeliveryOptions:
    """How one attempt is made (timeouts, http allowed) and when the next one comes (backoff).
    How many attempts a job gets is the service's Policy.webhook_max_attempts."""

    base_delay: float = 2.0
    """First retry after about this many seconds; doubling from there."""
    max_delay: float = 600.0
    timeout: float = 5.0
    """Connect, read and write timeout of one attempt."""
    attempt_deadline: float = 10.0
    """Longest one attempt may take in all, connecting and the response's headers
    included (a receiver dripping bytes cannot hold a delivery thread longer)."""
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
    attempt: int, policy: DeliveryOptions, rng: random.Random, retry_after: float | None = None
) -> float:
    """Exponential backoff with full jitter in its upper half; a Retry-After is honoured."""
    # The exponent is bounded: 2 ** 1024 does not fit a float, and 2 ** 64 is past any cap.
    ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** min(attempt - 1, 64))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.max_delay))
    return delay


def deliver_once(
    url: str, body: bytes, secret: str | None, msg_id: str, *, policy: DeliveryOptions
) -> DeliveryRecord:
    """POST body to url, signed; never raises, never follows redirects, reads no body.

    The host's addresses are checked when connecting (swescribe.outbound): one that is
    not public is an unsafe_url record, which is not retried.
    """
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signature_headers(secret, msg_id, body),
    }
    try:
        check_url(url, allow_http=policy.allow_http, what="callback_url")
        with (
            guarded_client(
                allow_loopback=policy.allow_http,
                timeout=policy.timeout,
                total_timeout=policy.attempt_deadline,
                max_response_bytes=RESPONSE_BYTES,
                what="callback_url",
            ) as client,
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            status, retry_after = response.status_code, _retry_after(response)
    except UnsafeURL as error:
        return DeliveryRecord(None, f"unsafe_url: {error}")
    except httpx.InvalidURL as error:
        return DeliveryRecord(None, f"unsafe_url: callback_url is not a valid URL ({error})")
    except httpx.TimeoutException as error:
        return DeliveryRecord(None, f"timeout: {type(error).__name__}")
    except httpx.HTTPError as error:
        return DeliveryRecord(None, f"connection error: {type(error).__name__}: {error}")
    failure = None if 200 <= status < 300 else f"HTTP {status}"
    return DeliveryRecord(status, failure, retry_after)


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
