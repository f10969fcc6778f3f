"""JobRequest: every transcription option declared, normalised and checked once, stored
flat beside the job, and mapped to the engine's options in one function."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from swescribe.core.errors import InvalidRequest
from swescribe.core.jobs import Job, JobStatus, job_from_record, job_to_record, utcnow
from swescribe.core.layout import SubtitleLayout
from swescribe.core.request import (
    MAX_HOTWORDS_CHARS,
    MAX_PROMPT_CHARS,
    MAX_SPEAKERS,
    REQUEST_FIELDS,
    JobRequest,
)
from swescribe.core.voices import Voiceprint
from swescribe.worker.options import subtitle_layout, transcribe_options

EVERY_OPTION_SET = JobRequest(
    language="en",
    model="kb-whisper-small",
    formats=("srt", "json", "srt"),
    word_timestamps=True,
    speakers=3,
    task="translate",
    prompt="  Ljungqvist, Ödeshög ",
    hotwords=" Ödeshög ",
    temperature=0.4,
    known_speakers=("Anna",),
    multichannel=True,
    max_line_width=30,
    max_lines=3,
    max_cue_seconds=4.5,
    redact=("phone", "personnummer", "phone"),
)
NOT_THE_ENGINES = {"model", "formats", "redact"}
"""Options the worker uses itself: which engine runs, which results are stored, what is
redacted from them (after the engine, core.redaction_transcript)."""
THE_WRITERS = {"max_line_width", "max_lines", "max_cue_seconds"}
"""Options of the output writers (worker.options.subtitle_layout)."""


def test_a_request_is_normalised_when_made() -> None:
    assert EVERY_OPTION_SET.formats == ("srt", "json")
    assert EVERY_OPTION_SET.diarize  # a speaker count implies it
    assert EVERY_OPTION_SET.prompt == "Ljungqvist, Ödeshög"
    assert EVERY_OPTION_SET.hotwords == "Ödeshög"
    assert JobRequest(prompt="   ", hotwords="").prompt is None
    assert EVERY_OPTION_SET.redact == ("personnummer", "phone")
    assert JobRequest().redact == ()


@pytest.mark.parametrize(
    "bad",
    [
        {"language": "svenska"},
        {"language": "SV"},
        {"model": "../../etc/passwd"},
        {"model": "x" * 65},
        {"formats": ()},
        {"formats": ("txt", "docx")},
        {"task": "summarize"},
        {"prompt": "x" * (MAX_PROMPT_CHARS + 1)},
        {"hotwords": "x" * (MAX_HOTWORDS_CHARS + 1)},
        {"speakers": 0},
        {"speakers": MAX_SPEAKERS + 1},
        {"temperature": -0.1},
        {"temperature": 1.5},
        {"redact": ("personnummer", "shoe_size")},
    ],
)
def test_a_request_that_cannot_work_is_refused_with_a_reason(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest, match=next(iter(bad))):
        JobRequest(**bad)


def test_the_request_is_stored_flat_beside_the_job_and_reads_back_equal() -> None:
    now = utcnow()
    job = Job("j1", "k", JobStatus.REGISTERED, now, now, request=EVERY_OPTION_SET)
    record = job_to_record(job)
    assert record["hotwords"] == "Ödeshög"
    assert record["formats"] == ["srt", "json"]
    assert record["redact"] == ["personnummer", "phone"]
    assert "request" not in record
    assert job_from_record(record) == job


def test_a_record_from_before_an_option_existed_reads_with_its_default() -> None:
    now = utcnow()
    record = job_to_record(Job("j1", "k", JobStatus.REGISTERED, now, now))
    for name in ("hotwords", "temperature", "speakers", "diarize", "multichannel"):
        del record[name]
    assert job_from_record(record).request == JobRequest()


def test_every_option_reaches_the_engine_through_the_one_mapping() -> None:
    anna = Voiceprint("spk_0123456789abcdef", "Anna", utcnow(), (1.0, 0.0), 3.0)
    options = transcribe_options(EVERY_OPTION_SET, max_seconds=60.0, voices=[anna])
    assert options.known_voices == (anna,), "known_speakers, resolved by VoiceRegistry.chosen"
    assert (options.language, options.task, options.temperature) == ("en", "translate", 0.4)
    assert (options.word_timestamps, options.diarize, options.speakers) == (True, True, 3)
    assert (options.initial_prompt, options.hotwords) == ("Ljungqvist, Ödeshög", "Ödeshög")
    assert options.max_seconds == 60.0
    assert options.multichannel
    mapped = {
        "language",
        "word_timestamps",
        "diarize",
        "speakers",
        "task",
        "prompt",
        "hotwords",
        "temperature",
        "known_speakers",
        "multichannel",
    }
    assert subtitle_layout(EVERY_OPTION_SET) == SubtitleLayout(30, 3, 4.5)
    assert set(REQUEST_FIELDS) == mapped | NOT_THE_ENGINES | THE_WRITERS, (
        "a new option needs its mapping"
    )
    assert [f.name for f in fields(JobRequest)] == list(REQUEST_FIELDS)


def test_the_defaults_map_to_the_engines_defaults() -> None:
    options = transcribe_options(JobRequest())
    assert (options.language, options.diarize, options.speakers) == ("sv", False, None)
    assert (options.initial_prompt, options.hotwords, options.temperature) == (None, None, None)
    assert not options.multichannel
