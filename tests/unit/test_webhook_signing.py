"""Webhook signatures against hand-computed HMACs and the real standardwebhooks package."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from swescribe.webhooks.signing import (
    WebhookVerificationError,
    seed_signature,
    signature_headers,
    verify_webhook,
)

SECRET = "hemlig-nyckel-åäö"
BODY = b'{"job_id": "job-1", "status": "complete"}'
MSG_ID = "msg_0123456789abcdef"
TIMESTAMP = 1_733_063_422


def standard_webhooks_key(secret: str) -> str:
    """How a receiver configures the standardwebhooks package for a plain-text secret."""
    return "whsec_" + base64.b64encode(secret.encode("utf-8")).decode()


def test_seed_signature_is_hmac_sha256_hex_of_the_body_with_the_seed_prefix() -> None:
    expected = hmac.new(SECRET.encode("utf-8"), BODY, hashlib.sha256).hexdigest()
    assert seed_signature(SECRET, BODY) == f"hmac-sha256={expected}"


def test_headers_carry_the_seed_signature_computed_by_hand() -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    expected = hmac.new(SECRET.encode("utf-8"), BODY, hashlib.sha256).hexdigest()
    assert headers["X-Webhook-Signature"] == f"hmac-sha256={expected}"


def test_standard_signature_is_base64_hmac_of_id_timestamp_and_body() -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    signed = f"{MSG_ID}.{TIMESTAMP}.".encode() + BODY
    digest = hmac.new(SECRET.encode("utf-8"), signed, hashlib.sha256).digest()
    assert headers["webhook-id"] == MSG_ID
    assert headers["webhook-timestamp"] == str(TIMESTAMP)
    assert headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()


def test_standard_signature_verifies_with_the_standardwebhooks_package() -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY)
    payload = Webhook(standard_webhooks_key(SECRET)).verify(BODY, headers)
    assert payload == {"job_id": "job-1", "status": "complete"}


def test_whsec_secret_is_used_as_its_decoded_key_as_the_package_does() -> None:
    raw_key = bytes(range(32))
    whsec = "whsec_" + base64.b64encode(raw_key).decode()
    headers = signature_headers(whsec, MSG_ID, BODY)

    Webhook(whsec).verify(BODY, headers)
    signed = f"{MSG_ID}.{headers['webhook-timestamp']}.".encode() + BODY
    digest = hmac.new(raw_key, signed, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()
    assert verify_webhook(headers, BODY, whsec) == "standard"


def test_without_a_secret_only_the_id_and_timestamp_are_sent() -> None:
    for no_secret in (None, ""):
        headers = signature_headers(no_secret, MSG_ID, BODY, timestamp=TIMESTAMP)
        assert headers == {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP)}


def test_timestamp_defaults_to_now() -> None:
    before = int(time.time())
    headers = signature_headers(SECRET, MSG_ID, BODY)
    assert before <= int(headers["webhook-timestamp"]) <= int(time.time())


def test_verify_prefers_the_standard_scheme_when_both_are_present() -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    assert verify_webhook(headers, BODY, SECRET, now=TIMESTAMP) == "standard"


def test_verify_accepts_the_seed_scheme_alone_only_when_asked() -> None:
    headers = {"X-Webhook-Signature": seed_signature(SECRET, BODY)}
    assert verify_webhook(headers, BODY, SECRET, accept_seed_only=True) == "seed"
    with pytest.raises(WebhookVerificationError, match="webhook-signature is missing"):
        verify_webhook(headers, BODY, SECRET)


def test_a_stale_delivery_with_its_standard_headers_stripped_is_still_a_replay() -> None:
    """An attacker who captured a delivery cannot replay it by dropping webhook-signature."""
    captured = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    stripped = {"X-Webhook-Signature": captured["X-Webhook-Signature"]}
    with pytest.raises(WebhookVerificationError):
        verify_webhook(stripped, BODY, SECRET, now=TIMESTAMP + 3600)


def test_verify_reads_header_names_case_insensitively() -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    upper = {name.upper(): value for name, value in headers.items()}
    assert verify_webhook(upper, BODY, SECRET, now=TIMESTAMP) == "standard"
    seed_only = {"x-webhook-signature": headers["X-Webhook-Signature"]}
    assert verify_webhook(seed_only, BODY, SECRET, accept_seed_only=True) == "seed"


def test_verify_accepts_any_matching_signature_in_a_space_separated_list() -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    headers["webhook-signature"] = "v1,bm90LWl0 v2,xyz " + headers["webhook-signature"]
    assert verify_webhook(headers, BODY, SECRET, now=TIMESTAMP) == "standard"


def test_tampered_body_is_rejected_by_both_schemes() -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    tampered = BODY.replace(b"complete", b"failed")
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify_webhook(headers, tampered, SECRET, now=TIMESTAMP)
    seed_only = {"X-Webhook-Signature": headers["X-Webhook-Signature"]}
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify_webhook(seed_only, tampered, SECRET, accept_seed_only=True)


def test_wrong_secret_is_rejected_by_both_schemes() -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, BODY, "another-secret", now=TIMESTAMP)
    seed_only = {"X-Webhook-Signature": headers["X-Webhook-Signature"]}
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify_webhook(seed_only, BODY, "another-secret", accept_seed_only=True)


def test_changed_message_id_breaks_the_standard_signature() -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    headers["webhook-id"] = "msg_replayed"
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify_webhook(headers, BODY, SECRET, now=TIMESTAMP)


def test_changed_timestamp_breaks_the_standard_signature() -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    headers["webhook-timestamp"] = str(TIMESTAMP + 1)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify_webhook(headers, BODY, SECRET, now=TIMESTAMP)


def test_timestamp_inside_the_replay_window_is_accepted_at_its_edges() -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    assert verify_webhook(headers, BODY, SECRET, now=TIMESTAMP + 300) == "standard"
    assert verify_webhook(headers, BODY, SECRET, now=TIMESTAMP - 300) == "standard"


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_timestamp_outside_the_replay_window_is_rejected(offset: int) -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match="replay window"):
        verify_webhook(headers, BODY, SECRET, now=TIMESTAMP + offset)


def test_replay_window_follows_the_tolerance_argument() -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match="replay window"):
        verify_webhook(headers, BODY, SECRET, tolerance_seconds=10, now=TIMESTAMP + 11)
    assert verify_webhook(headers, BODY, SECRET, tolerance_seconds=10, now=TIMESTAMP + 10)


def test_no_signature_header_at_all_is_rejected() -> None:
    headers = signature_headers(None, MSG_ID, BODY, timestamp=TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match="no signature header"):
        verify_webhook(headers, BODY, SECRET, now=TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match="no signature header"):
        verify_webhook({}, BODY, SECRET)


@pytest.mark.parametrize("timestamp", [None, "", "yesterday"])
def test_standard_signature_without_a_numeric_timestamp_is_rejected(
    timestamp: str | None,
) -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    if timestamp is None:
        del headers["webhook-timestamp"]
    else:
        headers["webhook-timestamp"] = timestamp
    with pytest.raises(WebhookVerificationError, match="webhook-timestamp"):
        verify_webhook(headers, BODY, SECRET, now=TIMESTAMP)


def test_standard_signature_without_the_message_id_is_rejected() -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    del headers["webhook-id"]
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify_webhook(headers, BODY, SECRET, now=TIMESTAMP)


@pytest.mark.parametrize(
    "garbage", ["", "v1", "v1,", "v2," + "A" * 44, "hmac-sha256=00", "v1,ÅÄÖ", "v1,\u00ff\u00fe"]
)
def test_garbage_standard_signature_is_a_verification_error(garbage: str) -> None:
    headers = signature_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    headers["webhook-signature"] = garbage
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, BODY, SECRET, now=TIMESTAMP)


@pytest.mark.parametrize("garbage", ["", "hmac-sha256=", "sha1=abc", "hmac-sha256=ÅÄÖ", "\u00e9"])
def test_garbage_seed_signature_is_a_verification_error(garbage: str) -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook({"X-Webhook-Signature": garbage}, BODY, SECRET)


plain_secrets = st.text(min_size=1).filter(lambda s: not s.startswith("whsec_"))


@given(body=st.binary(), secret=plain_secrets)
def test_any_body_and_secret_round_trip_through_both_schemes(body: bytes, secret: str) -> None:
    headers = signature_headers(secret, MSG_ID, body, timestamp=TIMESTAMP)
    assert verify_webhook(headers, body, secret, now=TIMESTAMP) == "standard"
    seed_only = {"X-Webhook-Signature": headers["X-Webhook-Signature"]}
    assert verify_webhook(seed_only, body, secret, accept_seed_only=True) == "seed"


@given(text=st.text(), secret=plain_secrets)
def test_any_text_body_and_secret_verify_with_the_standardwebhooks_package(
    text: str, secret: str
) -> None:
    # The package decodes the body as UTF-8, so it can only check bodies that are text.
    body = text.encode("utf-8")
    headers = signature_headers(secret, MSG_ID, body)
    Webhook(standard_webhooks_key(secret)).verify(body, headers, json_parse=False)


@given(key=st.binary(min_size=1, max_size=64), text=st.text())
def test_any_whsec_secret_verifies_with_the_standardwebhooks_package(key: bytes, text: str) -> None:
    whsec = "whsec_" + base64.b64encode(key).decode()
    body = text.encode("utf-8")
    headers = signature_headers(whsec, MSG_ID, body)
    Webhook(whsec).verify(body, headers, json_parse=False)
    assert verify_webhook(headers, body, whsec) == "standard"


@given(body=st.binary(min_size=1), secret=plain_secrets, data=st.data())
def test_any_single_flipped_byte_of_the_body_fails_both_schemes(
    body: bytes, secret: str, data: st.DataObject
) -> None:
    headers = signature_headers(secret, MSG_ID, body, timestamp=TIMESTAMP)
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="xor")
    tampered = bytearray(body)
    tampered[index] ^= flip
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, bytes(tampered), secret, now=TIMESTAMP)
    seed_only = {"X-Webhook-Signature": headers["X-Webhook-Signature"]}
    with pytest.raises(WebhookVerificationError):
        verify_webhook(seed_only, bytes(tampered), secret)
