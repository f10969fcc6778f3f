"""Two-party calls with one party per channel, built at run time (never stored): each
channel carries its own party and the other party's voice leaking in ("bleed", as a
headset or a phone's second microphone picks it up), at a level given in dB.

Party A (channel 0) is the `lattlast_stts` reader in three turns, which together are the
whole reading; party B (channel 1) is three of the shared espeak-ng clips. Their
references are the clips' own texts, so each channel's words can be checked against its
party and against the other's. Tests (tests/integration/test_multichannel.py) and
bench/multichannel.py use them; utterances are cut and trimmed as in conversations.py.
"""

from __future__ import annotations

import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conversations import SAMPLE_RATE, Say, Turn, utterance
from textnorm import normalise_for_wer

PARTY_PEAK = 0.5
"""Each utterance is scaled to this peak, so the two parties talk equally loud."""

TWO_PARTY_CALL = (
    Say("A", clip="lattlast_stts", cut=(0.0, 12.2), gap=0.0),
    Say("B", clip="espeak_01", gap=0.6),
    Say("A", clip="lattlast_stts", cut=(12.2, 24.4), gap=0.5),
    Say("B", clip="espeak_05", gap=-0.3),
    Say("A", clip="lattlast_stts", cut=(24.4, 31.7), gap=0.7),
    Say("B", clip="espeak_07", gap=0.5),
)
"""About 50 s; B starts 0.3 s before A's second turn ends (both talk at once there)."""
CALL_PARTIES = {"A": 0, "B": 1}
"""The channel of each party."""
CALL_REFERENCES = {"A": ("lattlast_stts",), "B": ("espeak_01", "espeak_05", "espeak_07")}
"""The shared clips whose texts (…/sv/<clip>.txt, in order) are each party's words."""


@dataclass(frozen=True)
class Call:
    turns: list[Turn]
    references: dict[int, str]
    """Each channel's reference text."""


def build_call(
    audio_dir: Path,
    target: Path,
    bleed_db: float | None = -20.0,
    says: Sequence[Say] = TWO_PARTY_CALL,
    parties: dict[str, int] | None = None,
) -> Call:
    """Writes the call as a 16 kHz 16-bit WAV at target, one channel per party, each
    with the others' speech at bleed_db (None: no bleed); returns its turns and texts."""
    parties = parties or CALL_PARTIES
    with tempfile.TemporaryDirectory() as scratch:
        pieces = [utterance(say, audio_dir, Path(scratch)) for say in says]
    pieces = [piece * (PARTY_PEAK / (float(np.abs(piece).max()) or 1.0)) for piece in pieces]
    turns: list[Turn] = []
    cursor = round(0.5 * SAMPLE_RATE)
    starts: list[int] = []
    for say, piece in zip(says, pieces, strict=True):
        start = max(0, cursor + round(say.gap * SAMPLE_RATE)) if starts else cursor
        starts.append(start)
        turns.append(Turn(say.speaker, start / SAMPLE_RATE, (start + piece.size) / SAMPLE_RATE))
        cursor = start + piece.size
    total = max(s + p.size for s, p in zip(starts, pieces, strict=True)) + SAMPLE_RATE // 2
    own = np.zeros((len(set(parties.values())), total))
    for say, start, piece in zip(says, starts, pieces, strict=True):
        own[parties[say.speaker], start : start + piece.size] += piece
    mixed = own.copy()
    if bleed_db is not None:
        gain = 10 ** (bleed_db / 20)
        for channel in range(own.shape[0]):
            mixed[channel] += gain * (own.sum(axis=0) - own[channel])
    write_wav(target, mixed)
    references = {
        channel: " ".join(
            (audio_dir / f"{clip}.txt").read_text(encoding="utf-8").strip()
            for clip in CALL_REFERENCES[party]
        )
        for party, channel in parties.items()
    }
    return Call(turns, references)


def write_wav(target: Path, channels: np.ndarray) -> None:
    """channels (one row each) as a 16 kHz 16-bit WAV, scaled down if it would clip."""
    peak = float(np.abs(channels).max()) or 1.0
    scaled = channels * min(1.0, 0.9 / peak)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(channels.shape[0])
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(np.round(scaled.T * 32767).astype(np.int16).tobytes())


def foreign_words(text: str, own: str, other: str) -> list[str]:
    """The words of text (one channel's transcript) that are the other party's and not
    its own party's: bleed transcribed as if this party had said it."""
    own_words = set(normalise_for_wer(own).split())
    other_words = set(normalise_for_wer(other).split()) - own_words
    return [word for word in normalise_for_wer(text).split() if word in other_words]
