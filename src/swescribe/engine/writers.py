"""Output writers: each format is a pure function from a Transcript to text."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from swescribe.core.errors import InvalidOption
from swescribe.core.formats import FORMATS
from swescribe.core.layout import SubtitleLayout
from swescribe.core.transcript import Transcript
from swescribe.engine.subtitles import MAX_CUE_LINES, MAX_LINE_CHARS, Cue, subtitle_cues, wrap_lines

__all__ = [
    "MAX_CUE_LINES",
    "MAX_LINE_CHARS",
    "WRITERS",
    "Cue",
    "format_timestamp",
    "parse_formats",
    "render",
    "subtitle_cues",
    "wrap_lines",
]
DEFAULT_LAYOUT = SubtitleLayout()


def format_timestamp(seconds: float, decimal_marker: str) -> str:
    """HH:MM:SS<marker>mmm, hours at least two digits, never negative."""
    total_ms = max(0, round(seconds * 1000))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_marker}{millis:03d}"


def to_txt(transcript: Transcript) -> str:
    """One segment a line (readable, and diff-friendly), a blank line between
    paragraphs. Diarized: one paragraph a line, after its speaker (`S1: …`)."""
    paragraphs = transcript.paragraphs
    if any(s.speaker for s in transcript.segments):
        blocks = [f"{p.speaker or '?'}: {p.text}" for p in paragraphs]
    else:
        by_id = {s.id: s.text.strip() for s in transcript.segments}
        blocks = ["\n".join(by_id[i] for i in p.segment_ids) for p in paragraphs]
    return "\n\n".join(blocks) + "\n" if blocks else ""


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


def _layout_cues(transcript: Transcript, layout: SubtitleLayout) -> list[Cue]:
    return subtitle_cues(
        transcript.segments, layout.max_line_width, layout.max_lines, layout.max_cue_seconds
    )


def to_srt(transcript: Transcript, layout: SubtitleLayout = DEFAULT_LAYOUT) -> str:
    """Diarized: a cue whose speaker is not the previous cue's starts with `S2: `."""
    blocks = []
    previous: str | None = None
    for number, cue in enumerate(_layout_cues(transcript, layout), start=1):
        start = format_timestamp(cue.start, ",")
        end = format_timestamp(cue.end, ",")
        lines = list(cue.lines)
        if cue.speaker is not None and cue.speaker != previous:
            lines[0] = f"{cue.speaker}: {lines[0]}"
        previous = cue.speaker
        text = "\n".join(srt_cue_text(line) for line in lines)
        blocks.append(f"{number}\n{start} --> {end}\n{text}\n")
    return "\n".join(blocks)


def to_vtt(transcript: Transcript, layout: SubtitleLayout = DEFAULT_LAYOUT) -> str:
    blocks = ["WEBVTT\n"]
    for cue in _layout_cues(transcript, layout):
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
SUBTITLE_WRITERS: dict[str, Callable[[Transcript, SubtitleLayout], str]] = {
    "srt": to_srt,
    "vtt": to_vtt,
}
"""The formats a SubtitleLayout lays out."""
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


def render(transcript: Transcript, fmt: str, layout: SubtitleLayout = DEFAULT_LAYOUT) -> str:
    """transcript in format fmt; layout: how subtitles (srt, vtt) are laid out."""
    if fmt in SUBTITLE_WRITERS:
        return SUBTITLE_WRITERS[fmt](transcript, layout)
    try:
        writer = WRITERS[fmt]
    except KeyError:
        raise InvalidOption(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}") from None
    return writer(transcript)
