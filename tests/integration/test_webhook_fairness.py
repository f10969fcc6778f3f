"""One key's slow webhook receiver does not delay another key's webhooks.

The attack (issue 24): twelve jobs that fail at once, each with a callback to a receiver
that answers one header line every 4 s, held all of serve's delivery threads for 30 s
an attempt, and another key's webhook came 84 s late.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from swescribe.bootstrap import build_local_services
from swescribe.config import Settings
from swescribe.core.intake import NewJob, create_job
from swescribe.core.jobs import JobStatus, WebhookState
from swescribe.core.ports import WorkItem
from swescribe.core.services import Services
from swescribe.webhooks.delivery import DeliveryOptions
from swescribe.webhooks.sender import HttpWebhookSender
from swescribe.worker.dispatcher import dispatcher_threads
from tests.receiver import Receiver

ATTACK_JOBS = 12
DRIP_SECONDS = 4.0
SECRET = "whsec-" + "v" * 32


@contextlib.contextmanager
def dripping_receiver() -> Iterator[str]:
    """A receiver on 127.0.0.1 that sends a status line, then one header line every 4 s,
    and never finishes its headers."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def drip(connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            with contextlib.suppress(OSError):
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                for line in range(60):  # bounded: 4 minutes at most
                    if stop.wait(DRIP_SECONDS):
                        return
                    connection.sendall(f"X-Drip-{line}: x\r\n".encode())

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=drip, args=(connection,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    finally:
        stop.set()
        acceptor.join(2)
        server.close()


def failed_job_with_webhook(svc: Services, owner: str, callback_url: str) -> str:
    job = create_job(svc, owner, NewJob(callback_url=callback_url, callback_secret=SECRET))
    svc.jobs.update(job.job_id, None, {"status": JobStatus.FAILED, "error_code": "invalid_audio"})
    svc.webhooks.send(WorkItem("webhook", job.job_id))
    return job.job_id


@pytest.mark.parametrize("receivers", [1, 4], ids=["one-slow-host", "many-slow-hosts"])
def test_a_slow_receiver_of_one_key_leaves_another_keys_webhook_on_time(
    tmp_path: Path, receivers: int
) -> None:
    """One dripping receiver (the host's share) or several (the key's share)."""
    svc = build_local_services(Settings.from_env({}, data_dir=tmp_path))
    sender = HttpWebhookSender(DeliveryOptions(allow_http=True))
    victim = Receiver(secret=SECRET).start()
    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        slow_urls = [stack.enter_context(dripping_receiver()) for _ in range(receivers)]
        attacks = [
            failed_job_with_webhook(svc, "attacker", slow_urls[number % receivers])
            for number in range(ATTACK_JOBS)
        ]
        threads = dispatcher_threads(svc, sender, stop)
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.0)  # the attacker's attempts have taken what they can
            sent_at = time.monotonic()
            victims = failed_job_with_webhook(svc, "victim", victim.url)
            for _ in range(100):  # bounded: 10 s
                if victim.deliveries:
                    break
                time.sleep(0.1)
            late = time.monotonic() - sent_at
            assert victim.deliveries, "another key's webhook waited behind the slow receiver"
            assert late < 3.0, f"another key's webhook came {late:.1f} s late"
            assert victim.deliveries[0].standard_signature_ok
            job = svc.jobs.get(victims)
            assert job is not None
            assert job.webhook_state is WebhookState.DELIVERED

            # Each dripping attempt is cut off well below the old 30 s.
            for _ in range(150):  # bounded: 15 s
                first = [svc.jobs.get(job_id) for job_id in attacks]
                if any(j is not None and j.webhook_attempts for j in first):
                    break
                time.sleep(0.1)
            elapsed = time.monotonic() - sent_at + 1.0
            timed_out = [j for j in first if j is not None and j.webhook_attempts]
            assert timed_out, f"no dripping attempt had ended after {elapsed:.0f} s"
            assert all((j.webhook_last_error or "").startswith("timeout") for j in timed_out)
            assert elapsed < DeliveryOptions().attempt_deadline + 3.0
        finally:
            stop.set()
            for thread in threads:
                thread.join(15)
            victim.stop()
    assert not any(thread.is_alive() for thread in threads)
