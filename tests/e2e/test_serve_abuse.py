"""Attacks on the rate limits and connection handling of a real `swescribe serve` on
127.0.0.1 (no worker, no model): made-up keys, forged X-Forwarded-For, forged upload
links, dripped headers and bodies, and a loopback serve put behind a reverse proxy.

Each test speaks from its own loopback address (127.0.0.x), so no test spends another's
address buckets.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from swescribe.bootstrap import build_local_keys
from swescribe.config import Settings
from tests.e2e.service import RunningService, start_service

BURST = 5
FAILURE_BURST = 5
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 3.0
LIMITS = {
    "SWESCRIBE_RATE_LIMIT_PER_MINUTE": "30",
    "SWESCRIBE_RATE_LIMIT_BURST": str(BURST),
    "SWESCRIBE_AUTH_FAILURES_PER_MINUTE": "6",
    "SWESCRIBE_AUTH_FAILURE_BURST": str(FAILURE_BURST),
    "SWESCRIBE_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
    "SWESCRIBE_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(tmp_path_factory.mktemp("abuse"), workers=0, **LIMITS)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """serve on loopback with a reverse proxy on 127.0.0.1 in front of it."""
    running = start_service(
        tmp_path_factory.mktemp("proxied"),
        workers=0,
        SWESCRIBE_TRUSTED_PROXIES="127.0.0.1",
        **LIMITS,
    )
    yield running
    running.stop()


def http_from(service: RunningService, address: str, key: str | None = None) -> httpx.Client:
    headers = {"X-API-Key": key} if key else {}
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=service.url, headers=headers, timeout=30, transport=transport)


def new_key(service: RunningService) -> str:
    """A key created now, as `swescribe keys create` does, in another process's store."""
    settings = Settings.from_env({}, data_dir=service.data_dir)
    return build_local_keys(settings).create("fresh")[1]


# One limiter that cannot be sidestepped


def test_a_made_up_key_buys_no_exemption_from_the_address_limit(
    service: RunningService,
) -> None:
    with http_from(service, "127.0.0.11") as http:
        junk = [http.get("/metrics", headers={"X-API-Key": "junk"}) for _ in range(3 * BURST)]
    codes = [answer.status_code for answer in junk]
    assert codes[:BURST] == [200] * BURST, codes
    assert set(codes[BURST + 1 :]) == {429}, codes


def test_rotating_x_forwarded_for_does_not_escape_the_failure_limit(
    service: RunningService,
) -> None:
    """From 127.0.0.1, the address uvicorn trusts proxy headers from by default; no other
    test here earns failures from it."""
    codes = []
    with http_from(service, "127.0.0.1") as http:
        for number in range(40):
            answer = http.get(
                "/v1/jobs",
                headers={
                    "X-API-Key": f"sws_guess{number}_x",
                    "X-Forwarded-For": f"198.51.100.{number}",
                },
            )
            codes.append(answer.status_code)
    assert 429 in codes, codes
    assert codes.count(401) <= FAILURE_BURST + 1, codes


def test_a_key_created_after_someone_elses_failures_from_its_address_gets_through(
    service: RunningService,
) -> None:
    with http_from(service, "127.0.0.13") as http:
        failed = [
            http.get("/v1/jobs", headers={"X-API-Key": f"sws_bad{n}_key"}).status_code
            for n in range(25)
        ]
        assert failed[-1] == 429
        fresh = http.get("/v1/jobs", headers={"X-API-Key": new_key(service)})
        still_refused = http.get("/v1/jobs", headers={"X-API-Key": "sws_bad_again"})
    assert fresh.status_code == 200, fresh.text
    assert still_refused.status_code == 429


def test_forged_upload_links_count_as_failures_of_the_address(
    service: RunningService,
) -> None:
    with http_from(service, "127.0.0.14") as http:
        codes = [
            http.put(f"/v1/uploads/forged-{n}", content=b"RIFF").status_code
            for n in range(3 * FAILURE_BURST)
        ]
    assert codes[:FAILURE_BURST] == [401] * FAILURE_BURST, codes
    assert set(codes[FAILURE_BURST + 1 :]) == {429}, codes


def test_honest_uploads_from_one_address_are_not_rate_limited(service: RunningService) -> None:
    links = []
    for _ in range(2):
        with http_from(service, "127.0.0.15", new_key(service)) as http:
            links += [
                http.post("/v1/jobs", json={"filename": "a.wav"}).json()["upload"]["url"]
                for _ in range(BURST - 1)
            ]
    with http_from(service, "127.0.0.16") as uploader:
        codes = [uploader.put(link, content=b"RIFF" + b"\0" * 1000).status_code for link in links]
    assert len(codes) > BURST
    assert codes == [200] * len(codes)


# Header and body timeouts


def seconds_until_closed(
    service: RunningService, address: str, head: bytes, drip: bytes, within: float
) -> tuple[float, bytes]:
    """From address, send head, then drip every 0.5 s; the seconds until the server closed
    the connection (within if it never did), and what it answered."""
    host, port = service.url.removeprefix("http://").split(":")
    started = time.monotonic()
    answer = b""
    with socket.create_connection(
        (host, int(port)), timeout=5, source_address=(address, 0)
    ) as conn:
        conn.sendall(head)
        conn.settimeout(0.5)
        while time.monotonic() - started < within:
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                try:
                    conn.sendall(drip)
                except OSError:
                    break
                continue
            except OSError:
                break
            answer += chunk
            if not chunk:
                break
    return time.monotonic() - started, answer


def test_dripped_headers_are_cut_off_within_the_header_timeout(service: RunningService) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    took, answer = seconds_until_closed(service, "127.0.0.19", head, b"X-Drip: 1\r\n", within=15)
    assert took < HEADER_TIMEOUT + 2, f"still open after {took:.1f} s"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:100]


def test_a_dripped_json_body_is_cut_off_within_the_body_timeout(
    service: RunningService,
) -> None:
    key = new_key(service)
    head = (
        b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"X-API-Key: {key}\r\nContent-Length: 200\r\n\r\n".encode()
        + b'{"filename": "'
    )
    took, answer = seconds_until_closed(service, "127.0.0.20", head, b"a", within=15)
    assert took < BODY_TIMEOUT + 2, f"still open after {took:.1f} s"
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert b"request_timeout" in answer


def test_an_upload_that_stops_sending_is_cut_off_after_the_body_timeout(
    service: RunningService,
) -> None:
    with http_from(service, "127.0.0.17", new_key(service)) as http:
        link = http.post("/v1/jobs", json={"filename": "a.wav"}).json()["upload"]["url"]
    path = link.removeprefix(service.url).encode()
    head = (
        b"PUT " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
        b"RIFF" + b"\0" * 1000
    )
    took, answer = seconds_until_closed(service, "127.0.0.17", head, b"", within=15)
    assert took < BODY_TIMEOUT + 2, f"still open after {took:.1f} s"
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    with http_from(service, "127.0.0.17") as http:  # the link is free again
        assert http.put(link, content=b"RIFF" + b"\0" * 100).status_code == 200


def test_a_slow_upload_that_keeps_sending_outlasts_the_body_timeout(
    service: RunningService,
) -> None:
    with http_from(service, "127.0.0.18", new_key(service)) as http:
        link = http.post("/v1/jobs", json={"filename": "a.wav"}).json()["upload"]["url"]

    def slowly() -> Iterator[bytes]:
        yield b"RIFF"
        for _ in range(int(3 * BODY_TIMEOUT)):
            time.sleep(0.75)
            yield b"\0" * 4096

    started = time.monotonic()
    with http_from(service, "127.0.0.18") as http:
        answer = http.put(link, content=slowly())
    assert time.monotonic() - started > 2 * BODY_TIMEOUT
    assert answer.status_code == 200, answer.text


# Behind a reverse proxy


def test_behind_a_proxy_serve_allows_no_http_or_loopback_callbacks(
    proxied: RunningService,
) -> None:
    with proxied.client() as http:
        answer = http.post("/v1/jobs", json={"callback_url": "http://127.0.0.1:9/hook"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "unsafe_url"


def test_behind_a_proxy_metrics_need_a_key_or_the_metrics_token(proxied: RunningService) -> None:
    with http_from(proxied, "127.0.0.1") as http:
        bare = http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.50"})
    with proxied.client() as http:
        keyed = http.get("/metrics")
    assert bare.status_code == 401
    assert keyed.status_code == 200


def bad_keys(http: httpx.Client, forwarded_for: str, count: int) -> list[int]:
    return [
        http.get(
            "/v1/jobs", headers={"X-API-Key": f"sws_nope{n}_x", "X-Forwarded-For": forwarded_for}
        ).status_code
        for n in range(count)
    ]


def test_through_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    proxied: RunningService,
) -> None:
    with http_from(proxied, "127.0.0.1") as proxy:
        first = bad_keys(proxy, "203.0.113.1", 3 * FAILURE_BURST)
        second = bad_keys(proxy, "203.0.113.2", 1)
    assert 429 in first
    assert second == [401]


def test_a_forged_hop_before_the_proxys_own_does_not_rotate_the_address(
    proxied: RunningService,
) -> None:
    codes = []
    with http_from(proxied, "127.0.0.1") as proxy:
        for n in range(3 * FAILURE_BURST):
            codes += bad_keys(proxy, f"10.9.8.{n}, 203.0.113.3", 1)
    assert 429 in codes, codes


def test_x_forwarded_for_from_an_address_that_is_not_a_proxy_is_ignored(
    proxied: RunningService,
) -> None:
    codes = []
    with http_from(proxied, "127.0.0.2") as http:
        for n in range(3 * FAILURE_BURST):
            codes += bad_keys(http, f"203.0.113.{100 + n}", 1)
    assert 429 in codes, codes
