"""Paragraphs: segments grouped at long pauses, speaker changes, and sentence ends once
a paragraph is long; in the JSON and as blank lines in the txt."""

from __future__ import annotations

import json

from swescribe.core.paragraphs import Paragraph, split_paragraphs
from swescribe.core.transcript import Segment, Transcript
from swescribe.engine.writers import render


def transcript_of(*segments: Segment) -> Transcript:
    return Transcript(" ".join(s.text for s in segments), "sv", 600.0, segments, "whisper-base")


def test_a_long_pause_starts_a_paragraph_and_a_short_one_does_not() -> None:
    segments = (
        Segment(0, 0.0, 2.0, "Hej och välkomna."),
        Segment(1, 2.5, 4.0, "I dag pratar vi om väder."),
        Segment(2, 7.0, 9.0, "Först regnet."),
    )
    assert split_paragraphs(segments) == (
        Paragraph(0.0, 4.0, "Hej och välkomna. I dag pratar vi om väder.", (0, 1)),
        Paragraph(7.0, 9.0, "Först regnet.", (2,)),
    )


def test_a_speaker_change_starts_a_paragraph_with_its_speaker() -> None:
    segments = (
        Segment(0, 0.0, 2.0, "Hur mår du?", speaker="S1"),
        Segment(1, 2.1, 3.0, "Bra.", speaker="S2"),
        Segment(2, 3.1, 4.0, "Och du?", speaker="S2"),
    )
    found = split_paragraphs(segments)
    assert [(p.speaker, p.segment_ids) for p in found] == [("S1", (0,)), ("S2", (1, 2))]


def test_a_long_paragraph_ends_at_a_sentence_end_never_mid_sentence() -> None:
    segments = tuple(
        Segment(i, i * 10.0, i * 10.0 + 9.5, "Det här är en mening" if i % 2 else "som slutar här.")
        for i in range(21)
    )
    found = split_paragraphs(segments)
    assert len(found) > 1
    assert all(p.text.endswith(".") for p in found)
    assert all(p.end - p.start <= 60.0 + 20.0 for p in found)
    assert [i for p in found for i in p.segment_ids] == list(range(21))


def test_many_sentences_make_several_paragraphs_even_when_quick() -> None:
    segments = tuple(Segment(i, i * 2.0, i * 2.0 + 1.9, f"Mening {i}.") for i in range(15))
    found = split_paragraphs(segments)
    assert 2 <= len(found) <= 5


def test_the_json_lists_paragraphs_with_times_text_and_segment_ids() -> None:
    transcript = transcript_of(
        Segment(0, 0.0, 2.0, "Hej.", speaker="S1"), Segment(1, 5.0, 6.0, "Hallå.", speaker="S2")
    )
    data = json.loads(render(transcript, "json"))
    assert data["paragraphs"] == [
        {"start": 0.0, "end": 2.0, "speaker": "S1", "text": "Hej.", "segment_ids": [0]},
        {"start": 5.0, "end": 6.0, "speaker": "S2", "text": "Hallå.", "segment_ids": [1]},
    ]
    plain = json.loads(render(transcript_of(Segment(0, 0.0, 2.0, "Hej.")), "json"))
    assert plain["paragraphs"] == [{"start": 0.0, "end": 2.0, "text": "Hej.", "segment_ids": [0]}]


def test_txt_has_a_blank_line_between_paragraphs() -> None:
    transcript = transcript_of(
        Segment(0, 0.0, 2.0, "Hej och välkomna."),
        Segment(1, 2.5, 4.0, "I dag pratar vi om väder."),
        Segment(2, 7.0, 9.0, "Först regnet."),
    )
    assert render(transcript, "txt") == (
        "Hej och välkomna.\nI dag pratar vi om väder.\n\nFörst regnet.\n"
    )


def test_diarized_txt_names_the_speaker_once_per_paragraph() -> None:
    transcript = transcript_of(
        Segment(0, 0.0, 2.0, "Hur mår du?", speaker="S1"),
        Segment(1, 2.1, 3.0, "Bra.", speaker="S2"),
        Segment(2, 3.1, 4.0, "Och du?", speaker="S2"),
        Segment(3, 9.0, 10.0, "Tack.", speaker="S2"),
    )
    assert render(transcript, "txt") == "S1: Hur mår du?\n\nS2: Bra. Och du?\n\nS2: Tack.\n"
