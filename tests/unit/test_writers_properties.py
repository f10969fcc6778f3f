"""Properties of the format writers for any transcript hypothesis can think of."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from swescribe.core.layout import MIN_CUE_SECONDS, MIN_LINE_WIDTH, MIN_LINES, SubtitleLayout
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


LAYOUTS = st.builds(
    SubtitleLayout,
    st.integers(min_value=MIN_LINE_WIDTH, max_value=60),
    st.integers(min_value=MIN_LINES, max_value=4),
    st.one_of(st.none(), st.floats(min_value=MIN_CUE_SECONDS, max_value=10)),
)


@given(transcripts(), LAYOUTS)
@settings(max_examples=300, deadline=None)
def test_any_layout_bounds_lines_cues_and_durations_and_keeps_every_word(
    transcript: Transcript, layout: SubtitleLayout
) -> None:
    """Issue 29: a longer line or cue only where one word is longer than the bound."""
    srt = render(transcript, "srt", layout)
    said: list[str] = []
    for block in [b for b in srt.split("\n\n") if b.strip()]:
        lines = block.strip("\n").split("\n")
        match = re.fullmatch(rf"({SRT_TIME}) --> ({SRT_TIME})", lines[1])
        assert match, lines[1]
        text = lines[2:]
        assert 1 <= len(text) <= layout.max_lines
        assert all(line.strip() for line in text), "never a cue without text"
        assert all(len(line) <= layout.max_line_width or " " not in line for line in text)
        duration = seconds(match[2]) - seconds(match[1])
        one_word = len(" ".join(text).split()) == 1
        if layout.max_cue_seconds is not None and not one_word:
            assert duration <= layout.max_cue_seconds + 0.002
        said.extend(" ".join(text).split())
    assert said == transcript.text.split()
    vtt = render(transcript, "vtt", layout)
    assert vtt.count(" --> ") == srt.count(" --> ")
