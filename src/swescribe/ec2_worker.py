"""The GPU worker's entry point on EC2 (run_transcription/fast_transcribe.py calls main()).

Configuration is the environment the instance's UserData exports (SWESCRIBE_QUEUE_URL,
SWESCRIBE_TABLE, SWESCRIBE_BUCKET, ...). The worker loads the model once, then takes
jobs from SQS until the queue has been empty for SWESCRIBE_WORKER_IDLE_SECONDS (at once
in one-instance-per-job mode), watching for a spot interruption notice all along; then
it terminates its own instance.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from swescribe.adapters.aws.clients import client
from swescribe.adapters.aws.imds import InstanceMetadata
from swescribe.bootstrap import build_worker
from swescribe.bootstrap_aws import aws_settings, build_aws_services
from swescribe.config import Settings
from swescribe.logs import configure_json_logging
from swescribe.worker.runner import Worker
from swescribe.worker.stop_signals import hand_back_and_leave, hand_back_on_stop_signals

log = logging.getLogger(__name__)


def watch_for_spot_interruption(
    metadata: InstanceMetadata,
    poll_seconds: float,
    runner: Worker,
    interrupted: threading.Event,
) -> None:
    """Poll the interruption notice (two minutes' warning); on one, give the job back to
    the queue at once for another instance and leave, without waiting for the decode in
    progress (a batch of windows can take longer than the warning)."""
    while not runner.stopping.wait(poll_seconds):
        notice = metadata.spot_interruption()
        if notice is not None:
            log.warning("spot interruption notice: giving the job back", extra=notice)
            interrupted.set()
            hand_back_and_leave(runner)
            return


def terminate_self(settings: Settings, instance_id: str) -> None:
    """The instance role may terminate only instances tagged as this service's workers."""
    if not settings.terminate_on_exit:
        log.info("not terminating (SWESCRIBE_TERMINATE_ON_EXIT=0)")
        return
    try:
        client("ec2", settings.aws_region).terminate_instances(InstanceIds=[instance_id])
        log.info("terminating own instance", extra={"instance_id": instance_id})
    except Exception:  # the launch template also sets shutdown -> terminate
        log.exception("could not terminate; shutting down instead")
        os.system("shutdown -h now")  # noqa: S605, S607


def main() -> int:
    configure_json_logging("worker")
    settings = aws_settings()
    metadata = InstanceMetadata(settings.imds_url)
    instance_id = metadata.instance_id() or f"host-{socket.gethostname()}-{os.getpid()}"
    log.info(
        "worker starting",
        extra={
            "instance_id": instance_id,
            "job_id": os.environ.get("SWESCRIBE_JOB_ID", ""),
            "s3_input": os.environ.get("SWESCRIBE_S3_INPUT", ""),
            "per_job": settings.instance_per_job,
        },
    )
    svc = build_aws_services(settings, worker=True)
    runner = build_worker(settings, svc, worker_id=instance_id)
    interrupted = threading.Event()

    hand_back_on_stop_signals(runner)
    threading.Thread(
        target=watch_for_spot_interruption,
        args=(metadata, settings.spot_poll_seconds, runner, interrupted),
        daemon=True,
    ).start()
    try:
        runner.engines(None)  # fail fast: a worker that cannot load its model takes no job
        idle = 0.0 if settings.instance_per_job else settings.worker_idle_seconds
        handled = runner.run(idle_exit_seconds=idle)
        log.info("worker done", extra={"jobs": handled, "interrupted": interrupted.is_set()})
    finally:
        if instance_id.startswith("i-") and not interrupted.is_set():
            terminate_self(settings, instance_id)
    return 0
