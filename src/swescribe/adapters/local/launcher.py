"""Local worker processes: `swescribe serve` keeps N of them alive."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping

from swescribe.core.jobs import Job

log = logging.getLogger(__name__)


class LocalProcessLauncher:
    """Implements WorkerLauncher by running `swescribe worker` processes on this machine."""

    def __init__(self, count: int, env: Mapping[str, str] | None = None) -> None:
        self.count = count
        self.env = dict(os.environ if env is None else env)
        self._processes: list[subprocess.Popen[bytes]] = []
        self.started_pids: list[int] = []
        """Every worker started, running or not (serve gives back what they held)."""

    def ensure_capacity(self, demand: int, job: Job | None = None) -> list[str]:
        """Restart exited workers so `count` run; local workers are few and long-lived."""
        self._processes = [p for p in self._processes if p.poll() is None]
        started = []
        while len(self._processes) < self.count:
            process = subprocess.Popen([sys.executable, "-m", "swescribe", "worker"], env=self.env)
            self._processes.append(process)
            self.started_pids.append(process.pid)
            started.append(f"pid-{process.pid}")
            log.info("worker started", extra={"pid": process.pid})
        return started

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.poll() is None]

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every worker (each gives back its job), then kill stragglers."""
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes = []
