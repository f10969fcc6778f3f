"""Signed, expiring object links for the local shape (what a presigned S3 URL is on AWS).

A token is ``<base64url(JSON claims)>.<base64url(HMAC-SHA256)>``; the claims name the
object key (or a job's upload prefix), the size limit, the expiry and the purpose: an
upload link ("put") never reads and a download link ("get") never writes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from swescribe.core.errors import Unauthorized

PUT = "put"
GET = "get"


@dataclass(frozen=True)
class UploadGrant:
    key: str
    """An object key, or a prefix ending in '/' that the upload's file name completes."""
    max_bytes: int
    expires_at: float
    """Unix seconds."""
    purpose: str = PUT
    """PUT (upload the object) or GET (read it)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(signing_key: bytes, claims: str) -> str:
    return _b64(hmac.new(signing_key, claims.encode(), hashlib.sha256).digest())


def create_upload_token(grant: UploadGrant, signing_key: bytes) -> str:
    claims = _b64(
        json.dumps(
            {"k": grant.key, "m": grant.max_bytes, "e": int(grant.expires_at), "p": grant.purpose},
            separators=(",", ":"),
        ).encode()
    )
    return f"{claims}.{_mac(signing_key, claims)}"


def verify_upload_token(
    token: str, signing_key: bytes, now: float, purpose: str = PUT
) -> UploadGrant:
    """The grant a valid, unexpired token for purpose carries; Unauthorized otherwise."""
    claims, _, signature = token.partition(".")
    # A token is ASCII; compare_digest raises TypeError on non-ASCII text.
    if not claims or not token.isascii():
        raise Unauthorized("the upload link is not valid")
    if not hmac.compare_digest(signature, _mac(signing_key, claims)):
        raise Unauthorized("the upload link is not valid")
    try:
        data = json.loads(_unb64(claims))
        grant = UploadGrant(
            str(data["k"]), int(data["m"]), float(data["e"]), str(data.get("p", PUT))
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise Unauthorized("the upload link is not valid") from None
    if grant.purpose != purpose:
        raise Unauthorized("the link is not valid for this")
    if grant.expires_at < now:
        raise Unauthorized("the link has expired; create a new job or ask for a new link")
    return grant
