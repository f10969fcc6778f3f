"""The JSON transcript reads back (Transcript.from_dict) as the transcript it was written
from, the record of what it was made with included; JSON written before that record
existed still reads."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest
from hypothesis import given, settings

from swescribe.core.errors import InvalidOption
from swescribe.core.transcript import (
    Coverage,
    DecodingStats,
    Diarization,
    Segment,
    SpeakerTurn,
    Timings,
    Transcript,
    Word,
)
from swescribe.core.transcription_settings import EngineVersions, TranscriptionSettings, VadSettings
from swescribe.engine import DecoderKnobs, TranscribeOptions, Unsure, render
from swescribe.engine.whisper_options import generate_options
from tests.unit.test_writers_properties import transcripts

SETTINGS = TranscriptionSettings(
    model="kb-whisper-small",
    device="cuda",
    compute_type="float16",
    language=None,
    task="transcribe",
    beam_size=5,
    batch_size=16,
    temperature=0.2,
    word_timestamps=True,
    window_seconds=600.0,
    vad=VadSettings(enabled=True, min_silence_ms=160, max_speech_seconds=30.0),
    initial_prompt=True,
    hotwords=False,
    diarize=True,
    speakers=None,
    min_speakers=2,
    max_speakers=3,
    decoder=asdict(
        DecoderKnobs(max_passes=2, selective_beam=True, unsure=Unsure(avg_logprob=-0.7))
    ),
    extra=("patience", "temperature"),
    versions=EngineVersions("0.1.0", "1.1.1", "4.5.0"),
)

DIARIZED = Transcript(
    text="Hej hej. Vem där?",
    language="sv",
    language_probability=0.9876,
    duration=12.5,
    segments=(
        Segment(
            0,
            0.5,
            2.25,
            "Hej hej.",
            (Word(0.5, 1.0, "Hej", 0.9, "S1"), Word(1.1, 2.25, "hej.", 0.8765, "S1")),
            stats=DecodingStats(50, (50364, 1234, 50464), 0.0, -0.2345, 1.1, 0.0123),
            speaker="S1",
        ),
        Segment(1, 3.0, 4.5, "Vem där?", (), stats=None, speaker="S2"),
    ),
    model="kb-whisper-small",
    device="cuda",
    compute_type="float16",
    timings=Timings(decode=0.25, transcribe=3.5, total=4.0),
    batch_size=16,
    coverage=Coverage(10.0, 0.5, 0.5, 2.25, 1.25),
    task="transcribe",
    diarization=Diarization(
        model="resemblyzer-ge2e",
        speakers=("S1", "S2"),
        turns=(SpeakerTurn(0.5, 2.25, "S1"), SpeakerTurn(3.0, 4.5, "S2")),
        seconds=0.75,
        warning="pyannote did not load; the offline model was used",
    ),
    settings=SETTINGS,
)


def read_back(transcript: Transcript) -> Transcript:
    return Transcript.from_dict(json.loads(render(transcript, "json")))


def test_a_diarized_transcript_with_words_stats_and_settings_reads_back_equal() -> None:
    assert read_back(DIARIZED) == DIARIZED


def test_a_plain_transcript_reads_back_equal() -> None:
    plain = Transcript("Hej.", "sv", 1.0, (Segment(0, 0.0, 1.0, "Hej."),), "whisper-base")
    assert read_back(plain) == plain


@given(transcripts())
@settings(max_examples=100, deadline=None)
def test_any_transcript_reads_back_to_the_same_json(transcript: Transcript) -> None:
    written = render(transcript, "json")
    assert render(Transcript.from_dict(json.loads(written)), "json") == written


def test_json_written_before_the_settings_record_still_reads() -> None:
    data = json.loads(render(DIARIZED, "json"))
    del data["settings"]
    del data["diarization"]["warning"]
    old = Transcript.from_dict(data)
    assert old.settings is None
    assert old.diarization is not None
    assert old.diarization.warning is None
    assert old.segments == DIARIZED.segments
    assert "settings" not in json.loads(render(old, "json"))


def test_the_settings_record_is_written_under_its_own_key_and_the_others_stay() -> None:
    data = json.loads(render(DIARIZED, "json"))
    recorded = data["settings"]
    assert recorded["initial_prompt"] is True
    assert recorded["hotwords"] is False
    assert recorded["vad"] == {"enabled": True, "min_silence_ms": 160, "max_speech_seconds": 30.0}
    assert recorded["decoder"]["unsure"]["avg_logprob"] == -0.7
    assert recorded["versions"] == {
        "swescribe": "0.1.0",
        "faster_whisper": "1.1.1",
        "ctranslate2": "4.5.0",
    }
    without = json.loads(render(replace(DIARIZED, settings=None), "json"))
    assert data.keys() - without.keys() == {"settings"}


def test_decoder_knobs_are_checked_when_made() -> None:
    with pytest.raises(InvalidOption):
        DecoderKnobs(max_passes=0)
    with pytest.raises(InvalidOption):
        DecoderKnobs(encoder_floor=5000)
    with pytest.raises(InvalidOption):
        TranscribeOptions(decoder={"max_passes": 1})  # type: ignore[arg-type]


def test_a_decoder_knob_given_in_extra_is_refused_with_where_it_belongs() -> None:
    with pytest.raises(InvalidOption, match=r"TranscribeOptions\.decoder"):
        generate_options(TranscribeOptions(extra={"max_passes": 1}), tokenizer=None)
