"""Multi-speaker files with known turns, built at run time (never stored in the repo):
espeak-ng voice variants talking in turns, and the human clips in ../shared/audio/sv cut
into an interview. Short back-channel turns and overlapping speech are included.
Tests (tests/integration/test_diarization.py) and bench/diarization.py use them.

The reference turns are where each utterance's audio is above -35 dB of its own peak
(leading and trailing silence trimmed), so they mark speech, as a human annotator would.

Speakers of the human file, and why they differ: `lattlast_stts` is a reading that
STTS recorded for KTH in 2020 (one reader, microphone recording); `cv_18746434` and
`cv_18711295` are Common Voice volunteers reading prompts through the Common Voice site.
The two sources cannot share a speaker except by coincidence. The two Common Voice clips
are not identified by speaker: by ear and by the GE2E encoder they differ (cosine 0.66
between their embeddings against 0.93 and more between parts of one clip; see
tests/integration/test_diarization.py), so they are taken as two people.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
TRIM_DB = 35.0


@dataclass(frozen=True)
class Turn:
    """A reference turn: who spoke, from when to when (seconds)."""

    speaker: str
    start: float
    end: float


@dataclass(frozen=True)
class Say:
    """One utterance: an espeak-ng text in a voice, or a cut of a shared clip."""

    speaker: str
    text: str = ""
    voice: str = ""
    clip: str = ""
    cut: tuple[float, float] | None = None
    speed: float = 1.0
    gap: float = 0.6
    """Seconds of silence before this utterance; negative: it starts that much before
    the previous one ends (overlapping speech)."""


ESPEAK_VOICES = {"A": "sv+m3", "B": "sv+f4", "C": "sv+anika"}

ESPEAK_TALK = (
    Say("A", "Välkommen till dagens möte. Vi ska gå igenom budgeten för nästa år."),
    Say("B", "Tack. Jag har tittat på siffrorna och de ser bra ut.", gap=0.5),
    Say("A", "Precis.", gap=0.3),
    Say("B", "Men kostnaderna för resor har ökat med nästan tjugo procent.", gap=0.4),
    Say("C", "Det stämmer, och det beror på konferensen i Malmö i våras.", gap=0.7),
    Say("A", "Ja.", gap=0.2),
    Say("C", "Vi kan nog spara pengar genom att ha fler möten på distans.", gap=0.3),
    Say("B", "Det håller jag med om, men vissa möten måste vi ha på plats.", gap=-0.4),
    Say("A", "Då bestämmer vi det. Åsa skriver ett förslag till nästa vecka.", gap=0.8),
    Say("C", "Okej.", gap=0.3),
    Say("B", "Jag kan hjälpa till med tabellerna om det behövs.", gap=0.5),
    Say("A", "Bra, tack så mycket allihop.", gap=0.6),
)
"""Three espeak-ng voices in a meeting (about 55 s): one- and two-word back-channel
turns ("Precis.", "Ja.", "Okej."), and B talking over the end of C's turn."""

LATTLAST_SENTENCES = (
    (0.60, 4.05), (5.0, 6.28), (7.55, 8.55), (9.75, 11.55), (12.8, 14.8),
    (16.0, 18.4), (19.7, 21.7), (22.4, 23.95), (24.85, 26.2), (26.9, 28.6), (29.25, 31.69),
)  # fmt: skip
"""lattlast_stts between its pauses of about a second (the list items of the reading)."""

HUMAN_TALK = (
    Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[0], gap=0.3),
    Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[1], gap=0.9),
    Say("V1", clip="cv_18746434", gap=0.6),
    Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[2], gap=0.5),
    Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[3], gap=0.8),
    Say("V2", clip="cv_18711295", cut=(0.8, 2.7), gap=0.4),
    Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[4], gap=0.5),
    Say("V1", clip="cv_18746434", cut=(1.55, 2.35), gap=0.3),
    Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[5], gap=0.4),
    Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[6], gap=0.9),
    Say("V2", clip="cv_18711295", cut=(0.8, 2.7), speed=1.04, gap=-0.5),
    Say("V1", clip="cv_18746434", speed=0.96, gap=0.7),
    Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[7], gap=0.6),
    Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[8], gap=0.9),
    Say("V2", clip="cv_18711295", cut=(0.8, 2.7), speed=0.97, gap=0.5),
    Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[9], gap=0.5),
    Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[10], gap=0.9),
)
"""A reader (R) and two other voices (V1, V2) cutting in, about 55 s: a short turn of
0.8 s ("Har jag"), V2 talking over the end of R's sentence, the Common Voice voices
again at speeds of 0.96x to 1.04x."""

CONVERSATIONS: dict[str, tuple[Say, ...]] = {
    "talk_espeak": ESPEAK_TALK,
    "talk_human": HUMAN_TALK,
}


def read_wav(path: Path) -> np.ndarray:
    """A 16-bit WAV as float64 samples in [-1, 1], resampled to 16 kHz when needed."""
    with wave.open(str(path), "rb") as source:
        rate, channels = source.getframerate(), source.getnchannels()
        data = np.frombuffer(source.readframes(source.getnframes()), dtype=np.int16)
    samples = data.reshape(-1, channels).mean(axis=1) / 32768.0
    if rate != SAMPLE_RATE:
        positions = np.arange(0, samples.size - 1, rate / SAMPLE_RATE)
        samples = np.interp(positions, np.arange(samples.size), samples)
    return samples


def espeak(text: str, voice: str, scratch: Path) -> np.ndarray:
    target = scratch / "say.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "160", "-w", str(target), text],
        check=True,
        capture_output=True,
    )
    return read_wav(target)


def trim(samples: np.ndarray) -> np.ndarray:
    """Leading and trailing stretches more than 35 dB below the peak, cut (10 ms frames)."""
    frames = samples[: samples.size // 160 * 160].reshape(-1, 160)
    level = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9)
    loud = np.flatnonzero(level > level.max() - TRIM_DB)
    if loud.size == 0:
        return samples[:0]
    return samples[loud[0] * 160 : (loud[-1] + 1) * 160]


def utterance(say: Say, audio_dir: Path, scratch: Path) -> np.ndarray:
    if say.text:
        samples = espeak(say.text, say.voice or ESPEAK_VOICES[say.speaker], scratch)
    else:
        samples = read_wav(audio_dir / f"{say.clip}.wav")
        samples = samples - samples.mean()
        if say.cut is not None:
            samples = samples[round(say.cut[0] * SAMPLE_RATE) : round(say.cut[1] * SAMPLE_RATE)]
    if say.speed != 1.0:
        positions = np.arange(0, samples.size - 1, say.speed)
        samples = np.interp(positions, np.arange(samples.size), samples)
    return trim(samples)


def build_conversation(audio_dir: Path, says: Sequence[Say], target: Path) -> list[Turn]:
    """Writes the conversation as one 16 kHz mono WAV at target; returns its turns."""
    with tempfile.TemporaryDirectory() as scratch:
        pieces = [utterance(say, audio_dir, Path(scratch)) for say in says]
    turns: list[Turn] = []
    starts: list[int] = []
    cursor = round(0.5 * SAMPLE_RATE)
    for say, piece in zip(says, pieces, strict=True):
        start = max(0, cursor + round(say.gap * SAMPLE_RATE)) if starts else cursor
        starts.append(start)
        turns.append(Turn(say.speaker, start / SAMPLE_RATE, (start + piece.size) / SAMPLE_RATE))
        cursor = start + piece.size
    total = max(s + p.size for s, p in zip(starts, pieces, strict=True)) + SAMPLE_RATE // 2
    mix = np.zeros(total)
    for start, piece in zip(starts, pieces, strict=True):
        mix[start : start + piece.size] += piece
    peak = float(np.abs(mix).max()) or 1.0
    mix = mix * min(1.0, 0.9 / peak)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(np.round(mix * 32767).astype(np.int16).tobytes())
    return turns


# Known speakers (issue 28): a voice enrolled from one recording and looked for in a
# conversation of other recordings. The held-out human conversation leaves out the
# reader's first two sentences, which are her enrolment; the Common Voice volunteers
# each have one clip only, so theirs is enrolled from a cut of the clip the talk uses.

HUMAN_TALK_HELD_OUT = tuple(
    say for say in HUMAN_TALK if say.cut not in (LATTLAST_SENTENCES[0], LATTLAST_SENTENCES[1])
)
"""HUMAN_TALK without the reader's first two sentences (her enrolment below)."""

KNOWN_TALKS: dict[str, tuple[Say, ...]] = {
    "talk_espeak": ESPEAK_TALK,
    "talk_human_held_out": HUMAN_TALK_HELD_OUT,
}

ENROLMENTS: dict[str, tuple[Say, ...]] = {
    # The conversation's voices, from sentences the conversation does not say.
    "A": (Say("A", "Jag heter Anders och jag arbetar på ekonomiavdelningen sedan många år."),),
    "B": (Say("B", "Igår var jag på biblioteket och lånade tre böcker om trädgårdar."),),
    "C": (Say("C", "Vädret i helgen blir soligt med lätta vindar från sydväst."),),
    "R": (
        Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[0]),
        Say("R", clip="lattlast_stts", cut=LATTLAST_SENTENCES[1]),
    ),
    "V1": (Say("V1", clip="cv_18746434", cut=(0.0, 2.6)),),
    # Voices in neither conversation: every score of theirs is a false match.
    "sv": (Say("sv", "Jag heter Anders och jag arbetar på ekonomiavdelningen.", voice="sv"),),
    "sv+f3": (Say("f3", "Igår var jag på biblioteket och lånade böcker.", voice="sv+f3"),),
    "sv+m1": (Say("m1", "Vädret i helgen blir soligt med lätta vindar.", voice="sv+m1"),),
    "sv+klatt": (Say("kl", "Jag kan hjälpa till med tabellerna.", voice="sv+klatt"),),
    "sv+f1": (Say("f1", "Tack så mycket för i dag och välkommen åter.", voice="sv+f1"),),
    "cv_18716987": (Say("x1", clip="cv_18716987"),),
    "cv_18733516": (Say("x2", clip="cv_18733516"),),
    "cv_18742722": (Say("x3", clip="cv_18742722"),),
    "cv_18746511": (Say("x4", clip="cv_18746511"),),
    "cv_18748646": (Say("x5", clip="cv_18748646"),),
}
"""Voices to enrol: the ones the known talks hold (A, B, C, R, V1), each from audio the
talk does not contain (V1: a cut of its one clip), and impostors: espeak-ng variants
and Common Voice volunteers that neither talk holds."""


def enrolment_audio(audio_dir: Path, says: Sequence[Say]) -> np.ndarray:
    """The utterances of says one after another, 0.5 s apart: a recording to enrol."""
    with tempfile.TemporaryDirectory() as scratch:
        pieces = [utterance(say, audio_dir, Path(scratch)) for say in says]
    gap = np.zeros(SAMPLE_RATE // 2)
    joined = np.concatenate([part for piece in pieces for part in (gap, piece)] + [gap])
    peak = float(np.abs(joined).max()) or 1.0
    return joined * min(1.0, 0.9 / peak)


def write_wav(samples: np.ndarray, target: Path) -> None:
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(np.round(np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
