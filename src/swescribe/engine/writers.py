"""Output writers: each format is a pure function from a Transcript to text."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from swescribe.core.errors import InvalidOption
from swescribe.core.formats import FORMATS
from swescribe.core.transcript import Segment, Transcript

MAX_LINE_CHARS = 42
"""Subtitle line length: the common broadcast guideline (e.g. Netflix, SVT) is 42."""
MAX_CUE_LINES = 2


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None


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
    fitting = [i for i in spaces if i <= max_chars and len(text) - i - 1 <= max_chars]
    split_at = min(fitting or spaces, key=lambda i: abs(i - middle))
    return (text[:split_at], text[split_at + 1 :])


def _cue_groups(words: Sequence[str], max_line_chars: int, max_lines: int) -> list[list[int]]:
    """Word indices per cue: greedy lines of at most max_line_chars, max_lines per cue."""
    lines: list[list[int]] = []
    length = 0
    for index, word in enumerate(words):
        if lines and lines[-1] and length + 1 + len(word) <= max_line_chars:
            lines[-1].append(index)
            length += 1 + len(word)
        else:
            lines.append([index])
            length = len(word)
    cues = [lines[i : i + max_lines] for i in range(0, len(lines), max_lines)]
    return [[index for line in cue for index in line] for cue in cues]


def subtitle_cues(
    segments: Sequence[Segment],
    max_line_chars: int = MAX_LINE_CHARS,
    max_lines: int = MAX_CUE_LINES,
) -> list[Cue]:
    """Cut segments into cues of at most max_lines lines of max_line_chars each.

    A segment that needs several cues is cut on word timings when there are any, and
    otherwise shares its time out in proportion to the characters of each cue.
    """
    cues: list[Cue] = []
    for segment in segments:
        timed = [w for w in segment.words or () if w.word.strip()]
        words = [w.word.strip() for w in timed] if timed else segment.text.split()
        if not words:
            continue
        groups = _cue_groups(words, max_line_chars, max_lines)
        texts = [" ".join(words[i] for i in group) for group in groups]
        who = segment.speaker
        if len(groups) == 1:
            cues.append(Cue(segment.start, segment.end, wrap_lines(texts[0], max_line_chars), who))
        elif timed:
            for group, text in zip(groups, texts, strict=True):
                start, end = timed[group[0]].start, timed[group[-1]].end
                cues.append(Cue(start, end, wrap_lines(text, max_line_chars), who))
        else:
            total_chars = sum(len(t) for t in texts)
            span = max(0.0, segment.end - segment.start)
            cursor = segment.start
            for number, text in enumerate(texts, start=1):
                last = number == len(texts)
                end = segment.end if last else cursor + span * len(text) / total_chars
                cues.append(Cue(cursor, end, wrap_lines(text, max_line_chars), who))
                cursor = end
    return cues


def to_txt(transcript: Transcript) -> str:
    """One segment a line: readable, and diff-friendly. Diarized: one turn a line, after
    its speaker (`S1: …`)."""
    if any(s.speaker for s in transcript.segments):
        return _txt_turns(transcript.segments)
    lines = [s.text.strip() for s in transcript.segments if s.text.strip()]
    return "\n".join(lines) + "\n" if lines else ""


def _txt_turns(segments: Sequence[Segment]) -> str:
    turns: list[tuple[str | None, list[str]]] = []
    for segment in segments:
        text = segment.text.strip()
        if not text:
            continue
        if turns and turns[-1][0] == segment.speaker:
            turns[-1][1].append(text)
        else:
            turns.append((segment.speaker, [text]))
    lines = [f"{speaker or '?'}: {' '.join(texts)}" for speaker, texts in turns]
    return "\n".join(lines) + "\n" if lines else ""


def to_json(transcript: Transcript) -> str:
    return json.dumps(transcript.to_dict(), ensure_ascii=False, indent=2) + "\n"


def vtt_cue_text(line: str) -> str:
    """WebVTT cue text: `&`, `<` and `>` as character references (the spec's escapes), so
    text is never read as a tag or entity, and `-->` (which would end the cue) cannot
    appear, its `>` being escaped."""
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def vtt_voice_name(name: str) -> str:
    """A voice span's annotation (`<v NAME>`): one line, and escaped like cue text, so a
    name cannot close the tag or end the cue."""
    return vtt_cue_text(" ".join(name.split()))


def srt_cue_text(line: str) -> str:
    """SRT has no escapes: the text stays as spoken, except that an arrow `-->`, which a
    parser would take for a timing line, is shortened to `->`."""
    while "-->" in line:
        line = line.replace("-->", "->")
    return line


def to_srt(transcript: Transcript) -> str:
    """Diarized: a cue whose speaker is not the previous cue's starts with `S2: `."""
    blocks = []
    previous: str | None = None
    for number, cue in enumerate(subtitle_cues(transcript.segments), start=1):
        start = format_timestamp(cue.start, ",")
        end = format_timestamp(cue.end, ",")
        lines = list(cue.lines)
        if cue.speaker is not None and cue.speaker != previous:
            lines[0] = f"{cue.speaker}: {lines[0]}"
        previous = cue.speaker
        text = "\n".join(srt_cue_text(line) for line in lines)
        blocks.append(f"{number}\n{start} --> {end}\n{text}\n")
    return "\n".join(blocks)


def to_vtt(transcript: Transcript) -> str:
    blocks = ["WEBVTT\n"]
    for cue in subtitle_cues(transcript.segments):
        start = format_timestamp(cue.start, ".")
        end = format_timestamp(cue.end, ".")
        text = "\n".join(vtt_cue_text(line) for line in cue.lines)
        if cue.speaker is not None:
            text = f"<v {vtt_voice_name(cue.speaker)}>{text}</v>"
        blocks.append(f"{start} --> {end}\n{text}\n")
    return "\n".join(blocks)


WRITERS: dict[str, Callable[[Transcript], str]] = {
    "txt": to_txt,
    "json": to_json,
    "srt": to_srt,
    "vtt": to_vtt,
}
assert tuple(WRITERS) == FORMATS, "a writer for every format, in the same order"


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
