"""--redact-audio: a copy of the audio with each redacted span silent, from the word
timings, and everything else as the engine heard it."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from swescribe.cli.main import cli
from swescribe.core.redaction_transcript import silent_spans
from swescribe.core.transcript import Redaction, Segment, Transcript, Word
from swescribe.engine import render
from swescribe.engine.redacted_audio import write_silenced

RATE = 16_000


def tone(path: Path, seconds: float = 4.0) -> None:
    t = np.arange(int(seconds * RATE)) / RATE
    samples = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.tobytes())


def read(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (RATE, 1)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)


def loud(samples: np.ndarray, start: float, end: float) -> float:
    return float(np.abs(samples[int(start * RATE) : int(end * RATE)]).max(initial=0))


def test_spans_are_the_redactions_padded_and_merged() -> None:
    transcript = Transcript(
        "x", "sv", 10.0, (), "m",
        redactions=(Redaction("name", 1.0, 1.5), Redaction("phone", 1.6, 2.0),
                    Redaction("email", 5.0, 6.0)),
    )  # fmt: skip
    assert silent_spans(transcript, padding=0.1) == ((0.9, 2.1), (4.9, 6.1))
    assert silent_spans(Transcript("x", "sv", 1.0, (), "m")) == ()


def test_each_redacted_span_is_silent_and_the_rest_is_as_it_was(tmp_path: Path) -> None:
    source, target = tmp_path / "in.wav", tmp_path / "out.wav"
    tone(source)
    write_silenced(source, ((1.0, 2.0),), target)
    samples = read(target)
    assert len(samples) == 4 * RATE
    assert loud(samples, 1.0, 2.0) == 0
    assert loud(samples, 0.0, 0.99) > 10_000
    assert loud(samples, 2.01, 4.0) > 10_000


def test_swescribe_redact_with_audio_writes_the_silenced_copy(tmp_path: Path) -> None:
    audio = tmp_path / "samtal.wav"
    tone(audio)
    words = (
        Word(0.0, 0.9, " ring", 0.9),
        Word(1.0, 2.0, " 070-123", 0.9),
        Word(2.0, 2.5, " 45", 0.9),
        Word(2.5, 3.0, " 67", 0.9),
        Word(3.0, 3.9, " tack", 0.9),
    )
    text = "".join(w.word for w in words)
    transcript = Transcript(text.strip(), "sv", 4.0, (Segment(0, 0.0, 4.0, text, words),), "m")
    source = tmp_path / "samtal.json"
    source.write_text(render(transcript, "json"), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["redact", str(source), "--audio", str(audio), "-o", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    samples = read(out / "samtal.redacted.wav")
    assert loud(samples, 1.0, 3.0) == 0
    assert loud(samples, 0.0, 0.85) > 10_000
    assert loud(samples, 3.15, 4.0) > 10_000
    assert json.loads((out / "samtal.json").read_text())["redactions"][0]["kind"] == "phone"
