"""TranscriptionProcessUpload: S3 upload events -> job launching, queued, capacity ensured;
and webhook work items -> one delivery attempt each (retries come back on the queue).

Fed by SQS (the upload-events queue and the webhook queue) or by S3 directly. Failed
messages are reported in ``batchItemFailures`` so only they are retried.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cache
from typing import Any

from swescribe.adapters.aws.errors import aws_step
from swescribe.adapters.aws.events import ObjectCreated, Unit, units
from swescribe.bootstrap import webhook_sender
from swescribe.bootstrap_aws import aws_settings, build_aws_services, build_ec2_launcher
from swescribe.core.errors import SwescribeError
from swescribe.core.intake import handle_object_created, parse_upload_key
from swescribe.core.ports import WEBHOOK, WebhookSender
from swescribe.core.services import Services
from swescribe.logs import configure_json_logging
from swescribe.webhooks.sender import deliver_for

log = logging.getLogger(__name__)


def process_event(svc: Services, event: Mapping[str, Any], sender: WebhookSender) -> dict[str, Any]:
    """Handle every unit of an event; report what happened and which messages failed."""
    outcomes: dict[str, int] = {}
    failures: list[dict[str, str]] = []
    for unit in units(event):
        try:
            for outcome in _handle(svc, unit, sender):
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        except SwescribeError as error:  # logged with its job id where it was raised
            log.error(
                "event unit failed",
                extra={
                    "message_id": unit.message_id,
                    "error_code": error.code,
                    "reason": str(error),
                },
            )
            if unit.message_id is None:
                raise
            failures.append({"itemIdentifier": unit.message_id})
        except Exception:
            log.exception("event unit failed", extra={"message_id": unit.message_id})
            if unit.message_id is None:
                raise  # a direct S3 invocation: let Lambda's own retry take it
            failures.append({"itemIdentifier": unit.message_id})
    log.info("event handled", extra={"outcomes": str(outcomes), "failed": len(failures)})
    return {"batchItemFailures": failures, "outcomes": outcomes}


def _handle(svc: Services, unit: Unit, sender: WebhookSender) -> list[str]:
    if unit.ignored:
        log.info("event ignored", extra={"reason": unit.ignored})
        return ["ignored"]
    if unit.work_item is not None:
        if unit.work_item.kind != WEBHOOK:
            return ["ignored"]
        with aws_step("webhook delivery", unit.work_item.job_id):
            deliver_for(svc, unit.work_item.job_id, sender)
        return ["webhook"]
    return [_upload(svc, upload, retried=unit.receives > 1) for upload in unit.uploads]


def _upload(svc: Services, upload: ObjectCreated, retried: bool) -> str:
    parsed = parse_upload_key(upload.key)
    with aws_step("upload event", parsed[0] if parsed else None):
        return handle_object_created(
            svc, upload.key, upload.size, retried=retried, fail_over_cap=True
        )


@cache
def _wiring() -> tuple[Services, WebhookSender]:
    configure_json_logging("process_upload")
    settings = aws_settings()
    svc = build_aws_services(settings, build_ec2_launcher(settings))
    return svc, webhook_sender(settings)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    svc, sender = _wiring()
    return process_event(svc, event, sender)
