"""`swescribe stream FILE|-` against /v1/realtime on a real uvicorn with the stand-in live
engine: a file, stdin (raw PCM16, and audio through a real pipe), piped output one line
per turn, --json, Ctrl-C; and the terminal's line rewritten in place."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import wave
from pathlib import Path

from click.testing import CliRunner

from swescribe.cli.main import cli
from swescribe.cli.stream import Captions
from swescribe.client import Final, Partial
from swescribe.core.errors import SwescribeError
from tests.conftest import REPO_ROOT, audio, reference
from tests.fakes import FakeLiveTranscriber
from tests.live import LiveService, clip_pcm16, live_service, silence

CLIP = "cv_18711295"
WORDS = reference(CLIP).split()


def _two_turns_wav(path: Path) -> Path:
    """The clip twice, each followed by a second of quiet: two turns to server VAD."""
    turn = clip_pcm16(f"{CLIP}.wav", rate=16_000) + silence(1000, rate=16_000)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(turn * 2)
    return path


def _stream(service: LiveService, *args: str, stdin: bytes | None = None) -> list[str]:
    options = ["--url", service.url, "--api-key", service.key]
    result = CliRunner().invoke(cli, ["stream", *args, *options], input=stdin)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout.splitlines()


def _swescribe(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])}
    return subprocess.Popen(
        [sys.executable, "-m", "swescribe", "stream", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def test_a_file_piped_out_prints_one_line_per_completed_turn(tmp_path: Path) -> None:
    wav = _two_turns_wav(tmp_path / "two.wav")
    with live_service(tmp_path, FakeLiveTranscriber(words=WORDS)) as service:
        lines = _stream(service, str(wav), "--fast")
    assert lines == ["Har du fortfarande", "samma nummer Har"]


def test_raw_pcm16_from_stdin(tmp_path: Path) -> None:
    pcm = clip_pcm16(f"{CLIP}.wav", rate=24_000) + silence(1000)
    live = FakeLiveTranscriber(words=WORDS)
    with live_service(tmp_path, live) as service:
        lines = _stream(service, "-", "--raw", "--rate", "24000", "--fast", stdin=pcm)
    assert lines == ["Har du fortfarande"]
    assert live.sessions[0].options.language == "sv"


def test_json_prints_every_event_as_a_line(tmp_path: Path) -> None:
    with live_service(tmp_path, FakeLiveTranscriber(words=WORDS)) as service:
        lines = _stream(service, str(audio(f"{CLIP}.wav")), "--fast", "--json")
    events = [json.loads(line) for line in lines]
    kinds = [event["type"] for event in events]
    assert kinds[:2] == ["speech_started", "partial"]
    assert "speech_stopped" in kinds
    final = next(event for event in events if event["type"] == "final")
    partials = [event for event in events if event["type"] == "partial"]
    assert final["text"] == "".join(p["delta"] for p in partials) == "Har du fortfarande"
    assert partials[-1]["confirmed"] == final["text"]


def test_audio_through_a_real_pipe_is_decoded(tmp_path: Path) -> None:
    wav = audio(f"{CLIP}.wav").read_bytes()
    with live_service(tmp_path, FakeLiveTranscriber(words=WORDS)) as service:
        process = _swescribe("-", "--fast", "--url", service.url, "--api-key", service.key)
        out, err = process.communicate(wav, timeout=60)
    assert process.returncode == 0, err
    assert out.decode().splitlines() == ["Har du fortfarande"]


def test_ctrl_c_commits_the_turn_in_progress_and_prints_its_final_text(tmp_path: Path) -> None:
    clip = str(audio("lattlast_stts.wav"))  # 32 s of speech at real-time pace
    with live_service(tmp_path, FakeLiveTranscriber(words=WORDS)) as service:
        process = _swescribe(clip, "--json", "--url", service.url, "--api-key", service.key)
        assert process.stdout is not None
        try:
            lines = []
            for line in process.stdout:  # bounded: the clip ends in 32 s
                lines.append(json.loads(line))
                if lines[-1]["type"] == "partial":
                    break
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
        finally:
            process.kill()
    assert process.returncode == 0, err
    rest = [json.loads(line) for line in out.decode().splitlines()]
    finals = [event for event in rest if event["type"] == "final"]
    assert finals, rest
    assert finals[-1]["item_id"] == lines[-1]["item_id"]
    assert finals[-1]["text"].startswith(lines[-1]["confirmed"])


def test_a_refused_key_ends_the_command_with_the_servers_message(tmp_path: Path) -> None:
    with live_service(tmp_path, FakeLiveTranscriber()) as service:
        args = ["stream", str(audio(f"{CLIP}.wav")), "--url", service.url, "--api-key", "sws_x"]
        result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, SwescribeError)
    assert "missing, invalid or revoked API key (HTTP 401, invalid_api_key)" in str(
        result.exception
    )


def test_on_a_terminal_the_turn_in_progress_is_rewritten_in_place() -> None:
    screen = io.StringIO()
    captions = Captions(screen, as_json=False, terminal=True)
    captions.show(Partial("item_1", "Har", "Har", " du"))
    captions.show(Partial("item_1", " du", "Har du", " fort"))
    captions.show(Final("item_1", "Har du fortfarande"))
    captions.show(Partial("item_2", "Ja", "Ja", ""))
    captions.end()
    shown = screen.getvalue()
    assert shown == (
        "\r\x1b[KHar\x1b[2m du\x1b[0m"
        "\r\x1b[KHar du\x1b[2m fort\x1b[0m"
        "\r\x1b[KHar du fortfarande\n"
        "\r\x1b[KJa"
        "\n"
    )


def test_piped_captions_show_completed_turns_only() -> None:
    out = io.StringIO()
    captions = Captions(out, as_json=False, terminal=False)
    captions.show(Partial("item_1", "Har", "Har", " du"))
    captions.show(Final("item_1", "Har du"))
    captions.show(Final("item_2", ""))
    assert out.getvalue() == "Har du\n"
