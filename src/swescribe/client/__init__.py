"""A small typed client for the swescribe API: the /v1 jobs API, the seed's /api, uploads.

    from swescribe.client import Client

    with Client("http://127.0.0.1:8000", api_key) as client:
        job = client.create_job(filename="talk.wav")
        client.upload(job, "talk.wav", progress=lambda sent, total: print(sent, total))
        done = client.wait(job.job_id)
        print(client.transcript(done.job_id, "srt"))

GET and DELETE calls are retried on a lost connection, 429 and 503 (honouring Retry-After);
`Client(..., retry=NO_RETRIES)` turns that off. Uploads are never retried.

Live transcription streams a file, a pipe or raw PCM16 and yields captions as they come:

    with client.stream("talk.wav", realtime=False) as live:
        for event in live:
            if isinstance(event, Final):
                print(event.text)

Every error the client raises on purpose is a `ClientError` (an error answer: `ApiError`).
Webhook receivers check a delivery with `verify_webhook(headers, raw_body, secret)`.
"""

from __future__ import annotations

from swescribe.client.http import Client
from swescribe.client.live import LiveStream
from swescribe.client.live_events import (
    Final,
    LiveError,
    Partial,
    SpeechStarted,
    SpeechStopped,
    StreamEvent,
    event_json,
)
from swescribe.client.models import (
    ApiError,
    ClientError,
    Format,
    Job,
    JobError,
    Registration,
    Segment,
    Task,
    Transcript,
    UploadProgress,
    UploadResult,
    UploadTarget,
    WebhookStatus,
)
from swescribe.client.retries import NO_RETRIES, RetryPolicy
from swescribe.client.uploads import readable_name
from swescribe.webhooks.signing import WebhookVerificationError, verify_webhook

__all__ = [
    "NO_RETRIES",
    "ApiError",
    "Client",
    "ClientError",
    "Final",
    "Format",
    "Job",
    "JobError",
    "LiveError",
    "LiveStream",
    "Partial",
    "Registration",
    "RetryPolicy",
    "Segment",
    "SpeechStarted",
    "SpeechStopped",
    "StreamEvent",
    "Task",
    "Transcript",
    "UploadProgress",
    "UploadResult",
    "UploadTarget",
    "WebhookStatus",
    "WebhookVerificationError",
    "event_json",
    "readable_name",
    "verify_webhook",
]
