"""Output writers: each format is a pure function from a Transcript to text."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from swescribe.core.errors import InvalidOption
from swescribe.engine.result import Segment, Transcript, Word

MAX_LINE_CHARS = 42
"""Subtitle line length: the common broadcast guideline (e.g. Netflix, SVT) is 42."""
MAX_CUE_LINES = 2


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]


def format_timestamp(seconds: float, decimal_marker: str) -> str:
    """HH:MM:SS<marker>mmm, hours at least two digits, never negative."""
    total_ms = max(0, round(seconds * 1000))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_marker}{millis:03d}"


def wrap_lines(text: str, max_chars: int = MAX_LINE_CHARS) -> tuple[str, ...]:
    """Split a cue's text into at most two balanced lines at a space."""
    text = " ".join(text.split())
    if len(text) <= max_chars or " " not in text:
        return (text,)
    middle = len(text) // 2
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    split_at = min(spaces, key=lambda i: abs(i - middle))
    return (text[:split_at], text[split_at + 1 :])


def _chunk_words(words: Sequence[str], max_chars: int) -> list[list[int]]:
    """Greedy groups of word indices whose joined text fits in max_chars."""
    groups: list[list[int]] = []
    current: list[int] = []
    length = 0
    for index, word in enumerate(words):
        added = len(word) + (1 if current else 0)
        if current and length + added > max_chars:
            groups.append(current)
            current, length = [], 0
            added = len(word)
        current.append(index)
        length += added
    if current:
        groups.append(current)
    return groups


def _cues_from_words(words: tuple[Word, ...], max_chars: int) -> list[Cue]:
    texts = [w.word.strip() for w in words]
    cues = []
    for group in _chunk_words(texts, max_chars):
        text = " ".join(texts[i] for i in group if texts[i])
        cues.append(Cue(words[group[0]].start, words[group[-1]].end, wrap_lines(text)))
    return cues


def _cues_from_text(segment: Segment, max_chars: int) -> list[Cue]:
    """Without word timings, share the segment's time out in proportion to characters."""
    words = segment.text.split()
    groups = _chunk_words(words, max_chars)
    texts = [" ".join(words[i] for i in group) for group in groups]
    total_chars = sum(len(t) for t in texts) or 1
    span = max(0.0, segment.end - segment.start)
    cues, cursor = [], segment.start
    for i, text in enumerate(texts):
        end = segment.end if i == len(texts) - 1 else cursor + span * len(text) / total_chars
        cues.append(Cue(cursor, end, wrap_lines(text)))
        cursor = end
    return cues


def subtitle_cues(
    segments: Sequence[Segment],
    max_line_chars: int = MAX_LINE_CHARS,
    max_lines: int = MAX_CUE_LINES,
) -> list[Cue]:
    """Cut segments into cues of at most max_lines lines of max_line_chars each."""
    max_chars = max_line_chars * max_lines
    cues: list[Cue] = []
    for segment in segments:
        if not segment.text.strip():
            continue
        if len(segment.text.strip()) <= max_chars:
            cues.append(Cue(segment.start, segment.end, wrap_lines(segment.text, max_line_chars)))
        elif segment.words:
            cues.extend(_cues_from_words(segment.words, max_chars))
        else:
            cues.extend(_cues_from_text(segment, max_chars))
    return cues


def to_txt(transcript: Transcript) -> str:
    """One segment a line: readable, and diff-friendly."""
    lines = [s.text.strip() for s in transcript.segments if s.text.strip()]
    return "\n".join(lines) + "\n" if lines else ""


def to_json(transcript: Transcript) -> str:
    return json.dumps(transcript.to_dict(), ensure_ascii=False, indent=2) + "\n"


def to_srt(transcript: Transcript) -> str:
    blocks = []
    for number, cue in enumerate(subtitle_cues(transcript.segments), start=1):
        start = format_timestamp(cue.start, ",")
        end = format_timestamp(cue.end, ",")
        blocks.append(f"{number}\n{start} --> {end}\n" + "\n".join(cue.lines) + "\n")
    return "\n".join(blocks)


def to_vtt(transcript: Transcript) -> str:
    blocks = ["WEBVTT\n"]
    for cue in subtitle_cues(transcript.segments):
        start = format_timestamp(cue.start, ".")
        end = format_timestamp(cue.end, ".")
        blocks.append(f"{start} --> {end}\n" + "\n".join(cue.lines) + "\n")
    return "\n".join(blocks)


WRITERS: dict[str, Callable[[Transcript], str]] = {
    "txt": to_txt,
    "json": to_json,
    "srt": to_srt,
    "vtt": to_vtt,
}
FORMATS: tuple[str, ...] = tuple(WRITERS)


def parse_formats(spec: str | Sequence[str]) -> tuple[str, ...]:
    """'all', 'txt', 'txt,srt' or a list of those -> a tuple of known format names."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for item in (i.strip().lower() for i in items):
        if not item:
            continue
        wanted = FORMATS if item == "all" else (item,)
        for name in wanted:
            if name not in WRITERS:
                raise InvalidOption(
                    f"unknown format {name!r}; choose from {', '.join(FORMATS)} or all"
                )
            if name not in names:
                names.append(name)
    if not names:
        raise InvalidOption("no output format given")
    return tuple(names)


def render(transcript: Transcript, fmt: str) -> str:
    try:
        writer = WRITERS[fmt]
    except KeyError:
        raise InvalidOption(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}") from None
    return writer(transcript)
