"""Signed webhooks: payload, signatures (seed HMAC and Standard Webhooks), delivery.

This face holds what a receiver needs too (the client re-exports verify_webhook), and
imports nothing else of swescribe. Sending needs the service and the outbound guard:
import it from swescribe.webhooks.delivery (one attempt, backoff) and
swescribe.webhooks.sender (a job's webhook).
"""

from swescribe.webhooks.payload import build_payload
from swescribe.webhooks.signing import (
    WebhookVerificationError,
    seed_signature,
    signature_headers,
    standard_signature,
    verify_webhook,
)

__all__ = [
    "WebhookVerificationError",
    "build_payload",
    "seed_signature",
    "signature_headers",
    "standard_signature",
    "verify_webhook",
]
