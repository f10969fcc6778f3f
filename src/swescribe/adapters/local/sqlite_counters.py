"""Counters on SQLite: one row per counter, added to in one statement (any process)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from swescribe.adapters.local.sqlite_db import BUSY_TIMEOUT_SECONDS, Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value REAL NOT NULL
)
"""


class SqliteCounters:
    def __init__(self, path: Path, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.db = Database(path, SCHEMA, busy_timeout)

    def add(self, amounts: Mapping[str, float]) -> None:
        with self.db.transaction() as db:
            db.executemany(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                list(amounts.items()),
            )

    def read(self) -> dict[str, float]:
        return {row["name"]: row["value"] for row in self.db.read("SELECT * FROM counters")}
