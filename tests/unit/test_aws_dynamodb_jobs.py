"""DynamoJobStore on in-process moto: what the JobStore contract cannot see (the item's
shape in the table, TTL, server-side conditions, cursors on every index)."""

from __future__ import annotations

import base64
import json
import math
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from swescribe.adapters.aws import dynamodb_jobs
from swescribe.adapters.aws.clients import client
from swescribe.adapters.aws.dynamodb_jobs import DynamoJobStore, create_jobs_table
from swescribe.adapters.aws.dynamodb_worker_view import WorkerJobStore
from swescribe.core.errors import InvalidRequest, JobNotFound, TransitionConflict
from swescribe.core.jobs import Job, JobStatus, WebhookState
from swescribe.core.ports import Expect
from swescribe.core.request import JobRequest
from tests.support import AWS_REGION, fake_aws

TABLE = "transcription-jobs"
START = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
SEED_ATTRIBUTES = {
    "job_id": "S",
    "status": "S",
    "s3_key": "S",
    "callback_url": "S",
    "callback_secret": "S",
    "created_at": "S",
    "updated_at": "S",
    "instance_id": "S",
    "error_message": "S",
}


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with fake_aws(monkeypatch):
        db = client("dynamodb", AWS_REGION)
        create_jobs_table(db, TABLE)
        yield db


@pytest.fixture
def store(dynamodb: Any) -> DynamoJobStore:
    return DynamoJobStore(dynamodb, TABLE)


def new_job(job_id: str, owner: str = "k1", minutes: int = 0, **fields: Any) -> Job:
    moment = START + timedelta(minutes=minutes)
    job = Job(job_id, owner, JobStatus.REGISTERED, created_at=moment, updated_at=moment)
    return replace(job, **fields)


def full_job(job_id: str = "full") -> Job:
    return new_job(
        job_id,
        status=JobStatus.FAILED,
        callback_url="https://client.example/hook",
        callback_secret="s3cret",
        s3_key=f"transcription_upload/{job_id}/a.mp3",
        request=JobRequest(
            language="auto",
            model="kb-whisper-small",
            formats=("txt", "json"),
            word_timestamps=True,
            speakers=2,
            task="translate",
            prompt="Ödeshög",
            hotwords="Ljungqvist",
            temperature=1.0,
        ),
        audio_url="https://audio.example/a.mp3",
        instance_id="i-0123",
        attempts=2,
        lease_expires_at=START + timedelta(minutes=5),
        error_code="invalid_audio",
        error_message="not audio",
        model_used="kb-whisper-small",
        audio_duration=3.0,
        progress=0.25,
        processing_seconds=1.5,
        file_size=12345,
        result_keys={"txt": f"results/{job_id}/t.txt"},
        webhook_state=WebhookState.FAILED,
        webhook_attempts=3,
        webhook_last_error="HTTP 500",
        webhook_delivered_at=START + timedelta(minutes=6),
        expires_at=START + timedelta(days=30),
    )


def raw_item(dynamodb: Any, job_id: str) -> dict[str, Any]:
    item: dict[str, Any] = dynamodb.get_item(TableName=TABLE, Key={"job_id": {"S": job_id}})["Item"]
    return item


def test_the_table_has_the_deployed_shape_with_ttl_on_expires_at_epoch(dynamodb: Any) -> None:
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "job_id", "KeyType": "HASH"}]
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"by_owner", "by_status"}
    for name, hash_key in (("by_owner", "owner"), ("by_status", "status")):
        assert indexes[name]["KeySchema"] == [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            {"AttributeName": "created_at", "KeyType": "RANGE"},
        ]
        assert indexes[name]["Projection"] == {"ProjectionType": "ALL"}
    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at_epoch"}


def test_the_stored_item_keeps_the_seed_attribute_names_and_types(
    store: DynamoJobStore, dynamodb: Any
) -> None:
    job = full_job()
    store.create(job)
    item = raw_item(dynamodb, "full")
    assert {name: next(iter(item[name])) for name in SEED_ATTRIBUTES} == SEED_ATTRIBUTES
    assert item["status"] == {"S": "failed"}
    assert item["created_at"] == {"S": "2026-11-25T12:00:00.123456+00:00"}
    assert item["attempts"] == {"N": "2"}
    assert item["audio_duration"] in ({"N": "3.0"}, {"N": "3"}), "DynamoDB may drop the .0"
    assert item["progress"] == {"N": "0.25"}
    assert item["word_timestamps"] == {"BOOL": True}
    assert item["formats"] == {"L": [{"S": "txt"}, {"S": "json"}]}
    assert item["result_keys"] == {"M": {"txt": {"S": "results/full/t.txt"}}}
    assert item["expires_at_epoch"] == {"N": str(math.ceil(job.expires_at.timestamp()))}  # type: ignore[union-attr]


def test_every_field_round_trips_and_whole_floats_come_back_as_floats(
    store: DynamoJobStore,
) -> None:
    job = full_job()
    store.create(job)
    got = store.get("full")
    assert got == job
    assert got is not None
    assert isinstance(got.audio_duration, float)
    assert isinstance(got.attempts, int)
    assert isinstance(got.request.temperature, float)


def test_a_worker_reads_every_option_of_the_request_and_never_the_callback(
    store: DynamoJobStore, dynamodb: Any
) -> None:
    job = full_job()
    store.create(job)
    seen = WorkerJobStore(dynamodb, TABLE).get("full")
    assert seen is not None
    assert seen.request == job.request
    assert (seen.callback_url, seen.callback_secret) == (None, None)


def test_none_is_never_stored_and_setting_none_removes_the_attribute(
    store: DynamoJobStore, dynamodb: Any
) -> None:
    store.create(new_job("a"))
    item = raw_item(dynamodb, "a")
    assert not any("NULL" in value for value in item.values())
    assert "instance_id" not in item
    assert "expires_at_epoch" not in item
    store.update("a", None, {"instance_id": "i-1", "error_message": "x", "expires_at": START})
    assert {"instance_id", "error_message", "expires_at_epoch"} <= set(raw_item(dynamodb, "a"))
    updated = store.update("a", None, {"error_message": None, "expires_at": None})
    item = raw_item(dynamodb, "a")
    assert "error_message" not in item
    assert "expires_at" not in item
    assert "expires_at_epoch" not in item, "the TTL goes with expires_at"
    assert updated.error_message is None
    assert updated.instance_id == "i-1"


def test_the_ttl_is_expires_at_in_whole_seconds_never_earlier(
    store: DynamoJobStore, dynamodb: Any
) -> None:
    store.create(new_job("a"))
    store.update("a", None, {"expires_at": datetime(2027, 1, 1, 0, 0, 0, 500, tzinfo=UTC)})
    epoch = int(raw_item(dynamodb, "a")["expires_at_epoch"]["N"])
    assert epoch == int(datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC).timestamp())


def test_an_update_of_a_missing_job_creates_nothing(store: DynamoJobStore) -> None:
    with pytest.raises(JobNotFound):
        store.update("missing", None, {"attempts": 1})
    with pytest.raises(JobNotFound):
        store.update("missing", Expect.status(JobStatus.LAUNCHING), {"attempts": 1})
    assert store.get("missing") is None


def test_every_update_sends_its_condition_to_dynamodb(store: DynamoJobStore, dynamodb: Any) -> None:
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(dict(params))

    dynamodb.meta.events.register("provide-client-params.dynamodb.UpdateItem", record)
    store.create(new_job("a"))
    store.update("a", None, {})
    store.update("a", Expect.status(JobStatus.REGISTERED, worker_id=None), {"attempts": 1})
    lease = Expect(frozenset({JobStatus.REGISTERED}), "w1", lease_expired_by=START)
    with pytest.raises(TransitionConflict):
        store.update("a", lease, {"attempts": 2})
    conditions = [params["ConditionExpression"] for params in sent]
    assert len(conditions) == 3
    assert all(c.startswith("attribute_exists(#job_id)") for c in conditions)
    assert "#status IN (" in conditions[1]
    assert "#instance_id = :worker" in conditions[2]
    assert "#lease_expires_at <= :lease_end" in conditions[2]
    assert sent[2]["ExpressionAttributeNames"]["#status"] == "status"


def test_a_conflict_names_the_state_the_job_is_really_in(store: DynamoJobStore) -> None:
    store.create(new_job("a"))
    store.update("a", None, {"status": JobStatus.COMPLETED})
    with pytest.raises(TransitionConflict, match="is completed; expected registered"):
        store.update("a", Expect.status(JobStatus.REGISTERED), {"status": JobStatus.LAUNCHING})
    with pytest.raises(TransitionConflict):
        store.update("a", Expect(frozenset()), {"attempts": 1})


def racing_store(moto_lock: threading.Lock, both_sent: threading.Barrier) -> DynamoJobStore:
    """A store whose UpdateItem waits until the other store's is in flight too.

    DynamoDB applies writes to one item one at a time; in-process moto does not (two
    threads inside it break its dicts), so the lock makes moto handle one request at a time.
    Handlers return None: a value from them would stand in for the response.
    """

    def wait_for_the_other(**_: Any) -> None:
        both_sent.wait()

    def enter_moto(**_: Any) -> None:
        moto_lock.acquire()

    def leave_moto(**_: Any) -> None:
        moto_lock.release()

    db = client("dynamodb", AWS_REGION)
    db.meta.events.register("before-call.dynamodb.UpdateItem", wait_for_the_other)
    db.meta.events.register_first("before-send", enter_moto)
    db.meta.events.register_last("before-send", leave_moto)
    return DynamoJobStore(db, TABLE)


def test_two_stores_racing_on_one_transition_leave_exactly_one_winner(
    store: DynamoJobStore,
) -> None:
    rounds = 5
    for n in range(rounds):
        store.create(new_job(f"race{n}", status=JobStatus.LAUNCHING))
    moto_lock, both_sent = threading.Lock(), threading.Barrier(2, timeout=10)
    outcomes: dict[str, list[str]] = {f"race{n}": [] for n in range(rounds)}
    errors: list[BaseException] = []

    def claim(racer: DynamoJobStore, worker: str) -> None:
        for job_id, seen in outcomes.items():
            try:
                racer.update(
                    job_id,
                    Expect.status(JobStatus.LAUNCHING),
                    {"status": JobStatus.PROCESSING, "instance_id": worker},
                )
                seen.append(worker)
            except TransitionConflict:
                seen.append("conflict")
            except BaseException as error:
                errors.append(error)
                both_sent.abort()

    threads = [
        threading.Thread(target=claim, args=(racing_store(moto_lock, both_sent), worker))
        for worker in ("w1", "w2")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for job_id, seen in outcomes.items():
        assert sorted(seen)[0] == "conflict", f"{job_id}: {seen}"
        winners = [worker for worker in seen if worker != "conflict"]
        assert len(winners) == 1, f"{job_id}: {seen}"
        stored = store.get(job_id)
        assert stored is not None
        assert stored.instance_id == winners[0]


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("not-a-cursor", id="not-base64-json"),
        pytest.param("!!!", id="no-base64-characters"),
        pytest.param(_cursor({"created_at": "2026-11-25T12:00:00+00:00"}), id="an-object"),
        pytest.param(_cursor([1, 2]), id="numbers"),
        pytest.param(_cursor(["yesterday", "job1"]), id="not-a-timestamp"),
        pytest.param(_cursor(["2026-11-25T12:00:00+00:00", ""]), id="empty-job-id"),
        pytest.param(_cursor(["2026-11-25T12:00:00+00:00", "j" * 3000]), id="job-id-too-long"),
    ],
)
@pytest.mark.parametrize(("owner", "status"), [("k1", None), (None, JobStatus.REGISTERED)])
def test_a_forged_cursor_is_an_invalid_request(
    store: DynamoJobStore, cursor: str, owner: str | None, status: JobStatus | None
) -> None:
    store.create(new_job("a"))
    with pytest.raises(InvalidRequest):
        store.list_jobs(owner, status, cursor=cursor)


def _all_pages(store: DynamoJobStore, owner: str | None, status: JobStatus | None) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        page = store.list_jobs(owner, status, limit=3, cursor=cursor)
        seen += [job.job_id for job in page.jobs]
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("pages never ended")


def test_every_listing_pages_newest_first_without_gaps_or_repeats(
    store: DynamoJobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dynamodb_jobs, "FILTERED_PAGE_SIZE", 2)
    monkeypatch.setattr(dynamodb_jobs, "MAX_QUERY_PAGES", 2)
    # k2's job of each round is a minute newer than k1's: no two jobs share created_at,
    # whose order among equals DynamoDB leaves open.
    for minute in range(8):
        for owner in ("k1", "k2"):
            job_id = f"{owner}-{minute}"
            store.create(new_job(job_id, owner, 2 * minute + (owner == "k2")))
            if minute % 2:
                store.update(job_id, None, {"status": JobStatus.FAILED})
    newest_first = list(reversed(range(8)))
    assert _all_pages(store, "k1", None) == [f"k1-{m}" for m in newest_first]
    assert _all_pages(store, "k1", JobStatus.FAILED) == [
        f"k1-{m}" for m in newest_first if m % 2
    ], "a short page from the bounded filtered query still continues where it stopped"
    assert _all_pages(store, None, JobStatus.REGISTERED) == [
        f"{owner}-{m}" for m in newest_first if not m % 2 for owner in ("k2", "k1")
    ]
    assert _all_pages(store, None, None) == [
        f"{owner}-{m}" for m in newest_first for owner in ("k2", "k1")
    ]


def test_list_by_status_is_oldest_first_across_statuses(store: DynamoJobStore) -> None:
    for minute, status in enumerate([JobStatus.LAUNCHING, JobStatus.PROCESSING] * 3):
        store.create(replace(new_job(f"j{minute}", minutes=minute), status=status))
    store.create(new_job("other", minutes=10))
    found = store.list_by_status({JobStatus.PROCESSING, JobStatus.LAUNCHING}, limit=4)
    assert [job.job_id for job in found] == ["j0", "j1", "j2", "j3"]
    assert [j.job_id for j in store.list_by_status({JobStatus.REGISTERED})] == ["other"]


@pytest.mark.parametrize("job_id", ["", "j" * 2049])
def test_an_id_dynamodb_cannot_hold_names_no_job(store: DynamoJobStore, job_id: str) -> None:
    assert store.get(job_id) is None
    assert store.delete(job_id) is False
    with pytest.raises(JobNotFound):
        store.update(job_id, None, {"attempts": 1})


def test_delete_tells_whether_there_was_a_job(store: DynamoJobStore) -> None:
    store.create(full_job("a"))
    assert store.delete("a") is True
    assert store.delete("a") is False
