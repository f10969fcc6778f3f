"""The coverage measure: speech (by VAD) that no word or segment of a transcript covers."""

from __future__ import annotations

from collections.abc import Sequence

from swescribe.core.transcript import Coverage, Segment

WORD_PAD_SECONDS = 0.25
"""A word covers this much around its own timing: the pauses inside a phrase are not
missing text."""


def measure_coverage(
    speech: Sequence[tuple[float, float]],
    segments: Sequence[Segment],
    redecoded_seconds: float = 0.0,
) -> Coverage:
    """Speech seconds, and the speech no text covers: word timings where the segments
    have them (finer), segment spans where they don't."""
    spans: list[tuple[float, float]] = []
    for segment in segments:
        if segment.words:
            spans.extend(
                (w.start - WORD_PAD_SECONDS, w.end + WORD_PAD_SECONDS) for w in segment.words
            )
        else:
            spans.append((segment.start, segment.end))
    covered = _union(spans)
    uncovered: list[tuple[float, float]] = []
    for start, end in _union(list(speech)):
        uncovered.extend(_subtract(start, end, covered))
    longest = max(uncovered, key=lambda hole: hole[1] - hole[0], default=None)
    return Coverage(
        speech_seconds=float(sum(end - start for start, end in _union(list(speech)))),
        uncovered_seconds=float(sum(end - start for start, end in uncovered)),
        longest_uncovered=0.0 if longest is None else float(longest[1] - longest[0]),
        longest_uncovered_at=None if longest is None else float(longest[0]),
        redecoded_seconds=redecoded_seconds,
    )


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(
    start: float, end: float, covered: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The parts of [start, end] outside every covered span (covered: sorted, disjoint)."""
    holes: list[tuple[float, float]] = []
    position = start
    for cover_start, cover_end in covered:
        if cover_end <= position:
            continue
        if cover_start >= end:
            break
        if cover_start > position:
            holes.append((position, cover_start))
        position = max(position, cover_end)
    if position < end:
        holes.append((position, end))
    return holes
