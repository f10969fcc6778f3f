"""LocalAgreement-2 over a growing audio buffer (whisper_streaming, Macháček et al. 2023).

Each decode of a turn's buffer gives a hypothesis: timed words. A word is confirmed when
two consecutive hypotheses agree on it, as a prefix of what is not yet confirmed; the
rest of the latest hypothesis is the tentative tail. Confirmed words are never taken
back: a later hypothesis that disagrees about them only loses its overlap with them.
Pure: no model, no audio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

OVERLAP_TOLERANCE = 0.1
"""A hypothesis word starting this close before the confirmed end may still be new."""
MAX_OVERLAP_WORDS = 5
"""A hypothesis that repeats up to this many of the last confirmed words loses them."""


@dataclass(frozen=True)
class TimedWord:
    start: float
    """Seconds on the session's timeline."""
    end: float
    text: str
    """As Whisper wrote it, with its leading space."""

    @property
    def key(self) -> str:
        """What agreement compares: case and punctuation do not block a word."""
        return "".join(ch for ch in self.text.lower() if ch.isalnum())


class LocalAgreement:
    """The confirmed words of one turn and the tentative tail after them."""

    def __init__(self, floor: float = 0.0) -> None:
        self.floor = floor
        """Words ending before this belong to audio heard only as context."""
        self.confirmed: list[TimedWord] = []
        self._tentative: list[TimedWord] = []

    @property
    def tentative(self) -> list[TimedWord]:
        return list(self._tentative)

    @property
    def confirmed_end(self) -> float:
        """Where the last confirmed word ends (0 before any)."""
        return self.confirmed[-1].end if self.confirmed else 0.0

    def update(self, hypothesis: Sequence[TimedWord]) -> list[TimedWord]:
        """Take the latest decode's words; returns the words it newly confirms."""
        new = self._beyond_confirmed(hypothesis)
        agreed = 0
        while (
            agreed < min(len(new), len(self._tentative))
            and new[agreed].key == self._tentative[agreed].key
        ):
            agreed += 1
        confirmed = new[:agreed]
        self.confirmed.extend(confirmed)
        self._tentative = new[agreed:]
        return confirmed

    def finish(self) -> list[TimedWord]:
        """The turn is over: its tentative tail is final. Returns the words it adds."""
        rest = self._tentative
        self.confirmed.extend(rest)
        self._tentative = []
        return rest

    def _beyond_confirmed(self, hypothesis: Sequence[TimedWord]) -> list[TimedWord]:
        """The hypothesis without the words that the confirmed ones already cover: by time,
        then by text (up to MAX_OVERLAP_WORDS repeated at the seam)."""
        if not self.confirmed:
            return [word for word in hypothesis if word.end > self.floor]
        limit = max(self.confirmed_end - OVERLAP_TOLERANCE, self.floor)
        new = [word for word in hypothesis if word.start > limit and word.end > self.floor]
        for size in range(min(MAX_OVERLAP_WORDS, len(new), len(self.confirmed)), 0, -1):
            tail = [w.key for w in self.confirmed[-size:]]
            if [w.key for w in new[:size]] == tail:
                return new[size:]
        return new


def trim_point(segment_ends: Sequence[float], confirmed_end: float) -> float | None:
    """The latest end of a decoded segment that all confirmed words reach past (every word
    before it is confirmed), or None: the buffer may be cut there without cutting a word
    or a phrase (whisper_streaming's segment trimming)."""
    reached = [end for end in segment_ends if end <= confirmed_end + 1e-6]
    return max(reached) if reached else None
