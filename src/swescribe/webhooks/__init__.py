"""Signed webhooks: payload, signatures (seed HMAC and Standard Webhooks), delivery."""

from swescribe.webhooks.delivery import (
    DeliveryRecord,
    RetryPolicy,
    deliver_once,
    next_delay,
    should_retry,
)
from swescribe.webhooks.payload import build_payload
from swescribe.webhooks.signing import (
    WebhookVerificationError,
    seed_signature,
    signature_headers,
    standard_signature,
    verify_webhook,
)

__all__ = [
    "DeliveryRecord",
    "RetryPolicy",
    "WebhookVerificationError",
    "build_payload",
    "deliver_once",
    "next_delay",
    "seed_signature",
    "should_retry",
    "signature_headers",
    "standard_signature",
    "verify_webhook",
]
