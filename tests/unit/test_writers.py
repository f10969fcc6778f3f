"""Format writers against hand-written expected output."""

from __future__ import annotations

import itertools
import json

import pytest

from swescribe.core.errors import InvalidOption
from swescribe.core.transcript import Segment, Transcript, Word
from swescribe.engine.writers import (
    format_timestamp,
    parse_formats,
    render,
    subtitle_cues,
    wrap_lines,
)


def make_transcript(*segments: Segment) -> Transcript:
    return Transcript(
        text=" ".join(s.text for s in segments),
        language="sv",
        duration=3725.5,
        segments=segments,
        model="whisper-base",
    )


TWO_SEGMENTS = make_transcript(
    Segment(0, 0.0, 2.5, "Har du fortfarande samma nummer?"),
    Segment(1, 3661.042, 3663.25, "Jag lämnar dig."),
)


def test_timestamps_use_comma_for_srt_and_dot_for_vtt_with_hours_and_rounding() -> None:
    assert format_timestamp(0, ",") == "00:00:00,000"
    assert format_timestamp(3661.042, ",") == "01:01:01,042"
    assert format_timestamp(3663.9995, ".") == "01:01:04.000"
    assert format_timestamp(-0.2, ".") == "00:00:00.000"
    assert format_timestamp(360000.0, ",") == "100:00:00,000"


def test_txt_is_one_segment_per_line() -> None:
    # an hour apart: two paragraphs, so a blank line between them (issue 29)
    assert render(TWO_SEGMENTS, "txt") == "Har du fortfarande samma nummer?\n\nJag lämnar dig.\n"


def test_srt_matches_hand_written_output() -> None:
    expected = (
        "1\n"
        "00:00:00,000 --> 00:00:02,500\n"
        "Har du fortfarande samma nummer?\n"
        "\n"
        "2\n"
        "01:01:01,042 --> 01:01:03,250\n"
        "Jag lämnar dig.\n"
    )
    assert render(TWO_SEGMENTS, "srt") == expected


def test_vtt_matches_hand_written_output() -> None:
    expected = (
        "WEBVTT\n"
        "\n"
        "00:00:00.000 --> 00:00:02.500\n"
        "Har du fortfarande samma nummer?\n"
        "\n"
        "01:01:01.042 --> 01:01:03.250\n"
        "Jag lämnar dig.\n"
    )
    assert render(TWO_SEGMENTS, "vtt") == expected


def test_json_has_text_language_duration_segments_model_and_timings() -> None:
    data = json.loads(render(TWO_SEGMENTS, "json"))
    assert data["text"] == "Har du fortfarande samma nummer? Jag lämnar dig."
    assert data["language"] == "sv"
    assert data["duration"] == 3725.5
    assert data["model"] == "whisper-base"
    assert data["segments"][1] == {
        "id": 1,
        "start": 3661.042,
        "end": 3663.25,
        "text": "Jag lämnar dig.",
    }
    assert set(data["timings"]) == {"decode", "transcribe", "total"}
    assert "ä" in render(TWO_SEGMENTS, "json"), "JSON keeps Swedish letters readable"


def test_json_includes_words_only_when_asked_for() -> None:
    words = (Word(0.0, 0.4, "Jag", 0.9), Word(0.5, 1.0, "lämnar", 0.8))
    transcript = make_transcript(Segment(0, 0.0, 1.0, "Jag lämnar", words))
    data = json.loads(render(transcript, "json"))
    assert data["segments"][0]["words"][1] == {
        "start": 0.5,
        "end": 1.0,
        "word": "lämnar",
        "probability": 0.8,
    }
    assert "words" not in json.loads(render(TWO_SEGMENTS, "json"))["segments"][0]


def test_long_lines_wrap_into_two_balanced_lines_of_at_most_42_chars() -> None:
    text = "Vanliga kännetecken för lättlästa texter är att de har en luftig layout"
    lines = wrap_lines(text)
    assert len(lines) == 2
    assert all(len(line) <= 42 for line in lines)
    assert " ".join(lines) == text


def test_long_segment_without_words_is_split_into_cues_sharing_its_time() -> None:
    text = " ".join(["ord"] * 60)  # 239 characters: needs three cues of <= 84
    cues = subtitle_cues([Segment(0, 10.0, 40.0, text)])
    assert len(cues) == 3
    assert cues[0].start == 10.0
    assert cues[-1].end == 40.0
    assert all(a.end == b.start for a, b in itertools.pairwise(cues))
    assert all(len(line) <= 42 for cue in cues for line in cue.lines)
    assert all(len(cue.lines) <= 2 for cue in cues)


def test_long_segment_with_words_is_split_on_word_timings() -> None:
    words = tuple(Word(i * 0.5, i * 0.5 + 0.4, "ordet", 0.9) for i in range(30))
    segment = Segment(0, 0.0, 15.0, " ".join(["ordet"] * 30), words)
    cues = subtitle_cues([segment])
    assert len(cues) == 3  # 14 words of 'ordet' fit in 84 characters
    assert cues[0].start == 0.0
    assert cues[0].end == pytest.approx(13 * 0.5 + 0.4)
    assert cues[1].start == pytest.approx(14 * 0.5)


def test_empty_transcript_gives_empty_text_and_header_only_subtitles() -> None:
    empty = make_transcript()
    assert render(empty, "txt") == ""
    assert render(empty, "srt") == ""
    assert render(empty, "vtt") == "WEBVTT\n"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("all", ("txt", "json", "srt", "vtt")),
        ("srt", ("srt",)),
        ("txt,srt,txt", ("txt", "srt")),
        (["JSON", "vtt"], ("json", "vtt")),
    ],
)
def test_parse_formats_accepts_names_lists_and_all(spec: str, expected: tuple[str, ...]) -> None:
    assert parse_formats(spec) == expected


@pytest.mark.parametrize("spec", ["docx", "", "txt,pdf"])
def test_parse_formats_rejects_unknown_or_empty(spec: str) -> None:
    with pytest.raises(InvalidOption):
        parse_formats(spec)


# Text that looks like markup or a timing line (a prompt or a fake transcript can produce it)

MARKUP = make_transcript(
    Segment(0, 0.0, 2.0, "Tom & Jerry <b>fet</b> <script>alert(1)</script>"),
    Segment(1, 2.0, 4.0, "00:00:09.000 --> 00:00:10.000 pil"),
)


def test_vtt_cue_text_escapes_ampersand_angle_brackets_and_never_holds_an_arrow() -> None:
    vtt = render(MARKUP, "vtt")
    cues = [cue.split("\n") for cue in vtt.split("\n\n")[1:] if cue.strip()]
    assert len(cues) == 2
    text = "\n".join(line for cue in cues for line in cue[1:])
    assert "Tom &amp; Jerry &lt;b&gt;fet&lt;/b&gt;" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<" not in text
    assert ">" not in text
    assert "-->" not in text, "an arrow in cue text ends the cue in a WebVTT parser"
    assert "00:00:09.000 --&gt; 00:00:10.000 pil" in text
    assert sum("-->" in line for line in vtt.splitlines()) == 2, "one timing line per cue"


def test_srt_keeps_the_words_but_no_cue_text_reads_as_a_timing_line() -> None:
    srt = render(MARKUP, "srt")
    blocks = [block.split("\n") for block in srt.split("\n\n") if block.strip()]
    assert [block[0] for block in blocks] == ["1", "2"]
    assert sum("-->" in line for line in srt.splitlines()) == 2, "one timing line per cue"
    text = " ".join(line for block in blocks for line in block[2:])
    assert "Tom & Jerry <b>fet</b>" in text
    assert "00:00:09.000 -> 00:00:10.000 pil" in text
