"""Orphaned worker instances: a service-tagged instance that holds no job is tagged
idle-since on the janitor's first look and terminated once it has stayed idle past the
grace period. A healthy worker terminates itself long before (its idle timeout); this
catches the ones that cannot (a crashed process, a model that failed to load)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from swescribe.adapters.aws.ec2_workers import IDLE_SINCE_TAG, WorkerInstance
from swescribe.core.jobs import to_iso

log = logging.getLogger(__name__)


@dataclass
class InstanceSweep:
    dry_run: bool
    terminated: list[str] = field(default_factory=list)
    marked_idle: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)


def sweep_instances(
    ec2: Any,
    workers: Collection[WorkerInstance],
    busy_instance_ids: Collection[str],
    grace_seconds: float,
    now: datetime,
    dry_run: bool = False,
    busy_now: Callable[[], Collection[str]] | None = None,
) -> InstanceSweep:
    """busy_now, when given, is asked again just before the first termination: a worker
    that took a job since busy_instance_ids was read is left alone."""
    report = InstanceSweep(dry_run)
    grace = timedelta(seconds=grace_seconds)
    rechecked: Collection[str] | None = None
    for worker in workers:
        if not worker.active:
            continue
        if worker.instance_id in busy_instance_ids:
            report.busy.append(worker.instance_id)
            if worker.idle_since is not None and not dry_run:
                ec2.delete_tags(Resources=[worker.instance_id], Tags=[{"Key": IDLE_SINCE_TAG}])
            continue
        if now - worker.launch_time < grace:
            continue  # still booting or loading its model
        if worker.idle_since is None:
            report.marked_idle.append(worker.instance_id)
            if not dry_run:
                ec2.create_tags(
                    Resources=[worker.instance_id],
                    Tags=[{"Key": IDLE_SINCE_TAG, "Value": to_iso(now) or ""}],
                )
        elif now - worker.idle_since >= grace:
            if rechecked is None and busy_now is not None:
                rechecked = busy_now()
            if rechecked is not None and worker.instance_id in rechecked:
                report.busy.append(worker.instance_id)
                continue
            report.terminated.append(worker.instance_id)
            if not dry_run:
                ec2.terminate_instances(InstanceIds=[worker.instance_id])
                log.info("terminated idle worker", extra={"instance_id": worker.instance_id})
    return report
