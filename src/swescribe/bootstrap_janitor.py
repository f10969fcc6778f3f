"""The janitor's wiring, for both shapes: the job sweep (core/job_sweep.py) and, on AWS,
the instance sweep (adapters/aws/ec2_instance_sweep.py), built from Settings for
`swescribe cleanup`, the sweep inside `swescribe serve` and the scheduled janitor Lambda."""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, replace
from typing import Any

from swescribe.config import Settings
from swescribe.core.job_sweep import SweepReport, sweep_jobs
from swescribe.core.jobs import JobStatus

log = logging.getLogger(__name__)

JANITOR_LEASE_SECONDS = 270.0
"""One AWS sweep at a time: longer than the janitor Lambda's timeout (240 s), so a run
never outlives its lease, and shorter than its schedule (5 min), so a run that died
does not cost the next one."""


def stale_after_seconds(settings: Settings) -> float:
    """How long a job may sit in launching before its queue item counts as lost."""
    return max(settings.lease_seconds * 3, 900.0)


def run_cleanup(settings: Settings, dry_run: bool = False) -> dict[str, Any]:
    """Sweep stuck jobs (and, on AWS, orphaned instances); the report says what was done
    (or, with dry_run, what would be)."""
    stale_after = stale_after_seconds(settings)
    if settings.backend != "aws":
        from swescribe.bootstrap import LocalPaths, build_local_services
        from swescribe.worker.scratch import sweep_scratch

        svc = build_local_services(settings)
        report: dict[str, Any] = {
            "backend": "local",
            "jobs": asdict(sweep_jobs(svc, stale_after, dry_run)),
        }
        if not dry_run:
            scratch = sweep_scratch(LocalPaths(settings.data_dir).staging, svc.jobs)
            report["scratch_removed"] = len(scratch)
        return report

    from swescribe.adapters.aws.clients import client
    from swescribe.adapters.aws.dynamodb_lease import DynamoLease

    if dry_run:  # changes nothing: no lease needed
        return _aws_sweep(settings, stale_after, dry_run)
    lease = DynamoLease(client("dynamodb", settings.aws_region), settings.table, "janitor")
    holder = uuid.uuid4().hex
    if lease.acquire(holder, JANITOR_LEASE_SECONDS) is None:
        log.info("janitor run skipped: another run holds the lease")
        return {"backend": "aws", "skipped": "another janitor run holds the lease"}
    try:
        return _aws_sweep(settings, stale_after, dry_run)
    finally:
        lease.release(holder)


def _aws_sweep(settings: Settings, stale_after: float, dry_run: bool) -> dict[str, Any]:
    from swescribe.adapters.aws.ec2_instance_sweep import sweep_instances
    from swescribe.adapters.aws.errors import aws_step
    from swescribe.bootstrap_aws import build_aws_services, build_ec2_launcher

    launcher = build_ec2_launcher(settings)
    svc = build_aws_services(settings, launcher)

    def busy() -> set[str]:
        return {
            job.instance_id
            for job in svc.jobs.list_by_status({JobStatus.PROCESSING})
            if job.instance_id
        }

    jobs: SweepReport | None = None
    try:
        with aws_step("job sweep"):
            jobs = sweep_jobs(svc, stale_after, dry_run)
    finally:  # orphaned workers cost money: their sweep runs whatever the job sweep did
        with aws_step("instance sweep"):
            workers = launcher.list_workers()
            instances = sweep_instances(
                launcher.client,
                workers,
                busy(),
                settings.instance_grace_seconds,
                svc.clock.now(),
                dry_run,
                busy_now=busy,
            )
        # the slots of workers that ended (or were just ended) come back; leaked ones too
        ended = set(instances.terminated) if not dry_run else set()
        seen = [replace(w, state="shutting-down") if w.instance_id in ended else w for w in workers]
        with aws_step("launch slots"):
            slots = (
                launcher.slots.reconcile(seen, dry_run, launcher.terminated_among)
                if launcher.slots
                else None
            )
    assert jobs is not None  # the job sweep returned (else its error is on its way out)
    return {
        "backend": "aws",
        "jobs": asdict(jobs),
        "instances": asdict(instances),
        "workers_active": sum(1 for worker in workers if worker.active),
        "launch_slots": asdict(slots) if slots else None,
    }
