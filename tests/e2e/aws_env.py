"""The AWS shape on this machine: moto_server on 127.0.0.1 as S3, SQS, DynamoDB and EC2,
provisioned as the deployment provisions it, a fake instance metadata service on
loopback, and the Lambda runtime's part played by the test (SQS messages -> handlers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import httpx

from swescribe.adapters.aws.dynamodb_jobs import create_jobs_table
from swescribe.adapters.aws.sqs_queue import create_work_queue
from tests.support import free_port

REGION = "eu-north-1"
BUCKET = "transcription-curevo"
TABLE = "transcription-jobs"
TEMPLATE = "swescribe-worker"
REPO_ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def moto_server(log_path: Path) -> Iterator[str]:
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/moto-api/", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"moto_server did not start: {log_path.read_text()}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Deployment:
    endpoint: str
    queue_url: str
    dlq_url: str
    webhook_queue_url: str
    events_queue_url: str
    image_id: str

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)

    def lambda_env(self) -> dict[str, str]:
        """What the deployment gives both Lambdas."""
        return {
            "SWESCRIBE_BACKEND": "aws",
            "SWESCRIBE_BUCKET": BUCKET,
            "SWESCRIBE_TABLE": TABLE,
            "SWESCRIBE_QUEUE_URL": self.queue_url,
            "SWESCRIBE_WEBHOOK_QUEUE_URL": self.webhook_queue_url,
            "SWESCRIBE_LAUNCH_TEMPLATE": TEMPLATE,
            "SWESCRIBE_INSTANCE_TYPES": "g4dn.xlarge",
            "SWESCRIBE_MAX_INSTANCES": "4",
            "SWESCRIBE_MODEL": "whisper-base",
        }

    def pump(self, queue_url: str, handler: Any, wait: float = 1.0) -> list[dict[str, Any]]:
        """Play Lambda's SQS event source: receive a batch, invoke, delete what succeeded."""
        sqs = self.client("sqs")
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=int(wait)
        )
        messages = response.get("Messages", [])
        if not messages:
            return []
        event = {"Records": [sqs_record(m, queue_url) for m in messages]}
        result = handler(event, None)
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]


def sqs_record(message: dict[str, Any], queue_url: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{queue_url.rsplit('/', 1)[-1]}",
        "awsRegion": REGION,
    }


def provision(endpoint: str) -> Deployment:
    """Bucket with the upload notification, table, queues, launch template."""
    session = {"region_name": REGION, "endpoint_url": endpoint}
    s3 = boto3.client("s3", **session)
    sqs = boto3.client("sqs", **session)
    ec2 = boto3.client("ec2", **session)
    # No default bucket encryption here (the stack has it): moto would apply it to any
    # write, so a test could not see whether swescribe asked for AES256 on every write.
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    create_jobs_table(boto3.client("dynamodb", **session), TABLE)
    queue_url, dlq_url = create_work_queue(sqs, "swescribe-work", max_receives=5)
    webhook_queue_url, _ = create_work_queue(sqs, "swescribe-webhooks", max_receives=10)
    events_queue_url, _ = create_work_queue(sqs, "swescribe-upload-events", max_receives=5)
    events_arn = sqs.get_queue_attributes(QueueUrl=events_queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": events_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [{"Name": "prefix", "Value": "transcription_upload/"}]
                        }
                    },
                }
            ]
        },
    )
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.create_launch_template(
        LaunchTemplateName=TEMPLATE,
        LaunchTemplateData={
            "ImageId": image_id,
            "InstanceType": "g4dn.xlarge",
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
            "InstanceInitiatedShutdownBehavior": "terminate",
        },
    )
    return Deployment(endpoint, queue_url, dlq_url, webhook_queue_url, events_queue_url, image_id)


@dataclass
class FakeMetadata:
    """IMDSv2 on loopback: a token first, then instance-id and spot/instance-action."""

    instance_id: str
    notice: dict[str, str] | None = None
    tokens_issued: int = 0
    unauthorised: int = 0
    server: ThreadingHTTPServer | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeMetadata:
        metadata = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: str = "") -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:
                if self.path == "/latest/api/token" and self.headers.get(
                    "X-aws-ec2-metadata-token-ttl-seconds"
                ):
                    metadata.tokens_issued += 1
                    self._reply(200, "fake-token")
                else:
                    self._reply(400)

            def do_GET(self) -> None:
                if self.headers.get("X-aws-ec2-metadata-token") != "fake-token":
                    metadata.unauthorised += 1
                    self._reply(401)
                elif self.path == "/latest/meta-data/instance-id":
                    self._reply(200, metadata.instance_id)
                elif self.path == "/latest/meta-data/spot/instance-action" and metadata.notice:
                    self._reply(200, json.dumps(metadata.notice))
                else:
                    self._reply(404)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def start_worker(
    env: dict[str, str], metadata: FakeMetadata, data_dir: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    """run_transcription/fast_transcribe.py as the instance would run it, on this machine."""
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SWESCRIBE_")},
        **env,
        "SWESCRIBE_IMDS_URL": metadata.url,
        "SWESCRIBE_DATA_DIR": str(data_dir),
        "SWESCRIBE_SPOT_POLL_SECONDS": "0.5",
        "HF_HUB_OFFLINE": "1",
    }
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "run_transcription" / "fast_transcribe.py")],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
