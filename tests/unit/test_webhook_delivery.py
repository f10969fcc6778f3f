"""Webhook delivery against a real HTTP receiver on 127.0.0.1, the retry rules, the payload."""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from typing import Any

import pytest

from swescribe.webhooks.delivery import (
    DeliveryOptions,
    DeliveryRecord,
    deliver_once,
    next_delay,
    should_retry,
)
from swescribe.webhooks.payload import build_payload
from swescribe.webhooks.signing import verify_webhook

SECRET = "mottagarens-hemlighet"
BODY = b'{"job_id": "job-1", "status": "complete"}'
LOCAL = DeliveryOptions(allow_http=True, timeout=5.0)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (cut short when the test ends)."""


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (a timeout test) makes the late answer fail; that is expected."""


class ScriptedReceiver:
    """Answers each POST with the next scripted Reply (then 200) and records what arrived."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.received: list[Received] = []
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver.received.append(Received(self.path, headers, body))
                reply = receiver.replies.pop(0) if receiver.replies else Reply()
                if reply.delay:
                    receiver.released.wait(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def script(self, *replies: Reply) -> ScriptedReceiver:
        self.replies.extend(replies)
        return self

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[ScriptedReceiver]:
    running = ScriptedReceiver()
    yield running
    running.stop()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# should_retry


@pytest.mark.parametrize(
    "error",
    [
        "timeout: ReadTimeout",
        "timeout: ConnectTimeout",
        "connection error: ConnectError: [Errno 111] Connection refused",
    ],
)
def test_attempts_that_got_no_answer_are_retried(error: str) -> None:
    assert should_retry(None, error) is True


def test_unsafe_url_is_never_retried() -> None:
    assert should_retry(None, "unsafe_url: callback_url must use https") is False


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_request_timeout_too_many_requests_and_server_errors_are_retried(status: int) -> None:
    assert should_retry(status, f"HTTP {status}") is True


@pytest.mark.parametrize("status", [301, 302, 400, 401, 403, 404, 410, 413, 422])
def test_redirects_and_other_client_errors_are_not_retried(status: int) -> None:
    assert should_retry(status, f"HTTP {status}") is False


@pytest.mark.parametrize("status", [200, 201, 204])
def test_a_delivered_attempt_has_nothing_to_retry(status: int) -> None:
    assert should_retry(status, None) is False


# next_delay


def test_delay_stays_in_the_upper_half_of_a_doubling_ceiling() -> None:
    policy = DeliveryOptions(base_delay=2.0, max_delay=600.0)
    rng = random.Random(1234)
    for attempt in range(1, 9):
        ceiling = 2.0 * 2 ** (attempt - 1)
        for _ in range(200):
            assert ceiling / 2 <= next_delay(attempt, policy, rng) <= ceiling


def test_delay_grows_exponentially_from_attempt_to_attempt() -> None:
    policy = DeliveryOptions(base_delay=1.0, max_delay=10_000.0)
    rng = random.Random(7)
    delays = [next_delay(attempt, policy, rng) for attempt in range(1, 11)]
    assert delays == sorted(delays)
    assert 0.5 <= delays[0] <= 1.0
    assert 256.0 <= delays[-1] <= 512.0


def test_delay_is_capped_at_max_delay() -> None:
    policy = DeliveryOptions(base_delay=2.0, max_delay=60.0)
    rng = random.Random(99)
    for attempt in (6, 7, 10, 50, 1_000, 5_000):
        assert 30.0 <= next_delay(attempt, policy, rng) <= 60.0


def test_same_seed_gives_the_same_delays() -> None:
    policy = DeliveryOptions()
    first = [next_delay(n, policy, random.Random(42)) for n in range(1, 7)]
    second = [next_delay(n, policy, random.Random(42)) for n in range(1, 7)]
    assert first == second


def test_retry_after_longer_than_the_backoff_is_honoured() -> None:
    policy = DeliveryOptions(base_delay=2.0, max_delay=600.0)
    assert next_delay(1, policy, random.Random(0), retry_after=120.0) == 120.0


def test_retry_after_shorter_than_the_backoff_does_not_shorten_it() -> None:
    policy = DeliveryOptions(base_delay=2.0, max_delay=600.0)
    without = next_delay(5, policy, random.Random(3))
    assert next_delay(5, policy, random.Random(3), retry_after=1.0) == without
    assert without >= 16.0


def test_retry_after_is_capped_at_max_delay() -> None:
    policy = DeliveryOptions(base_delay=2.0, max_delay=600.0)
    assert next_delay(1, policy, random.Random(0), retry_after=86_400.0) == 600.0


# deliver_once against a real receiver


def test_200_is_a_delivered_record(receiver: ScriptedReceiver) -> None:
    record = deliver_once(receiver.url, BODY, SECRET, "msg_1", policy=LOCAL)
    assert record == DeliveryRecord(status=200, error=None, retry_after=None)
    assert len(receiver.received) == 1


def test_the_receiver_gets_the_body_and_headers_it_can_verify(
    receiver: ScriptedReceiver,
) -> None:
    deliver_once(receiver.url, BODY, SECRET, "msg_1", policy=LOCAL)
    (arrived,) = receiver.received
    assert arrived.path == "/hook"
    assert arrived.body == BODY
    assert arrived.headers["content-type"] == "application/json"
    assert arrived.headers["user-agent"] == f"swescribe-webhooks/{version('swescribe')}"
    assert arrived.headers["webhook-id"] == "msg_1"
    assert verify_webhook(arrived.headers, arrived.body, SECRET) == "standard"
    seed_only = {"x-webhook-signature": arrived.headers["x-webhook-signature"]}
    assert verify_webhook(seed_only, arrived.body, SECRET, accept_seed_only=True) == "seed"


def test_without_a_secret_the_delivery_is_unsigned(receiver: ScriptedReceiver) -> None:
    record = deliver_once(receiver.url, BODY, None, "msg_1", policy=LOCAL)
    assert record.status == 200
    (arrived,) = receiver.received
    assert "webhook-signature" not in arrived.headers
    assert "x-webhook-signature" not in arrived.headers
    assert arrived.headers["webhook-id"] == "msg_1"


def test_500_is_recorded_as_http_500(receiver: ScriptedReceiver) -> None:
    receiver.script(Reply(500))
    record = deliver_once(receiver.url, BODY, SECRET, "msg_1", policy=LOCAL)
    assert record == DeliveryRecord(status=500, error="HTTP 500", retry_after=None)
    assert should_retry(record.status, record.error)


def test_429_with_retry_after_seconds_is_recorded(receiver: ScriptedReceiver) -> None:
    receiver.script(Reply(429, {"Retry-After": "7"}))
    record = deliver_once(receiver.url, BODY, SECRET, "msg_1", policy=LOCAL)
    assert record == DeliveryRecord(status=429, error="HTTP 429", retry_after=7.0)


def test_retry_after_as_an_http_date_becomes_seconds_from_now(
    receiver: ScriptedReceiver,
) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    receiver.script(Reply(503, {"Retry-After": later}))
    record = deliver_once(receiver.url, BODY, SECRET, "msg_1", policy=LOCAL)
    assert record.status == 503
    assert record.retry_after is not None
    assert 80.0 <= record.retry_after <= 90.0


def test_retry_after_date_in_the_past_is_zero(receiver: ScriptedReceiver) -> None:
    receiver.script(Reply(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    record = deliver_once(receiver.url, BODY, SECRET, "msg_1", policy=LOCAL)
    assert record.retry_after == 0.0


def test_retry_after_date_without_a_known_zone_is_read_as_utc(
    receiver: ScriptedReceiver,
) -> None:
    # RFC 5322 "-0000" (and a missing zone) parse to a naive datetime.
    receiver.script(
        Reply(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 -0000"}),
        Reply(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00"}),
    )
    first = deliver_once(receiver.url, BODY, SECRET, "msg_1", policy=LOCAL)
    second = deliver_once(receiver.url, BODY, SECRET, "msg_1", policy=LOCAL)
    assert first == DeliveryRecord(status=503, error="HTTP 503", retry_after=0.0)
    assert second == DeliveryRecord(status=503, error="HTTP 503", retry_after=0.0)


@pytest.mark.parametrize("garbage", ["soon", "-5", "1.5", "²", "Mon, 99 Foo 2015"])
def test_unreadable_retry_after_is_ignored(receiver: ScriptedReceiver, garbage: str) -> None:
    receiver.script(Reply(429, {"Retry-After": garbage}))
    record = deliver_once(receiver.url, BODY, SECRET, "msg_1", policy=LOCAL)
    assert record == DeliveryRecord(status=429, error="HTTP 429", retry_after=None)


def test_redirect_is_recorded_and_not_followed(receiver: ScriptedReceiver) -> None:
    target = receiver.url.replace("/hook", "/elsewhere")
    receiver.script(Reply(302, {"Location": target}))
    record = deliver_once(receiver.url, BODY, SECRET, "msg_1", policy=LOCAL)
    assert record == DeliveryRecord(status=302, error="HTTP 302", retry_after=None)
    assert [arrived.path for arrived in receiver.received] == ["/hook"]


def test_closed_port_is_a_connection_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}/hook"
    record = deliver_once(url, BODY, SECRET, "msg_1", policy=LOCAL)
    assert record.status is None
    assert record.error is not None
    assert record.error.startswith("connection error: ")
    assert should_retry(record.status, record.error)


def test_receiver_slower_than_the_timeout_is_a_timeout(receiver: ScriptedReceiver) -> None:
    receiver.script(Reply(200, delay=5.0))
    policy = DeliveryOptions(allow_http=True, timeout=0.3)
    record = deliver_once(receiver.url, BODY, SECRET, "msg_1", policy=policy)
    assert record.status is None
    assert record.error is not None
    assert record.error.startswith("timeout")
    assert should_retry(record.status, record.error)


def test_http_url_is_refused_as_unsafe_without_local_dev_mode(
    receiver: ScriptedReceiver,
) -> None:
    record = deliver_once(receiver.url, BODY, SECRET, "msg_1", policy=DeliveryOptions())
    assert record.status is None
    assert record.error is not None
    assert record.error.startswith("unsafe_url")
    assert not should_retry(record.status, record.error)
    assert receiver.received == []


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "ftp://127.0.0.1/hook",
        "http://user:pass@127.0.0.1/hook",
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest/meta-data",
    ],
)
def test_non_loopback_http_and_internal_addresses_are_unsafe_even_in_local_dev_mode(
    url: str,
) -> None:
    record = deliver_once(url, BODY, SECRET, "msg_1", policy=LOCAL)
    assert record.status is None
    assert record.error is not None
    assert record.error.startswith("unsafe_url")


# build_payload


def payload(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "job_id": "job-1",
        "succeeded": True,
        "text": "Hej och välkommen.",
        "segments": [{"start": 0.0, "end": 1.5, "text": "Hej och välkommen."}],
        "processing_seconds": 119.6,
        "file_size": 1_048_576,
        "model": "kb-whisper-large",
        "language": "sv",
        "audio_duration": 1.5,
        "results": {"txt": "results/job-1/job-1.txt"},
        "error_code": None,
        "error_message": None,
    }
    arguments.update(overrides)
    return build_payload(**arguments)


def test_completed_payload_has_the_seed_keys_and_values() -> None:
    assert payload() == {
        "job_id": "job-1",
        "status": "complete",
        "transcript": {
            "text": "Hej och välkommen.",
            "segments": [{"start": 0.0, "end": 1.5, "text": "Hej och välkommen."}],
        },
        "metadata": {
            "processing_time": "120s",
            "file_size": "1048576",
            "model": "kb-whisper-large",
        },
        "type": "transcription.completed",
        "language": "sv",
        "audio_duration": 1.5,
        "results": {"txt": "results/job-1/job-1.txt"},
        "error": None,
    }


def test_failed_payload_carries_the_error_and_an_empty_transcript() -> None:
    failed = payload(
        succeeded=False,
        text="",
        segments=[],
        processing_seconds=3.2,
        audio_duration=None,
        results={},
        error_code="invalid_audio",
        error_message="the file is not audio",
    )
    assert failed["status"] == "failed"
    assert failed["type"] == "transcription.failed"
    assert failed["transcript"] == {"text": "", "segments": []}
    assert failed["metadata"]["processing_time"] == "3s"
    assert failed["audio_duration"] is None
    assert failed["error"] == {"code": "invalid_audio", "message": "the file is not audio"}


def test_seed_metadata_values_are_strings() -> None:
    metadata = payload(processing_seconds=0.0, file_size=0)["metadata"]
    assert metadata == {"processing_time": "0s", "file_size": "0", "model": "kb-whisper-large"}


def test_payload_is_json_serialisable_with_swedish_text_intact() -> None:
    body = json.dumps(payload(), ensure_ascii=False).encode()
    assert json.loads(body)["transcript"]["text"] == "Hej och välkommen."
