"""Job counts on SQLite, kept by triggers as rows of `jobs` come, change and go.

So /metrics reads a handful of rows whatever the number of jobs, and the counts cannot
drift from the jobs: each trigger runs inside the statement that changed the row. A
database from before the counts gets them once, counted in the same transaction that
installs the triggers.
"""

from __future__ import annotations

import sqlite3

from swescribe.adapters.local.sqlite_db import Database
from swescribe.core.jobs import JobStatus
from swescribe.core.ports import JobCounts

_WEBHOOK = "json_extract({row}.record, '$.webhook_state')"


def _count(kind: str, value: str, delta: int) -> str:
    return (  # every part is a constant of this module: nothing from outside
        f"INSERT INTO job_counts (kind, value, n) VALUES ('{kind}', {value}, {delta}) "  # noqa: S608
        f"ON CONFLICT (kind, value) DO UPDATE SET n = n + ({delta});"
    )


def _changes(row: str, delta: int) -> str:
    return _count("status", f"{row}.status", delta) + _count(
        "webhook", _WEBHOOK.format(row=row), delta
    )


STATEMENTS = (
    "CREATE TABLE job_counts ("
    " kind TEXT NOT NULL, value TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (kind, value))",
    f"CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN {_changes('NEW', 1)} END",
    f"CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN {_changes('OLD', -1)} END",
    "CREATE TRIGGER job_counts_update AFTER UPDATE OF status, record ON jobs BEGIN "
    f"{_changes('OLD', -1)} {_changes('NEW', 1)} END",
    "INSERT INTO job_counts (kind, value, n) "
    "SELECT 'status', status, COUNT(*) FROM jobs GROUP BY status",
    "INSERT INTO job_counts (kind, value, n) "  # noqa: S608 - constants only
    f"SELECT 'webhook', {_WEBHOOK.format(row='jobs')}, COUNT(*) FROM jobs "
    f"GROUP BY {_WEBHOOK.format(row='jobs')}",
)


def install_job_counts(db: Database) -> None:
    """Create the counts table and its triggers once (filled from the jobs already there)."""
    with db.transaction() as connection:
        if _installed(connection):
            return
        for statement in STATEMENTS:
            connection.execute(statement)


def read_job_counts(db: Database) -> JobCounts:
    by_status = dict.fromkeys(JobStatus, 0)
    by_webhook: dict[str, int] = {}
    for row in db.read("SELECT kind, value, n FROM job_counts WHERE n <> 0"):
        if row["kind"] == "status" and row["value"] in JobStatus.__members__.values():
            by_status[JobStatus(row["value"])] = int(row["n"])
        elif row["kind"] == "webhook" and row["value"] is not None:
            by_webhook[str(row["value"])] = int(row["n"])
    return JobCounts(by_status=by_status, by_webhook_state=by_webhook)


def _installed(connection: sqlite3.Connection) -> bool:
    found = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'job_counts_update'"
    ).fetchone()
    return found is not None
