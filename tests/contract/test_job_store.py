"""What every JobStore must do: conditional transitions, ownership, pagination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from swescribe.adapters.local.sqlite_jobs import SqliteJobStore
from swescribe.core.errors import InvalidRequest, JobNotFound, TransitionConflict
from swescribe.core.jobs import Job, JobStatus, WebhookState
from swescribe.core.ports import Expect, JobStore
from swescribe.core.request import JobRequest

START = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)


def new_job(job_id: str, owner: str = "k1", minutes: int = 0) -> Job:
    moment = START + timedelta(minutes=minutes)
    return Job(
        job_id=job_id,
        owner=owner,
        status=JobStatus.REGISTERED,
        created_at=moment,
        updated_at=moment,
        callback_url="https://client.example/hook",
        callback_secret="s",
        request=JobRequest(formats=("txt", "srt")),
        webhook_state=WebhookState.PENDING,
    )


def test_a_job_round_trips_every_field(job_store: JobStore) -> None:
    job = new_job("a")
    job_store.create(job)
    assert job_store.get("a") == job
    assert job_store.get("missing") is None


def test_a_duplicate_id_is_a_conflict(job_store: JobStore) -> None:
    job_store.create(new_job("a"))
    with pytest.raises(TransitionConflict):
        job_store.create(new_job("a"))


def test_update_applies_changes_only_when_the_expectation_holds(job_store: JobStore) -> None:
    job_store.create(new_job("a"))
    later = START + timedelta(seconds=5)
    updated = job_store.update(
        "a",
        Expect.status(JobStatus.REGISTERED),
        {"status": JobStatus.LAUNCHING, "updated_at": later, "result_keys": {"txt": "r/a.txt"}},
    )
    assert updated.status is JobStatus.LAUNCHING
    assert updated.result_keys == {"txt": "r/a.txt"}
    assert job_store.get("a") == updated
    with pytest.raises(TransitionConflict):
        job_store.update("a", Expect.status(JobStatus.REGISTERED), {"status": JobStatus.FAILED})
    assert job_store.get("a") == updated, "a lost condition changes nothing"
    with pytest.raises(JobNotFound):
        job_store.update("missing", None, {"attempts": 1})


def test_worker_and_lease_conditions(job_store: JobStore) -> None:
    job_store.create(new_job("a"))
    lease_end = START + timedelta(seconds=60)
    job_store.update(
        "a",
        None,
        {"status": JobStatus.PROCESSING, "instance_id": "w1", "lease_expires_at": lease_end},
    )
    with pytest.raises(TransitionConflict):
        job_store.update("a", Expect.status(JobStatus.PROCESSING, worker_id="w2"), {"attempts": 2})
    live = Expect(
        frozenset({JobStatus.PROCESSING}), lease_expired_by=lease_end - timedelta(seconds=1)
    )
    with pytest.raises(TransitionConflict):
        job_store.update("a", live, {"instance_id": "w2"})
    expired = Expect(frozenset({JobStatus.PROCESSING}), lease_expired_by=lease_end)
    assert job_store.update("a", expired, {"instance_id": "w2"}).instance_id == "w2"


def test_lists_are_newest_first_per_owner_and_page_without_gaps(job_store: JobStore) -> None:
    for minute in range(7):
        job_store.create(new_job(f"mine{minute}", "k1", minute))
        job_store.create(new_job(f"theirs{minute}", "k2", minute))
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = job_store.list_jobs("k1", limit=3, cursor=cursor)
        seen += [j.job_id for j in page.jobs]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"mine{m}" for m in reversed(range(7))]
    assert len(job_store.list_jobs(None, limit=100).jobs) == 14


def test_status_filters(job_store: JobStore) -> None:
    job_store.create(new_job("a"))
    job_store.create(new_job("b", minutes=1))
    job_store.update("b", None, {"status": JobStatus.FAILED})
    assert [j.job_id for j in job_store.list_jobs("k1", JobStatus.FAILED).jobs] == ["b"]
    assert [j.job_id for j in job_store.list_by_status({JobStatus.REGISTERED})] == ["a"]
    assert job_store.list_by_status(set()) == []


def test_delete(job_store: JobStore) -> None:
    job_store.create(new_job("a"))
    assert job_store.delete("a")
    assert not job_store.delete("a")
    assert job_store.get("a") is None


def test_a_forged_cursor_is_a_clear_error(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "jobs.db")
    with pytest.raises(InvalidRequest):
        store.list_jobs("k1", cursor="not-a-cursor")


# the upload reservation: one upload at a time per job, the only place a link's file is taken


def reserve(store: JobStore, job_id: str, holder: str, at: datetime, seconds: float = 30) -> Job:
    return store.update(
        job_id,
        Expect.upload_free(holder, at),
        {"upload_holder": holder, "upload_reserved_until": at + timedelta(seconds=seconds)},
    )


def test_an_upload_reservation_goes_to_one_holder_until_it_ends(job_store: JobStore) -> None:
    job_store.create(new_job("a"))
    taken = reserve(job_store, "a", "first", START)
    assert taken.upload_holder == "first"
    assert taken.upload_reserved_until == START + timedelta(seconds=30)
    with pytest.raises(TransitionConflict):
        reserve(job_store, "a", "second", START + timedelta(seconds=29))
    renewed = reserve(job_store, "a", "first", START + timedelta(seconds=20))
    assert renewed.upload_reserved_until == START + timedelta(seconds=50)
    with pytest.raises(TransitionConflict):
        reserve(job_store, "a", "second", START + timedelta(seconds=49))
    after_it_ended = reserve(job_store, "a", "second", START + timedelta(seconds=50))
    assert after_it_ended.upload_holder == "second"
    with pytest.raises(TransitionConflict):  # the first cannot release the second's
        job_store.update(
            "a",
            Expect.upload_free("first", START + timedelta(seconds=51)),
            {"upload_holder": None, "upload_reserved_until": None},
        )
    released = job_store.update(
        "a",
        Expect.upload_free("second", START + timedelta(seconds=52)),
        {"upload_holder": None, "upload_reserved_until": None},
    )
    assert released.upload_holder is None
    assert released.upload_reserved_until is None
    assert reserve(job_store, "a", "third", START + timedelta(seconds=53)).upload_holder == "third"


def test_only_a_registered_job_can_be_reserved_for_an_upload(job_store: JobStore) -> None:
    job_store.create(new_job("a"))
    job_store.update("a", None, {"status": JobStatus.LAUNCHING})
    with pytest.raises(TransitionConflict):
        reserve(job_store, "a", "late", START)
    with pytest.raises(JobNotFound):
        reserve(job_store, "missing", "late", START)


# counts for /metrics, kept as jobs change (never by reading every job)

IN_FLIGHT = (JobStatus.REGISTERED, JobStatus.LAUNCHING, JobStatus.PROCESSING)


def test_counts_follow_creates_transitions_and_deletes(job_store: JobStore) -> None:
    for number in range(5):
        job_store.create(new_job(f"j{number}", minutes=number))
    job_store.update("j0", Expect.status(JobStatus.REGISTERED), {"status": JobStatus.LAUNCHING})
    job_store.update("j1", None, {"status": JobStatus.PROCESSING})
    job_store.update("j2", None, {"status": JobStatus.COMPLETED})
    job_store.update("j2", None, {"webhook_state": WebhookState.DELIVERED})
    with pytest.raises(TransitionConflict):  # a lost condition counts nothing
        job_store.update("j0", Expect.status(JobStatus.REGISTERED), {"status": JobStatus.FAILED})
    job_store.delete("j3")
    job_store.delete("j3")
    counts = job_store.counts()
    expected = {JobStatus.REGISTERED: 1, JobStatus.LAUNCHING: 1, JobStatus.PROCESSING: 1}
    assert {status: counts.by_status.get(status, 0) for status in IN_FLIGHT} == expected
    if JobStatus.COMPLETED in counts.by_status:  # stores that count every status
        assert counts.by_status[JobStatus.COMPLETED] == 1
        assert counts.by_status.get(JobStatus.FAILED, 0) == 0
    if counts.by_webhook_state is not None:
        states = {state: n for state, n in counts.by_webhook_state.items() if n}
        assert states == {"pending": 3, "delivered": 1}


# per-key caps: one owner's jobs in one status, counted on an index


def test_count_jobs_counts_one_owners_jobs_in_one_status_since_a_moment(
    job_store: JobStore,
) -> None:
    for number in range(4):
        job_store.create(new_job(f"a{number}", owner="k1", minutes=number))
    job_store.create(new_job("b0", owner="k2"))
    job_store.update("a3", None, {"status": JobStatus.LAUNCHING})
    assert job_store.count_jobs("k1", JobStatus.REGISTERED) == 3
    assert job_store.count_jobs("k1", JobStatus.LAUNCHING) == 1
    assert job_store.count_jobs("k2", JobStatus.REGISTERED) == 1
    assert job_store.count_jobs("k3", JobStatus.REGISTERED) == 0
    since = START + timedelta(minutes=1)
    assert job_store.count_jobs("k1", JobStatus.REGISTERED, created_since=since) == 2
    job_store.delete("a1")
    assert job_store.count_jobs("k1", JobStatus.REGISTERED, created_since=since) == 1
