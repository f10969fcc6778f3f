"""Subtitle layout as the user asks: line width, lines per cue and cue length reach the
SRT and VTT writers; lines break at word boundaries and a cue always has text."""

from __future__ import annotations

import itertools
import re

import pytest

from swescribe.core.errors import InvalidRequest
from swescribe.core.layout import SubtitleLayout
from swescribe.core.request import JobRequest
from swescribe.core.transcript import Segment, Transcript, Word
from swescribe.engine.writers import render
from swescribe.worker.options import subtitle_layout

SENTENCE = (
    "Vanliga kännetecken för lättlästa texter är att de har en luftig layout och "
    "korta meningar som inte kräver att läsaren håller många saker i huvudet samtidigt"
)
TIMING = re.compile(r"(\d{2}):(\d{2}):(\d{2})[,.](\d{3}) --> (\d{2}):(\d{2}):(\d{2})[,.](\d{3})")


def transcript_of(*segments: Segment) -> Transcript:
    return Transcript(" ".join(s.text for s in segments), "sv", 60.0, segments, "whisper-base")


def timed_segment(text: str, start: float = 0.0, step: float = 1.0) -> Segment:
    words = tuple(
        Word(start + i * step, start + i * step + step * 0.8, f" {w}", 0.9)
        for i, w in enumerate(text.split())
    )
    return Segment(0, start, start + len(words) * step, text, words)


def cues_of(subtitles: str) -> list[tuple[float, float, list[str]]]:
    """(start, end, text lines) of each cue in an SRT or VTT file."""
    cues = []
    for block in subtitles.strip().split("\n\n"):
        lines = block.split("\n")
        for number, line in enumerate(lines):
            if found := TIMING.match(line):
                v = [int(g) for g in found.groups()]
                start = v[0] * 3600 + v[1] * 60 + v[2] + v[3] / 1000
                end = v[4] * 3600 + v[5] * 60 + v[6] + v[7] / 1000
                cues.append((start, end, lines[number + 1 :]))
    return cues


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
@pytest.mark.parametrize("width", [20, 32, 60])
def test_max_line_width_bounds_every_line_and_keeps_every_word(fmt: str, width: int) -> None:
    out = render(transcript_of(Segment(0, 0.0, 30.0, SENTENCE)), fmt, SubtitleLayout(width))
    lines = [line for _, _, text in cues_of(out) for line in text]
    assert max(len(line) for line in lines) <= width
    assert " ".join(lines).split() == SENTENCE.split(), "broken at word boundaries only"
    if width == 60:
        assert max(len(line) for line in lines) > 42, "wider than the default when asked"


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
@pytest.mark.parametrize("max_lines", [1, 3])
def test_max_lines_sets_the_lines_per_cue(fmt: str, max_lines: int) -> None:
    out = render(
        transcript_of(Segment(0, 0.0, 30.0, SENTENCE)), fmt, SubtitleLayout(max_lines=max_lines)
    )
    cues = cues_of(out)
    assert max(len(text) for _, _, text in cues) == max_lines
    assert all(len(line) <= 42 for _, _, text in cues for line in text)


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_max_cue_seconds_cuts_cues_on_word_timings(fmt: str) -> None:
    segment = timed_segment("ett två tre fyra fem sex sju åtta nio tio elva tolv")
    out = render(transcript_of(segment), fmt, SubtitleLayout(max_cue_seconds=3.0))
    cues = cues_of(out)
    assert all(end - start <= 3.0 for start, end, _ in cues)
    assert [start for start, _, _ in cues] == [0.0, 3.0, 6.0, 9.0], "cue starts on a word"
    assert " ".join(line for _, _, text in cues for line in text) == segment.text


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_max_cue_seconds_without_word_timings_shares_time_by_characters(fmt: str) -> None:
    segment = Segment(0, 10.0, 30.0, "ett två tre fyra fem sex sju åtta nio tio")
    cues = cues_of(render(transcript_of(segment), fmt, SubtitleLayout(max_cue_seconds=5.0)))
    assert len(cues) >= 4
    assert all(end - start <= 5.0 + 0.001 for start, end, _ in cues)
    assert cues[0][0] == 10.0
    assert cues[-1][1] == 30.0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cues)), "no gap, no overlap"
    assert all(text and all(text) for _, _, text in cues), "never a cue without text"


def test_a_word_longer_than_the_line_stands_alone_uncut_and_a_long_word_keeps_its_cue() -> None:
    long_word = "Donaudampfschifffahrtsgesellschaftskapitän"
    segment = Segment(0, 0.0, 4.0, f"en {long_word} till")
    words = (Word(0.0, 0.5, " en", 0.9), Word(0.5, 3.5, f" {long_word}", 0.9))
    words += (Word(3.5, 4.0, " till", 0.9),)
    timed = Segment(0, 0.0, 4.0, segment.text, words)
    for source in (segment, timed):
        out = render(transcript_of(source), "srt", SubtitleLayout(10, 2, 1.0))
        lines = [line for _, _, text in cues_of(out) for line in text]
        assert long_word in lines
        assert " ".join(lines).split() == segment.text.split()


def test_the_defaults_are_todays_two_lines_of_42() -> None:
    transcript = transcript_of(Segment(0, 0.0, 30.0, SENTENCE))
    assert render(transcript, "srt") == render(transcript, "srt", SubtitleLayout(42, 2, None))
    assert SubtitleLayout() == SubtitleLayout(42, 2, None)


@pytest.mark.parametrize(
    "bad",
    [
        {"max_line_width": 5},
        {"max_line_width": 1000},
        {"max_lines": 0},
        {"max_lines": 11},
        {"max_cue_seconds": 0.1},
        {"max_cue_seconds": 1000.0},
    ],
)
def test_a_layout_out_of_bounds_is_refused_with_a_reason(bad: dict[str, float]) -> None:
    with pytest.raises(InvalidRequest, match=next(iter(bad))):
        JobRequest(**bad)  # type: ignore[arg-type]


def test_the_job_fields_map_to_the_writers_layout() -> None:
    request = JobRequest(max_line_width=30, max_lines=3, max_cue_seconds=4.5)
    assert subtitle_layout(request) == SubtitleLayout(30, 3, 4.5)
    assert subtitle_layout(JobRequest()) == SubtitleLayout()
