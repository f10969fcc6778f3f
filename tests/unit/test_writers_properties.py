"""Properties of the format writers for any transcript hypothesis can think of."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from swescribe.core.transcript import Segment, Transcript, Word
from swescribe.engine.writers import MAX_LINE_CHARS, render

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzåäöÅÄÖ0123456789,.?!-", min_size=1, max_size=14)
SRT_TIME = r"\d{2}:\d{2}:\d{2},\d{3}"
VTT_TIME = r"\d{2}:\d{2}:\d{2}\.\d{3}"


@st.composite
def transcripts(draw: st.DrawFn) -> Transcript:
    segments = []
    clock = draw(st.floats(min_value=0, max_value=5000, allow_nan=False))
    for index in range(draw(st.integers(min_value=0, max_value=8))):
        words = draw(st.lists(WORD, min_size=1, max_size=30))
        duration = draw(st.floats(min_value=0.1, max_value=30, allow_nan=False))
        timed = None
        if draw(st.booleans()):
            step = duration / len(words)
            timed = tuple(
                Word(clock + i * step, clock + (i + 1) * step, word, 0.9)
                for i, word in enumerate(words)
            )
        segments.append(Segment(index, clock, clock + duration, " ".join(words), timed))
        clock += duration + draw(st.floats(min_value=0, max_value=3, allow_nan=False))
    text = " ".join(s.text for s in segments)
    return Transcript(text, "sv", clock, tuple(segments), "whisper-base")


def seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.replace(",", ".").split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


@given(transcripts())
@settings(max_examples=200, deadline=None)
def test_srt_is_numbered_timed_in_order_and_wrapped(transcript: Transcript) -> None:
    blocks = [b for b in render(transcript, "srt").split("\n\n") if b.strip()]
    previous_start = -1.0
    for number, block in enumerate(blocks, start=1):
        lines = block.strip("\n").split("\n")
        assert lines[0] == str(number)
        match = re.fullmatch(rf"({SRT_TIME}) --> ({SRT_TIME})", lines[1])
        assert match, lines[1]
        start, end = seconds(match[1]), seconds(match[2])
        assert start <= end
        assert start >= previous_start - 0.001
        previous_start = start
        assert 1 <= len(lines[2:]) <= 2
        for line in lines[2:]:
            assert len(line) <= MAX_LINE_CHARS or " " not in line


@given(transcripts())
@settings(max_examples=200, deadline=None)
def test_vtt_has_its_header_and_every_cue_timed(transcript: Transcript) -> None:
    text = render(transcript, "vtt")
    assert text.startswith("WEBVTT\n")
    for cue in [c for c in text.split("\n\n")[1:] if c.strip()]:
        assert re.fullmatch(rf"{VTT_TIME} --> {VTT_TIME}", cue.split("\n")[0])


@given(transcripts())
@settings(max_examples=200, deadline=None)
def test_every_word_survives_in_every_format(transcript: Transcript) -> None:
    words = transcript.text.split()
    txt = render(transcript, "txt")
    srt_words = " ".join(
        line for block in render(transcript, "srt").split("\n\n") for line in block.split("\n")[2:]
    ).split()
    assert txt.split() == words
    assert srt_words == words
    data = json.loads(render(transcript, "json"))
    assert data["text"] == transcript.text
    assert [s["text"] for s in data["segments"]] == [s.text for s in transcript.segments]
