"""Sending a finished job's webhook: its body, one signed attempt over HTTP, and the
work item's handling (the local dispatcher thread and the process-upload Lambda both
call deliver_for)."""

from __future__ import annotations

import contextlib
import json
import random
from typing import Any

from swescribe.core.errors import JobNotFound
from swescribe.core.jobs import Job, JobStatus
from swescribe.core.ports import WebhookAttempt, WebhookSender
from swescribe.core.processing import deliver_webhook
from swescribe.core.services import Services
from swescribe.core.transcript import Transcript
from swescribe.webhooks.delivery import DeliveryOptions, deliver_once, next_delay, should_retry
from swescribe.webhooks.payload import build_payload


class HttpWebhookSender:
    """WebhookSender over HTTP: one signed POST an attempt, backoff computed here."""

    def __init__(self, policy: DeliveryOptions, rng: random.Random | None = None) -> None:
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
        transcript = Transcript.from_dict(json.loads(svc.objects.get_bytes(json_key)))
        text, language = transcript.text, transcript.language
        segments = [
            {"start": s.start, "end": s.end, "text": s.text}
            | ({"speaker": s.speaker} if s.speaker is not None else {})
            for s in transcript.segments
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


def deliver_for(svc: Services, job_id: str, sender: WebhookSender) -> None:
    """One attempt for a webhook work item (the next one, if any, is queued by it).

    A job that was deleted or whose webhook went out already is skipped.
    """
    job = svc.jobs.get(job_id)
    if job is None or not job.status.is_final:
        return
    with contextlib.suppress(JobNotFound):  # delivered already, or deleted meanwhile
        deliver_webhook(svc, job.job_id, sender, job_payload(svc, job))
