"""A client that drops its upload half way (issue 27): a real `swescribe serve` and a raw
socket that sends the headers and part of the body, then closes."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import audio
from tests.e2e.service import RunningService, start_service


@pytest.fixture
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(tmp_path_factory.mktemp("serve"), workers=0)  # jobs stay queued
    yield running
    running.stop()


def _drop_half_way(upload_url: str, body: bytes) -> None:
    """PUT with the whole length declared, send half of it, and close the connection."""
    link = urlsplit(upload_url)
    assert link.hostname is not None
    with socket.create_connection((link.hostname, link.port or 80), timeout=10) as raw:
        head = (
            f"PUT {link.path}?{link.query}&filename=talk.wav HTTP/1.1\r\n"
            f"Host: {link.netloc}\r\n"
            "Content-Type: application/octet-stream\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        raw.sendall(head.encode() + body[: len(body) // 2])
        time.sleep(0.5)  # the server is streaming it to its staging file
        raw.shutdown(socket.SHUT_RDWR)


def test_an_upload_dropped_half_way_is_one_info_line_and_the_link_takes_a_retry(
    service: RunningService,
) -> None:
    with service.client() as http:
        registration = http.post("/api", json={}).json()
    job_id = registration["callback_id"]
    clip = audio("cv_18742722.wav").read_bytes()
    logged_before = len(service.logs().splitlines())

    _drop_half_way(registration["upload_url"], clip)

    time.sleep(1.5)  # the server notices the closed connection
    new_lines = service.logs().splitlines()[logged_before:]
    assert "Traceback" not in "\n".join(new_lines), "\n".join(new_lines)
    assert not [line for line in new_lines if "unhandled error" in line or "ERROR" in line]
    about_it = [line for line in new_lines if job_id in line]
    assert len(about_it) == 1, new_lines
    assert '"level": "info"' in about_it[0], about_it
    with service.client() as http:
        waiting = http.get(f"/v1/jobs/{job_id}").json()
    assert waiting["status"] == "registered", waiting  # still waiting for its audio
    assert waiting["s3_key"] is None
    assert not list((service.data_dir / "staging").iterdir()), "the half file was left"

    retry = httpx.put(
        registration["upload_url"], params={"filename": "talk.wav"}, content=clip, timeout=30
    )
    assert retry.status_code == 200, retry.text  # the link is free at once, not 409
    with service.client() as http:
        queued = http.get(f"/v1/jobs/{job_id}").json()
    assert queued["status"] == "launching", queued
    assert queued["file_size"] == len(clip)
