"""`swescribe submit` against the real app on 127.0.0.1: on a terminal it shows the upload
as a progress bar with rate and time left; piped, it prints the job id and no bar."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from swescribe.api import create_app
from swescribe.bootstrap import build_local_api, build_local_keys, build_local_services
from swescribe.config import Settings
from tests.support import free_port, serving

AUDIO = b"RIFF" + bytes(range(256)) * 12_000  # about 3 MB: three chunks of 1 MiB


@dataclass
class Api:
    url: str
    key: str


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("submit")
    port = free_port()
    settings = Settings.from_env({}, data_dir=data_dir, public_url=f"http://127.0.0.1:{port}")
    svc = build_local_services(settings)
    _, key = build_local_keys(settings).create("tests")
    with serving(create_app(build_local_api(settings, svc)), port) as url:
        yield Api(url, key)


def submit(api: Api, path: Path, stderr: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swescribe", "submit", str(path), "--url", api.url],
        env={**os.environ, "SWESCRIBE_API_KEY": api.key, "SWESCRIBE_DATA_DIR": str(path.parent)},
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=60,
        check=False,
    )


def test_submit_on_a_terminal_shows_the_upload_with_its_rate(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "möte.wav"
    path.write_bytes(AUDIO)
    terminal, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    try:
        done = submit(api, path, stderr=child)
        os.close(child)
        shown = b""
        while True:
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # the child's end is closed: all is read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(terminal)
    assert done.returncode == 0, shown.decode(errors="replace")
    text = shown.decode("utf-8", errors="replace")
    assert "möte.wav" in text
    assert "B/s" in text, "the bar shows the rate"
    assert f"/{len(AUDIO) / 1024**2:.2f}M" in text, "the bar knows the size (in MiB)"


def test_submit_piped_prints_the_job_id_and_no_bar(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    path.write_bytes(AUDIO)
    done = submit(api, path, stderr=subprocess.PIPE)
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip()
    assert done.stderr == f"job {job_id}: uploading a.wav\n"


@pytest.mark.parametrize("flags", [[], ["--retries", "0"]])
def test_submit_with_no_service_running_says_where_it_looked_and_what_to_do_at_once(
    flags: list[str], tmp_path: Path
) -> None:
    """Connection refused on this machine: the service is not running. One line naming
    the URL, with `swescribe serve` and --url/SWESCRIBE_URL, within a second or two
    (before: four retries over ~10 s, then "cannot reach 127.0.0.1: [Errno 111] ...")."""
    path = tmp_path / "a.wav"
    path.write_bytes(b"RIFF")
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "swescribe", "submit", str(path), *flags],
        env={**os.environ, "SWESCRIBE_URL": url, "SWESCRIBE_API_KEY": "key"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"swescribe: error: cannot reach the service at {url}"), lines
    assert "swescribe serve" in lines[0]
    assert "--url" in lines[0]
    assert "SWESCRIBE_URL" in lines[0]
    assert elapsed < 5, f"{elapsed:.1f} s to say the service is not running"
