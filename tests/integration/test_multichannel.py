"""A two-party call, one party per channel, each leaking into the other's microphone at
-20 dB (bench/calls.py builds it at test time from shared clips): with multichannel each
channel comes out on its own, labelled, merged in time order, and no word of one party
appears under the other's channel; the bleed is what would put it there.

Word accuracy is bounded against the same call built without bleed and transcribed in
the same run (CTranslate2's int8 differs between CPUs). Measured on the development machine:
docs/performance.md ("Multichannel")."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from swescribe.core.transcript import Transcript
from swescribe.engine import Engine, TranscribeOptions
from tests.conftest import AUDIO_DIR, audio
from tests.integration.test_cli_transcribe import swescribe
from tests.wer import word_error_rate

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from calls import TWO_PARTY_CALL, Call, build_call, foreign_words

pytestmark = pytest.mark.model

WER_MARGIN = 0.10
"""A channel's WER may exceed the same channel's without bleed by this much."""


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data_dir = tmp_path_factory.mktemp("data")
    return {**os.environ, "SWESCRIBE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Call]:
    audio("lattlast_stts.wav")  # fails (CI) or skips clearly without ../shared
    wav = tmp_path_factory.mktemp("call") / "call.wav"
    return wav, build_call(AUDIO_DIR, wav, bleed_db=-20.0)


@pytest.fixture(scope="module")
def short_call(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The call's first two turns (about 17 s): for what needs no reference text."""
    audio("lattlast_stts.wav")
    wav = tmp_path_factory.mktemp("call") / "short.wav"
    build_call(AUDIO_DIR, wav, bleed_db=-20.0, says=TWO_PARTY_CALL[:2])
    return wav


@pytest.fixture(scope="module")
def per_channel(base_engine: Engine, call: tuple[Path, Call]) -> Transcript:
    return base_engine.transcribe(call[0], TranscribeOptions(multichannel=True))


@pytest.fixture(scope="module")
def without_bleed(base_engine: Engine, call: tuple[Path, Call]) -> Transcript:
    """The same call, each channel only its own party: what the channels can give."""
    wav = call[0].with_name("clean.wav")
    build_call(AUDIO_DIR, wav, bleed_db=None)
    return base_engine.transcribe(wav, TranscribeOptions(multichannel=True))


def channel_text(transcript: Transcript, channel: int) -> str:
    return " ".join(s.text for s in transcript.segments if s.channel == channel)


def test_no_word_of_one_party_appears_under_the_others_channel(
    per_channel: Transcript, call: tuple[Path, Call], without_bleed: Transcript
) -> None:
    references = call[1].references
    for channel in (0, 1):
        text = channel_text(per_channel, channel)
        other = references[1 - channel]
        assert foreign_words(text, references[channel], other) == [], (channel, text)
        baseline = word_error_rate(references[channel], channel_text(without_bleed, channel))
        wer = word_error_rate(references[channel], text)
        assert wer <= baseline + WER_MARGIN, (channel, wer, baseline, text)


def test_each_segment_carries_its_channel_as_its_speaker_in_time_order(
    per_channel: Transcript,
) -> None:
    segments = per_channel.segments
    assert {s.channel for s in segments} == {0, 1}
    assert all(s.speaker == f"CH{s.channel + 1}" for s in segments if s.channel is not None)
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    assert [s.id for s in segments] == list(range(len(segments)))
    assert segments[0].channel == 0, "party A opens the call"
    assert per_channel.settings is not None
    assert per_channel.settings.multichannel


def test_without_bleed_suppression_the_bleed_is_transcribed_twice(
    base_engine: Engine, call: tuple[Path, Call]
) -> None:
    """The measure's other side: the same call with the suppression off."""
    unsuppressed = base_engine.transcribe(
        call[0], TranscribeOptions(multichannel=True, bleed_margin_db=None)
    )
    references = call[1].references
    duplicated = [
        foreign_words(channel_text(unsuppressed, c), references[c], references[1 - c])
        for c in (0, 1)
    ]
    assert sum(len(words) for words in duplicated) >= 5, duplicated


def test_a_mono_file_with_multichannel_is_transcribed_as_without_it(
    base_engine: Engine,
) -> None:
    clip = audio("cv_18746434.wav")
    transcript = base_engine.transcribe(clip, TranscribeOptions(multichannel=True))
    plain = base_engine.transcribe(clip)
    assert transcript.text
    assert transcript.text == plain.text
    assert [(s.start, s.end) for s in transcript.segments] == [
        (s.start, s.end) for s in plain.segments
    ]
    assert {(s.channel, s.speaker) for s in transcript.segments} == {(None, None)}


def test_with_diarization_one_voice_per_channel_keeps_the_channel_names(
    base_engine: Engine, short_call: Path
) -> None:
    diarized = base_engine.transcribe(
        short_call, TranscribeOptions(multichannel=True, diarize=True)
    )
    assert diarized.diarization is not None
    assert diarized.diarization.speakers == ("CH1", "CH2")
    assert {(s.channel, s.speaker) for s in diarized.segments} == {(0, "CH1"), (1, "CH2")}


def test_the_cli_writes_every_format_per_channel(
    cli_env: dict[str, str], tmp_path: Path, short_call: Path
) -> None:
    out = tmp_path / "out"
    result = swescribe(
        cli_env, "transcribe", str(short_call), "--model", "whisper-base", "--multichannel",
        "--format", "all", "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = (out / "short.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line]  # paragraphs: blank lines between
    assert lines[0].startswith("CH1: ")
    assert {line.split(":")[0] for line in lines} == {"CH1", "CH2"}
    data = json.loads((out / "short.json").read_text(encoding="utf-8"))
    assert {(s["channel"], s["speaker"]) for s in data["segments"]} == {(0, "CH1"), (1, "CH2")}
    assert "\nCH2: " in (out / "short.srt").read_text(encoding="utf-8")
    assert "<v CH2>" in (out / "short.vtt").read_text(encoding="utf-8")
