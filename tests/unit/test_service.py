"""The job flow decided by the service functions, on in-memory ports and a fake clock."""

from __future__ import annotations

import json
from typing import cast

import pytest

from swescribe.api.schemas import JobView
from swescribe.core.errors import InvalidRequest, JobNotFound, TransitionConflict, UnsafeURL
from swescribe.core.intake import (
    NewJob,
    create_job,
    delete_job,
    get_job,
    handle_object_created,
    parse_upload_key,
)
from swescribe.core.jobs import JobStatus, WebhookState, result_key
from swescribe.core.ports import Message, WebhookAttempt, WorkItem
from swescribe.core.processing import (
    Outcome,
    claim_job,
    complete_job,
    deliver_webhook,
    fail_job,
    release_job,
    release_jobs_held_by,
    renew_lease,
    webhook_message_id,
)
from swescribe.core.request import JobRequest
from swescribe.core.services import Policy, Services
from tests.fakes import FixedClock, MemoryQueue, RecordingLauncher, ScriptedSender, memory_services

HOOK = "https://client.example/webhook"


@pytest.fixture
def svc() -> Services:
    return memory_services(Policy(lease_seconds=60, max_attempts=3, webhook_max_attempts=3))


def clock(svc: Services) -> FixedClock:
    return cast(FixedClock, svc.clock)


def queue(svc: Services) -> MemoryQueue:
    return cast(MemoryQueue, svc.queue)


def registered(svc: Services, owner: str = "key1", **fields: object) -> str:
    request = NewJob(callback_url=HOOK, callback_secret="s3cret", **fields)  # type: ignore[arg-type]
    return create_job(svc, owner, request).job_id


def uploaded(svc: Services, owner: str = "key1") -> str:
    job_id = registered(svc, owner)
    assert (
        handle_object_created(svc, f"transcription_upload/{job_id}/audio.mp3", 1234) == "launched"
    )
    return job_id


def received(svc: Services) -> Message:
    message = svc.queue.receive(0, 120)
    assert message is not None
    return message


def outcome() -> Outcome:
    return Outcome("whisper-base", 31.7, 4.2, 1234, {"json": "results/x/t.json"})


def test_a_new_job_is_registered_with_its_callback_and_waits_for_its_upload(svc: Services) -> None:
    job = get_job(svc, "key1", registered(svc))
    assert job.status is JobStatus.REGISTERED
    assert job.upload_prefix == f"transcription_upload/{job.job_id}/"
    assert job.webhook_state is WebhookState.PENDING
    assert queue(svc).items() == []
    assert "callback_secret" not in JobView.from_job(job).model_dump()


def test_an_audio_url_job_is_queued_at_once(svc: Services) -> None:
    job = create_job(svc, "key1", NewJob(audio_url="https://media.example/a.mp3"))
    assert job.status is JobStatus.LAUNCHING
    assert queue(svc).items() == [WorkItem("transcribe", job.job_id, None, owner="key1")]


@pytest.mark.parametrize(
    "url",
    [
        "http://client.example/hook",
        "ftp://client.example/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.5/hook",
        "https://[fd00:ec2::254]/",
        "https://user:pw@client.example/hook",
        "https:///nohost",
        "https://" + "a" * 3000 + ".example/",
    ],
)
def test_unsafe_callback_urls_are_refused(svc: Services, url: str) -> None:
    with pytest.raises(UnsafeURL):
        create_job(svc, "key1", NewJob(callback_url=url))
    assert svc.jobs.list_jobs(None).jobs == []


def test_dev_mode_allows_http_callbacks_to_loopback_only() -> None:
    svc = memory_services(Policy(allow_http_callbacks=True))
    create_job(svc, "k", NewJob(callback_url="http://127.0.0.1:9000/hook"))
    with pytest.raises(UnsafeURL):
        create_job(svc, "k", NewJob(callback_url="http://client.example/hook"))


def test_unknown_formats_are_refused(svc: Services) -> None:
    with pytest.raises(InvalidRequest):
        create_job(svc, "key1", NewJob(JobRequest(formats=("txt", "docx"))))


def test_upload_event_launches_the_job_once_and_asks_for_capacity(svc: Services) -> None:
    job_id = registered(svc)
    key = f"transcription_upload/{job_id}/audio.mp3"
    assert handle_object_created(svc, key, 1234) == "launched"
    assert handle_object_created(svc, key, 1234) == "duplicate"
    job = get_job(svc, None, job_id)
    assert job.status is JobStatus.LAUNCHING
    assert job.s3_key == key
    assert job.file_size == 1234
    assert queue(svc).items() == [WorkItem("transcribe", job_id, key, owner=job.owner)]
    assert cast(RecordingLauncher, svc.launcher).calls == [1]


def test_url_encoded_event_keys_are_decoded(svc: Services) -> None:
    job_id = registered(svc)
    assert handle_object_created(svc, f"transcription_upload%2F{job_id}%2Fmy+talk+%C3%A5.mp3") == (
        "launched"
    )
    assert get_job(svc, None, job_id).s3_key == f"transcription_upload/{job_id}/my talk å.mp3"


@pytest.mark.parametrize(
    "key",
    [
        "results/abc/transcription_x.txt",
        "transcription_upload/abc.mp3",
        "transcription_upload//a.mp3",
        "transcription_upload/abc/../def/a.mp3",
        "transcription_upload/abc/sub/a.mp3",
        "scripts/fast_transcribe.py",
    ],
)
def test_keys_outside_a_jobs_upload_prefix_are_ignored(svc: Services, key: str) -> None:
    assert parse_upload_key(key) is None
    assert handle_object_created(svc, key) == "ignored"
    assert queue(svc).items() == []


def test_an_upload_for_an_unknown_job_is_reported_not_raised(svc: Services) -> None:
    assert handle_object_created(svc, "transcription_upload/nope/a.mp3") == "unknown_job"


def test_claim_moves_the_job_to_processing_with_a_lease(svc: Services) -> None:
    job_id = uploaded(svc)
    job = claim_job(svc, received(svc), "w1").job
    assert job is not None
    assert job.status is JobStatus.PROCESSING
    assert job.instance_id == "w1"
    assert job.attempts == 1
    assert job.lease_expires_at is not None
    assert (job.lease_expires_at - svc.clock.now()).total_seconds() == 60
    assert get_job(svc, None, job_id).status is JobStatus.PROCESSING


def test_a_second_delivery_while_the_lease_is_live_comes_back_after_it(svc: Services) -> None:
    job_id = uploaded(svc)
    claim_job(svc, received(svc), "w1")
    duplicate = Message(WorkItem("transcribe", job_id), "dup", 2)
    clock(svc).advance(20)
    second = claim_job(svc, duplicate, "w2")
    assert second.job is None
    assert second.retry_in == pytest.approx(41.0)


def test_a_lost_worker_job_is_claimed_again_after_its_lease_then_failed_after_max_attempts(
    svc: Services,
) -> None:
    job_id = uploaded(svc)
    for attempt in (1, 2, 3):
        job = claim_job(
            svc, Message(WorkItem("transcribe", job_id), f"r{attempt}", attempt), f"w{attempt}"
        ).job
        assert job is not None
        assert job.attempts == attempt
        clock(svc).advance(61)
    assert claim_job(svc, Message(WorkItem("transcribe", job_id), "r4", 4), "w4").job is None
    job = get_job(svc, None, job_id)
    assert job.status is JobStatus.FAILED
    assert job.error_code == "too_many_attempts"
    assert cast(MemoryQueue, svc.webhooks).items() == [WorkItem("webhook", job_id)]


def test_jobs_given_back_on_purpose_do_not_count_against_max_attempts(svc: Services) -> None:
    """Spot notices and SIGTERM hand the job back: five of them, then a crash, and the job
    is still claimed; only lost workers (crashes) count toward max_attempts (3)."""
    job_id = uploaded(svc)
    for n in range(1, 6):
        job = claim_job(svc, Message(WorkItem("transcribe", job_id), f"r{n}", n), f"w{n}").job
        assert job is not None
        release_job(svc, job_id, f"w{n}")
    crashed = claim_job(svc, Message(WorkItem("transcribe", job_id), "r6", 6), "w6").job
    assert crashed is not None
    assert (crashed.attempts, crashed.releases, crashed.lost_attempts) == (6, 5, 1)
    clock(svc).advance(61)  # w6 died without a word
    again = claim_job(svc, Message(WorkItem("transcribe", job_id), "r7", 7), "w7").job
    assert again is not None, "one lost worker is far from max_attempts"


def test_only_the_holder_renews_releases_or_completes(svc: Services) -> None:
    job_id = uploaded(svc)
    claim_job(svc, received(svc), "w1")
    with pytest.raises(TransitionConflict):
        renew_lease(svc, job_id, "w2")
    with pytest.raises(TransitionConflict):
        complete_job(svc, job_id, "w2", outcome())
    clock(svc).advance(30)
    renewed = renew_lease(svc, job_id, "w1")
    assert (renewed.lease_expires_at - svc.clock.now()).total_seconds() == 60
    released = release_job(svc, job_id, "w1")
    assert released.status is JobStatus.LAUNCHING
    assert released.instance_id is None


def test_jobs_that_stopped_workers_still_hold_are_given_back_and_queued_at_once(
    svc: Services,
) -> None:
    """serve stopping: a worker killed before it gave its job back; the job is queued
    again now (its old item stays hidden), not after the lease, and not as a lost try."""
    mine, theirs = uploaded(svc), uploaded(svc, owner="key2")
    claim_job(svc, received(svc), "local-w1")
    claim_job(svc, received(svc), "other-w2")
    assert release_jobs_held_by(svc, {"local-w1", "local-w3"}) == [mine]
    job = svc.jobs.get(mine)
    assert job is not None
    assert (job.status, job.instance_id, job.lost_attempts) == (JobStatus.LAUNCHING, None, 0)
    assert received(svc).item.job_id == mine
    other = svc.jobs.get(theirs)
    assert other is not None
    assert other.status is JobStatus.PROCESSING


def test_complete_records_the_outcome_and_queues_the_webhook(svc: Services) -> None:
    job_id = uploaded(svc)
    claim_job(svc, received(svc), "w1")
    job = complete_job(svc, job_id, "w1", outcome())
    assert job.status is JobStatus.COMPLETED
    assert (job.model_used, job.audio_duration, job.processing_seconds, job.file_size) == (
        "whisper-base",
        31.7,
        4.2,
        1234,
    )
    assert job.lease_expires_at is None
    assert cast(MemoryQueue, svc.webhooks).items() == [WorkItem("webhook", job_id)]
    with pytest.raises(TransitionConflict):
        fail_job(svc, job_id, "late", "a final job stays final")


def test_a_job_without_callback_queues_no_webhook(svc: Services) -> None:
    job = create_job(svc, "key1", NewJob(audio_url="https://media.example/a.mp3"))
    claim_job(svc, received(svc), "w1")
    complete_job(svc, job.job_id, "w1", outcome())
    assert cast(MemoryQueue, svc.webhooks).items() == []


def test_fail_keeps_a_reason_the_client_can_act_on(svc: Services) -> None:
    job_id = uploaded(svc)
    claim_job(svc, received(svc), "w1")
    job = fail_job(svc, job_id, "invalid_audio", "notes.mp3: not a readable audio file", "w1")
    assert job.status is JobStatus.FAILED
    assert JobView.from_job(job).model_dump()["error"] == {
        "code": "invalid_audio",
        "message": "notes.mp3: not a readable audio file",
    }


def finished(svc: Services) -> str:
    job_id = uploaded(svc)
    claim_job(svc, received(svc), "w1")
    complete_job(svc, job_id, "w1", outcome())
    cast(MemoryQueue, svc.webhooks).entries.clear()
    return job_id


def test_a_delivered_webhook_is_recorded_with_one_attempt(svc: Services) -> None:
    job_id = finished(svc)
    sender = ScriptedSender()
    job = deliver_webhook(svc, job_id, sender, {"job_id": job_id})
    assert job.webhook_state is WebhookState.DELIVERED
    assert job.webhook_attempts == 1
    url, body, secret, msg_id, attempt = sender.sent[0]
    assert (url, secret, attempt) == (HOOK, "s3cret", 1)
    assert json.loads(body) == {"job_id": job_id}
    assert msg_id == webhook_message_id(job)


def test_a_retryable_failure_schedules_the_next_attempt_with_its_delay(svc: Services) -> None:
    job_id = finished(svc)
    sender = ScriptedSender([WebhookAttempt(False, 503, "HTTP 503", 7.5)])
    job = deliver_webhook(svc, job_id, sender, {})
    assert job.webhook_state is WebhookState.PENDING
    assert job.webhook_last_error == "HTTP 503"
    webhooks = cast(MemoryQueue, svc.webhooks)
    assert webhooks.receive(0, 60) is None, "not before its delay"
    clock(svc).advance(7.5)
    assert webhooks.receive(0, 60) is not None


def test_a_non_retryable_failure_is_final_at_once(svc: Services) -> None:
    job_id = finished(svc)
    job = deliver_webhook(
        svc, job_id, ScriptedSender([WebhookAttempt(False, 404, "HTTP 404", None)]), {}
    )
    assert job.webhook_state is WebhookState.FAILED
    assert cast(MemoryQueue, svc.webhooks).items() == []


def test_retries_stop_at_the_attempt_limit_with_a_stable_message_id(svc: Services) -> None:
    job_id = finished(svc)
    failure = WebhookAttempt(False, None, "connection error: refused", 1.0)
    sender = ScriptedSender([failure, failure, failure])
    for _ in range(3):
        job = deliver_webhook(svc, job_id, sender, {})
    assert job.webhook_state is WebhookState.FAILED
    assert job.webhook_attempts == 3
    assert len({msg_id for *_, msg_id, _ in sender.sent}) == 1
    with pytest.raises(JobNotFound):
        deliver_webhook(svc, "missing", sender, {})


def test_each_key_sees_only_its_own_jobs_and_delete_removes_objects(svc: Services) -> None:
    mine = registered(svc, "key1")
    theirs = registered(svc, "key2")
    svc.objects.put_bytes(f"transcription_upload/{mine}/a.mp3", b"x")
    svc.objects.put_bytes(result_key(mine, svc.clock.now(), "a", "txt"), b"hej")
    with pytest.raises(JobNotFound):
        get_job(svc, "key1", theirs)
    with pytest.raises(JobNotFound):
        delete_job(svc, "key2", mine)
    assert [j.job_id for j in svc.jobs.list_jobs("key1").jobs] == [mine]
    assert delete_job(svc, "key1", mine) == 2
    assert svc.objects.list_objects("") == []
    with pytest.raises(JobNotFound):
        get_job(svc, "key1", mine)


def test_capacity_is_asked_for_every_job_in_hand_so_a_busy_worker_is_not_counted_free() -> None:
    """One worker busy with a job and a new upload: two jobs need a worker, even though
    the queue holds only the new item (the busy worker's item is hidden)."""
    svc = memory_services()
    busy = create_job(svc, "k", NewJob()).job_id
    handle_object_created(svc, f"transcription_upload/{busy}/a.wav", 1)
    message = svc.queue.receive(0, 60)
    assert message is not None
    claim_job(svc, message, "worker-1")
    fresh = create_job(svc, "k", NewJob()).job_id
    handle_object_created(svc, f"transcription_upload/{fresh}/b.wav", 1)
    launcher = cast(RecordingLauncher, svc.launcher)
    assert svc.queue.depth() == 1
    assert launcher.calls == [1, 2]
    assert launcher.jobs == [busy, fresh]


class BrokenCounters:
    def add(self, amounts: object) -> None:
        raise OSError("disk full")

    def read(self) -> dict[str, float]:
        return {}


def test_a_failure_to_count_never_fails_or_undoes_a_job() -> None:
    svc = memory_services()
    svc.counters = BrokenCounters()
    job_id = create_job(svc, "k", NewJob()).job_id
    handle_object_created(svc, f"transcription_upload/{job_id}/a.wav", 1)
    message = svc.queue.receive(0, 60)
    assert message is not None
    claim_job(svc, message, "w1")
    done = complete_job(svc, job_id, "w1", Outcome("whisper-base", 1.0, 0.5, 10, {}))
    assert done.status is JobStatus.COMPLETED
