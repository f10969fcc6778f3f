"""Start `swescribe serve` for real: a subprocess with uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support import free_port


@dataclass
class RunningService:
    url: str
    data_dir: Path
    api_key: str
    process: subprocess.Popen[str]
    log_path: Path

    def client(self, api_key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"X-API-Key": api_key or self.api_key}, timeout=30
        )

    def wait_for_status(
        self, job_id: str, statuses: tuple[str, ...], timeout: float = 180.0
    ) -> dict:  # type: ignore[type-arg]
        deadline = time.monotonic() + timeout
        with self.client() as http:
            while time.monotonic() < deadline:
                job = http.get(f"/v1/jobs/{job_id}").json()
                if job["status"] in statuses:
                    return job
                time.sleep(0.1)
        raise AssertionError(f"job {job_id} never reached {statuses}; last: {job}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """Every worker process serve has started (from its JSON log)."""
        events = [json.loads(line) for line in self.logs().splitlines() if line.startswith("{")]
        return [e["pid"] for e in events if e.get("message") == "worker started"]

    def stop(self) -> None:
        """SIGTERM, as a process manager stops a service."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_service(
    data_dir: Path,
    workers: int = 1,
    port: int | None = None,
    own_process_group: bool = False,
    **env_overrides: str,
) -> RunningService:
    """serve on 127.0.0.1 (port: a free one unless given, e.g. to restart in place).

    own_process_group: serve and its workers in a process group of their own, as a
    terminal runs a command, so a test can send Ctrl-C's SIGINT to all of them at once.

    The rate limit is off unless a test sets it: these tests poll job status quickly,
    and tests/integration/test_api_limits.py tests the limit itself.
    """
    port = port or free_port()
    env = {
        **os.environ,
        "SWESCRIBE_DATA_DIR": str(data_dir),
        "SWESCRIBE_MODEL": "whisper-base",
        "HF_HUB_OFFLINE": "1",
        "SWESCRIBE_RATE_LIMIT_PER_MINUTE": "0",
        "SWESCRIBE_AUTH_FAILURES_PER_MINUTE": "0",
        **env_overrides,
    }
    log_path = data_dir / "serve.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    log = log_path.open("a")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "swescribe",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=own_process_group,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {log_path.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError(f"serve did not come up: {log_path.read_text()}")
    api_key = (data_dir / "local-api-key").read_text().strip()
    return RunningService(url, data_dir, api_key, process, log_path)
