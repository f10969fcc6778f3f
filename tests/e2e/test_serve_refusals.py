"""`swescribe serve` refusing to start (issue 27): a port in use is said in one line, with
what to do, before a worker starts or the data directory is touched."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def test_serve_on_a_busy_port_says_so_in_one_line_before_any_worker_starts(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    in_flight = data_dir / "staging" / "upload-of-the-running-service"
    in_flight.parent.mkdir(parents=True)
    in_flight.write_bytes(b"RIFF")  # an upload the service on that port is receiving
    with socket.create_server(("127.0.0.1", 0)) as other_service:
        port = other_service.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "swescribe", "serve", "--port", str(port), "--workers", "1"],
            env={**os.environ, "SWESCRIBE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert output.strip().splitlines() == [
        f"swescribe: error: port {port} is in use: stop the other service or pass --port"
    ], output
    assert in_flight.exists(), "the other service's upload in flight was removed"


def test_every_serve_option_says_what_it_does_in_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "swescribe", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    from swescribe.cli.serve import serve

    options = [param for param in serve.params if param.name != "help"]
    assert all(getattr(param, "help", None) for param in options), [
        param.name for param in options if not getattr(param, "help", None)
    ]
    assert "--port INTEGER RANGE Port to listen on" in " ".join(done.stdout.split()), done.stdout
