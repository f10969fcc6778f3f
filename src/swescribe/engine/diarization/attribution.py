"""Speaker turns onto a transcript: every word gets the speaker it overlaps most, a
segment that spans a change of speaker is split there, and speakers are named S1, S2, …
in the order they first speak.

Without word timings (not asked for), each segment's words get times in proportion to
their length, which places a split within a word or two; the segments then carry no
words, as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from swescribe.core.transcript import Segment, SpeakerTurn, Word
from swescribe.engine.diarization.turns import relabel


def _estimated_words(segment: Segment) -> list[Word]:
    texts = segment.text.split()
    if not texts:
        return []
    weights = np.array([len(t) + 1 for t in texts], dtype=float)
    edges = segment.start + (segment.end - segment.start) * np.concatenate(
        [[0.0], np.cumsum(weights) / weights.sum()]
    )
    return [
        Word(float(a), float(b), t, 1.0)
        for t, a, b in zip(texts, edges[:-1], edges[1:], strict=True)
    ]


def speaker_at(start: float, end: float, turns: Sequence[SpeakerTurn]) -> str | None:
    """The speaker whose turns overlap [start, end] the most; failing that, the nearest."""
    if not turns:
        return None
    overlap: dict[str, float] = {}
    for turn in turns:
        shared = min(end, turn.end) - max(start, turn.start)
        if shared > 0:
            overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
    if overlap:
        return max(overlap, key=lambda name: overlap[name])
    middle = (start + end) / 2
    nearest = min(turns, key=lambda t: max(t.start - middle, middle - t.end, 0.0))
    return nearest.speaker


Run = tuple[int, int, str | None]
"""Words first..last-1 of a segment, and their speaker."""

MIN_ESTIMATED_RUN_SECONDS = 0.5
"""Without word timings, a change of speaker for less than this (a word or two, placed
by length alone) is more likely the estimate's error than a turn: it joins a neighbour."""


def _runs(speakers: Sequence[str | None]) -> list[Run]:
    runs: list[Run] = []
    for index, speaker in enumerate(speakers):
        if runs and runs[-1][2] == speaker:
            runs[-1] = (runs[-1][0], index + 1, speaker)
        else:
            runs.append((index, index + 1, speaker))
    return runs


def _absorb_short_runs(runs: list[Run], words: Sequence[Word]) -> list[Run]:
    def short(run: Run) -> bool:
        return words[run[1] - 1].end - words[run[0]].start < MIN_ESTIMATED_RUN_SECONDS

    kept: list[Run] = []
    for run in runs:
        if kept and short(run):
            kept[-1] = (kept[-1][0], run[1], kept[-1][2])
        elif kept and short(kept[-1]) and len(kept) == 1:
            kept[-1] = (kept[-1][0], run[1], run[2])
        else:
            kept.append(run)
    merged: list[Run] = []
    for run in kept:
        if merged and merged[-1][2] == run[2]:
            merged[-1] = (merged[-1][0], run[1], run[2])
        else:
            merged.append(run)
    return merged


def _split(segment: Segment, turns: Sequence[SpeakerTurn]) -> list[Segment]:
    timed = [w for w in segment.words or () if w.word.strip()]
    words = timed or _estimated_words(segment)
    if not words:
        return [replace(segment, speaker=speaker_at(segment.start, segment.end, turns))]
    runs = _runs([speaker_at(w.start, w.end, turns) for w in words])
    if not timed:
        runs = _absorb_short_runs(runs, words)
    if len(runs) == 1:
        speaker = runs[0][2]
        labelled = (
            tuple(replace(w, speaker=speaker) for w in segment.words or ()) if timed else None
        )
        return [replace(segment, speaker=speaker, words=labelled)]
    pieces: list[Segment] = []
    for number, (first, last, speaker) in enumerate(runs):
        start = segment.start if number == 0 else words[first].start
        end = segment.end if number == len(runs) - 1 else words[last - 1].end
        text = " ".join(w.word.strip() for w in words[first:last])
        piece_words = (
            tuple(replace(w, speaker=speaker) for w in words[first:last]) if timed else None
        )
        pieces.append(
            replace(segment, start=start, end=end, text=text, words=piece_words, speaker=speaker)
        )
    return pieces


def attribute(
    segments: Sequence[Segment],
    turns: Sequence[SpeakerTurn],
    known: Mapping[str, str] | None = None,
) -> tuple[list[Segment], list[SpeakerTurn], tuple[str, ...]]:
    """The segments with speakers (split at changes, renumbered), the turns with the same
    names, and the names in order of first appearance. known: the diarizer's speakers
    that keep a name of their own (an enrolled voice); the others are S1, S2, …"""
    labelled = [piece for segment in segments for piece in _split(segment, turns)]
    order: list[str] = []
    for speaker in [s.speaker for s in labelled] + [t.speaker for t in turns]:
        if speaker is not None and speaker not in order:
            order.append(speaker)
    known = known or {}
    unnamed = [raw for raw in order if raw not in known]
    names = {raw: f"S{number}" for number, raw in enumerate(unnamed, start=1)} | {
        raw: name for raw, name in known.items() if raw in order
    }
    renamed = [
        replace(
            segment,
            id=index,
            speaker=names.get(segment.speaker or "", segment.speaker),
            words=None
            if segment.words is None
            else tuple(
                replace(w, speaker=names.get(w.speaker or "", w.speaker)) for w in segment.words
            ),
        )
        for index, segment in enumerate(labelled)
    ]
    spoken = tuple(names[raw] for raw in order)
    return renamed, relabel(turns, names), spoken
