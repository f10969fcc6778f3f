"""One SQLite database file shared by the local adapters and by several processes.

WAL lets readers run beside a writer; every read-check-write runs inside
``BEGIN IMMEDIATE``, which takes the database's write lock first, so a conditional
transition is atomic across processes. Connections are per thread (FastAPI runs
handlers in a thread pool).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from swescribe.core.errors import StoreBusy

BUSY_TIMEOUT_SECONDS = 30.0


class Database:
    def __init__(self, path: Path, schema: str, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        _private(path)
        with self.transaction() as db:  # not executescript: it would commit on its own
            for statement in filter(None, (s.strip() for s in schema.split(";"))):
                db.execute(statement)
        _private(path)

    @property
    def connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            self._local.connection = connection
        return connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the write lock from its first statement."""
        connection = self.connection
        with _busy_is_retryable():
            connection.execute("BEGIN IMMEDIATE")
        try:
            with _busy_is_retryable():
                yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        with _busy_is_retryable():
            connection.execute("COMMIT")

    def read(self, sql: str, parameters: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with _busy_is_retryable():
            return self.connection.execute(sql, parameters).fetchall()


PRIVATE_MODE = 0o600
_COMPANIONS = ("", "-wal", "-shm", "-journal")


def _private(path: Path) -> None:
    """The database and its WAL and shared-memory files readable by this user only: they
    hold callback secrets. Created so (SQLite gives its companions the database's mode),
    and tightened where an older swescribe left them 0644."""
    # O_EXCL: never open a database this process may hold: closing any descriptor of it
    # would drop the process's SQLite locks (POSIX advisory locks are per process).
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    for suffix in _COMPANIONS:
        companion = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            if companion.stat().st_mode & 0o777 != PRIVATE_MODE:
                companion.chmod(PRIVATE_MODE)


@contextmanager
def _busy_is_retryable() -> Iterator[None]:
    """SQLite gave up waiting for another process's lock: a StoreBusy, not a crash."""
    try:
        yield
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise StoreBusy("the job store is busy; retry in a moment") from error
        raise
