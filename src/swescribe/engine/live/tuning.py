"""The live engine's knobs, in one value: what ships, and what the bench and tests vary."""

from __future__ import annotations

from dataclasses import dataclass

from swescribe.core.errors import InvalidOption


@dataclass(frozen=True)
class LiveTuning:
    step_seconds: float = 1.0
    """New audio in a turn before it is decoded again (whisper_streaming's min chunk)."""
    trim_seconds: float = 10.0
    """A buffer longer than this is cut at the end of its last confirmed segment."""
    max_buffer_seconds: float = 25.0
    """A buffer longer than this (no segment confirmed to cut at) has its tentative words
    confirmed and is cut after them: a decode never sees more than Whisper's 30 s."""
    max_undecoded_seconds: float = 30.0
    """Audio a session may hold that no decode has seen; appending more is refused."""
    max_batch: int = 8
    """Sessions decoded together in one call."""
    beam_size: int = 1
    """Beam of the decodes while a turn grows (greedy: they are many and short)."""
    final_beam_size: int = 5
    """Beam of a turn's last decode, which settles its tentative tail."""
    left_context_seconds: float = 8.0
    """A new turn's buffer begins with the recent turns that began this close before it:
    heard again, their words left out. A turn of one phrase alone is too little context
    for Whisper (docs/performance.md, "Live")."""
    pause_decode_ms: int = 200
    """A pause this long inside a turn has the turn decoded at once with the final beam:
    if the pause becomes the turn's end (`silence_ms`), that decode is its last and the
    turn completes without waiting for another (0: no such decode)."""
    prompt_previous_turns: bool = False
    """Whether the prompt carries the text of the session's earlier turns, not only the
    turn's own confirmed text before its buffer: whisper-base then copies earlier
    phrases into the new turn (docs/performance.md, "Live")."""
    idle_keep_ms: int = 1000
    """Audio kept between turns, for the next turn's padding and the VAD's start delay."""

    def __post_init__(self) -> None:
        if self.step_seconds <= 0 or self.trim_seconds <= 0:
            raise InvalidOption("step_seconds and trim_seconds must be positive")
        if not self.trim_seconds <= self.max_buffer_seconds <= 30.0:
            raise InvalidOption("max_buffer_seconds must lie between trim_seconds and 30")
        if self.max_undecoded_seconds <= 0:
            raise InvalidOption("max_undecoded_seconds must be positive")
        if self.pause_decode_ms < 0:
            raise InvalidOption("pause_decode_ms must not be negative")
        if min(self.max_batch, self.beam_size, self.final_beam_size) < 1:
            raise InvalidOption("max_batch and the beam sizes must be at least 1")
