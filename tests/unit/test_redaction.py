"""Redaction (issue 29) as attacks: every way a personnummer can be written must come out
as a tag in the text, the words and every format; text with no personal data stays."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace

import pytest

from swescribe.core.errors import InvalidRequest
from swescribe.core.redaction import REDACTION_KINDS, find_personal_data, parse_kinds, redact_text
from swescribe.core.redaction_transcript import redact_transcript
from swescribe.core.transcript import (
    DecodingStats,
    Diarization,
    KnownSpeaker,
    Segment,
    SpeakerTurn,
    Transcript,
    Word,
)
from swescribe.engine import render

PNR = "8112189876"
"""Skatteverket's example personnummer: 81-12-18, check digit 6."""
SAMORDNING = "8112789873"
"""The same birth date as a samordningsnummer (day 18 + 60), its own check digit."""

PNR_FORMS = [
    "811218-9876",
    "8112189876",
    "811218+9876",
    "811218 9876",
    "811218 - 9876",
    "19811218-9876",
    "198112189876",
    "19811218 9876",
    "19 81 12 18 98 76",
    "81 12 18 98 76",
    "1981 12 18 98 76",
    "811218 98 76",
    "81 12 18-98 76",
    "19, 81, 12, 18, 98, 76",
    "811218\u20139876",
    "811218\u00a09876",
    "19\u202f81\u202f12\u202f18\u202f98\u202f76",
]


def leaks(text: str, number: str = PNR) -> bool:
    """Whether any 4 consecutive digits of the number survive in text (spaces aside)."""
    digits = re.sub(r"\D", "", text)
    return any(number[i : i + 4] in digits for i in range(len(number) - 3))


@pytest.mark.parametrize("form", PNR_FORMS)
def test_no_written_form_of_a_personnummer_leaks_from_text(form: str) -> None:
    redacted = redact_text(f"Mitt personnummer är {form}, tack.")
    assert not leaks(redacted), redacted
    assert redacted == "Mitt personnummer är [PERSONNUMMER], tack."


@pytest.mark.parametrize("form", ["811278-9873", "19811278 9873", "81 12 78 98 73"])
def test_a_samordningsnummer_is_tagged_as_one(form: str) -> None:
    redacted = redact_text(f"Samordningsnumret {form}.")
    assert redacted == "Samordningsnumret [SAMORDNINGSNUMMER].", redacted


def transcript_of(*segment_texts: str, words: bool = True) -> Transcript:
    """A transcript whose words are the texts' whitespace tokens, 0.5 s each."""
    segments = []
    t = 0.0
    for index, text in enumerate(segment_texts):
        start = t
        seg_words = []
        for token in text.split():
            seg_words.append(Word(t, t + 0.4, " " + token, 0.9))
            t += 0.5
        stats = DecodingStats(0, (50364, 1234, 5678), 0.0, -0.2, 1.1, 0.01)
        segments.append(
            Segment(index, start, t, " " + text, tuple(seg_words) if words else None, stats=stats)
        )
    return Transcript(
        text=" ".join(segment_texts),
        language="sv",
        duration=t,
        segments=tuple(segments),
        model="test",
    )


@pytest.mark.parametrize("form", PNR_FORMS)
@pytest.mark.parametrize("fmt", ["txt", "json", "srt", "vtt"])
def test_no_form_leaks_from_words_or_any_format(form: str, fmt: str) -> None:
    transcript = redact_transcript(
        transcript_of(f"Jag heter Anna och mitt nummer är {form} okej"), REDACTION_KINDS
    )
    written = render(transcript, fmt)
    assert not leaks(written), written
    assert "[PERSONNUMMER]" in written


def test_a_personnummer_split_across_segments_does_not_leak() -> None:
    transcript = redact_transcript(
        transcript_of("mitt personnummer är 19 81 12", "18 98 76 och sedan"), REDACTION_KINDS
    )
    for fmt in ("txt", "json", "srt", "vtt"):
        assert not leaks(render(transcript, fmt)), fmt


def test_the_redacted_words_become_one_tag_word_spanning_their_times() -> None:
    transcript = redact_transcript(
        transcript_of("nummer 19 81 12 18 98 76 tack"), ("personnummer",)
    )
    words = transcript.segments[0].words
    assert words is not None
    assert [w.word for w in words] == [" nummer", " [PERSONNUMMER]", " tack"]
    assert (words[1].start, words[1].end) == (0.5, 3.4)
    data = json.loads(render(transcript, "json"))
    assert data["redactions"] == [{"kind": "personnummer", "start": 0.5, "end": 3.4}]


def test_without_words_the_segment_gives_the_time_span() -> None:
    transcript = redact_transcript(
        transcript_of("ring mig på 070-123 45 67", words=False), REDACTION_KINDS
    )
    assert transcript.segments[0].text == " ring mig på [TELEFON]"
    assert transcript.redactions is not None
    assert [(r.kind, r.start, r.end) for r in transcript.redactions] == [("phone", 0.0, 3.0)]


def test_the_tokens_of_a_redacted_segment_are_dropped() -> None:
    """Whisper's token ids spell the text: kept, they would give the number back."""
    transcript = redact_transcript(transcript_of(f"nummer {PNR}", "inget här"), REDACTION_KINDS)
    first, second = transcript.segments
    assert first.stats is not None
    assert first.stats.tokens == ()
    assert second.stats is not None
    assert second.stats.tokens == (50364, 1234, 5678)


def test_the_json_lists_kinds_and_times_never_values() -> None:
    transcript = redact_transcript(
        transcript_of(f"nummer {PNR} och anna@exempel.se"), REDACTION_KINDS
    )
    data = json.loads(render(transcript, "json"))
    assert {r["kind"] for r in data["redactions"]} == {"personnummer", "email"}
    assert "anna@exempel.se" not in render(transcript, "json")
    assert Transcript.from_dict(data).redactions == transcript.redactions


def test_an_unredacted_transcript_has_no_redactions_key() -> None:
    assert "redactions" not in json.loads(render(transcript_of("hej"), "json"))


def test_only_the_kinds_asked_for_are_redacted() -> None:
    text = f"Ring 070-123 45 67 om {PNR}."
    assert redact_text(text, ("phone",)) == f"Ring [TELEFON] om {PNR}."
    assert redact_text(text, ("personnummer",)) == "Ring 070-123 45 67 om [PERSONNUMMER]."


@pytest.mark.parametrize(
    "text",
    [
        "Mitt personnummer är 811218-9877.",  # wrong check digit
        "Det hände 2024 och 1999.",
        "Det kostar 1 500 kronor, eller 12 000 kronor.",
        "Vi ses klockan 14.30 på tisdag.",
        "Mötet är den 2024-03-12.",
        "Ordernummer 4471 2290 33 skickades.",
        "Jag åkte till Lund och sedan Göteborg.",
        "Per person kostar det 300 kronor.",
        "Björn sprang in i skogen.",
        "Vägen var 5 kilometer lång.",
        "Ring 112 om det brinner.",
        "Tabell 3 på sidan 45 visar 1 234 fall.",
        "Det var 19 81 procent i 12 18 fall.",
        "Räkna 0, 1, 2, 3, 4, 5, 6, 7 och 8.",
    ],
)
def test_text_with_no_personal_data_is_left_as_it_is(text: str) -> None:
    assert redact_text(text) == text
    assert find_personal_data(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ring 070-123 45 67.", "Ring [TELEFON]."),
        ("Ring +46 70 123 45 67.", "Ring [TELEFON]."),
        ("Ring 08-123 456 78.", "Ring [TELEFON]."),
        ("Numret är 031 12 34 56.", "Numret är [TELEFON]."),
        ("Mejla anna.svensson@exempel.se i dag.", "Mejla [E-POST] i dag."),
        (
            "Mejla anna punkt svensson snabel-a exempel punkt se i dag.",
            "Mejla [E-POST] i dag.",
        ),
        ("IBAN SE45 5000 0000 0583 9825 7466.", "IBAN [KONTO]."),
        ("Bankgiro 5050-1055.", "Bankgiro [KONTO]."),
        ("Jag bor på Storgatan 12B i Umeå.", "Jag bor på [ADRESS] i Umeå."),
        ("Adressen är Kungsgatan 4, 111 43 Stockholm.", "Adressen är [ADRESS]."),
        ("Hej, jag heter Anna Svensson.", "Hej, jag heter [NAMN]."),
        ("Jag pratade med Erik i går.", "Jag pratade med [NAMN] i går."),
        ("Karin Lindqvist ringde.", "[NAMN] ringde."),
    ],
)
def test_each_kind_is_replaced_by_its_tag(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_kinds_are_parsed_from_a_comma_list_or_all() -> None:
    assert parse_kinds(None) == REDACTION_KINDS
    assert parse_kinds("phone, personnummer") == ("personnummer", "phone")
    assert parse_kinds("iban") == ("account",)
    with pytest.raises(InvalidRequest, match="redact"):
        parse_kinds("shoe_size")


def test_a_four_hour_transcript_is_redacted_in_seconds_not_minutes() -> None:
    """Every search looks back a bounded window and finds overlaps by bisection: the
    time grows with the length, not its square (a first version took 33 s here)."""
    tokens = [
        "och",
        "det",
        "är",
        "Anna",
        "ringde",
        "Storgatan",
        "12",
        "kronor",
        "1",
        "500",
        "070-123",
        "45",
        "67",
        "811218-9876",
    ]
    segments = [" ".join(tokens[(i + j) % len(tokens)] for j in range(10)) for i in range(4000)]
    transcript = transcript_of(*segments)
    started = time.perf_counter()
    redacted = redact_transcript(transcript, REDACTION_KINDS)
    assert time.perf_counter() - started < 15.0
    assert "811218" not in render(redacted, "json")  # (timings make any 4 digits)
    assert not leaks(render(redacted, "txt"))


def test_known_speakers_names_are_redacted_as_names_from_labels_too() -> None:
    """A speaker named by an enrolled voice (issue 28) is a name in every format."""
    plain = transcript_of("hej hej", "tack")
    anna = Word(0.0, 0.4, " hej", 0.9, "Anna")
    segments = (
        replace(plain.segments[0], words=(anna, replace(anna, start=0.5)), speaker="Anna"),
        replace(plain.segments[1], words=(replace(anna, speaker="S1"),), speaker="S1"),
    )
    diarization = Diarization(
        "resemblyzer-ge2e",
        ("Anna", "S1"),
        (SpeakerTurn(0.0, 1.0, "Anna"), SpeakerTurn(1.0, 1.5, "S1")),
        known_speakers=(KnownSpeaker("Anna", "spk_0123456789abcdef", 0.9),),
    )
    transcript = replace(plain, segments=segments, diarization=diarization)
    redacted = redact_transcript(transcript, ("name",))
    for fmt in ("txt", "json", "srt", "vtt"):
        written = render(redacted, fmt)
        assert "Anna" not in written, fmt
        assert "S1" in written, fmt
    assert redacted.diarization is not None
    assert redacted.diarization.speakers == ("[NAMN1]", "S1")
    assert "Anna" in render(redact_transcript(transcript, ("phone",)), "txt")
