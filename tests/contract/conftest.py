"""Each contract test runs against every adapter of a port: the in-memory fake, the local
SQLite adapter, and the AWS adapter on in-process moto (DynamoDB, SQS)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from moto import mock_aws

from swescribe.adapters.aws.clients import client
from swescribe.adapters.aws.dynamodb_jobs import DynamoJobStore, create_jobs_table
from swescribe.adapters.aws.sqs_queue import SqsWorkQueue, create_work_queue
from swescribe.adapters.local.sqlite_jobs import SqliteJobStore
from swescribe.adapters.local.sqlite_queue import SqliteWorkQueue
from swescribe.core.ports import JobStore, WorkQueue
from tests.fakes import FixedClock, MemoryJobStore, MemoryQueue

QueueFactory = Callable[[int], WorkQueue]
Advance = Callable[[float], None]
AWS_REGION = "eu-north-1"
SQS_SLACK_SECONDS = 0.1
"""Real time added to each sqs advance, so that a boundary the fake clock reaches exactly
(visible_at <= now) is passed in moto, which compares in milliseconds."""


@contextmanager
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process moto with fake credentials; no request can leave this process."""
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_SQS",
        "AWS_ENDPOINT_URL_S3",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", AWS_REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    with mock_aws():
        yield


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
