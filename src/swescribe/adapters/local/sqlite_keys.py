"""ApiKeyStore on SQLite: key ids, names and SHA-256 hashes of the secrets, never keys."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from swescribe.adapters.local.sqlite_db import BUSY_TIMEOUT_SECONDS, Database
from swescribe.core.apikeys import (
    KEY_PREFIX,
    ApiKey,
    generate_key,
    secret_matches,
    split_key,
)
from swescribe.core.errors import KeyNotFound
from swescribe.core.jobs import from_iso, to_iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)
"""


def _key(row: sqlite3.Row) -> ApiKey:
    created = from_iso(row["created_at"])
    assert created is not None
    return ApiKey(row["key_id"], row["name"], created, from_iso(row["revoked_at"]))


class SqliteApiKeyStore:
    def __init__(self, path: Path, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.db = Database(path, SCHEMA, busy_timeout)

    def create(self, name: str) -> tuple[ApiKey, str]:
        new = generate_key()
        now = datetime.now(UTC)
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO api_keys (key_id, name, secret_hash, created_at) VALUES (?, ?, ?, ?)",
                (new.key_id, name, new.secret_hash, to_iso(now)),
            )
        return ApiKey(new.key_id, name, now.replace(microsecond=0)), new.plaintext

    def authenticate(self, plaintext: str) -> ApiKey | None:
        parts = split_key(plaintext)
        if parts is None:
            return None
        key_id, secret = parts
        rows = self.db.read("SELECT * FROM api_keys WHERE key_id = ?", (key_id,))
        if not rows or not secret_matches(secret, rows[0]["secret_hash"]):
            return None
        key = _key(rows[0])
        return key if key.active else None

    def list_keys(self) -> list[ApiKey]:
        return [_key(row) for row in self.db.read("SELECT * FROM api_keys ORDER BY created_at")]

    def revoke(self, key_id: str) -> ApiKey:
        key_id = key_id.removeprefix(KEY_PREFIX).split("_", 1)[0]
        with self.db.transaction() as db:
            db.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?",
                (to_iso(datetime.now(UTC)), key_id),
            )
            row = db.execute("SELECT * FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is None:
            raise KeyNotFound(f"no API key {key_id!r} (see: swescribe keys list)")
        return _key(row)
