"""Each contract test runs against every adapter of a port: the in-memory fake, the local
SQLite adapter, and the AWS adapter on in-process moto (DynamoDB, SQS)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from swescribe.adapters.aws.clients import client
from swescribe.adapters.aws.dynamodb_jobs import DynamoJobStore, create_jobs_table
from swescribe.adapters.aws.sqs_queue import SqsWorkQueue, create_work_queue
from swescribe.adapters.local.sqlite_jobs import SqliteJobStore
from swescribe.adapters.local.sqlite_queue import SqliteWorkQueue
from swescribe.core.ports import JobStore, WorkQueue
from tests.fakes import FixedClock, MemoryJobStore, MemoryQueue
from tests.support import AWS_REGION, fake_aws

QueueFactory = Callable[[int], WorkQueue]
Advance = Callable[[float], None]
SQS_SLACK_SECONDS = 0.1
"""Real time added to each sqs advance, so that a boundary the fake clock reaches exactly
(visible_at <= now) is passed in moto, which compares in milliseconds."""


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with fake_aws(monkeypatch):
        yield


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def job_store(request: pytest.FixtureRequest, tmp_path: Path) -> JobStore:
    if request.param == "memory":
        return MemoryJobStore()
    if request.param == "sqlite":
        return SqliteJobStore(tmp_path / "jobs.db")
    request.getfixturevalue("aws")
    dynamodb = client("dynamodb", AWS_REGION)
    create_jobs_table(dynamodb, "transcription-jobs")
    return DynamoJobStore(dynamodb, "transcription-jobs")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture(params=["memory", "sqlite", "sqs"])
def queue_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def advance(queue_backend: str, clock: FixedClock) -> Advance:
    """Let time pass for the queue: the fake clock moves, and SQS (real time in moto) waits."""
    if queue_backend == "sqs":
        return lambda seconds: time.sleep(seconds + SQS_SLACK_SECONDS)
    return clock.advance


@pytest.fixture
def make_queue(
    request: pytest.FixtureRequest, queue_backend: str, tmp_path: Path, clock: FixedClock
) -> QueueFactory:
    if queue_backend == "sqs":
        request.getfixturevalue("aws")

    def make(max_receives: int) -> WorkQueue:
        if queue_backend == "memory":
            return MemoryQueue(clock, max_receives)
        if queue_backend == "sqlite":
            return SqliteWorkQueue(
                tmp_path / "queue.db", "work", max_receives, clock=lambda: clock.now().timestamp()
            )
        sqs = client("sqs", AWS_REGION)
        queue_url, _ = create_work_queue(sqs, "work", max_receives)
        return SqsWorkQueue(sqs, queue_url)

    return make
