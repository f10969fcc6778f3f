"""Webhook delivery as its own small unit of work, off the transcription path.

The transcription worker only queues a webhook item; this loop (a thread in
`swescribe serve`) makes each attempt, and a failed attempt goes back on the webhook
queue with its backoff delay, so a slow or dead receiver never holds a worker.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
from typing import Any

from swescribe.config import Settings
from swescribe.core.errors import JobNotFound, StoreBusy
from swescribe.core.jobs import Job, JobStatus
from swescribe.core.ports import WebhookAttempt, WebhookSender
from swescribe.core.service import Services
from swescribe.core.work import deliver_webhook
from swescribe.webhooks import RetryPolicy, build_payload, deliver_once, next_delay, should_retry

log = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 2.0


class HttpWebhookSender:
    """WebhookSender over HTTP: one signed POST an attempt, backoff computed here."""

    def __init__(self, policy: RetryPolicy, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security

    def send(
        self, url: str, body: bytes, secret: str | None, msg_id: str, attempt: int
    ) -> WebhookAttempt:
        record = deliver_once(url, body, secret, msg_id, policy=self.policy)
        delivered = record.status is not None and 200 <= record.status < 300
        retry_in = None
        if not delivered and should_retry(record.status, record.error):
            retry_in = next_delay(attempt, self.policy, self.rng, record.retry_after)
        return WebhookAttempt(delivered, record.status, record.error, retry_in)


def job_payload(svc: Services, job: Job) -> dict[str, Any]:
    """The webhook body for a finished job, transcript read back from its JSON result."""
    text, segments, language = "", [], job.request.language
    json_key = job.result_keys.get("json")
    if job.status is JobStatus.COMPLETED and json_key:
        result = json.loads(svc.objects.get_bytes(json_key))
        text, language = result["text"], result["language"]
        segments = [
            {"start": s["start"], "end": s["end"], "text": s["text"]}
            | ({"speaker": s["speaker"]} if "speaker" in s else {})
            for s in result["segments"]
        ]
    return build_payload(
        job_id=job.job_id,
        succeeded=job.status is JobStatus.COMPLETED,
        text=text,
        segments=segments,
        processing_seconds=job.processing_seconds or 0.0,
        file_size=job.file_size or 0,
        model=job.model_used or job.request.model or "",
        language=language,
        audio_duration=job.audio_duration,
        results=dict(job.result_keys),
        error_code=job.error_code,
        error_message=job.error_message,
    )


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.webhook_max_attempts,
        base_delay=settings.webhook_base_delay,
        allow_http=settings.dev_mode,
    )


def deliver_for(svc: Services, job_id: str, sender: WebhookSender) -> None:
    """One attempt for a webhook work item (the next one, if any, is queued by it).

    A job that was deleted or whose webhook went out already is skipped.
    """
    job = svc.jobs.get(job_id)
    if job is None or not job.status.is_final:
        return
    with contextlib.suppress(JobNotFound):  # delivered already, or deleted meanwhile
        deliver_webhook(svc, job.job_id, sender, job_payload(svc, job))


def run_dispatcher(
    svc: Services,
    settings: Settings,
    stop: threading.Event,
    sender: WebhookSender | None = None,
) -> None:
    """The local shape's delivery loop (a thread of `swescribe serve`).

    It must outlive every error: a busy store puts the item back for a later try, and
    anything else is logged and the item dropped, so one bad job never stops delivery.
    """
    sender = sender or HttpWebhookSender(retry_policy(settings))
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
