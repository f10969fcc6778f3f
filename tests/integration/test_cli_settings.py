"""A bad SWESCRIBE_* value makes every command stop with exit code 2 and one line that names
the variable and what it takes: never a traceback, never "internal error"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BAD_VALUES = {
    "SWESCRIBE_WORKERS": ("abc", "a whole number from 0 to 64"),
    "SWESCRIBE_RATE_LIMIT_PER_MINUTE": ("-5", "a whole number of at least 0"),
    "SWESCRIBE_MAX_UPLOAD_BYTES": ("lots", "a whole number of at least 1"),
    "SWESCRIBE_DEV_MODE": ("maybe", "1 or 0"),
    "SWESCRIBE_BACKEND": ("gcp", "one of local, aws"),
    "SWESCRIBE_LEASE_SECONDS": ("soon", "a number above 0"),
}

COMMANDS = [
    ["transcribe", "{audio}"],
    ["serve", "--port", "1"],
    ["worker"],
    ["submit", "{audio}"],
    ["keys", "create"],
    ["keys", "list"],
    ["keys", "revoke", "k1"],
    ["jobs", "list"],
    ["jobs", "show", "j1"],
    ["cleanup", "--dry-run"],
]


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF")
    return subprocess.run(
        [sys.executable, "-m", "swescribe", *(a.format(audio=audio) for a in args)],
        env={**os.environ, "SWESCRIBE_DATA_DIR": str(tmp_path / "data"), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_line_naming(done: subprocess.CompletedProcess[str], variable: str) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("swescribe: error: ")
    assert variable in lines[0]
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_refuses_a_bad_setting_with_one_line_and_exit_2(
    command: list[str], tmp_path: Path
) -> None:
    variable = list(BAD_VALUES)[COMMANDS.index(command) % len(BAD_VALUES)]
    value, takes = BAD_VALUES[variable]
    done = run(command, tmp_path, **{variable: value})
    line = assert_one_line_naming(done, variable)
    assert takes in line
    assert repr(value) in line
    assert not (tmp_path / "data").exists(), "nothing was done with the bad settings"


@pytest.mark.parametrize("variable", list(BAD_VALUES))
def test_each_bad_value_says_what_the_variable_takes(variable: str, tmp_path: Path) -> None:
    value, takes = BAD_VALUES[variable]
    line = assert_one_line_naming(run(["jobs", "list"], tmp_path, **{variable: value}), variable)
    assert line.startswith(f"swescribe: error: {variable} takes {takes}")
    assert line.endswith(f", not {value!r}")


def test_two_bad_values_are_both_named_on_the_one_line(tmp_path: Path) -> None:
    done = run(["keys", "list"], tmp_path, SWESCRIBE_WORKERS="abc", SWESCRIBE_MAX_JSON_BYTES="0")
    line = assert_one_line_naming(done, "SWESCRIBE_WORKERS")
    assert "SWESCRIBE_MAX_JSON_BYTES takes a whole number of at least 1, not '0'" in line
