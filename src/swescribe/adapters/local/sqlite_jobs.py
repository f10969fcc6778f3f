"""JobStore on SQLite: one row per job, conditional transitions under the write lock.

A job's callback secret is sealed by a SecretBox before it is written and opened when read:
the database files never hold one in plain text (secrets an older swescribe stored plain
are sealed when the store opens, see sqlite_sealing)."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from swescribe.adapters.local.key_files import read_or_create_secret
from swescribe.adapters.local.secret_box import KEY_FILE_NAME, AesGcmSecretBox
from swescribe.adapters.local.sqlite_db import BUSY_TIMEOUT_SECONDS, Database
from swescribe.adapters.local.sqlite_job_counts import install_job_counts, read_job_counts
from swescribe.adapters.local.sqlite_sealing import seal_plain_secrets
from swescribe.core.cursors import decode_cursor, encode_cursor
from swescribe.core.errors import JobNotFound, SecretUnreadable, TransitionConflict
from swescribe.core.jobs import (
    Job,
    JobChanges,
    JobStatus,
    UnreadableSecret,
    encode_change,
    job_from_record,
    job_to_record,
)
from swescribe.core.ports import Expect, JobCounts, Page, SecretBox

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, created_at DESC, job_id DESC);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created_at DESC, job_id DESC);
CREATE INDEX IF NOT EXISTS jobs_by_owner_status ON jobs (owner, status, created_at)
"""


class SqliteJobStore:
    def __init__(
        self,
        path: Path,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
        secrets: SecretBox | None = None,
    ) -> None:
        """`secrets` defaults to a box keyed by the key file beside the database (what
        bootstrap passes for the data directory)."""
        self.db = Database(path, SCHEMA, busy_timeout)
        self.secrets = secrets or AesGcmSecretBox(
            read_or_create_secret(path.with_name(KEY_FILE_NAME))
        )
        install_job_counts(self.db)
        seal_plain_secrets(self.db, self.secrets)

    def create(self, job: Job) -> None:
        record = job_to_record(job)
        if isinstance(job.callback_secret, str):
            record["callback_secret"] = self.secrets.seal(job.callback_secret, job.job_id)
        with self.db.transaction() as db:
            exists = db.execute("SELECT 1 FROM jobs WHERE job_id = ?", (job.job_id,)).fetchone()
            if exists:
                raise TransitionConflict(f"job {job.job_id} already exists")
            db.execute(
                "INSERT INTO jobs (job_id, owner, status, created_at, record) "
                "VALUES (?, ?, ?, ?, ?)",
                (job.job_id, job.owner, job.status.value, record["created_at"], json.dumps(record)),
            )

    def get(self, job_id: str) -> Job | None:
        rows = self.db.read("SELECT record FROM jobs WHERE job_id = ?", (job_id,))
        return self._job(json.loads(rows[0]["record"])) if rows else None

    def update(self, job_id: str, expect: Expect | None, changes: JobChanges) -> Job:
        encoded = {name: encode_change(name, value) for name, value in changes.items()}
        if isinstance(secret := changes.get("callback_secret"), str):
            encoded["callback_secret"] = self.secrets.seal(secret, job_id)
        with self.db.transaction() as db:
            row = db.execute("SELECT record FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFound(f"no job {job_id!r}")
            record = json.loads(row["record"])
            current = job_from_record(record)
            if expect is not None and not expect.matches(current):
                raise TransitionConflict(
                    f"job {job_id} is {current.status.value}; expected "
                    f"{'/'.join(sorted(s.value for s in expect.statuses))}"
                )
            record.update(encoded)
            updated = self._job(record)
            db.execute(
                "UPDATE jobs SET status = ?, record = ? WHERE job_id = ?",
                (updated.status.value, json.dumps(record), job_id),
            )
        return updated

    def list_jobs(
        self,
        owner: str | None,
        status: JobStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        clauses, parameters = [], []
        if owner is not None:
            clauses.append("owner = ?")
            parameters.append(owner)
        if status is not None:
            clauses.append("status = ?")
            parameters.append(status.value)
        if cursor:
            created_at, job_id = decode_cursor(cursor)
            clauses.append("(created_at < ? OR (created_at = ? AND job_id < ?))")
            parameters += [created_at, created_at, job_id]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.read(
            f"SELECT record FROM jobs {where} "  # noqa: S608 - clauses are fixed strings
            "ORDER BY created_at DESC, job_id DESC LIMIT ?",
            (*parameters, limit + 1),
        )
        jobs = [self._job(json.loads(row["record"])) for row in rows[:limit]]
        more = len(rows) > limit
        return Page(
            jobs,
            encode_cursor(encode_change("created_at", jobs[-1].created_at), jobs[-1].job_id)
            if more and jobs
            else None,
        )

    def list_by_status(self, statuses: Collection[JobStatus], limit: int = 500) -> list[Job]:
        if not statuses:
            return []
        marks = ",".join("?" * len(statuses))
        rows = self.db.read(
            f"SELECT record FROM jobs WHERE status IN ({marks}) "  # noqa: S608
            "ORDER BY created_at LIMIT ?",
            (*(s.value for s in statuses), limit),
        )
        return [self._job(json.loads(row["record"])) for row in rows]

    def delete(self, job_id: str) -> bool:
        with self.db.transaction() as db:
            return db.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,)).rowcount > 0

    def count_jobs(
        self, owner: str, status: JobStatus, created_since: datetime | None = None
    ) -> int:
        """On the (owner, status, created_at) index: the rows counted, no record read."""
        since = encode_change("created_at", created_since) if created_since else ""
        rows = self.db.read(
            "SELECT COUNT(*) AS n FROM jobs WHERE owner = ? AND status = ? AND created_at >= ?",
            (owner, status.value, since),
        )
        return int(rows[0]["n"])

    def counts(self) -> JobCounts:
        """From the counts table the triggers keep: a few rows, however many jobs."""
        return read_job_counts(self.db)

    def _job(self, record: dict[str, Any]) -> Job:
        """The job with its callback secret opened (or marked unreadable, for its webhook
        to fail with the reason: one bad value never makes the job or a listing fail)."""
        job = job_from_record(record)
        stored = record.get("callback_secret")
        if not isinstance(stored, str):
            return job
        try:
            return replace(job, callback_secret=self.secrets.open(stored, job.job_id))
        except SecretUnreadable as error:
            return replace(job, callback_secret=UnreadableSecret(str(error)))
