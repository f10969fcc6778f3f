"""MaxWorkers as a hard cap, under the process-upload role, with concurrent invocations.

Lambda runs several process-upload invocations at once (the event source mapping's
MaximumConcurrency bounds how many), and the API and the janitor launch too; each one
used to count the workers with DescribeInstances and start the difference, so two
invocations that counted before either launched both started the difference.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from moto.core.botocore_stubber import BotocoreStubber

from swescribe.adapters.aws.dynamodb_slots import LAUNCH_SECONDS, DynamoLaunchSlots
from swescribe.adapters.aws.ec2_workers import SERVICE_TAG
from swescribe.core.jobs import utcnow
from tests.deploy import cfn
from tests.deploy.iam_env import Account
from tests.deploy.iam_flow import register, upload, workers

MAX_WORKERS = 3
UPLOADS = 30
INVOCATIONS = 10


@pytest.fixture
def one_request_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS serves each request atomically (a conditional write checks and writes as one,
    a Query reads a consistent index); in-process moto runs requests in the callers'
    threads, where two of them can interleave inside its data structures. One lock around
    moto's request handling gives the threads here that guarantee; what happens between
    one request and the next (the race under test) is left as it is."""
    lock = threading.Lock()
    original = BotocoreStubber.process_request

    def serialised(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", serialised)


def upload_event_batches(account: Account, size: int) -> Iterator[dict[str, Any]]:
    """The upload-events queue read as the event source mapping does, in batches of size."""
    sqs = account.client("sqs")
    url = account.queue_url("UploadEventsQueue")
    records: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        for message in messages:
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "eventSource": "aws:sqs",
                }
            )
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    for start in range(0, len(records), size):
        yield {"Records": records[start : start + size]}


def test_real_account_concurrent_upload_events_launch_no_more_than_max_workers(
    account: Account, one_request_at_a_time: None
) -> None:
    """30 uploads handled by 10 process-upload invocations at once (3 events each), under
    the role and environment the template gives the function, with MaxWorkers 3.

    No widening of the race was needed: counting with DescribeInstances and launching the
    difference started 11 to 25 instances here over three runs (24 in a fourth, with a
    50 ms wait added to RunInstances)."""
    from swescribe.lambdas import process_upload

    job_ids = [register(account, "https://example.com/hook") for _ in range(UPLOADS)]
    for job_id in job_ids:
        upload(account, job_id)
    events = list(upload_event_batches(account, UPLOADS // INVOCATIONS))
    assert len(events) == INVOCATIONS

    role = "ProcessUploadFunctionRole"
    env = {**account.lambda_env(role), "SWESCRIBE_MAX_INSTANCES": str(MAX_WORKERS)}
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    with account.acting_as(role, env):
        process_upload._wiring()  # warm (as each container is): boto3 builds clients serially
        start = threading.Barrier(INVOCATIONS)

        def invoke(event: dict[str, Any]) -> None:
            start.wait()
            try:
                results.append(process_upload.handler(event, None))
            except BaseException as error:  # reported below, not lost in the thread
                errors.append(error)

        threads = [threading.Thread(target=invoke, args=(event,)) for event in events]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    assert errors == []
    assert all(result["batchItemFailures"] == [] for result in results), json.dumps(results)
    launched = workers(account, ("pending", "running", "shutting-down", "stopping", "stopped"))
    assert len(launched) <= MAX_WORKERS, f"{len(launched)} instances for MaxWorkers {MAX_WORKERS}"
    assert len(launched) == MAX_WORKERS, "30 queued jobs deserve every worker allowed"


def test_upload_events_reach_at_most_a_few_concurrent_invocations() -> None:
    """The slots hold the cap whatever the concurrency; the mapping bounds the contention
    (SQS event sources accept 2 to 1000)."""
    mapping = cfn.load_template()["Resources"]["UploadEventsMapping"]["Properties"]
    assert 2 <= mapping["ScalingConfig"]["MaximumConcurrency"] <= 10


def test_the_janitor_frees_leaked_slots_and_gives_unslotted_workers_one(account: Account) -> None:
    """Under the janitor's role: a slot whose launcher died long ago and the slot of a
    worker that ended are freed; a running worker that had no slot (started by an older
    release) gets one, so the slots never count fewer workers than are running."""
    from swescribe.lambdas.janitor import handler

    table = account.resolver.values["TableName"]
    long_ago = utcnow() - timedelta(seconds=LAUNCH_SECONDS + 60)
    slots = DynamoLaunchSlots(account.client("dynamodb"), table, clock=lambda: long_ago)
    leaked = slots.take(4)
    ended = slots.take(4)
    ec2 = account.client("ec2")
    run = {
        "LaunchTemplate": {"LaunchTemplateId": account.names["<WorkerLaunchTemplate>"]},
        "MinCount": 1,
        "MaxCount": 1,
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": SERVICE_TAG, "Value": cfn.STACK_NAME}]}
        ],
    }
    gone = ec2.run_instances(**run)["Instances"][0]["InstanceId"]
    slots.bind(ended or "", gone)
    ec2.terminate_instances(InstanceIds=[gone])
    unslotted = ec2.run_instances(**run)["Instances"][0]["InstanceId"]

    with account.acting_as("JanitorFunctionRole"):
        report = handler({}, None)["launch_slots"]

    assert sorted(report["freed"]) == sorted([leaked, gone])
    assert report["adopted"] == [unslotted]
    assert set(DynamoLaunchSlots(account.client("dynamodb"), table).held()) == {unslotted}
