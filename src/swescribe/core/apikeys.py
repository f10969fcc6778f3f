"""API keys: generated once, stored only as a hash, checked in constant time.

A key reads ``sws_<key_id>_<secret>``. The key_id finds the stored record; the secret's
SHA-256 is compared with hmac.compare_digest. The secret has 256 bits of entropy, so a
fast hash is enough (there is nothing to brute-force the way there is with passwords).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

KEY_PREFIX = "sws_"


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def prefix(self) -> str:
        """What lists show of a key: enough to recognise it, useless to an attacker."""
        return f"{KEY_PREFIX}{self.key_id}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewKey:
    key_id: str
    plaintext: str
    secret_hash: str


def generate_key() -> NewKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"{KEY_PREFIX}{key_id}_{secret}", hash_secret(secret))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(plaintext: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None."""
    if not plaintext.startswith(KEY_PREFIX) or len(plaintext) > 200:
        return None
    key_id, _, secret = plaintext[len(KEY_PREFIX) :].partition("_")
    if not key_id or not secret:
        return None
    return key_id, secret


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


class ApiKeyStore(Protocol):
    def create(self, name: str) -> tuple[ApiKey, str]:
        """A new key and its plaintext, which is returned this once and never stored."""

    def authenticate(self, plaintext: str) -> ApiKey | None:
        """The active key this plaintext belongs to, else None (unknown, wrong, revoked)."""

    def list_keys(self) -> list[ApiKey]: ...

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke by key_id (or its sws_ prefix); raises KeyNotFound."""
