"""Issue 25's end to end: the official openai SDK streams Swedish speech to a real
`swescribe serve`, whose streaming engine (whisper-base, loaded on the first live
session) answers with deltas and a completed turn per spoken clip."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import reference
from tests.e2e.service import RunningService, start_service
from tests.live import clip_pcm16, sdk_send_swedish_speech, silence
from tests.wer import word_error_rate

pytestmark = pytest.mark.model

CLIPS = ("cv_18746434.wav", "cv_18733516.wav")
COMPLETED = "conversation.item.input_audio_transcription.completed"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(tmp_path_factory.mktemp("serve-live"), workers=0)
    yield running
    running.stop()
    assert running.api_key not in running.logs().split("\n", 3)[-1], "API key logged"


def events_until(connection: Any, completed: int, seconds: float = 120.0) -> list[Any]:
    """SDK events until `completed` turns are done; the connection is closed past
    `seconds` (the first session loads the model), so a missing event fails the test."""
    watchdog = threading.Timer(seconds, connection.close)
    watchdog.start()
    events: list[Any] = []
    try:
        for _ in range(5000):
            event = connection.recv()
            events.append(event)
            assert event.type != "error", event
            if sum(e.type == COMPLETED for e in events) == completed:
                return events
    finally:
        watchdog.cancel()
    raise AssertionError(f"{completed} turns not completed: {[e.type for e in events]}")


def test_the_official_sdk_streams_swedish_speech_to_serve_and_gets_live_captions(
    service: RunningService, tmp_path: Path
) -> None:
    rate = 24_000
    pcm = b"".join(clip_pcm16(name, rate) + silence(1500, rate) for name in CLIPS)
    client = openai.OpenAI(base_url=f"{service.url}/v1", api_key=service.api_key, max_retries=0)
    with client.realtime.connect(
        model="gpt-4o-transcribe", extra_query={"intent": "transcription"}
    ) as connection:
        sdk_send_swedish_speech(connection, pcm, rate)
        events = events_until(connection, completed=len(CLIPS))

    kinds = [event.type for event in events]
    assert kinds.count("input_audio_buffer.speech_started") >= len(CLIPS)
    assert "conversation.item.input_audio_transcription.delta" in kinds
    turns = [event for event in events if event.type == COMPLETED]
    for turn in turns:
        deltas = "".join(
            e.delta for e in events if e.type.endswith(".delta") and e.item_id == turn.item_id
        )
        assert turn.transcript.startswith(deltas.strip()), "confirmed text is never rewritten"
    spoken = " ".join(reference(name.removesuffix(".wav")) for name in CLIPS)
    heard = " ".join(turn.transcript for turn in turns)
    # Bound loosely: this checks that the captions are the speech, not the model's
    # accuracy (bench/streaming.py measures that against the batch engine).
    assert word_error_rate(spoken, heard) <= 0.8, heard


def test_swescribe_stream_prints_a_line_per_turn_from_the_real_engine(
    service: RunningService, tmp_path: Path
) -> None:
    """`swescribe stream FILE --fast` piped: one line per completed turn."""
    rate = 16_000
    talk = tmp_path / "två-meningar.wav"
    with wave.open(str(talk), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(clip_pcm16(n, rate) + silence(1500, rate) for n in CLIPS))
    done = subprocess.run(
        [sys.executable, "-m", "swescribe", "stream", str(talk), "--fast"],
        env={
            **os.environ,
            "SWESCRIBE_URL": service.url,
            "SWESCRIBE_API_KEY": service.api_key,
        },
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = [line for line in done.stdout.decode().splitlines() if line.strip()]
    assert len(lines) >= len(CLIPS), lines  # a turn per clip (a long pause could split one)
    spoken = " ".join(reference(name.removesuffix(".wav")) for name in CLIPS)
    assert word_error_rate(spoken, " ".join(lines)) <= 0.8, lines
