"""Signed upload links: they carry their grant, and anything else is Unauthorized."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swescribe.adapters.local.upload_tokens import (
    UploadGrant,
    create_upload_token,
    verify_upload_token,
)
from swescribe.core.errors import Unauthorized

KEY = b"k" * 32
NOW = 1_733_063_422.0
GRANT = UploadGrant(key="uploads/job-1/", max_bytes=500 * 1024 * 1024, expires_at=NOW + 3600)


def unpadded_b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def signed_by_hand(claims: str) -> str:
    """The documented format: <claims>.<base64url(HMAC-SHA256(key, claims))>."""
    return f"{claims}.{unpadded_b64(hmac.new(KEY, claims.encode(), hashlib.sha256).digest())}"


def test_token_is_the_documented_format_signed_by_hand() -> None:
    token = create_upload_token(GRANT, KEY)
    claims, _ = token.split(".")
    assert token == signed_by_hand(claims)
    padded = claims + "=" * (-len(claims) % 4)
    assert json.loads(base64.urlsafe_b64decode(padded)) == {
        "k": GRANT.key,
        "m": GRANT.max_bytes,
        "e": int(GRANT.expires_at),
        "p": "put",
    }


def test_token_round_trips_to_the_same_grant() -> None:
    token = create_upload_token(GRANT, KEY)
    assert verify_upload_token(token, KEY, now=NOW) == GRANT


def test_token_is_url_safe() -> None:
    token = create_upload_token(UploadGrant("uploads/job-1/Ölandsbron å.mp3", 10, NOW), KEY)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_grant_with_swedish_object_key_round_trips() -> None:
    grant = UploadGrant("uploads/job-1/Ölandsbron_å.mp3", 1, NOW + 1)
    assert verify_upload_token(create_upload_token(grant, KEY), KEY, now=NOW) == grant


def test_fractional_expiry_is_kept_to_the_whole_second() -> None:
    token = create_upload_token(UploadGrant("k", 1, NOW + 10.9), KEY)
    assert verify_upload_token(token, KEY, now=NOW).expires_at == NOW + 10


def test_token_is_valid_up_to_its_expiry_second() -> None:
    token = create_upload_token(GRANT, KEY)
    assert verify_upload_token(token, KEY, now=GRANT.expires_at) == GRANT


def test_expired_token_is_unauthorized_and_says_it_expired() -> None:
    token = create_upload_token(GRANT, KEY)
    with pytest.raises(Unauthorized, match="expired"):
        verify_upload_token(token, KEY, now=GRANT.expires_at + 1)


def test_wrong_signing_key_is_unauthorized() -> None:
    token = create_upload_token(GRANT, KEY)
    with pytest.raises(Unauthorized, match="not valid"):
        verify_upload_token(token, b"another key", now=NOW)


def test_tampered_claims_are_unauthorized() -> None:
    token = create_upload_token(GRANT, KEY)
    _, signature = token.split(".")
    bigger = {"k": GRANT.key, "m": 10 * GRANT.max_bytes, "e": int(GRANT.expires_at)}
    forged = unpadded_b64(json.dumps(bigger).encode()) + "." + signature
    with pytest.raises(Unauthorized, match="not valid"):
        verify_upload_token(forged, KEY, now=NOW)


def test_other_object_key_cannot_borrow_a_signature() -> None:
    token = create_upload_token(GRANT, KEY)
    other = create_upload_token(UploadGrant("uploads/job-2/", GRANT.max_bytes, NOW + 3600), KEY)
    claims_other, _ = other.split(".")
    _, signature = token.split(".")
    with pytest.raises(Unauthorized):
        verify_upload_token(f"{claims_other}.{signature}", KEY, now=NOW)


@pytest.mark.parametrize("position", [0, 5, -1])
def test_tampered_signature_is_unauthorized(position: int) -> None:
    token = create_upload_token(GRANT, KEY)
    claims, signature = token.split(".")
    characters = list(signature)
    characters[position] = "A" if characters[position] != "A" else "B"
    with pytest.raises(Unauthorized, match="not valid"):
        verify_upload_token(f"{claims}.{''.join(characters)}", KEY, now=NOW)


def test_missing_signature_is_unauthorized() -> None:
    claims, _ = create_upload_token(GRANT, KEY).split(".")
    for token in (claims, claims + "."):
        with pytest.raises(Unauthorized):
            verify_upload_token(token, KEY, now=NOW)


@pytest.mark.parametrize(
    "claims",
    [
        b"not json",
        b"[1, 2, 3]",
        b'"a string"',
        b"{}",
        b'{"k": "x", "m": "many", "e": 1}',
        b'{"k": "x", "m": 1, "e": null}',
        b'{"k": "x", "m": 1}',
        b"\xff\xfe",
    ],
)
def test_correctly_signed_but_malformed_claims_are_unauthorized(claims: bytes) -> None:
    # Only the holder of the key could make these; they must still fail cleanly.
    with pytest.raises(Unauthorized, match="not valid"):
        verify_upload_token(signed_by_hand(unpadded_b64(claims)), KEY, now=NOW)


@pytest.mark.parametrize(
    "garbage",
    ["", ".", "..", "abc", "abc.def", "a.b.c", "ÅÄÖ.åäö", "eyJrIjoi.ö", "\x00.\x00", "🙂.🙂", " "],
)
def test_garbage_strings_are_unauthorized(garbage: str) -> None:
    with pytest.raises(Unauthorized):
        verify_upload_token(garbage, KEY, now=NOW)


@given(st.text())
def test_any_random_text_is_unauthorized_never_another_error(garbage: str) -> None:
    with pytest.raises(Unauthorized):
        verify_upload_token(garbage, KEY, now=NOW)


@given(
    key=st.text(),
    max_bytes=st.integers(min_value=0, max_value=2**53),
    lifetime=st.integers(min_value=0, max_value=10**9),
)
def test_any_grant_round_trips(key: str, max_bytes: int, lifetime: int) -> None:
    grant = UploadGrant(key, max_bytes, NOW + lifetime)
    assert verify_upload_token(create_upload_token(grant, KEY), KEY, now=NOW) == grant


def test_a_token_is_valid_only_for_its_purpose() -> None:
    read = UploadGrant(key="transcription_upload/job-1/a.wav", max_bytes=0, expires_at=NOW + 60)
    read = UploadGrant(read.key, read.max_bytes, read.expires_at, purpose="get")
    token = create_upload_token(read, KEY)
    assert verify_upload_token(token, KEY, now=NOW, purpose="get") == read
    with pytest.raises(Unauthorized, match="not valid for this"):
        verify_upload_token(token, KEY, now=NOW)  # an upload needs a "put" token
    with pytest.raises(Unauthorized, match="not valid for this"):
        verify_upload_token(create_upload_token(GRANT, KEY), KEY, now=NOW, purpose="get")
