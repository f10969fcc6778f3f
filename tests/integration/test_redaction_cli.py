"""Redaction through the real engine: `swescribe transcribe --redact` and `swescribe
redact` on what the model wrote (whisper-base, offline)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from tests.conftest import audio

pytestmark = pytest.mark.model


def swescribe(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SWESCRIBE_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    executable = shutil.which("swescribe") or ""
    command = [executable] if executable else [sys.executable, "-m", "swescribe"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=env, timeout=600, check=False
    )


def data_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as source:
        return source.getnframes() / source.getframerate()


def test_transcribe_redact_records_what_it_did_and_redact_takes_the_models_json(
    tmp_path: Path,
) -> None:
    clip = audio("cv_18711295.wav")
    done = swescribe(
        tmp_path, "transcribe", str(clip), "--model", "whisper-base", "--word-timestamps",
        "--format", "json", "--redact", "--redact-audio", "-o", str(tmp_path / "a"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with wave.open(str(tmp_path / "a" / "cv_18711295.redacted.wav"), "rb") as copy:
        assert abs(copy.getnframes() / copy.getframerate() - data_duration(clip)) < 0.1
    data = json.loads((tmp_path / "a" / "cv_18711295.json").read_text(encoding="utf-8"))
    assert data["redactions"] == [], "redacted, nothing personal in this clip"
    assert data["segments"][0]["words"]
    # The model's own JSON, with a personnummer said into it, through `swescribe redact`.
    segment = data["segments"][0]
    segment["words"].append({**segment["words"][-1], "word": " 811218-9876."})
    segment["text"] += " 811218-9876."
    data["text"] += " 811218-9876."
    source = tmp_path / "said.json"
    source.write_text(json.dumps(data), encoding="utf-8")
    redacted = swescribe(tmp_path, "redact", str(source), "-o", str(tmp_path / "b"), "-q")
    assert redacted.returncode == 0, redacted.stderr
    for fmt in ("txt", "json", "srt", "vtt"):
        written = (tmp_path / "b" / f"said.{fmt}").read_text(encoding="utf-8")
        assert "9876" not in written, fmt
        assert "[PERSONNUMMER]" in written, fmt
