"""The AWS shape end to end on moto_server (127.0.0.1): the seed's flow through the real
Lambda handlers with real event shapes, presigned uploads, S3 -> SQS notifications, EC2
spot launches with the seed's UserData, and the GPU worker script run as a local process
against the moto endpoint, with the offline model and Swedish clips."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from swescribe.adapters.aws.dynamodb_jobs import DynamoJobStore
from swescribe.adapters.aws.userdata import parse_user_data
from swescribe.api.schemas import JobView
from swescribe.bootstrap_janitor import run_cleanup
from swescribe.config import Settings
from swescribe.core.jobs import Job, JobStatus
from tests.conftest import audio, reference
from tests.e2e.aws_env import (
    BUCKET,
    REGION,
    REPO_ROOT,
    TABLE,
    Deployment,
    FakeMetadata,
    moto_server,
    provision,
    start_worker,
)
from tests.gateway import gateway_event as api_gateway_event
from tests.lying_audio import scaled_timestamps_mkv, speech_in_silence
from tests.receiver import Receiver
from tests.wer import word_error_rate

pytestmark = pytest.mark.model

SECRET = "shared-secret-456"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def load_handler(name: str) -> Handler:
    """A Lambda file at the seed's path, loaded as the Lambda runtime loads it."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "lambda" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Handler = module.handler
    return handler


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    logs = tmp_path_factory.mktemp("moto")
    patch = pytest.MonkeyPatch()
    with moto_server(logs / "moto.log") as endpoint:
        for name, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        deployed = provision(endpoint)
        for name, value in {
            **deployed.lambda_env(),
            "SWESCRIBE_INSTANCE_PER_JOB": "1",  # the seed's behaviour
            "SWESCRIBE_DEV_MODE": "1",  # the webhook receiver is on loopback
            "SWESCRIBE_LEASE_SECONDS": "4",
            "SWESCRIBE_HEARTBEAT_SECONDS": "1",
        }.items():
            patch.setenv(name, value)
        from swescribe.lambdas import api, process_upload

        api._asgi_handler.cache_clear()
        process_upload._wiring.cache_clear()
        yield deployed
        api._asgi_handler.cache_clear()
        process_upload._wiring.cache_clear()
    patch.undo()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(SECRET).start()
    yield running
    running.stop()


def gateway_event(method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
    return api_gateway_event(method, path, body, api_key_id="key-abc")


def register_and_upload(clip: Path, callback_url: str) -> dict[str, Any]:
    """POST /api through the API Lambda, then the presigned POST upload to S3."""
    body = {"callback_url": callback_url, "callback_secret": SECRET}
    response = load_handler("lambda_api")(gateway_event("POST", "/api", body), None)
    assert response["statusCode"] == 200, response["body"]
    registration: dict[str, Any] = json.loads(response["body"])
    assert registration["upload_path"] == f"transcription_upload/{registration['callback_id']}/"
    assert registration["message"] == "Upload audio files to the provided S3 path"
    assert registration["upload_method"] == "POST"
    uploaded = httpx.post(
        registration["upload_url"],
        data=registration["upload_fields"],
        files={"file": (clip.name, clip.read_bytes(), "audio/wav")},
        timeout=60,
    )
    assert uploaded.status_code in (200, 204), uploaded.text
    return registration


def pump_uploads(deployment: Deployment, job_id: str) -> list[dict[str, Any]]:
    """S3 -> SQS -> process_upload until the job has left 'registered' (bounded)."""
    process = load_handler("lambda_process_upload")
    bodies: list[dict[str, Any]] = []
    for _ in range(20):
        bodies += deployment.pump(deployment.events_queue_url, process)
        if job(deployment, job_id)["status"] != "registered":
            return bodies
    raise AssertionError(f"job {job_id} was never launched; events: {bodies}")


def job(deployment: Deployment, job_id: str) -> dict[str, Any]:
    found = DynamoJobStore(deployment.client("dynamodb"), TABLE).get(job_id)
    assert found is not None
    return JobView.from_job(found).model_dump(mode="json")


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def instances_for(deployment: Deployment, job_id: str) -> list[dict[str, Any]]:
    reservations = deployment.client("ec2").describe_instances(
        Filters=[{"Name": "tag:swescribe:job", "Values": [job_id]}]
    )["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def user_data(deployment: Deployment, instance_id: str) -> dict[str, str]:
    raw = deployment.client("ec2").describe_instance_attribute(
        InstanceId=instance_id, Attribute="userData"
    )["UserData"]["Value"]
    return parse_user_data(base64.b64decode(raw).decode())


def worker_env(deployment: Deployment, instance_id: str) -> dict[str, str]:
    """The instance's UserData exports, plus what reaching moto takes."""
    return {
        **user_data(deployment, instance_id),
        "AWS_ENDPOINT_URL": deployment.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def run_worker_to_the_end(
    deployment: Deployment, instance_id: str, tmp_path: Path, env: dict[str, str] | None = None
) -> FakeMetadata:
    """The instance's worker script, run until it exits (0), with its metadata service."""
    metadata = FakeMetadata(instance_id).start()
    try:
        worker = start_worker(
            env or worker_env(deployment, instance_id),
            metadata,
            tmp_path / "data",
            tmp_path / "worker.log",
        )
        assert worker.wait(timeout=300) == 0, (tmp_path / "worker.log").read_text()
    finally:
        metadata.stop()
    return metadata


def deliver_webhooks(deployment: Deployment, receiver: Receiver, count: int) -> None:
    process = load_handler("lambda_process_upload")
    wait_for(
        lambda: (
            bool(deployment.pump(deployment.webhook_queue_url, process))
            or len(receiver.deliveries) >= count
        ),
        "webhook deliveries",
        timeout=60,
    )
    receiver.wait_for(count, timeout=30)


def test_seed_flow_register_upload_launch_transcribe_webhook(
    deployment: Deployment, receiver: Receiver, tmp_path: Path
) -> None:
    clip = audio("cv_18746434.wav")
    registration = register_and_upload(clip, receiver.url)
    job_id = registration["callback_id"]

    pump_uploads(deployment, job_id)
    launched = job(deployment, job_id)
    assert launched["status"] == "launching"
    assert launched["s3_key"] == f"transcription_upload/{job_id}/{clip.name}"
    # The POST form's x-amz-server-side-encryption field is in its signed policy
    # (tests/unit/test_aws_s3.py); moto_server does not apply it to the stored object, so
    # the upload's encryption is checked on the PUT path below, and S3 also has the
    # stack's default bucket encryption.

    # The same S3 notification again (S3 delivers at least once): nothing new happens.
    key = launched["s3_key"]
    duplicate = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Post",
                "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 1}},
            }
        ]
    }
    outcome = load_handler("lambda_process_upload")(duplicate, None)
    assert outcome["outcomes"] == {"duplicate": 1}

    (instance,) = instances_for(deployment, job_id)
    assert instance["InstanceLifecycle"] == "spot"
    assert instance["InstanceType"] == "g4dn.xlarge"
    seed_data = user_data(deployment, instance["InstanceId"])
    assert seed_data["SWESCRIBE_JOB_ID"] == job_id
    assert seed_data["SWESCRIBE_S3_INPUT"] == f"s3://{BUCKET}/{key}"
    assert seed_data["SWESCRIBE_S3_OUTPUT"] == f"s3://{BUCKET}/results/{job_id}/"
    assert seed_data["SWESCRIBE_QUEUE_URL"] == deployment.queue_url

    metadata = run_worker_to_the_end(deployment, instance["InstanceId"], tmp_path)
    assert metadata.tokens_issued >= 1, "IMDSv2: a session token was asked for"
    assert metadata.unauthorised == 0

    done = job(deployment, job_id)
    assert done["status"] == "completed", done
    assert done["instance_id"] == instance["InstanceId"]
    assert done["model_used"] == "whisper-base"
    s3 = deployment.client("s3")
    for fmt, result_key in done["results"].items():
        assert result_key.startswith(f"results/{job_id}/transcription_")
        assert result_key.endswith(f"_cv_18746434.{fmt}")
        head = s3.head_object(Bucket=BUCKET, Key=result_key)
        assert head["ServerSideEncryption"] == "AES256"
    state = deployment.client("ec2").describe_instances(InstanceIds=[instance["InstanceId"]])
    assert state["Reservations"][0]["Instances"][0]["State"]["Name"] in (
        "shutting-down",
        "terminated",
    )

    deliver_webhooks(deployment, receiver, 1)
    delivery = receiver.deliveries[0]
    assert delivery.seed_signature_ok
    assert delivery.standard_signature_ok
    assert delivery.payload["status"] == "complete"
    assert word_error_rate(reference("cv_18746434"), delivery.payload["transcript"]["text"]) <= 0.5
    assert job(deployment, job_id)["webhook"]["state"] == "delivered"
    logged = (tmp_path / "worker.log").read_text()
    assert SECRET not in logged
    records = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert records, "the worker logs JSON lines"
    assert all(record["service"] == "worker" for record in records)
    assert any(record.get("job_id") == job_id for record in records), "filterable by job_id"


def relaunched_by_janitor(deployment: Deployment, job_id: str, after: list[str]) -> str:
    """Run the janitor as its schedule would; the job's new instance."""
    report = run_cleanup(Settings.from_env())
    assert report["jobs"]["workers_started"], report
    new = [
        i["InstanceId"] for i in instances_for(deployment, job_id) if i["InstanceId"] not in after
    ]
    assert len(new) == 1, new
    return str(new[0])


def lease_expired(deployment: Deployment, job_id: str) -> bool:
    found = DynamoJobStore(deployment.client("dynamodb"), TABLE).get(job_id)
    assert found is not None
    return found.lease_expires_at is not None and found.lease_expires_at < datetime.now(UTC)


def test_a_presigned_put_upload_over_http_is_stored_encrypted_and_launches_the_job(
    deployment: Deployment,
) -> None:
    clip = audio("cv_18742722.wav")
    body = {"filename": "min intervju å.wav"}
    response = load_handler("lambda_api")(gateway_event("POST", "/v1/jobs", body), None)
    assert response["statusCode"] == 201, response["body"]
    created = json.loads(response["body"])
    upload = created["upload"]
    assert upload["method"] == "PUT"
    assert upload["headers"] == {"x-amz-server-side-encryption": "AES256"}
    # S3 refuses the PUT without the signed SSE header; moto does not check signed headers.
    put = httpx.put(upload["url"], content=clip.read_bytes(), headers=upload["headers"], timeout=60)
    assert put.status_code == 200, put.text

    job_id = created["job_id"]
    pump_uploads(deployment, job_id)
    launched = job(deployment, job_id)
    assert launched["status"] == "launching"
    assert launched["s3_key"] == f"transcription_upload/{job_id}/min_intervju_å.wav"
    stored = deployment.client("s3").head_object(Bucket=BUCKET, Key=launched["s3_key"])
    assert stored["ServerSideEncryption"] == "AES256"
    assert stored["ContentLength"] == clip.stat().st_size

    link = load_handler("lambda_api")(
        gateway_event("GET", f"/v1/jobs/{job_id}/audio-link", None), None
    )
    assert link["statusCode"] == 200, link["body"]
    played = httpx.get(json.loads(link["body"])["url"], headers={"Range": "bytes=0-43"}, timeout=30)
    assert played.status_code == 206
    assert played.content == clip.read_bytes()[:44], "the WAV header, served by S3 with Range"


def test_spot_notice_then_a_crash_then_completion_on_a_third_worker(
    deployment: Deployment, receiver: Receiver, tmp_path: Path
) -> None:
    registration = register_and_upload(audio("espeak_long.wav"), receiver.url)
    job_id = registration["callback_id"]
    pump_uploads(deployment, job_id)
    (first,) = instances_for(deployment, job_id)
    ec2 = deployment.client("ec2")

    # 1. A spot interruption notice mid-job: the job goes back to the queue.
    interrupted = FakeMetadata(first["InstanceId"]).start()
    env = worker_env(deployment, first["InstanceId"])
    worker = start_worker(env, interrupted, tmp_path / "data", tmp_path / "worker1.log")
    wait_for(lambda: job(deployment, job_id)["status"] == "processing", "first claim")
    interrupted.notice = {"action": "terminate", "time": "2026-11-25T12:00:00Z"}
    # Two minutes' warning: the job goes back at once, not when the decode in progress
    # (a batch of windows, tens of seconds on a CPU) ends.
    wait_for(lambda: job(deployment, job_id)["status"] == "launching", "the job back", 15)
    assert worker.wait(timeout=20) == 0, (tmp_path / "worker1.log").read_text()
    interrupted.stop()
    back = job(deployment, job_id)
    assert back["status"] == "launching"
    assert back["attempts"] == 1
    assert "spot interruption" in (tmp_path / "worker1.log").read_text()
    ec2.terminate_instances(InstanceIds=[first["InstanceId"]])  # EC2 reclaims it

    # 2. The janitor gives the job a new instance, whose worker dies hard mid-job.
    second = relaunched_by_janitor(deployment, job_id, after=[first["InstanceId"]])
    crashing = FakeMetadata(second).start()
    env = worker_env(deployment, second)
    worker = start_worker(env, crashing, tmp_path / "data", tmp_path / "worker2.log")
    wait_for(lambda: job(deployment, job_id)["instance_id"] == second, "second claim", 120)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    crashing.stop()
    ec2.terminate_instances(InstanceIds=[second])

    # 3. Its lease runs out; the janitor requeues the job on a third instance, which finishes.
    wait_for(lambda: lease_expired(deployment, job_id), "the lease to run out", 30)
    third = relaunched_by_janitor(deployment, job_id, after=[first["InstanceId"], second])
    finishing = FakeMetadata(third).start()
    env = worker_env(deployment, third)
    worker = start_worker(env, finishing, tmp_path / "data", tmp_path / "worker3.log")
    try:
        assert worker.wait(timeout=600) == 0, (tmp_path / "worker3.log").read_text()
    finally:
        finishing.stop()
    done = job(deployment, job_id)
    assert done["status"] == "completed", done
    assert done["attempts"] == 3
    assert done["instance_id"] == third
    deliver_webhooks(deployment, receiver, 1)
    assert len(receiver.deliveries) == 1
    assert receiver.deliveries[0].payload["status"] == "complete"


def test_janitor_requeues_lost_work_and_terminates_an_idle_instance(
    deployment: Deployment,
) -> None:
    store = DynamoJobStore(deployment.client("dynamodb"), TABLE)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    store.create(
        Job(
            "lost-job",
            "key-abc",
            JobStatus.PROCESSING,
            long_ago,
            long_ago,
            s3_key="transcription_upload/lost-job/a.wav",
            instance_id="i-gone",
            attempts=1,
            lease_expires_at=long_ago,
        )
    )
    ec2 = deployment.client("ec2")
    (idle,) = ec2.run_instances(
        ImageId=deployment.image_id,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "swescribe:service", "Value": "swescribe"}],
            }
        ],
    )["Instances"]
    settings = Settings.from_env(instance_grace_seconds=0.0, max_instances=0)
    dry = run_cleanup(settings, dry_run=True)
    assert dry["jobs"]["requeued"] == ["lost-job"]
    assert job(deployment, "lost-job")["status"] == "processing", "a dry run changes nothing"

    first = run_cleanup(settings)
    assert first["jobs"]["requeued"] == ["lost-job"]
    assert idle["InstanceId"] in first["instances"]["marked_idle"]
    assert job(deployment, "lost-job")["status"] == "launching"
    second = run_cleanup(settings)
    assert idle["InstanceId"] in second["instances"]["terminated"]
    state = ec2.describe_instances(InstanceIds=[idle["InstanceId"]])
    assert state["Reservations"][0]["Instances"][0]["State"]["Name"] in (
        "shutting-down",
        "terminated",
    )
    assert os.environ["SWESCRIBE_BACKEND"] == "aws"


# The attacks of issue 24, re-run on the AWS shape, where the same core and engine run.


def playlist_naming(target: Path) -> bytes:
    """An HLS playlist whose one entry is a file on the worker's own disk."""
    return f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n{target}\n#EXT-X-ENDLIST\n".encode()


def test_a_playlist_is_refused_by_name_before_a_job_or_a_worker_exists(
    deployment: Deployment, receiver: Receiver
) -> None:
    response = load_handler("lambda_api")(
        gateway_event("POST", "/v1/jobs", {"filename": "x.m3u8"}), None
    )
    assert response["statusCode"] == 422, response["body"]
    assert json.loads(response["body"])["error"]["code"] == "invalid_audio"

    # The seed's POST form lets the client name the object: the upload event fails the
    # job at once, and no instance is launched for it.
    secret_clip = audio("cv_18746434.wav")
    body = {"callback_url": receiver.url, "callback_secret": SECRET}
    registered = load_handler("lambda_api")(gateway_event("POST", "/api", body), None)
    registration = json.loads(registered["body"])
    uploaded = httpx.post(
        registration["upload_url"],
        data=registration["upload_fields"],
        files={"file": ("list.m3u8", playlist_naming(secret_clip), "audio/x-mpegurl")},
        timeout=60,
    )
    assert uploaded.status_code in (200, 204), uploaded.text
    job_id = registration["callback_id"]
    pump_uploads(deployment, job_id)
    failed = job(deployment, job_id)
    assert failed["status"] == "failed", failed
    assert failed["error"]["code"] == "invalid_audio"
    assert "playlist" in failed["error"]["message"]
    assert instances_for(deployment, job_id) == []
    deliver_webhooks(deployment, receiver, 1)
    assert receiver.deliveries[0].payload["status"] == "failed"


def test_a_playlist_named_like_audio_is_never_followed_by_the_worker(
    deployment: Deployment, receiver: Receiver, tmp_path: Path
) -> None:
    secret_clip = audio("cv_18746434.wav")
    playlist = tmp_path / "innocent.wav"
    playlist.write_bytes(playlist_naming(secret_clip))
    registration = register_and_upload(playlist, receiver.url)
    job_id = registration["callback_id"]
    pump_uploads(deployment, job_id)
    (instance,) = instances_for(deployment, job_id)
    run_worker_to_the_end(deployment, instance["InstanceId"], tmp_path)
    failed = job(deployment, job_id)
    assert failed["status"] == "failed", failed
    assert failed["error"]["code"] == "invalid_audio"
    assert failed["results"] == {}
    deliver_webhooks(deployment, receiver, 1)
    payload = receiver.deliveries[0].payload
    assert payload["status"] == "failed"
    assert payload["transcript"]["text"] == "", "nothing of the file on the worker's disk"


def test_a_container_that_lies_about_its_length_fails_at_the_workers_limit(
    deployment: Deployment, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FLAC in Matroska with its timestamps scaled by 0.02 claims 2.3 s for 115 s: the
    EC2 worker counts what it decodes against the deployment's limit, as serve does."""
    from swescribe.lambdas import process_upload

    monkeypatch.setenv("SWESCRIBE_MAX_AUDIO_SECONDS", "60")
    process_upload._wiring.cache_clear()  # the Lambda's next cold start reads the limit
    try:
        attack = scaled_timestamps_mkv(
            tmp_path / "attack.mkv", speech_in_silence(115, {104.0: "cv_18733516.wav"})
        )
        registration = register_and_upload(attack, receiver.url)
        job_id = registration["callback_id"]
        pump_uploads(deployment, job_id)
    finally:
        process_upload._wiring.cache_clear()
    (instance,) = instances_for(deployment, job_id)
    env = worker_env(deployment, instance["InstanceId"])
    assert env["SWESCRIBE_MAX_AUDIO_SECONDS"] == "60.0", "the limit travels in the UserData"
    run_worker_to_the_end(deployment, instance["InstanceId"], tmp_path, env)
    failed = job(deployment, job_id)
    assert failed["status"] == "failed", failed
    assert failed["error"]["code"] == "audio_too_long"
    assert failed["results"] == {}
    deliver_webhooks(deployment, receiver, 1)
    assert receiver.deliveries[0].payload["error"]["code"] == "audio_too_long"
