"""Redaction applied to a whole transcript: its text, its segments' texts and its
words, so that every format written from it holds tags where the values were.

The segments are searched as one running text (a number split between two segments is
still found); so are the words. A redacted span's words become one word, the tag,
from the first word's start to the last word's end. Whisper's token ids of a segment
with a redaction are dropped: they spell the text."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace

from swescribe.core.redaction import TAGS, Found, find_personal_data, redact_text
from swescribe.core.transcript import (
    Diarization,
    Redaction,
    Segment,
    SpeakerTurn,
    Transcript,
    Word,
)


@dataclass(frozen=True)
class _Piece:
    """Where one segment's text (or one word) lies in the running text."""

    start: int
    end: int
    segment: int
    word: int = -1


def redact_transcript(transcript: Transcript, kinds: Sequence[str]) -> Transcript:
    """The transcript with the personal data of kinds replaced by tags, and the list
    of what was redacted (kind, seconds) in Transcript.redactions."""
    texts, text_finds = _redact_segment_texts(transcript.segments, kinds)
    words, word_finds = _redact_words(transcript.segments, kinds)
    segments = []
    for index, segment in enumerate(transcript.segments):
        changed = texts[index] != segment.text or words[index] != segment.words
        stats = segment.stats
        if changed and stats is not None:
            stats = replace(stats, tokens=())
        segments.append(replace(segment, text=texts[index], words=words[index], stats=stats))
    everyone_has_words = all(s.words is not None for s in transcript.segments)
    redactions = word_finds if everyone_has_words and transcript.segments else text_finds
    redacted = replace(
        transcript,
        text=redact_text(transcript.text, kinds),
        segments=tuple(segments),
        redactions=tuple(sorted(redactions, key=lambda r: r.start)),
    )
    return _without_known_speakers_names(redacted) if "name" in kinds else redacted


def _without_known_speakers_names(transcript: Transcript) -> Transcript:
    """Speakers labelled with an enrolled voice's name (issue 28) relabelled [NAMN1],
    [NAMN2], … in the segments, the words and the diarization; S1, S2 … stay."""
    diarization = transcript.diarization
    if diarization is None or not diarization.known_speakers:
        return transcript
    names = {k.label: f"[NAMN{n}]" for n, k in enumerate(diarization.known_speakers, 1)}

    def label(speaker: str | None) -> str | None:
        return None if speaker is None else names.get(speaker, speaker)

    segments = tuple(
        replace(
            s,
            speaker=label(s.speaker),
            words=None
            if s.words is None
            else tuple(replace(w, speaker=label(w.speaker)) for w in s.words),
        )
        for s in transcript.segments
    )
    relabelled = Diarization(
        diarization.model,
        tuple(names.get(s, s) for s in diarization.speakers),
        tuple(
            SpeakerTurn(t.start, t.end, names.get(t.speaker, t.speaker)) for t in diarization.turns
        ),
        diarization.seconds,
        diarization.warning,
        tuple(replace(k, label=names[k.label]) for k in diarization.known_speakers),
    )
    return replace(transcript, segments=segments, diarization=relabelled)


def _redact_segment_texts(
    segments: Sequence[Segment], kinds: Sequence[str]
) -> tuple[list[str], list[Redaction]]:
    pieces: list[_Piece] = []
    running = ""
    for index, segment in enumerate(segments):
        if running and not segment.text[:1].isspace():
            running += " "
        pieces.append(_Piece(len(running), len(running) + len(segment.text), index))
        running += segment.text
    found = find_personal_data(running, kinds)
    per_segment: list[list[Found]] = [[] for _ in segments]
    redactions = []
    for item in found:
        touched = [p.segment for p in _overlapping(pieces, item)]
        for index in touched:
            per_segment[index].append(item)
        if touched:
            first, last = segments[touched[0]], segments[touched[-1]]
            redactions.append(Redaction(item.kind, first.start, last.end))
    texts = [
        _replace_within(segment.text, piece, finds) if finds else segment.text
        for piece, segment, finds in zip(pieces, segments, per_segment, strict=True)
    ]
    return texts, redactions


def _overlapping(pieces: Sequence[_Piece], item: Found) -> Sequence[_Piece]:
    """The pieces (in order, none overlapping) that item overlaps, found by bisection."""
    first = bisect_right(pieces, item.start, key=lambda p: p.end)
    last = bisect_left(pieces, item.end, key=lambda p: p.start)
    return pieces[first:last]


def _replace_within(text: str, piece: _Piece, found: Sequence[Found]) -> str:
    """text (lying at piece in the running text) with the finds replaced: the tag where
    a find starts, nothing where one that started earlier goes on."""
    out = []
    at = 0
    for item in found:
        if item.end <= piece.start or item.start >= piece.end:
            continue
        start, end = max(item.start, piece.start) - piece.start, min(item.end, piece.end)
        out += [text[at:start], TAGS[item.kind] if item.start >= piece.start else ""]
        at = end - piece.start
    return "".join(out) + text[at:]


def _redact_words(
    segments: Sequence[Segment], kinds: Sequence[str]
) -> tuple[list[tuple[Word, ...] | None], list[Redaction]]:
    pieces: list[_Piece] = []
    running = ""
    for index, segment in enumerate(segments):
        for number, word in enumerate(segment.words or ()):
            if running and not word.word[:1].isspace():
                running += " "
            pieces.append(_Piece(len(running), len(running) + len(word.word), index, number))
            running += word.word
    found = find_personal_data(running, kinds)
    new_words = [None if s.words is None else list(s.words) for s in segments]
    gone: set[tuple[int, int]] = set()
    redactions = []
    for item in found:
        touched = _overlapping(pieces, item)
        if not touched:
            continue
        head, tail = touched[0], touched[-1]
        first = segments[head.segment].words[head.word]  # type: ignore[index]
        last = segments[tail.segment].words[tail.word]  # type: ignore[index]
        text = (
            first.word[: max(0, item.start - head.start)]
            + TAGS[item.kind]
            + last.word[item.end - tail.start :]
        )
        probability = min(
            segments[p.segment].words[p.word].probability  # type: ignore[index]
            for p in touched
        )
        tag = Word(first.start, last.end, text, probability, first.speaker)
        new_words[head.segment][head.word] = tag  # type: ignore[index]
        gone |= {(p.segment, p.word) for p in touched[1:]}
        redactions.append(Redaction(item.kind, first.start, last.end))
    kept: list[tuple[Word, ...] | None] = [
        None
        if words is None
        else tuple(w for number, w in enumerate(words) if (index, number) not in gone)
        for index, words in enumerate(new_words)
    ]
    return kept, redactions


SILENCE_PADDING_SECONDS = 0.15
"""Added before and after each redacted span when the audio is silenced: word timings
are estimates, and a clipped first or last syllable could still be heard."""


def silent_spans(
    transcript: Transcript, padding: float = SILENCE_PADDING_SECONDS
) -> tuple[tuple[float, float], ...]:
    """The stretches of audio (seconds) to silence for the transcript's redactions:
    each padded, overlapping ones merged, in order."""
    spans: list[tuple[float, float]] = []
    for r in sorted(transcript.redactions or (), key=lambda r: r.start):
        start, end = max(0.0, round(r.start - padding, 3)), round(r.end + padding, 3)
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return tuple(spans)
