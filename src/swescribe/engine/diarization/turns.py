"""The small operations on speaker turns (core.transcript.SpeakerTurn)."""

from __future__ import annotations

from collections.abc import Iterable

from swescribe.core.transcript import SpeakerTurn


def join_turns(turns: Iterable[SpeakerTurn], gap: float = 0.0) -> list[SpeakerTurn]:
    """Sorted turns with touching (or at most gap apart) turns of one speaker joined."""
    joined: list[SpeakerTurn] = []
    for turn in sorted(turns, key=lambda t: (t.start, t.end)):
        if turn.end <= turn.start:
            continue
        last = joined[-1] if joined else None
        if last is not None and last.speaker == turn.speaker and turn.start - last.end <= gap:
            joined[-1] = SpeakerTurn(last.start, max(last.end, turn.end), last.speaker)
        else:
            joined.append(turn)
    return joined


def relabel(turns: Iterable[SpeakerTurn], names: dict[str, str]) -> list[SpeakerTurn]:
    return [SpeakerTurn(t.start, t.end, names.get(t.speaker, t.speaker)) for t in turns]
