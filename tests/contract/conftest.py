"""Each contract test runs against every adapter of a port: the in-memory fake and the
local SQLite adapter (the AWS adapters join on moto)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from swescribe.adapters.local.sqlite_jobs import SqliteJobStore
from swescribe.adapters.local.sqlite_queue import SqliteWorkQueue
from swescribe.core.ports import JobStore, WorkQueue
from tests.fakes import FixedClock, MemoryJobStore, MemoryQueue

QueueFactory = Callable[[int], WorkQueue]


@pytest.fixture(params=["memory", "sqlite"])
def job_store(request: pytest.FixtureRequest, tmp_path: Path) -> JobStore:
    if request.param == "memory":
        return MemoryJobStore()
    return SqliteJobStore(tmp_path / "jobs.db")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture(params=["memory", "sqlite"])
def make_queue(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> QueueFactory:
    def make(max_receives: int) -> WorkQueue:
        if request.param == "memory":
            return MemoryQueue(clock, max_receives)
        return SqliteWorkQueue(
            tmp_path / "queue.db", "work", max_receives, clock=lambda: clock.now().timestamp()
        )

    return make
