"""Long-form human speech built from the shared clips: continuous reading, other voices
between, pauses of varied length. Real recordings (interviews, lectures) are long
stretches of continuous speech; the short clips cannot show what a transcriber does
with a 30 s chunk of it. Tests and the bench build these at run time, never in the repo.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Piece:
    clip: str
    speed: float = 1.0
    """Played this much faster (a resampling: tempo and pitch move together)."""
    pause_after: float = 0.6


MIX_A = (
    Piece("lattlast_stts", pause_after=0.5),
    Piece("cv_18746434", pause_after=0.5),
    Piece("lattlast_stts", pause_after=0.5),
    Piece("cv_18733516", pause_after=0.5),
    Piece("lattlast_stts"),
)
"""Three readings of lattlast_stts with two Common Voice clips between (107 s): the file
on which the old engine left 24.6-34.2 s and 53.9-67.7 s empty."""

MIX_B = (
    Piece("cv_18748646", pause_after=0.3),
    Piece("cv_18716987", pause_after=1.2),
    Piece("lattlast_stts", pause_after=0.6),
    Piece("cv_18746511", pause_after=0.3),
    Piece("cv_18711295", pause_after=1.2),
    Piece("lattlast_stts", pause_after=0.6),
    Piece("cv_18742722", pause_after=0.3),
    Piece("cv_18746434", pause_after=1.2),
    Piece("cv_18733516"),
)
"""The human clips in another order than longform_reading, with shorter and longer
pauses (96 s): what CI transcribes besides the shared long-form file."""

MIX_MINUTES = tuple(
    piece
    for speed, voice in zip(
        (0.94, 1.0, 1.05, 0.97, 1.03, 0.95),
        ("cv_18746434", "cv_18711295", "cv_18733516", "cv_18716987", "cv_18746511", "cv_18748646"),
        strict=True,
    )
    for piece in (Piece("lattlast_stts", speed, 0.4), Piece(voice, pause_after=0.8))
)
"""Six readings at speeds from 0.94x to 1.05x, each followed by another voice (3.7 min)."""

MIXES = {"longform_mix_a": MIX_A, "longform_mix_b": MIX_B, "longform_minutes": MIX_MINUTES}


def read_samples(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as source:
        if (source.getframerate(), source.getnchannels(), source.getsampwidth()) != (
            SAMPLE_RATE,
            1,
            2,
        ):
            raise ValueError(f"{path}: expected 16 kHz mono 16-bit")
        return np.frombuffer(source.readframes(source.getnframes()), dtype=np.int16)


def build_long_form(audio_dir: Path, pieces: Sequence[Piece], target: Path) -> str:
    """Writes the pieces as one 16 kHz WAV at target; returns its reference transcript."""
    parts: list[np.ndarray] = []
    references: list[str] = []
    for index, piece in enumerate(pieces):
        samples = read_samples(audio_dir / f"{piece.clip}.wav").astype(np.float64)
        if piece.speed != 1.0:
            positions = np.arange(0, samples.size - 1, piece.speed)
            samples = np.interp(positions, np.arange(samples.size), samples)
        parts.append(np.clip(np.round(samples), -32768, 32767).astype(np.int16))
        if index < len(pieces) - 1:
            parts.append(np.zeros(round(piece.pause_after * SAMPLE_RATE), dtype=np.int16))
        references.append((audio_dir / f"{piece.clip}.txt").read_text("utf-8").strip())
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(np.concatenate(parts).tobytes())
    return " ".join(references)
