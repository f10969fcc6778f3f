"""WorkQueue on SQLite with SQS semantics: at-least-once, visibility timeouts, delays,
receive counts and a dead-letter queue after max_receives; keys take turns.

Taking turns (start-time fair queuing): each item gets a turn when it is sent, one past
the later of its owner's last turn still in the queue and the turn being served now;
receive takes the visible item with the lowest turn, oldest first among equals. So one
key's 500 items hold 500 turns, and another key's first item is served at the next turn
instead of after all of them. Items without an owner (webhooks, items from before owners
travelled) are one more owner among the rest.
"""

from __future__ import annotations

import sqlite3
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
CREATE INDEX IF NOT EXISTS queue_items_visible ON queue_items (queue, visible_at, id);
CREATE TABLE IF NOT EXISTS queue_turns (
    queue TEXT PRIMARY KEY,
    served INTEGER NOT NULL
)
"""
ADDED_COLUMNS = {"owner": "TEXT", "turn": "INTEGER NOT NULL DEFAULT 0"}
"""Columns a queue from before turns lacks: its items get turn 0, so they come first."""
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
        _add_turn_columns(self.db)
        self.name = name
        self.dead_letter_name = f"{name}-dlq"
        self.max_receives = max_receives
        self.clock = clock

    def send(self, item: WorkItem, delay_seconds: float = 0.0) -> None:
        now = self.clock()
        with self.db.transaction() as db:
            last = db.execute(
                "SELECT MAX(turn) AS turn FROM queue_items WHERE queue = ? AND owner IS ?",
                (self.name, item.owner),
            ).fetchone()["turn"]
            turn = max(last or 0, _served(db, self.name)) + 1
            db.execute(
                "INSERT INTO queue_items "
                "(queue, kind, job_id, object_key, owner, turn, visible_at, sent_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.name,
                    item.kind,
                    item.job_id,
                    item.key,
                    item.owner,
                    turn,
                    now + max(0.0, delay_seconds),
                    now,
                ),
            )

    def receive(self, wait_seconds: float, visibility_seconds: float) -> Message | None:
        """The visible item with the lowest turn (the oldest among equals), hidden for
        visibility_seconds; None after wait_seconds."""
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
                    "ORDER BY turn, id LIMIT 1",
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
                db.execute(
                    "INSERT INTO queue_turns (queue, served) VALUES (?, ?) ON CONFLICT (queue) "
                    "DO UPDATE SET served = MAX(served, excluded.served)",
                    (self.name, row["turn"]),
                )
                item = WorkItem(row["kind"], row["job_id"], row["object_key"], row["owner"])
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
            "SELECT kind, job_id, object_key, owner FROM queue_items WHERE queue = ? ORDER BY id",
            (self.dead_letter_name,),
        )
        return [WorkItem(r["kind"], r["job_id"], r["object_key"], r["owner"]) for r in rows]


def _served(db: sqlite3.Connection, queue: str) -> int:
    """The highest turn received so far: a newly active owner starts there, not at 1."""
    row = db.execute("SELECT served FROM queue_turns WHERE queue = ?", (queue,)).fetchone()
    return int(row["served"]) if row else 0


def _add_turn_columns(database: Database) -> None:
    """CREATE TABLE IF NOT EXISTS leaves an older table as it was: add what it lacks."""
    with database.transaction() as db:
        present = {row["name"] for row in db.execute("PRAGMA table_info(queue_items)")}
        for column, definition in ADDED_COLUMNS.items():
            if column not in present:
                db.execute(f"ALTER TABLE queue_items ADD COLUMN {column} {definition}")
        for index in (
            "queue_items_turn ON queue_items (queue, turn, id)",
            "queue_items_owner ON queue_items (queue, owner, turn)",
        ):
            db.execute(f"CREATE INDEX IF NOT EXISTS {index}")
