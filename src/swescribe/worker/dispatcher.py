"""Webhook delivery as its own small unit of work, off the transcription path.

The transcription worker only queues a webhook item; this loop (a thread in
`swescribe serve`) makes each attempt, and a failed attempt goes back on the webhook
queue with its backoff delay, so a slow or dead receiver never holds a worker.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from swescribe.core.errors import StoreBusy
from swescribe.core.ports import WebhookSender
from swescribe.core.services import Services
from swescribe.webhooks.sender import deliver_for

log = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 2.0


def run_dispatcher(svc: Services, sender: WebhookSender, stop: threading.Event) -> None:
    """The local shape's delivery loop (a thread of `swescribe serve`).

    It must outlive every error: a busy store puts the item back for a later try, and
    anything else is logged and the item dropped, so one bad job never stops delivery.
    """
    while not stop.is_set():
        try:
            message = svc.webhooks.receive(wait_seconds=1.0, visibility_seconds=60.0)
        except StoreBusy:
            stop.wait(BUSY_RETRY_SECONDS)
            continue
        if message is None:
            continue
        try:
            deliver_for(svc, message.item.job_id, sender)
        except StoreBusy:
            log.warning("store busy; webhook retried", extra={"job_id": message.item.job_id})
            with contextlib.suppress(StoreBusy):  # unreleased, it reappears on its own
                svc.webhooks.release(message, delay_seconds=BUSY_RETRY_SECONDS)
            continue
        except Exception:
            log.exception("webhook delivery failed", extra={"job_id": message.item.job_id})
        with contextlib.suppress(StoreBusy):
            svc.webhooks.ack(message)
