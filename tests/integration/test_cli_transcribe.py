"""`swescribe transcribe` as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import audio, reference, require_tool
from tests.wer import word_error_rate

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data_dir = tmp_path_factory.mktemp("data")
    return {**os.environ, "SWESCRIBE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}


def swescribe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("swescribe") or ""
    command = [executable] if executable else [sys.executable, "-m", "swescribe"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=env, timeout=600, check=False
    )


def test_all_four_formats_are_written_and_their_paths_printed(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    clip = audio("lattlast_stts.wav")
    result = swescribe(
        cli_env, "transcribe", str(clip), "--model", "whisper-base", "--format", "all",
        "--output-dir", str(tmp_path), "--word-timestamps",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for ext in ("txt", "json", "srt", "vtt"):
        target = tmp_path / f"lattlast_stts.{ext}"
        assert f"wrote {target}" in result.stdout
        assert target.stat().st_size > 0
    text = (tmp_path / "lattlast_stts.txt").read_text(encoding="utf-8")
    assert word_error_rate(reference("lattlast_stts"), text) <= 0.5, text
    data = json.loads((tmp_path / "lattlast_stts.json").read_text(encoding="utf-8"))
    assert data["model"] == "whisper-base"
    assert "words" in data["segments"][0]
    assert (tmp_path / "lattlast_stts.srt").read_text().startswith("1\n00:00:")
    assert (tmp_path / "lattlast_stts.vtt").read_text().startswith("WEBVTT\n\n00:00:")


def test_subtitle_layout_flags_shape_the_srt_and_vtt_and_the_json_has_paragraphs(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Issue 29: --max-line-width, --max-lines and --max-cue-seconds on a real clip."""
    clip = audio("lattlast_stts.wav")
    result = swescribe(
        cli_env, "transcribe", str(clip), "--model", "whisper-base", "--format", "all",
        "--output-dir", str(tmp_path), "--word-timestamps", "--max-line-width", "20",
        "--max-lines", "1", "--max-cue-seconds", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for ext in ("srt", "vtt"):
        blocks = (tmp_path / f"lattlast_stts.{ext}").read_text(encoding="utf-8").split("\n\n")
        cues = [block.split("\n") for block in blocks if "-->" in block]
        for cue in cues:
            timing = next(i for i, line in enumerate(cue) if "-->" in line)
            text = [line for line in cue[timing + 1 :] if line]
            start, end = (seconds(stamp) for stamp in cue[timing].split(" --> "))
            assert len(text) == 1, cue
            assert len(text[0]) <= 20 or " " not in text[0], cue
            assert end - start <= 2.0 + 0.001 or " " not in text[0], cue
    data = json.loads((tmp_path / "lattlast_stts.json").read_text(encoding="utf-8"))
    ids = [i for paragraph in data["paragraphs"] for i in paragraph["segment_ids"]]
    assert ids == [segment["id"] for segment in data["segments"] if segment["text"].strip()]


def seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.strip().replace(",", ".").split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def test_auto_model_offline_warns_loudly_and_still_transcribes(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    result = swescribe(cli_env, "transcribe", str(audio("cv_18742722.wav")), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "whisper-base" in result.stderr
    assert "weaker" in result.stderr
    assert "lämnar" in (tmp_path / "cv_18742722.txt").read_text(encoding="utf-8").lower()


def make_bad_inputs(directory: Path) -> dict[str, Path]:
    wav = audio("espeak_01.wav").read_bytes()
    files = {
        "empty": directory / "empty.wav",
        "not audio": directory / "notes.wav",
        "truncated": directory / "cut.wav",
    }
    files["empty"].write_bytes(b"")
    files["not audio"].write_text("inte ljud\n")
    files["truncated"].write_bytes(wav[:50_000])
    files["no audio track"] = audio("formats/video_no_audio.mp4")
    files["missing"] = directory / "missing.wav"
    return files


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty", "empty"),
        ("not audio", "not a readable audio file"),
        ("truncated", "truncated"),
        ("no audio track", "no audio track"),
        ("missing", "no such file"),
    ],
)
def test_bad_input_gives_one_clear_line_and_a_non_zero_exit(
    cli_env: dict[str, str], tmp_path: Path, case: str, message: str
) -> None:
    path = make_bad_inputs(tmp_path)[case]
    result = swescribe(cli_env, "transcribe", str(path), "--model", "whisper-base", "-o",
                       str(tmp_path / "out"))  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("swescribe: error")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_missing_file_is_refused_before_the_model_loads(tmp_path: Path) -> None:
    """Before, the model was assembled and loaded first: 5.5 s to say the file is missing."""
    data_dir = tmp_path / "fresh"
    env = {**os.environ, "SWESCRIBE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    started = time.monotonic()
    result = swescribe(env, "transcribe", str(tmp_path / "MISSING.wav"), "--model", "whisper-base")
    elapsed = time.monotonic() - started
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"swescribe: error: {tmp_path / 'MISSING.wav'}: no such file"
    ]
    assert not (data_dir / "models").exists(), "the model was assembled for a missing file"
    assert "model loaded" not in result.stderr
    assert elapsed < 5, f"{elapsed:.1f} s to say the file is missing"


def test_diarize_without_the_speaker_model_says_only_how_to_install_it(tmp_path: Path) -> None:
    """A Resemblyzer without its weights, nothing fetched and no pyannote: one line with
    the command that fetches it, and no warning about diarizing with the model that is
    missing."""
    shadow = tmp_path / "site"
    (shadow / "resemblyzer").mkdir(parents=True)
    (shadow / "resemblyzer" / "__init__.py").write_text("")
    env = {
        **os.environ,
        "SWESCRIBE_DATA_DIR": str(tmp_path / "data"),
        "SWESCRIBE_SPEAKER_MODEL_DIR": str(tmp_path / "no-models"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(shadow), os.environ.get("PYTHONPATH")])),
    }
    result = swescribe(env, "transcribe", str(audio("cv_18742722.wav")), "--diarize",
                       "--model", "whisper-base", "-o", str(tmp_path / "out"))  # fmt: skip
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("swescribe:")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("swescribe: error:"), lines
    assert "run: swescribe models fetch speakers" in lines[0]
    assert "diarizing with" not in result.stderr


def test_one_bad_file_does_not_stop_the_good_ones(cli_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("nope")
    result = swescribe(cli_env, "transcribe", str(bad), str(audio("cv_18748646.wav")),
                       "--model", "whisper-base", "-o", str(tmp_path))  # fmt: skip
    assert result.returncode == 2
    assert (tmp_path / "cv_18748646.txt").exists()
    assert "bad.wav" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "whisper-gigantic"), "unknown model"),
        (("--model", "kb-whisper-small"), "SWESCRIBE_MODEL_DIRS"),
        (("--format", "docx"), "unknown format"),
        (("--language", "svenska"), "ISO 639-1"),
    ],
)
def test_bad_options_give_one_clear_line(
    cli_env: dict[str, str], tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = swescribe(cli_env, "transcribe", str(audio("cv_18742722.wav")), *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr


def test_diarize_labels_speakers_in_all_four_formats(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Issue 18's check: `swescribe transcribe talk.wav --diarize --format all`."""
    require_tool("espeak-ng", "apt-get install -y espeak-ng")  # the espeak voices
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from conversations import ESPEAK_TALK, build_conversation

    talk = tmp_path / "talk.wav"
    build_conversation(audio("lattlast_stts.wav").parent, ESPEAK_TALK, talk)
    result = swescribe(
        cli_env, "transcribe", str(talk), "--model", "whisper-base", "--diarize",
        "--format", "all", "-o", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "offline resemblyzer speaker model" in result.stderr, "the fallback says so"
    out = tmp_path / "out"
    lines = [line for line in (out / "talk.txt").read_text(encoding="utf-8").splitlines() if line]
    assert lines[0].startswith("S1: ")  # a blank line between paragraphs (issue 29)
    assert {line.split(":")[0] for line in lines} == {"S1", "S2", "S3"}
    data = json.loads((out / "talk.json").read_text(encoding="utf-8"))
    assert {s["speaker"] for s in data["segments"]} == {"S1", "S2", "S3"}
    assert data["diarization"]["model"] == "resemblyzer-ge2e"
    srt = (out / "talk.srt").read_text(encoding="utf-8")
    assert "\nS1: " in srt
    assert "\nS2: " in srt
    assert "<v S3>" in (out / "talk.vtt").read_text(encoding="utf-8")


def test_speakers_without_diarize_is_a_usage_error(cli_env: dict[str, str]) -> None:
    result = swescribe(cli_env, "transcribe", "x.wav", "--speakers", "2")
    assert result.returncode == 2
    assert "need --diarize" in result.stderr


def _on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, list[tuple[float, str]]]:
    """Runs swescribe with its stderr on a pseudo-terminal (as in a shell): the exit
    status and what reached that terminal, as (seconds since the start, text) pieces."""
    import fcntl
    import pty
    import struct
    import termios
    import threading
    import time

    executable = shutil.which("swescribe") or ""
    command = [executable] if executable else [sys.executable, "-m", "swescribe"]
    controller, terminal = pty.openpty()
    rows_columns = struct.pack("HHHH", 24, 100, 0, 0)
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, rows_columns)  # a new one is 0 wide
    shown: list[tuple[float, str]] = []
    started = time.monotonic()

    def read() -> None:
        while True:
            try:
                data = os.read(controller, 4096)
            except OSError:  # the terminal closed with the process
                return
            if not data:
                return
            shown.append((time.monotonic() - started, data.decode(errors="replace")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    with subprocess.Popen(
        [*command, *args], stdout=subprocess.DEVNULL, stderr=terminal, env=env
    ) as process:
        os.close(terminal)
        returncode = process.wait(timeout=600)
    reader.join(timeout=10)
    os.close(controller)
    return returncode, shown


def test_a_terminal_shows_a_progress_bar_while_it_works_and_quiet_shows_none(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Issue 27: the bar came only when the window's decode had ended (its first call
    came with the window's segments), so for a file of one window it flashed by at the
    end. Now it shows at 0 % with the file's length as soon as the file is read, and
    moves as the decoder's batches finish."""
    clip = audio("longform_reading.wav")
    code, shown = _on_a_terminal(
        cli_env, "transcribe", str(clip), "--model", "whisper-base", "-o", str(tmp_path)
    )
    text = "".join(piece for _, piece in shown)
    assert code == 0, text
    frames = [(at, piece) for at, piece in shown if re.search(r"\d+%\|", piece)]
    assert frames, text
    assert re.search(r"longform_reading\.wav:\s+0%\|.*\| 0/11\d\.\d", text), "0 of its length"
    shown_for = frames[-1][0] - frames[0][0]
    assert shown_for >= 2.0, f"the bar was on screen for {shown_for:.2f} s: {text!r}"
    code, quiet = _on_a_terminal(
        cli_env, "transcribe", str(clip), "--model", "whisper-base", "-o", str(tmp_path), "-q"
    )
    assert code == 0, quiet
    assert not any("%|" in piece for _, piece in quiet)
