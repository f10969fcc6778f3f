"""How subtitles are laid out: line width, lines per cue, and the longest cue.

One typed value the writers take; a job's request carries its fields (core.request)
and worker.options.subtitle_layout turns one into the other.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LINE_WIDTH = 42
"""Subtitle line length: the common broadcast guideline (e.g. Netflix, SVT) is 42."""
DEFAULT_LINES = 2
MIN_LINE_WIDTH = 10
MAX_LINE_WIDTH = 200
MIN_LINES = 1
MAX_LINES = 10
MIN_CUE_SECONDS = 0.5
MAX_CUE_SECONDS = 600.0


@dataclass(frozen=True)
class SubtitleLayout:
    """Cues of at most max_lines lines of max_line_width characters (a longer word
    stands on its own line, uncut), each at most max_cue_seconds long where the words'
    timings allow (None: as long as the segment)."""

    max_line_width: int = DEFAULT_LINE_WIDTH
    max_lines: int = DEFAULT_LINES
    max_cue_seconds: float | None = None


def layout_problem(
    max_line_width: int, max_lines: int, max_cue_seconds: float | None
) -> str | None:
    """Why a layout cannot be used, naming the field; None when it can."""
    if not MIN_LINE_WIDTH <= max_line_width <= MAX_LINE_WIDTH:
        return f"max_line_width must be between {MIN_LINE_WIDTH} and {MAX_LINE_WIDTH}"
    if not MIN_LINES <= max_lines <= MAX_LINES:
        return f"max_lines must be between {MIN_LINES} and {MAX_LINES}"
    if max_cue_seconds is not None and not MIN_CUE_SECONDS <= max_cue_seconds <= MAX_CUE_SECONDS:
        return f"max_cue_seconds must be between {MIN_CUE_SECONDS:g} and {MAX_CUE_SECONDS:g}"
    return None
