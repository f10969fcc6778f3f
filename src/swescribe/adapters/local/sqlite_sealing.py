"""Sealing the callback secrets that an older swescribe stored in plain text.

Run when the job store opens: each plain secret is sealed in place, in one write
transaction (a second process opening the store at once finds nothing left to do). An
UPDATE alone would leave the plain text in the freed space of the database's pages and in
old WAL frames, so the rewrite runs with ``secure_delete`` (freed content is zeroed) and
ends with a truncating checkpoint.
"""

from __future__ import annotations

import logging
import sqlite3

from swescribe.adapters.local.sqlite_db import Database
from swescribe.core.ports import SecretBox

log = logging.getLogger(__name__)

_STORED_SECRETS = (
    "SELECT job_id, json_extract(record, '$.callback_secret') AS secret FROM jobs "
    "WHERE json_type(record, '$.callback_secret') = 'text'"
)


def seal_plain_secrets(db: Database, secrets: SecretBox) -> int:
    """Seal every plain callback secret in the jobs table; returns how many there were."""
    if not _plain_secrets(db.read(_STORED_SECRETS), secrets):
        return 0
    connection = db.connection
    connection.execute("PRAGMA secure_delete = ON")
    try:
        with db.transaction() as locked:
            plain = _plain_secrets(locked.execute(_STORED_SECRETS).fetchall(), secrets)
            for job_id, secret in plain:
                locked.execute(
                    "UPDATE jobs SET record = json_set(record, '$.callback_secret', ?) "
                    "WHERE job_id = ?",
                    (secrets.seal(secret, job_id), job_id),
                )
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.execute("PRAGMA secure_delete = OFF")
    log.info("callback secrets sealed", extra={"jobs": len(plain)})
    return len(plain)


def _plain_secrets(rows: list[sqlite3.Row], secrets: SecretBox) -> list[tuple[str, str]]:
    return [(row["job_id"], row["secret"]) for row in rows if not secrets.is_sealed(row["secret"])]
