"""Wiring of the AWS shape: S3, DynamoDB, SQS and EC2 adapters from Settings."""

from __future__ import annotations

import logging
from dataclasses import replace

from fastapi import FastAPI

from swescribe.adapters.aws.clients import client
from swescribe.adapters.aws.dynamodb_jobs import DynamoJobStore
from swescribe.adapters.aws.dynamodb_slots import DynamoLaunchSlots
from swescribe.adapters.aws.dynamodb_worker_view import WorkerJobStore
from swescribe.adapters.aws.ec2_launcher import Ec2Launcher
from swescribe.adapters.aws.ec2_workers import LaunchPlan
from swescribe.adapters.aws.s3 import S3ObjectStore
from swescribe.adapters.aws.sqs_queue import SqsWorkQueue
from swescribe.api import ApiContext, create_app
from swescribe.bootstrap import NoLauncher, RandomIds, SystemClock, api_limits, policy_from
from swescribe.config import Settings
from swescribe.core.errors import InvalidOption
from swescribe.core.ports import WorkerLauncher
from swescribe.core.services import Services

log = logging.getLogger(__name__)

METRICS_CACHE_SECONDS = 15.0
"""/metrics counts jobs in flight with DynamoDB queries: one rendering serves this long."""


def require_aws_settings(settings: Settings) -> None:
    missing = [
        name
        for name, value in (
            ("SWESCRIBE_QUEUE_URL", settings.queue_url),
            ("SWESCRIBE_WEBHOOK_QUEUE_URL", settings.webhook_queue_url),
            ("SWESCRIBE_BUCKET", settings.bucket),
            ("SWESCRIBE_TABLE", settings.table),
        )
        if not value
    ]
    if missing:
        raise InvalidOption(f"the aws backend needs {', '.join(missing)} to be set")


def aws_settings() -> Settings:
    """The deployment's settings from its environment (Lambdas, GPU workers). A bad or
    missing value is logged as one error line that names the variable, then raised: the
    invocation fails, and the log says why without a stack trace to read."""
    try:
        settings = Settings.from_env(backend="aws")
        require_aws_settings(settings)
    except InvalidOption as error:
        log.error("invalid configuration", extra={"error_code": error.code, "reason": str(error)})
        raise
    return settings


def build_aws_services(
    settings: Settings, launcher: WorkerLauncher | None = None, worker: bool = False
) -> Services:
    """worker: the GPU worker's view of the jobs table (no callback fields; its role)."""
    require_aws_settings(settings)
    sqs = client("sqs", settings.aws_region)
    store = WorkerJobStore if worker else DynamoJobStore
    return Services(
        jobs=store(client("dynamodb", settings.aws_region), settings.table),
        objects=S3ObjectStore(client("s3", settings.aws_region), settings.bucket),
        queue=SqsWorkQueue(sqs, settings.queue_url),
        webhooks=SqsWorkQueue(sqs, settings.webhook_queue_url),
        launcher=launcher or NoLauncher(),
        clock=SystemClock(),
        ids=RandomIds(),
        policy=policy_from(settings),
    )


def worker_env_from_settings(settings: Settings) -> dict[str, str]:
    """The SWESCRIBE_* (and region) variables a GPU worker needs; empty values left out."""
    env = {
        "SWESCRIBE_BACKEND": "aws",
        "SWESCRIBE_QUEUE_URL": settings.queue_url,
        "SWESCRIBE_WEBHOOK_QUEUE_URL": settings.webhook_queue_url,
        "SWESCRIBE_TABLE": settings.table,
        "SWESCRIBE_BUCKET": settings.bucket,
        "SWESCRIBE_MODEL": settings.model,
        "SWESCRIBE_ALLOWED_MODELS": ",".join(settings.allowed_models),
        "SWESCRIBE_DEVICE": settings.device,
        "SWESCRIBE_COMPUTE_TYPE": settings.compute_type,
        "SWESCRIBE_LANGUAGE": settings.language,
        "SWESCRIBE_PUBLIC_URL": settings.public_url,
        "SWESCRIBE_MAX_UPLOAD_BYTES": str(settings.max_upload_bytes),
        "SWESCRIBE_LEASE_SECONDS": str(settings.lease_seconds),
        "SWESCRIBE_HEARTBEAT_SECONDS": str(settings.heartbeat_seconds),
        "SWESCRIBE_WEBHOOK_MAX_ATTEMPTS": str(settings.webhook_max_attempts),
        "SWESCRIBE_WEBHOOK_BASE_DELAY": str(settings.webhook_base_delay),
        "SWESCRIBE_WORKER_IDLE_SECONDS": str(settings.worker_idle_seconds),
        "SWESCRIBE_INSTANCE_PER_JOB": "1" if settings.instance_per_job else "0",
        "SWESCRIBE_WORKER_WHEEL": settings.worker_wheel,
        "SWESCRIBE_MAX_AUDIO_SECONDS": str(settings.max_audio_seconds),
        "AWS_REGION": settings.aws_region,
        "AWS_DEFAULT_REGION": settings.aws_region,
    }
    return {name: value for name, value in env.items() if value}


def plan_from_settings(settings: Settings) -> LaunchPlan:
    return LaunchPlan(
        launch_template=settings.launch_template,
        instance_types=settings.instance_types,
        on_demand_fallback=settings.on_demand_fallback,
        max_instances=settings.max_instances,
        instance_per_job=settings.instance_per_job,
        subnet_ids=settings.subnet_ids,
        worker_env=worker_env_from_settings(settings),
        bucket=settings.bucket,
        service=settings.service_tag,
    )


def build_ec2_launcher(settings: Settings) -> Ec2Launcher:
    """With launch slots in the jobs table: MaxWorkers holds across concurrent launchers."""
    slots = DynamoLaunchSlots(client("dynamodb", settings.aws_region), settings.table)
    return Ec2Launcher(client("ec2", settings.aws_region), plan_from_settings(settings), slots)


def build_aws_api(svc: Services, settings: Settings) -> FastAPI:
    """The same app as `swescribe serve`, trusting API Gateway's key check (and leaving
    throttling to its usage plan).

    The synchronous endpoints (/v1/audio/*) are off here: API Gateway ends every request
    at 29 s, a spot GPU worker takes minutes to start, and a Lambda request body is at
    most 6 MB; they answer at once with an error that points to POST /v1/jobs. For the
    same 6 MB (of a response), a transcript is a 303 to a presigned S3 GET."""
    limits = replace(api_limits(settings), rate_per_minute=0, auth_failures_per_minute=0)
    svc = replace(svc, policy=replace(svc.policy, sync_timeout_seconds=0.0))
    return create_app(
        ApiContext(
            svc=svc,
            keys=None,
            limits=limits,
            trust_gateway_identity=True,
            metrics_cache_seconds=METRICS_CACHE_SECONDS,
            result_redirects=True,
        )
    )
