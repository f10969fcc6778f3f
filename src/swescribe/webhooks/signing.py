"""Webhook signatures, both schemes, over the raw body.

- The seed's: ``X-Webhook-Signature: hmac-sha256=<hex HMAC-SHA256(secret, body)>``.
- Standard Webhooks (standardwebhooks.com): ``webhook-id``, ``webhook-timestamp`` and
  ``webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``, where
  the key is the secret's UTF-8 bytes, or the decoded value of a ``whsec_`` secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

SEED_HEADER = "X-Webhook-Signature"
SEED_SCHEME = "hmac-sha256="
DEFAULT_TOLERANCE_SECONDS = 300


class WebhookVerificationError(ValueError):
    """The signature is missing, wrong, or outside the replay window."""


def standard_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            pass  # not base64 after all: the whole string is the secret
    return secret.encode()


def seed_signature(secret: str, body: bytes) -> str:
    return SEED_SCHEME + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    secret: str | None, msg_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """Every header a delivery carries; without a secret only the id and timestamp."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if secret:
        headers[SEED_HEADER] = seed_signature(secret, body)
        headers["webhook-signature"] = standard_signature(secret, msg_id, timestamp, body)
    return headers


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
    accept_seed_only: bool = False,
) -> str:
    """Check a delivery; returns the scheme that verified ('standard' or 'seed').

    The Standard Webhooks signature is required by default because its timestamp is
    signed too, so a replay outside the window fails. swescribe always sends both, so a
    delivery without it had the header stripped. accept_seed_only=True also accepts the
    seed's X-Webhook-Signature alone (for senders that only have the seed's scheme); that
    signature cannot tell a replay from a delivery.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    if "webhook-signature" in lower:
        msg_id = lower.get("webhook-id", "")
        try:
            timestamp = int(lower.get("webhook-timestamp", ""))
        except ValueError:
            raise WebhookVerificationError("webhook-timestamp is missing or not a number") from None
        current = time.time() if now is None else now
        if abs(current - timestamp) > tolerance_seconds:
            raise WebhookVerificationError("webhook-timestamp is outside the replay window")
        expected = standard_signature(secret, msg_id, timestamp, body).split(",", 1)[1]
        for candidate in lower["webhook-signature"].split():
            version, _, value = candidate.partition(",")
            if version == "v1" and _same_signature(value, expected):
                return "standard"
        raise WebhookVerificationError("webhook-signature does not match")
    given = lower.get(SEED_HEADER.lower())
    if given is None:
        raise WebhookVerificationError("no signature header")
    if not accept_seed_only:
        raise WebhookVerificationError(
            "webhook-signature is missing (the seed's signature alone cannot detect replays; "
            "pass accept_seed_only=True to accept it)"
        )
    if not _same_signature(given, seed_signature(secret, body)):
        raise WebhookVerificationError(f"{SEED_HEADER} does not match")
    return "seed"


def _same_signature(given: str, expected: str) -> bool:
    """Constant-time comparison; compare_digest raises TypeError on non-ASCII text."""
    return given.isascii() and hmac.compare_digest(given, expected)
