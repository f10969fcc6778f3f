"""The SQLite adapters shared by several real processes: no item twice, one winner."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

from swescribe.adapters.local.sqlite_jobs import SqliteJobStore
from swescribe.adapters.local.sqlite_queue import SqliteWorkQueue
from swescribe.core.errors import TransitionConflict
from swescribe.core.jobs import Job, JobStatus
from swescribe.core.ports import Expect, WorkItem

ITEMS = 200
PROCESSES = 4


def _drain(path: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue = SqliteWorkQueue(Path(path), "work")
    got = []
    for _ in range(ITEMS * 2):  # bounded: more polls than items
        message = queue.receive(wait_seconds=0.2, visibility_seconds=300)
        if message is None:
            break
        got.append(message.item.job_id)
        queue.ack(message)
    results.put(got)


def _race(path: str, worker: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = SqliteJobStore(Path(path))
    try:
        store.update(
            "job",
            Expect.status(JobStatus.LAUNCHING),
            {"status": JobStatus.PROCESSING, "instance_id": worker},
        )
        results.put(worker)
    except TransitionConflict:
        results.put(None)


def test_processes_draining_one_queue_receive_every_item_exactly_once(tmp_path: Path) -> None:
    database = tmp_path / "swescribe.db"
    queue = SqliteWorkQueue(database, "work")
    for n in range(ITEMS):
        queue.send(WorkItem("transcribe", f"job{n}"))
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=_drain, args=(str(database), results)) for _ in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    received = [job for _ in workers for job in results.get(timeout=120)]
    for process in workers:
        process.join(timeout=30)
    assert sorted(received) == sorted(f"job{n}" for n in range(ITEMS))
    assert queue.depth() == 0


def test_racing_processes_on_one_transition_have_exactly_one_winner(tmp_path: Path) -> None:
    database = tmp_path / "swescribe.db"
    now = datetime.now(UTC)
    SqliteJobStore(database).create(Job("job", "k", JobStatus.LAUNCHING, now, now))
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    racers = [
        context.Process(target=_race, args=(str(database), f"w{n}", results))
        for n in range(PROCESSES)
    ]
    for process in racers:
        process.start()
    outcomes = [results.get(timeout=120) for _ in racers]
    for process in racers:
        process.join(timeout=30)
    winners = [o for o in outcomes if o is not None]
    assert len(winners) == 1
    assert SqliteJobStore(database).get("job").instance_id == winners[0]  # type: ignore[union-attr]
