"""Segments cut into subtitle cues as a SubtitleLayout asks: lines broken at word
boundaries, cues timed from word timings (else by characters), never a cue without text."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from swescribe.core.layout import DEFAULT_LINE_WIDTH, DEFAULT_LINES
from swescribe.core.transcript import Segment, Word

MAX_LINE_CHARS = DEFAULT_LINE_WIDTH
"""Subtitle line length: the common broadcast guideline (e.g. Netflix, SVT) is 42."""
MAX_CUE_LINES = DEFAULT_LINES


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None


@dataclass(frozen=True)
class _Draft:
    """A cue before its lines are laid out: its time and the indices of its words."""

    start: float
    end: float
    words: list[int]


def wrap_lines(text: str, max_chars: int = MAX_LINE_CHARS) -> tuple[str, ...]:
    """Split a cue's text into at most two balanced lines at a space."""
    text = " ".join(text.split())
    if len(text) <= max_chars or " " not in text:
        return (text,)
    middle = len(text) // 2
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    fitting = [i for i in spaces if i <= max_chars and len(text) - i - 1 <= max_chars]
    split_at = min(fitting or spaces, key=lambda i: abs(i - middle))
    return (text[:split_at], text[split_at + 1 :])


def _greedy_lines(words: Sequence[str], max_line_chars: int) -> list[list[int]]:
    """Word indices per line: as many words as fit; a longer word on a line of its own."""
    lines: list[list[int]] = []
    length = 0
    for index, word in enumerate(words):
        if lines and lines[-1] and length + 1 + len(word) <= max_line_chars:
            lines[-1].append(index)
            length += 1 + len(word)
        else:
            lines.append([index])
            length = len(word)
    return lines


def _cue_groups(words: Sequence[str], max_line_chars: int, max_lines: int) -> list[list[int]]:
    """Word indices per cue: greedy lines of at most max_line_chars, max_lines per cue."""
    lines = _greedy_lines(words, max_line_chars)
    cues = [lines[i : i + max_lines] for i in range(0, len(lines), max_lines)]
    return [[index for line in cue for index in line] for cue in cues]


def _cue_lines(words: Sequence[str], max_line_chars: int) -> tuple[str, ...]:
    """A cue's lines: two balanced ones when it needs two, else as many as fill."""
    lines = _greedy_lines(words, max_line_chars)
    if len(lines) == 2:
        return wrap_lines(" ".join(words), max_line_chars)
    return tuple(" ".join(words[i] for i in line) for line in lines)


def subtitle_cues(
    segments: Sequence[Segment],
    max_line_chars: int = MAX_LINE_CHARS,
    max_lines: int = MAX_CUE_LINES,
    max_cue_seconds: float | None = None,
) -> list[Cue]:
    """Cut segments into cues of at most max_lines lines of max_line_chars each, and at
    most max_cue_seconds long where the words allow (a cue holds at least one word).

    A segment that needs several cues is cut on word timings when there are any, and
    otherwise shares its time out in proportion to the characters of each cue.
    """
    cues: list[Cue] = []
    for segment in segments:
        timed = [w for w in segment.words or () if w.word.strip()]
        words = [w.word.strip() for w in timed] if timed else segment.text.split()
        if not words:
            continue
        drafts = _drafts(segment, timed, words, _cue_groups(words, max_line_chars, max_lines))
        if max_cue_seconds is not None:
            drafts = [
                part
                for draft in drafts
                for part in _shortened(draft, timed, words, max_cue_seconds)
            ]
        for draft in drafts:
            lines = _cue_lines([words[i] for i in draft.words], max_line_chars)
            cues.append(Cue(draft.start, draft.end, lines, segment.speaker))
    return cues


def _drafts(
    segment: Segment, timed: Sequence[Word], words: Sequence[str], groups: list[list[int]]
) -> list[_Draft]:
    if len(groups) == 1:
        return [_Draft(segment.start, segment.end, groups[0])]
    if timed:
        return [_Draft(timed[g[0]].start, timed[g[-1]].end, g) for g in groups]
    texts = [" ".join(words[i] for i in group) for group in groups]
    total_chars = sum(len(t) for t in texts)
    span = max(0.0, segment.end - segment.start)
    drafts = []
    cursor = segment.start
    for number, (group, text) in enumerate(zip(groups, texts, strict=True), start=1):
        end = segment.end if number == len(texts) else cursor + span * len(text) / total_chars
        drafts.append(_Draft(cursor, end, group))
        cursor = end
    return drafts


def _shared(lengths: Sequence[int], start: float, end: float) -> list[tuple[float, float]]:
    """start..end shared out by characters (a word with the space after it); back to
    back, the last ending at end."""
    weights = [n + 1 for n in lengths[:-1]] + [lengths[-1]]
    total = sum(weights) or 1
    bounds = [start]
    done = 0
    for weight in weights[:-1]:
        done += weight
        bounds.append(start + (end - start) * done / total)
    bounds.append(end)
    return list(itertools.pairwise(bounds))


def _shortened(
    draft: _Draft, timed: Sequence[Word], words: Sequence[str], max_seconds: float
) -> list[_Draft]:
    """draft cut where it runs past max_seconds, at word boundaries: on word timings
    when there are any, else on the characters' share of its time."""
    if draft.end - draft.start <= max_seconds or len(draft.words) == 1:
        return [draft]
    if timed:
        spans = [(timed[i].start, timed[i].end) for i in draft.words]
    else:
        spans = _shared([len(words[i]) for i in draft.words], draft.start, draft.end)
    parts: list[_Draft] = []
    first = 0
    for position in range(1, len(spans) + 1):
        ends = position == len(spans)
        if ends or spans[position][1] - spans[first][0] > max_seconds:
            parts.append(
                _Draft(spans[first][0], spans[position - 1][1], draft.words[first:position])
            )
            first = position
    return parts
