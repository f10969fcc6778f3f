"""The README's service snippets run as written against a real `swescribe serve`: the
Python client, OpenAI's SDK and the seed's curl flow with its webhook receiver.

What differs from a user's run: the ports (free ones instead of 8000 and 9000, replaced
in the text) and HOME (a temporary one, so `~/.local/share/swescribe` is this test's).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.service import RunningService, start_service
from tests.support import free_port

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")


def snippet(language: str, *marks: str) -> str:
    """The README's one fenced block in `language` that holds every mark."""
    blocks = re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)
    [found] = [block for block in blocks if all(mark in block for mark in marks)]
    return found


@dataclass
class Service:
    running: RunningService
    home: Path

    def run(self, argv: list[str], code: str) -> subprocess.CompletedProcess[str]:
        port = self.running.url.rsplit(":", 1)[1]
        code = code.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        code = code.replace("127.0.0.1:9000", f"127.0.0.1:{RECEIVER_PORT}")
        code = code.replace('("127.0.0.1", 9000)', f'("127.0.0.1", {RECEIVER_PORT})')
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWESCRIBE_")}
        return subprocess.run(
            [*argv, code],
            cwd=REPO,
            env={**env, "HOME": str(self.home)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


RECEIVER_PORT = free_port()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = tmp_path_factory.mktemp("home")
    running = start_service(home / ".local/share/swescribe", workers=1, HOME=str(home))
    try:
        yield Service(running, home)
    finally:
        running.stop()


def test_the_python_client_snippet(service: Service) -> None:
    code = snippet("python", "from swescribe.client import Client", "create_job")
    done = service.run([sys.executable, "-c"], code)
    assert done.returncode == 0, done.stderr
    assert re.search(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", done.stdout), done.stdout
    assert "lättläst" in done.stdout.lower() or len(done.stdout.split()) > 30, done.stdout


def test_the_openai_sdk_snippet_defines_its_key_and_runs(service: Service) -> None:
    code = snippet("python", "from openai import OpenAI", "transcriptions.create")
    done = service.run([sys.executable, "-c"], code)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.split()) > 30, done.stdout


def test_the_curl_flow_with_its_receiver_polls_then_fetches(service: Service) -> None:
    done = service.run(["bash", "-c"], snippet("bash", "REG=$(curl"))
    assert done.returncode == 0, done.stderr
    assert '"callback_id"' in done.stdout
    assert re.search(r"\d\d:\d\d:\d\d,\d{3} --> ", done.stdout), done.stdout
    assert re.search(r"webhook: hmac-sha256=[0-9a-f]{64} \{", done.stdout), done.stdout
    assert "not_ready" not in done.stdout, "fetched before the job was done"
