"""What a real account does that moto alone does not show (issue 26), for the API Lambda
and the stack's roles: each test plays the account's limit or behaviour on moto with the
template's IAM roles enforced (tests/deploy/iam_env.py). `pytest -k real_account`."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import requests

from swescribe.core.jobs import JobStatus
from swescribe.engine import ProgressCallback, Segment, TranscribeOptions, Transcript
from tests.deploy.iam_env import Account
from tests.deploy.iam_flow import gateway_event, job, pump, register, run_worker, upload, workers

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
"""Lambda's synchronous response payload limit; API Gateway answers 502 past it."""


class LongRecordingEngine:
    """A 4-hour recording's worth of segments: its JSON transcript is over 6 MB."""

    worker: Any = None

    def transcribe(
        self,
        path: Path,
        options: TranscribeOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        text = "Och så fortsatte mötet med nästa punkt på dagordningen, om budgeten för i år."
        segments = tuple(Segment(n, n * 0.2, n * 0.2 + 0.2, text) for n in range(30_000))
        return Transcript(" ".join(s.text for s in segments), "sv", 6_000.0, segments, "long")


def invoke_api(account: Account, path: str) -> dict[str, Any]:
    """One GET through the API Lambda's real handler, as the API role: the raw answer
    Lambda hands API Gateway."""
    from swescribe.lambdas.api import handler

    with account.acting_as("ApiFunctionRole"):
        response: dict[str, Any] = handler(gateway_event("GET", path), None)
    return response


def test_real_account_a_transcript_over_6_mb_is_a_redirect_not_a_lambda_body(
    account: Account,
) -> None:
    """A Lambda response is at most 6 MB (API Gateway answers 502 past it): the transcript
    route answers a 303 to a presigned GET of the result, whatever its size."""
    job_id = register(account, "https://client.example.com/webhook")
    upload(account, job_id)
    assert pump(account, "UploadEventsQueue")["outcomes"] == {"launched": 1}
    (instance_id,) = workers(account)
    run_worker(account, instance_id, LongRecordingEngine())  # type: ignore[arg-type]
    assert job(account, job_id).status is JobStatus.COMPLETED

    response = invoke_api(account, f"/v1/jobs/{job_id}/transcript?format=json")
    answer_size = len(response.get("body") or "")
    assert answer_size < LAMBDA_RESPONSE_LIMIT, f"the Lambda answered {answer_size} bytes inline"
    assert response["statusCode"] == 303
    headers = {name.lower(): value for name, value in response["headers"].items()}
    link = urllib.parse.urlsplit(headers["location"])
    assert link.netloc == f"{account.resolver.values['BucketName']}.s3.eu-north-1.amazonaws.com"
    assert link.path.startswith(f"/results/{job_id}/")
    assert link.path.endswith(".json")
    served = requests.get(headers["location"], timeout=30)  # moto serves it as S3 would
    assert served.status_code == 200
    assert len(served.content) > LAMBDA_RESPONSE_LIMIT
    assert served.json()["segments"][-1]["id"] == 29_999


def test_real_account_a_janitor_run_that_overlaps_another_does_nothing(account: Account) -> None:
    """EventBridge starts a run every five minutes whether the last one ended or not (and
    an operator may run `swescribe cleanup` meanwhile): two sweeps at once would requeue
    the same job twice and race on the same instances. The second run, started while the
    first is mid-sweep, touches neither EC2 nor SQS."""
    import threading

    import boto3

    from swescribe.lambdas.janitor import handler

    first_is_sweeping = threading.Event()
    first_may_go_on = threading.Event()
    calls: list[tuple[str, str]] = []
    reports: dict[str, Any] = {}

    def seen(event_name: str, **_: Any) -> None:
        thread = threading.current_thread().name
        calls.append((thread, event_name))
        if thread == "first" and event_name.endswith("DescribeInstances"):
            first_is_sweeping.set()
            first_may_go_on.wait(30)

    def run(name: str) -> None:
        reports[name] = handler({}, None)

    with account.acting_as("JanitorFunctionRole"):
        boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
        for service in ("ec2", "sqs"):
            events.register(f"before-call.{service}", seen)
        first = threading.Thread(target=run, args=("first",), name="first")
        first.start()
        try:
            assert first_is_sweeping.wait(30), "the first run never reached its instance sweep"
            run("second")
        finally:
            first_may_go_on.set()
            first.join(60)
    assert [call for call in calls if call[0] != "first"] == []
    assert reports["second"]["skipped"].startswith("another janitor run")
    assert "instances" in reports["first"]


def test_real_account_a_second_file_under_a_jobs_upload_prefix_is_removed(
    account: Account,
) -> None:
    """The seed's presigned POST lets the client name its object (`${filename}`), so S3
    can bound it only by the job's prefix: within the hour the form lives, a client could
    put any number of files there, each up to the size limit, past the per-key job caps.
    The upload event of any object but the job's own removes it (process-upload role)."""
    job_id = register(account, "https://client.example.com/webhook")
    first = upload(account, job_id, name="intervju.wav")
    assert pump(account, "UploadEventsQueue")["outcomes"] == {"launched": 1}
    second = upload(account, job_id, name="more.wav")
    result = pump(account, "UploadEventsQueue")
    assert result["batchItemFailures"] == [], result
    bucket = account.resolver.values["BucketName"]
    listed = account.client("s3").list_objects_v2(
        Bucket=bucket, Prefix=f"transcription_upload/{job_id}/"
    )
    assert [item["Key"] for item in listed.get("Contents", [])] == [first]
    assert job(account, job_id).s3_key == first
    assert second != first
