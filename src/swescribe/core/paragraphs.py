"""Paragraphs: a transcript's segments grouped for reading.

A paragraph ends at a long pause, where the speaker changes, and, once it is long
(in time or in sentences), at the next sentence end; never inside a segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from swescribe.core.transcript import Segment

PAUSE_SECONDS = 2.0
"""Silence between segments that starts a new paragraph."""
LONG_PARAGRAPH_SECONDS = 60.0
LONG_PARAGRAPH_SENTENCES = 5
"""A paragraph this long (in seconds or sentences) ends at its next sentence end."""
SENTENCE_ENDS = (".", "!", "?", "…")


@dataclass(frozen=True)
class Paragraph:
    start: float
    end: float
    text: str
    segment_ids: tuple[int, ...]
    speaker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"start": round(self.start, 3), "end": round(self.end, 3)}
        if self.speaker is not None:
            data["speaker"] = self.speaker
        return data | {"text": self.text, "segment_ids": list(self.segment_ids)}


def split_paragraphs(segments: Sequence[Segment]) -> tuple[Paragraph, ...]:
    """segments (those with text) grouped into paragraphs, in order."""
    groups: list[list[Segment]] = []
    for segment in segments:
        if not segment.text.strip():
            continue
        if not groups or _starts_paragraph(groups[-1], segment):
            groups.append([segment])
        else:
            groups[-1].append(segment)
    return tuple(_paragraph(group) for group in groups)


def _starts_paragraph(current: list[Segment], segment: Segment) -> bool:
    last = current[-1]
    if segment.speaker != last.speaker or segment.start - last.end >= PAUSE_SECONDS:
        return True
    if not last.text.strip().endswith(SENTENCE_ENDS):
        return False
    sentences = sum(_sentence_count(s.text) for s in current)
    seconds = last.end - current[0].start
    return seconds >= LONG_PARAGRAPH_SECONDS or sentences >= LONG_PARAGRAPH_SENTENCES


def _sentence_count(text: str) -> int:
    words = text.split()
    return sum(1 for w in words if w.rstrip("\"')»”").endswith(SENTENCE_ENDS))


def _paragraph(group: list[Segment]) -> Paragraph:
    text = " ".join(s.text.strip() for s in group)
    ids = tuple(s.id for s in group)
    return Paragraph(group[0].start, group[-1].end, text, ids, group[0].speaker)
