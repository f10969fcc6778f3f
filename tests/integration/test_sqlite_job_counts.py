"""/metrics' job counts on real SQLite: read from the counts table the triggers keep, never
from the jobs themselves, and filled once for a database that had jobs before them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from swescribe.adapters.local.sqlite_jobs import SqliteJobStore
from swescribe.core.jobs import Job, JobStatus, WebhookState

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def job(number: int, status: JobStatus = JobStatus.REGISTERED) -> Job:
    return Job(
        job_id=f"j{number}",
        owner="k1",
        status=status,
        created_at=NOW,
        updated_at=NOW,
        webhook_state=WebhookState.PENDING if number % 2 else WebhookState.NONE,
    )


def test_counting_reads_no_job_however_many_there_are(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "jobs.db")
    for number in range(2000):
        store.create(job(number, JobStatus.COMPLETED if number % 4 == 0 else JobStatus.REGISTERED))
    statements: list[str] = []
    store.db.connection.set_trace_callback(statements.append)
    counts = store.counts()
    store.db.connection.set_trace_callback(None)
    assert counts.by_status[JobStatus.COMPLETED] == 500
    assert counts.by_status[JobStatus.REGISTERED] == 1500
    assert counts.by_webhook_state == {"pending": 1000, "none": 1000}
    assert statements, "the trace saw the query"
    assert not any("FROM jobs" in statement for statement in statements), statements


def test_a_database_from_before_the_counts_gets_them_filled_once(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    old = SqliteJobStore(path)
    for number in range(7):
        old.create(job(number))
    with old.db.transaction() as connection:  # as a database written by an older version
        for trigger in ("job_counts_insert", "job_counts_delete", "job_counts_update"):
            connection.execute(f"DROP TRIGGER {trigger}")
        connection.execute("DROP TABLE job_counts")
    store = SqliteJobStore(path)
    assert store.counts().by_status[JobStatus.REGISTERED] == 7
    store.update("j0", None, {"status": JobStatus.LAUNCHING})
    again = SqliteJobStore(path)  # opening again counts nothing twice
    assert again.counts().by_status[JobStatus.REGISTERED] == 6
    assert again.counts().by_status[JobStatus.LAUNCHING] == 1
