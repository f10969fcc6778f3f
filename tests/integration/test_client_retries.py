"""The client's retries against a real HTTP server on 127.0.0.1 that answers from a script:
GET and DELETE come back after 429, 503 and lost connections, honouring Retry-After; job
creation only when its connection was never made; an upload never."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from swescribe.client import NO_RETRIES, ApiError, Client, ClientError, RetryPolicy, UploadTarget
from swescribe.client.retries import retry_after
from tests.support import free_port

FAST = RetryPolicy(retries=3, wait_initial=0.01, wait_max=5.0, wait_jitter=0.0, timeout=20.0)
JOB = {"job_id": "j1", "status": "registered"}
DROP = 0
"""A scripted "status" that closes the connection without an answer."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Scripted:
    """Answers each request with the next scripted answer, then 200 with JOB."""

    port: int
    script: list[Answer] = field(default_factory=list)
    seen: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> ThreadingHTTPServer:
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                scripted.seen.append((self.command, self.path, time.monotonic()))
                answer = scripted.script.pop(0) if scripted.script else Answer(200)
                if answer.status == DROP:
                    self.close_connection = True
                    return
                body = json.dumps(
                    JOB if answer.status == 200 else {"error": {"code": "c", "message": "m"}}
                ).encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self.answer()

            def do_POST(self) -> None:
                self.answer()

            def do_PUT(self) -> None:
                self.answer()

            def do_DELETE(self) -> None:
                self.answer()

            def log_message(self, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return server


@pytest.fixture
def server() -> Iterator[Scripted]:
    scripted = Scripted(free_port())
    running = scripted.serve()
    yield scripted
    running.shutdown()
    running.server_close()


def client(server: Scripted, retry: RetryPolicy = FAST) -> Client:
    return Client(server.url, "key", timeout=5, retry=retry)


def test_a_get_answered_503_with_retry_after_waits_that_long_and_succeeds(
    server: Scripted,
) -> None:
    server.script = [Answer(503, {"Retry-After": "1"})]
    with client(server) as api:
        job = api.get_job("j1")
    assert job.job_id == "j1"
    (_, _, first), (_, _, second) = server.seen
    assert second - first >= 0.95, "Retry-After: 1 was honoured, not the 0.01 s backoff"


def test_429_and_503_without_retry_after_back_off_and_succeed(server: Scripted) -> None:
    server.script = [Answer(429), Answer(503), Answer(429)]
    with client(server) as api:
        assert api.get_job("j1").status == "registered"
    assert [method for method, _, _ in server.seen] == ["GET"] * 4


def test_delete_is_retried_like_get(server: Scripted) -> None:
    server.script = [Answer(503, {"Retry-After": "0"})]
    with client(server) as api:
        api.delete_job("j1")
    assert [(method, path) for method, path, _ in server.seen] == [("DELETE", "/v1/jobs/j1")] * 2


def test_retries_end_after_the_policys_count_with_the_last_error(server: Scripted) -> None:
    server.script = [Answer(503)] * 10
    with client(server) as api, pytest.raises(ApiError) as raised:
        api.get_job("j1")
    assert raised.value.status == 503
    assert len(server.seen) == FAST.retries + 1


def test_a_retry_after_longer_than_the_longest_wait_is_not_waited_for(server: Scripted) -> None:
    server.script = [Answer(429, {"Retry-After": "120"})]
    with client(server) as api, pytest.raises(ApiError) as raised:
        api.get_job("j1")
    assert (raised.value.status, raised.value.retry_after) == (429, 120.0)
    assert len(server.seen) == 1


def test_no_retries_turns_retrying_off(server: Scripted) -> None:
    server.script = [Answer(503, {"Retry-After": "0"})]
    with client(server, NO_RETRIES) as api, pytest.raises(ApiError, match="HTTP 503"):
        api.get_job("j1")
    assert len(server.seen) == 1


def test_other_errors_are_not_retried(server: Scripted) -> None:
    server.script = [Answer(500), Answer(404)]
    with client(server) as api:
        with pytest.raises(ApiError, match="HTTP 500"):
            api.get_job("j1")
        with pytest.raises(ApiError, match="HTTP 404"):
            api.get_job("j1")
    assert len(server.seen) == 2


def test_a_get_whose_connection_dropped_is_retried(server: Scripted) -> None:
    server.script = [Answer(DROP)]
    with client(server) as api:
        assert api.get_job("j1").job_id == "j1"
    assert len(server.seen) == 2


def test_job_creation_is_not_repeated_once_it_may_have_reached_the_service(
    server: Scripted,
) -> None:
    server.script = [Answer(503, {"Retry-After": "0"}), Answer(DROP)]
    with client(server) as api:
        with pytest.raises(ApiError, match="HTTP 503"):
            api.create_job(filename="a.wav")
        with pytest.raises(ClientError, match="cannot reach"):
            api.create_job(filename="a.wav")
    assert [method for method, _, _ in server.seen] == ["POST", "POST"]


def test_calls_wait_for_a_service_that_is_not_up_yet() -> None:
    """Connection refused: nothing was sent, so even job creation is tried again."""
    scripted = Scripted(free_port())
    started: list[ThreadingHTTPServer] = []
    timer = threading.Timer(0.3, lambda: started.append(scripted.serve()))
    timer.start()
    policy = RetryPolicy(retries=8, wait_initial=0.05, wait_max=0.2, wait_jitter=0.0)
    try:
        with Client(scripted.url, "key", timeout=5, retry=policy) as api:
            assert api.create_job(filename="a.wav").job_id == "j1"
            assert api.get_job("j1").job_id == "j1"
    finally:
        timer.join()
        for running in started:
            running.shutdown()
            running.server_close()
    assert [method for method, _, _ in scripted.seen] == ["POST", "GET"]


def test_an_upload_is_never_retried(server: Scripted) -> None:
    server.script = [Answer(503, {"Retry-After": "0"})]
    target = UploadTarget(url=f"{server.url}/v1/uploads/t", method="PUT")
    with client(server) as api, pytest.raises(ApiError, match="HTTP 503"):
        api.upload(target, __file__)
    assert [method for method, _, _ in server.seen] == ["PUT"]


def test_retry_after_reads_seconds_and_http_dates() -> None:
    import httpx

    def after(value: str) -> float | None:
        return retry_after(httpx.Response(503, headers={"Retry-After": value}))

    assert after("7") == 7.0
    assert after("soon") is None
    assert after("Thu, 01 Jan 2015 00:00:00 GMT") == 0.0, "a date in the past: now"
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    wait = after(later)
    assert wait is not None
    assert 25 < wait <= 30
    assert retry_after(httpx.Response(503)) is None
