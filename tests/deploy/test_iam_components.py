"""Each component of the AWS shape runs its real code under the IAM role the template
gives it, with moto enforcing IAM (tests/deploy/iam_env.py says what moto checks and how
the documents are adapted to it). `pytest -k iam` runs them.

A missing permission shows up here as AccessDenied from moto, exactly where AWS would
refuse; test_iam_harness_bites_without_dynamodb_query shows that taking one needed action
out of a role makes the flow fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from swescribe.adapters.aws.dynamodb_jobs import DynamoJobStore
from swescribe.core.errors import ServiceFailure
from swescribe.core.jobs import JobStatus, WebhookState, utcnow
from swescribe.core.ports import Expect
from swescribe.core.voices import Voiceprint
from tests.deploy.iam_env import TABLE, Account
from tests.deploy.iam_flow import (
    API_KEY_ID,
    StandInEngine,
    call_api,
    job,
    pump,
    register,
    run_worker,
    terminate_self,
    upload,
    workers,
)
from tests.receiver import Receiver

SECRET = "iam-test-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(SECRET).start()
    yield running
    running.stop()


def launched_job(account: Account, callback_url: str) -> tuple[str, str]:
    """Register (API role), upload, and the upload event (process-upload role) -> the job
    id and the worker instance started for it."""
    job_id = register(account, callback_url)
    upload(account, job_id)
    result = pump(account, "UploadEventsQueue")
    assert result["batchItemFailures"] == [], result
    assert result["outcomes"] == {"launched": 1}
    assert job(account, job_id).status is JobStatus.LAUNCHING
    (instance_id,) = workers(account)
    return job_id, instance_id


def test_iam_upload_event_marks_the_job_queues_it_and_launches_a_worker(
    account: Account, receiver: Receiver
) -> None:
    _, instance_id = launched_job(account, receiver.url)
    env = account.worker_env(instance_id)
    assert env["SWESCRIBE_QUEUE_URL"] == account.queue_url("WorkQueue")
    assert env["SWESCRIBE_BUCKET"] == account.resolver.values["BucketName"]
    depth = account.client("sqs").get_queue_attributes(
        QueueUrl=account.queue_url("WorkQueue"), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert depth == "1"


def test_iam_an_uploaded_playlist_fails_its_job_without_a_worker(
    account: Account, receiver: Receiver
) -> None:
    """The seed's POST form lets a client name its object list.m3u8 (issue 24): the
    process-upload role fails the job and queues its webhook, and launches nothing."""
    job_id = register(account, receiver.url)
    upload(account, job_id, name="list.m3u8")
    result = pump(account, "UploadEventsQueue")
    assert result["batchItemFailures"] == [], result
    assert result["outcomes"] == {"refused": 1}
    refused = job(account, job_id)
    assert refused.status is JobStatus.FAILED
    assert refused.error_code == "invalid_audio"
    assert workers(account) == []
    assert pump(account, "WebhookQueue")["outcomes"] == {"webhook": 1}
    (delivery,) = receiver.deliveries
    assert delivery.payload["status"] == "failed"


def test_iam_worker_claims_transcribes_completes_and_the_webhook_goes_out(
    account: Account, receiver: Receiver
) -> None:
    job_id, instance_id = launched_job(account, receiver.url)
    run_worker(account, instance_id, StandInEngine())
    done = job(account, job_id)
    assert done.status is JobStatus.COMPLETED, done.error_message
    assert done.instance_id == instance_id
    assert set(done.result_keys) == {"txt", "json", "srt", "vtt"}
    result = pump(account, "WebhookQueue")
    assert result["outcomes"] == {"webhook": 1}, result
    (delivery,) = receiver.deliveries
    assert delivery.seed_signature_ok
    assert delivery.payload["transcript"]["text"] == "Hej och välkommen."
    assert job(account, job_id).webhook_state is WebhookState.DELIVERED
    assert terminate_self(account, instance_id) == [], "TerminateInstances was refused"
    assert instance_id not in workers(account)


def test_iam_worker_gives_its_job_back_on_a_spot_notice(
    account: Account, receiver: Receiver
) -> None:
    job_id, instance_id = launched_job(account, receiver.url)
    run_worker(account, instance_id, StandInEngine(spot_notice_midway=True))
    given_back = job(account, job_id)
    assert given_back.status is JobStatus.LAUNCHING
    assert given_back.instance_id is None
    assert given_back.releases == 1


def test_iam_api_reads_lists_links_reports_and_deletes(
    account: Account, receiver: Receiver
) -> None:
    job_id, instance_id = launched_job(account, receiver.url)
    run_worker(account, instance_id, StandInEngine())
    status, view = call_api(account, "GET", f"/v1/jobs/{job_id}")
    assert (status, view["status"]) == (200, "completed"), view
    status, listing = call_api(account, "GET", "/v1/jobs")
    assert status == 200, listing
    assert [item["job_id"] for item in listing["jobs"]] == [job_id]
    status, transcript = call_api(account, "GET", f"/v1/jobs/{job_id}/transcript?format=txt")
    assert status == 303, transcript  # to a presigned GET the API role signs
    status, link = call_api(account, "GET", f"/v1/jobs/{job_id}/audio-link")
    assert status == 200, link
    status, metrics = call_api(account, "GET", "/metrics")
    assert status == 200, metrics
    # On DynamoDB /metrics counts jobs in flight (COUNT queries on the status index);
    # finished totals come from CloudWatch.
    assert 'swescribe_jobs{status="processing"} 0' in metrics
    status, _ = call_api(account, "DELETE", f"/v1/jobs/{job_id}")
    assert status == 200
    left = account.client("s3").list_objects_v2(Bucket=account.resolver.values["BucketName"])
    assert left.get("KeyCount", 0) == 0, [o["Key"] for o in left.get("Contents", [])]
    status, _ = call_api(account, "GET", f"/v1/jobs/{job_id}/audio-link")
    assert status == 404


def test_iam_enrolled_voices_are_listed_used_by_the_worker_and_deleted(
    account: Account, receiver: Receiver
) -> None:
    status, refused = call_api(
        account, "POST", "/v1/speakers", {"name": "Anna", "job_id": "j", "start": 0, "end": 1}
    )
    assert status == 501, refused
    assert refused["error"]["code"] == "enrolment_unavailable"
    s3 = account.client("s3")
    bucket = account.resolver.values["BucketName"]
    anna = Voiceprint("spk_00112233445566aa", "Anna", utcnow(), (0.6, 0.8), 4.0)
    key = f"speakers/{API_KEY_ID}/{anna.voice_id}.json"  # made where numpy runs (serve, CLI)
    s3.put_object(Bucket=bucket, Key=key, Body=anna.to_json(), ServerSideEncryption="AES256")
    status, listing = call_api(account, "GET", "/v1/speakers")
    assert status == 200, listing
    assert [v["name"] for v in listing["speakers"]] == ["Anna"]
    status, created = call_api(
        account,
        "POST",
        "/v1/jobs",
        {"filename": "talk.wav", "diarize": True, "known_speakers": ["Anna"]},
    )
    assert status == 201, created
    job_id = created["job_id"]
    upload(account, job_id, "talk.wav")
    assert pump(account, "UploadEventsQueue")["outcomes"] == {"launched": 1}
    (instance_id,) = workers(account)
    engine = StandInEngine()
    run_worker(account, instance_id, engine)
    assert job(account, job_id).status is JobStatus.COMPLETED, job(account, job_id).error_message
    (options,) = engine.options
    assert options is not None
    assert [v.name for v in options.known_voices] == ["Anna"], "the worker read the voiceprint"
    status, deleted = call_api(account, "DELETE", "/v1/speakers/Anna")
    assert status == 200, deleted
    assert s3.list_objects_v2(Bucket=bucket, Prefix="speakers/").get("KeyCount", 0) == 0


def test_iam_api_job_with_audio_url_launches_a_worker_itself(account: Account) -> None:
    status, created = call_api(
        account, "POST", "/v1/jobs", {"audio_url": "https://example.com/clip.wav"}
    )
    assert status == 201, created
    assert created["status"] == "launching"
    assert len(workers(account)) == 1


def test_iam_janitor_requeues_lost_work_and_ends_idle_workers(
    account: Account, receiver: Receiver
) -> None:
    from swescribe.lambdas.janitor import handler

    job_id, instance_id = launched_job(account, receiver.url)
    store = DynamoJobStore(account.client("dynamodb"), TABLE)
    past = utcnow() - timedelta(hours=1)
    store.update(  # a worker took it and died: its lease ran out an hour ago
        job_id,
        Expect.status(JobStatus.LAUNCHING),
        {"status": JobStatus.PROCESSING, "instance_id": "i-gone", "lease_expires_at": past},
    )
    env = {**account.lambda_env("JanitorFunctionRole"), "SWESCRIBE_INSTANCE_GRACE_SECONDS": "0"}
    with account.acting_as("JanitorFunctionRole", env):
        first = handler({}, None)
    assert first["jobs"]["requeued"] == [job_id]
    assert job(account, job_id).status is JobStatus.LAUNCHING
    assert instance_id in first["instances"]["marked_idle"]
    with account.acting_as("JanitorFunctionRole", env):
        second = handler({}, None)
    assert instance_id in second["instances"]["terminated"]


def test_iam_harness_bites_without_dynamodb_query(account: Account, receiver: Receiver) -> None:
    """The same upload event as above, with dynamodb:Query taken out of the process-upload
    role: the launch step is refused and the event fails, so the SQS retry comes back."""
    from tests.deploy.iam_env import without_action

    role = "ProcessUploadFunctionRole"
    account.create_role(role, without_action(account.policy(role), "dynamodb:Query"))
    job_id = register(account, receiver.url)
    upload(account, job_id)
    result = pump(account, "UploadEventsQueue")
    assert len(result["batchItemFailures"]) == 1, result
    assert workers(account) == []


def test_iam_janitor_without_sqs_send_still_cleans_up_instances_and_raises(
    account: Account, receiver: Receiver
) -> None:
    """A refused job step (requeueing needs sqs:SendMessage) does not stop the instance
    cleanup; the run then fails loudly (the janitor's Errors alarm)."""
    from swescribe.lambdas.janitor import handler
    from tests.deploy.iam_env import without_action

    job_id, instance_id = launched_job(account, receiver.url)
    DynamoJobStore(account.client("dynamodb"), TABLE).update(
        job_id,
        Expect.status(JobStatus.LAUNCHING),
        {
            "status": JobStatus.PROCESSING,
            "instance_id": "i-gone",
            "lease_expires_at": utcnow() - timedelta(hours=1),
        },
    )
    role = "JanitorFunctionRole"
    account.create_role(role, without_action(account.policy(role), "sqs:SendMessage"))
    env = {**account.lambda_env(role), "SWESCRIBE_INSTANCE_GRACE_SECONDS": "0"}
    with account.acting_as(role, env), pytest.raises(ServiceFailure, match=job_id):
        handler({}, None)
    tags = account.client("ec2").describe_tags(
        Filters=[{"Name": "resource-id", "Values": [instance_id]}]
    )["Tags"]
    assert "swescribe:idle-since" in {tag["Key"] for tag in tags}
