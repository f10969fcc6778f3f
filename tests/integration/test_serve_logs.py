"""serve's terminal: readable log lines on a terminal, JSON lines when piped (a log
collector's input) or when asked. A real `swescribe serve` process; the line it logs at
start for a leftover staging file is the one looked at."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import free_port

LINE = "removed leftover staging file"
READABLE = re.compile(r"^\d\d:\d\d:\d\d serve +removed leftover staging file  file=left\.part$")


def serve_until_the_line(tmp_path: Path, on_terminal: bool, *flags: str) -> str:
    """Start serve with a leftover in its staging directory; its stderr until LINE."""
    data_dir = tmp_path / "data"
    (data_dir / "staging").mkdir(parents=True)
    (data_dir / "staging" / "left.part").write_bytes(b"half an upload")
    terminal, child = pty.openpty() if on_terminal else (None, None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "swescribe",
            "serve",
            "--port",
            str(free_port()),
            "--workers",
            "0",
            *flags,
        ],
        env={**os.environ, "SWESCRIBE_DATA_DIR": str(data_dir), "SWESCRIBE_LOG_FORMAT": "auto"},
        stdout=subprocess.DEVNULL,
        stderr=child if child is not None else subprocess.PIPE,
    )
    source = terminal if terminal is not None else process.stderr.fileno()  # type: ignore[union-attr]
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while LINE.encode() not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([source], [], [], 1.0)
            if ready:
                seen += os.read(source, 65536)
    finally:
        process.terminate()
        process.wait(timeout=30)
        for fd in (terminal, child):
            if fd is not None:
                os.close(fd)
    text = seen.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return next((line for line in text.splitlines() if LINE in line), text)


def test_on_a_terminal_serve_logs_readable_lines(tmp_path: Path) -> None:
    line = serve_until_the_line(tmp_path, on_terminal=True)
    assert READABLE.match(line), line


def test_piped_serve_logs_json_lines(tmp_path: Path) -> None:
    line = serve_until_the_line(tmp_path, on_terminal=False)
    event = json.loads(line)
    assert event["message"] == LINE
    assert event["service"] == "serve"
    assert event["file"] == "left.part"


@pytest.mark.parametrize(("on_terminal", "flag"), [(True, "json"), (False, "text")])
def test_the_log_format_can_be_chosen(tmp_path: Path, on_terminal: bool, flag: str) -> None:
    line = serve_until_the_line(tmp_path, on_terminal, "--log-format", flag)
    if flag == "json":
        assert json.loads(line)["message"] == LINE
    else:
        assert READABLE.match(line), line
