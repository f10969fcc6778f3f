"""A real `swescribe serve` on loopback and a webhook receiver, for bench/service.py."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

SECRET = "bench-secret"
WAIT_SECONDS = 900.0
"""Longest any one measurement may take before the bench gives up."""


class Receiver:
    """A webhook receiver on 127.0.0.1: the arrival time of each job's delivery."""

    def __init__(self) -> None:
        self.arrivals: dict[str, tuple[float, dict[str, Any]]] = {}
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                arrived = time.perf_counter()
                expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                signed = self.headers.get("X-Webhook-Signature") == f"hmac-sha256={expected}"
                payload = json.loads(body)
                with receiver.changed:
                    receiver.arrivals[payload["job_id"]] = (arrived, {**payload, "signed": signed})
                    receiver.changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, job_ids: Sequence[str]) -> dict[str, tuple[float, dict[str, Any]]]:
        deadline = time.monotonic() + WAIT_SECONDS
        with self.changed:
            while not all(job_id in self.arrivals for job_id in job_ids):
                if not self.changed.wait(max(0.0, deadline - time.monotonic())):
                    raise SystemExit(f"no webhook within {WAIT_SECONDS} s")
            return {job_id: self.arrivals[job_id] for job_id in job_ids}


class Service:
    """`swescribe serve` as a subprocess on a free loopback port, with its own data dir."""

    def __init__(self, data_dir: Path, env: dict[str, str], workers: int) -> None:
        self.data_dir = data_dir
        self.log = (data_dir / "serve.log").open("w")
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "swescribe", "serve", "--port", str(port)]
        self.process = subprocess.Popen(
            [*command, "--workers", str(workers)], env=env, stdout=self.log, stderr=self.log
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            self.stop()
            raise SystemExit(f"serve did not come up; see {data_dir / 'serve.log'}")
        key = (data_dir / "local-api-key").read_text().strip()
        self.http = httpx.Client(base_url=self.url, headers={"X-API-Key": key}, timeout=60)

    def submit(self, audio: Path, callback_url: str) -> tuple[str, float]:
        """Register a job and upload the file; returns its id and when the upload began."""
        registered = self.http.post(
            "/api", json={"callback_url": callback_url, "callback_secret": SECRET}
        )
        registered.raise_for_status()
        job = registered.json()
        started = time.perf_counter()
        uploaded = self.http.put(
            job["upload_url"], params={"filename": audio.name}, content=audio.read_bytes()
        )
        uploaded.raise_for_status()
        return job["callback_id"], started

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
