"""Another process holding SQLite's lock: short holds are waited out, long ones get a
clear, retryable 503 from the API (never a 500, never a lost write)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from swescribe.adapters.local.sqlite_jobs import SqliteJobStore
from swescribe.api import create_app
from swescribe.bootstrap import build_local_api, build_local_keys, build_local_services
from swescribe.config import Settings
from swescribe.core.errors import StoreBusy
from swescribe.core.jobs import Job, JobStatus, utcnow
from tests.support import free_port, serving


@contextmanager
def locked(database: Path, seconds: float) -> Iterator[None]:
    """An exclusive lock on the database, held by another connection for `seconds`."""
    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    timer = threading.Timer(seconds, lambda: holder.execute("COMMIT"))
    timer.start()
    try:
        yield
    finally:
        timer.join()
        holder.close()


def test_a_short_lock_is_waited_out_and_a_long_one_is_store_busy(tmp_path: Path) -> None:
    database = tmp_path / "swescribe.db"
    store = SqliteJobStore(database, busy_timeout=1.0)
    now = utcnow()
    with locked(database, 0.3):
        store.create(Job("waited", "k", JobStatus.REGISTERED, now, now))
    assert store.get("waited") is not None
    with locked(database, 2.0), pytest.raises(StoreBusy):
        store.create(Job("refused", "k", JobStatus.REGISTERED, now, now))
    assert store.get("refused") is None
    store.create(Job("refused", "k", JobStatus.REGISTERED, now, now))
    assert store.get("refused") is not None, "the same write works once the lock is gone"


def test_the_api_answers_503_with_retry_after_while_the_store_is_locked(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings.from_env(
        {}, data_dir=tmp_path, public_url=f"http://127.0.0.1:{port}", sqlite_busy_timeout=0.5
    )
    svc = build_local_services(settings)
    _, key = build_local_keys(settings).create("tests")
    with (
        serving(create_app(build_local_api(settings, svc)), port) as url,
        httpx.Client(base_url=url, headers={"X-API-Key": key}) as http,
    ):
        assert http.post("/v1/jobs", json={}).status_code == 201
        with locked(tmp_path / "swescribe.db", 2.0):
            busy = http.post("/v1/jobs", json={})
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "busy"
        assert http.post("/v1/jobs", json={}).status_code == 201
        assert len(http.get("/v1/jobs").json()["jobs"]) == 2, "the refused one left no job"
