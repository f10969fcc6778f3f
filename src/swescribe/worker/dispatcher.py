"""Webhook delivery as its own small unit of work, off the transcription path.

The transcription worker only queues a webhook item; these threads (in `swescribe
serve`) make each attempt, and a failed attempt goes back on the webhook queue with its
backoff delay, so a slow or dead receiver never holds a worker.

The threads share out their capacity: no target host and no API key has more than
FairShare's attempts in flight at once. An item over its share goes back on the queue
for a few seconds (its attempt is not spent), so a receiver that answers slowly, or one
key's burst of webhooks, leaves the other threads to everyone else's webhooks.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from swescribe.core.errors import StoreBusy
from swescribe.core.ports import Message, WebhookSender
from swescribe.core.services import Services
from swescribe.webhooks.sender import deliver_for

log = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 2.0
DISPATCHER_THREADS = 4
OVER_SHARE_DELAY_SECONDS = 3.0
"""How long an item over its host's or key's share waits before it is looked at again."""


@dataclass
class FairShare:
    """Attempts in flight per receiver (host and port) and per API key, across the
    dispatcher threads.

    With 4 threads and shares of 2, one slow host (or one key's many hosts) holds at
    most half of them; the other half keeps delivering everyone else's webhooks.
    """

    per_host: int = 2
    per_key: int = 2
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _hosts: Counter[str] = field(default_factory=Counter, repr=False)
    _keys: Counter[str] = field(default_factory=Counter, repr=False)

    @contextlib.contextmanager
    def slot(self, host: str, key: str) -> Iterator[bool]:
        """Yields whether an attempt to host (a receiver) for key may run now; the slot is
        held until the block ends."""
        with self._lock:
            taken = self._hosts[host] < self.per_host and self._keys[key] < self.per_key
            if taken:
                self._hosts[host] += 1
                self._keys[key] += 1
        try:
            yield taken
        finally:
            if taken:
                with self._lock:
                    self._hosts[host] -= 1
                    self._keys[key] -= 1


def dispatcher_threads(
    svc: Services,
    sender: WebhookSender,
    stop: threading.Event,
    count: int = DISPATCHER_THREADS,
    share: FairShare | None = None,
) -> list[threading.Thread]:
    """The delivery threads of `swescribe serve` (not started), sharing one FairShare."""
    share = share or FairShare()
    return [
        threading.Thread(
            target=run_dispatcher,
            args=(svc, sender, stop, share),
            name=f"webhooks-{number}",
            daemon=True,
        )
        for number in range(count)
    ]


def run_dispatcher(
    svc: Services, sender: WebhookSender, stop: threading.Event, share: FairShare | None = None
) -> None:
    """One delivery thread: takes webhook items until stop is set.

    It must outlive every error: a busy store puts the item back for a later try, and
    anything else is logged and the item dropped, so one bad job never stops delivery.
    """
    share = share or FairShare()
    while not stop.is_set():
        try:
            message = svc.webhooks.receive(wait_seconds=1.0, visibility_seconds=60.0)
        except StoreBusy:
            stop.wait(BUSY_RETRY_SECONDS)
            continue
        if message is None:
            continue
        job_id = message.item.job_id
        try:
            with share.slot(*_target_of(svc, job_id)) as taken:
                if not taken:
                    svc.webhooks.release(message, delay_seconds=OVER_SHARE_DELAY_SECONDS)
                    continue
                deliver_for(svc, job_id, sender)
        except StoreBusy:
            log.warning("store busy; webhook retried", extra={"job_id": job_id})
            with contextlib.suppress(StoreBusy):  # unreleased, it reappears on its own
                svc.webhooks.release(message, delay_seconds=BUSY_RETRY_SECONDS)
            continue
        except Exception:
            log.exception("webhook delivery failed", extra={"job_id": job_id})
        _ack(svc, message)


def _target_of(svc: Services, job_id: str) -> tuple[str, str]:
    """(receiver, owning key) of a job's webhook; the receiver is the callback URL's host
    and port. ("", "") for a job that is gone, whose item deliver_for then skips."""
    job = svc.jobs.get(job_id)
    if job is None or not job.callback_url:
        return "", ""
    url = urlsplit(job.callback_url)
    try:
        port = url.port
    except ValueError:  # deliver_for records it as an unsafe URL
        port = None
    return f"{(url.hostname or '').lower()}:{port or url.scheme}", job.owner


def _ack(svc: Services, message: Message) -> None:
    with contextlib.suppress(StoreBusy):
        svc.webhooks.ack(message)
