"""The scheduled janitor Lambda (EventBridge, every few minutes): bootstrap_janitor's sweep.

Besides its log line, each run prints CloudWatch embedded-metric-format (EMF) numbers,
which the stack's alarms and dashboard read: worker instances, queue depth, jobs
requeued and jobs given up on.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from swescribe.bootstrap_aws import aws_settings
from swescribe.bootstrap_janitor import run_cleanup
from swescribe.core.errors import ServiceFailure
from swescribe.logs import configure_json_logging

log = logging.getLogger(__name__)

METRICS_NAMESPACE = "swescribe"


def metrics_line(report: dict[str, Any], service: str = "swescribe") -> str:
    """One EMF record: CloudWatch turns its numbers into metrics with no API call."""
    values = {
        "WorkerInstances": report.get("workers_active", 0),
        "QueueDepth": report["jobs"]["queue_depth"],
        "JobsRequeued": len(report["jobs"]["requeued"]),
        "JobsGivenUp": len(report["jobs"]["failed"]),
        "InstancesTerminated": len(report.get("instances", {}).get("terminated", [])),
    }
    return json.dumps(
        {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": METRICS_NAMESPACE,
                        "Dimensions": [["Service"]],
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in values],
                    }
                ],
            },
            "Service": service,
            **values,
        }
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The sweep's report; raises ServiceFailure (the function's Errors alarm) when a
    step failed, after the rest of the sweep and the instance cleanup have run."""
    configure_json_logging("janitor")
    dry_run = bool((event or {}).get("dry_run", False))
    report = run_cleanup(aws_settings(), dry_run=dry_run)
    log.info("janitor report", extra={"report": json.dumps(report)})
    if "skipped" in report:  # another run is sweeping: it reports the numbers
        return report
    if not dry_run:
        print(metrics_line(report), flush=True)
    errors = report["jobs"]["errors"]
    if errors:
        raise ServiceFailure(f"{len(errors)} janitor step(s) failed: " + "; ".join(errors[:5]))
    return report
