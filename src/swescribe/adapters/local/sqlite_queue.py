"""WorkQueue on SQLite with SQS semantics: at-least-once, visibility timeouts, delays,
receive counts and a dead-letter queue after max_receives."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from swescribe.adapters.local.sqlite_db import BUSY_TIMEOUT_SECONDS, Database
from swescribe.core.ports import Message, WorkItem

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    kind TEXT NOT NULL,
    job_id TEXT NOT NULL,
    object_key TEXT,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    sent_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_items_visible ON queue_items (queue, visible_at, id)
"""
POLL_INTERVAL_SECONDS = 0.1


class SqliteWorkQueue:
    def __init__(
        self,
        path: Path,
        name: str,
        max_receives: int = 5,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
    ) -> None:
        self.db = Database(path, SCHEMA, busy_timeout)
        self.name = name
        self.dead_letter_name = f"{name}-dlq"
        self.max_receives = max_receives
        self.clock = clock

    def send(self, item: WorkItem, delay_seconds: float = 0.0) -> None:
        now = self.clock()
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO queue_items (queue, kind, job_id, object_key, visible_at, sent_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (self.name, item.kind, item.job_id, item.key, now + max(0.0, delay_seconds), now),
            )

    def receive(self, wait_seconds: float, visibility_seconds: float) -> Message | None:
        """The oldest visible item, hidden for visibility_seconds; None after wait_seconds."""
        deadline = time.monotonic() + max(0.0, wait_seconds)
        while True:
            message = self._receive_once(visibility_seconds)
            if message is not None or time.monotonic() >= deadline:
                return message
            time.sleep(min(POLL_INTERVAL_SECONDS, max(0.0, deadline - time.monotonic())))

    def _receive_once(self, visibility_seconds: float) -> Message | None:
        now = self.clock()
        with self.db.transaction() as db:
            while True:
                row = db.execute(
                    "SELECT * FROM queue_items WHERE queue = ? AND visible_at <= ? "
                    "ORDER BY visible_at, id LIMIT 1",
                    (self.name, now),
                ).fetchone()
                if row is None:
                    return None
                if row["receive_count"] >= self.max_receives:
                    db.execute(
                        "UPDATE queue_items SET queue = ?, receipt = NULL WHERE id = ?",
                        (self.dead_letter_name, row["id"]),
                    )
                    continue
                receipt = f"{row['id']}:{uuid.uuid4().hex}"
                db.execute(
                    "UPDATE queue_items SET visible_at = ?, receive_count = receive_count + 1, "
                    "receipt = ? WHERE id = ?",
                    (now + visibility_seconds, receipt, row["id"]),
                )
                item = WorkItem(row["kind"], row["job_id"], row["object_key"])
                return Message(item, receipt, row["receive_count"] + 1)

    def ack(self, message: Message) -> None:
        with self.db.transaction() as db:
            db.execute("DELETE FROM queue_items WHERE receipt = ?", (message.receipt,))

    def release(self, message: Message, delay_seconds: float = 0.0) -> None:
        self._set_visible_at(message, self.clock() + max(0.0, delay_seconds), keep_receipt=False)

    def extend(self, message: Message, visibility_seconds: float) -> None:
        self._set_visible_at(message, self.clock() + visibility_seconds, keep_receipt=True)

    def _set_visible_at(self, message: Message, visible_at: float, keep_receipt: bool) -> None:
        receipt = message.receipt if keep_receipt else None
        with self.db.transaction() as db:
            db.execute(
                "UPDATE queue_items SET visible_at = ?, receipt = ? WHERE receipt = ?",
                (visible_at, receipt, message.receipt),
            )

    def depth(self) -> int:
        """Items waiting, visible or delayed; not those a consumer holds."""
        rows = self.db.read(
            "SELECT COUNT(*) AS n FROM queue_items WHERE queue = ? "
            "AND (receipt IS NULL OR visible_at <= ?)",
            (self.name, self.clock()),
        )
        return int(rows[0]["n"])

    def dead_letters(self) -> list[WorkItem]:
        rows = self.db.read(
            "SELECT kind, job_id, object_key FROM queue_items WHERE queue = ? ORDER BY id",
            (self.dead_letter_name,),
        )
        return [WorkItem(r["kind"], r["job_id"], r["object_key"]) for r in rows]
