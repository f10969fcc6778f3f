"""Multi-speaker files with known turns, built at run time (never stored in the repo):
espeak-ng voice variants talking in turns, and the human clips in ../shared/audio/sv cut
into an interview. Short back-channel turns and overlapping speech are included.
Tests (tests/integration/test_diarization.py, test_speaker_count.py) and
bench/diarization.py use them.

    python bench/conversations.py     # speaker count and DER, before and after issue 28

prints, per conversation of COUNT_SET and CONVERSATIONS, the speakers found and the DER
of the offline diarizer (VAD, GE2E, clustering; no Whisper) with the automatic count of
before issue 28 (`threshold_labels`, kept here as the baseline) and of now, and the DER
when the count is given.

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

import argparse
import subprocess
import sys
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
    pitch: int = 50
    rate: int = 160
    """espeak-ng's -p (0 to 99) and -s (words a minute): one voice's pitch and pace."""
    middle: float | None = None
    """Only this many seconds from the middle of the trimmed utterance (a short turn)."""
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


SENTENCES = (
    "Tåget mot Malmö är försenat med ungefär tjugo minuter.",
    "Min syster Åsa fyller trettiofem år den nionde juni.",
    "Vi ses utanför biblioteket i Växjö klockan kvart över tre.",
    "Kan du köpa två liter mjölk och ett paket smör?",
    "Regeringen presenterade i dag en ny plan för bostadsbyggandet.",
    "Det blåser kraftigt längs västkusten och temperaturen är låg.",
    "Öppettiderna ändras under julhelgen, så ring gärna innan.",
    "Läkaren rekommenderade vila, mycket vatten och en promenad varje dag.",
    "Jag tycker att vi borde flytta mötet till nästa torsdag.",
    "Rapporten blir klar först i slutet av månaden.",
    "Har någon sett nycklarna till förrådet i källaren?",
    "Budgeten för resor räcker inte hela året ut.",
)
"""espeak-ng turns of the count set: two or three seconds each."""
BACKCHANNELS = ("Ja.", "Precis.", "Okej.", "Nej, inte alls.", "Visst.", "Absolut.")
PACE = ((0, 0), (-8, -20), (10, 25), (5, -10), (-5, 15))
"""Pitch and rate offsets a voice takes turn by turn: one speaker, varied delivery."""
SPEEDS = (1.0, 0.92, 1.06, 0.96, 1.1)
"""Human turns resampled turn by turn (tempo and pitch together): GE2E keeps a reader
resampled by 0.75 to 1.4 at cosine 0.82 to 0.89 to the original, so these are
the same speaker, varied, not new voices."""


@dataclass(frozen=True)
class Voice:
    """A speaker of the count set: an espeak-ng voice, or cuts of human clips."""

    espeak: str = ""
    clip: str = ""
    pitch: int = 50


def _turn(name: str, voice: Voice, kind: str, number: int) -> list[Say]:
    """Turn `number` of this speaker: "" normal, "+" long, "-" short. A long human turn
    is several sentences with short pauses, each its own reference turn."""
    pitch, rate = PACE[number % len(PACE)]
    if voice.espeak:
        if kind == "-":
            text = BACKCHANNELS[number % len(BACKCHANNELS)]
        else:
            first = (number * 5 + ord(name[0])) % len(SENTENCES)
            taken = 3 if kind == "+" else 1
            text = " ".join(SENTENCES[(first + i) % len(SENTENCES)] for i in range(taken))
        return [Say(name, text, voice.espeak, pitch=voice.pitch + pitch, rate=160 + rate)]
    middle = 1.0 if kind == "-" else None
    takes = 3 if kind == "+" else 1
    says = []
    for take in range(takes):
        speed = SPEEDS[(number + take) % len(SPEEDS)]
        gap = 0.3
        if voice.clip != "lattlast_stts":
            says.append(Say(name, clip=voice.clip, speed=speed, middle=middle, gap=gap))
            continue
        cut = LATTLAST_SENTENCES[(number * 3 + take) % len(LATTLAST_SENTENCES)]
        says.append(Say(name, clip=voice.clip, cut=cut, speed=speed, middle=middle, gap=gap))
    return says


def scripted(voices: dict[str, Voice], script: str) -> tuple[Say, ...]:
    """A conversation from a script of turns: "A" a turn of speaker A, "A+" a long one,
    "A-" a back-channel or a second of speech, "~A" starting 0.4 s before the previous
    turn ends. Gaps between turns vary from 0.2 to 0.9 s."""
    says: list[Say] = []
    taken: dict[str, int] = {}
    for index, token in enumerate(script.split()):
        name = token.strip("~+-")
        kind = token[-1] if token[-1] in "+-" else ""
        turn = _turn(name, voices[name], kind, taken.get(name, 0))
        taken[name] = taken.get(name, 0) + 1
        gap = -0.4 if token.startswith("~") else (0.2, 0.6, 0.9, 0.4, 0.7)[index % 5]
        says.extend([replace(turn[0], gap=gap), *turn[1:]])
    return tuple(says)


READER = Voice(clip="lattlast_stts")
COUNT_SET: dict[str, tuple[int, tuple[Say, ...]]] = {
    name: (len(voices), scripted(voices, script))
    for name, voices, script in (
        (
            "mix3_issue28",
            {"R": READER, "A": Voice("sv"), "B": Voice("sv+f3")},
            "R+ A B+ R A- B A+ R B- ~A R B A- R+ B",
        ),
        ("one_espeak", {"A": Voice("sv+m3")}, "A+ A A- A+ A A-"),
        ("one_reader", {"R": READER}, "R+ R R- R+ R"),
        (
            "two_espeak_close",
            {"A": Voice("sv"), "B": Voice("sv+klatt")},
            "A+ B A- B+ A B- ~A B A-",
        ),
        (
            "two_human",
            {"R": READER, "H": Voice(clip="cv_18733516")},
            "R+ H R H- R+ H R- H ~R H R+",
        ),
        (
            "two_long_turns",
            {"R": READER, "A": Voice("sv+anika")},
            "R+ A+ R+ A+",
        ),
        (
            "four_mixed",
            {"R": READER, "H": Voice(clip="cv_18716987"), "A": Voice("sv"), "B": Voice("sv+f3")},
            "R+ A H B R A- B+ H- A ~R H B A-",
        ),
        (
            "four_espeak",
            {"A": Voice("sv"), "B": Voice("sv+f3"), "C": Voice("sv+klatt"), "D": Voice("sv+iven")},
            "A+ B C D- A B+ C- D ~A B C D+",
        ),
        (
            "five_mixed",
            {
                "R": READER,
                "H": Voice(clip="cv_18711295"),
                "K": Voice(clip="cv_18733516"),
                "B": Voice("sv+f3"),
                "C": Voice("sv+klatt"),
            },
            "R+ B H C K R B- C+ H ~K R- B C H- K",
        ),
        (
            "six_mixed",
            {
                "R": READER,
                "H": Voice(clip="cv_18711295"),
                "G": Voice(clip="cv_18716987"),
                "L": Voice(clip="cv_18748646"),
                "A": Voice("sv"),
                "B": Voice("sv+f3"),
            },
            "R+ A H B G L R A- B+ H G ~L R- A B H- G L",
        ),
        (
            "six_espeak_reader",
            {
                "A": Voice("sv"),
                "B": Voice("sv+f3"),
                "C": Voice("sv+klatt"),
                "D": Voice("sv+anika"),
                "E": Voice("sv+iven"),
                "R": READER,
            },
            "A B C D E R A- B+ C D- E R+ ~A B C- D E",
        ),
    )
}
"""Conversations of one to six voices for the automatic speaker count (issue 28):
human and espeak-ng voices mixed, each voice's pitch, pace or speed varied from turn
to turn, long turns, back-channels and overlaps. "mix3_issue28" is the mix the issue
reports: a human reader with espeak-ng's `sv` and `sv+f3`."""


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


def espeak(text: str, voice: str, scratch: Path, pitch: int = 50, rate: int = 160) -> np.ndarray:
    target = scratch / "say.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(rate), "-w", str(target), text],
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
        voice = say.voice or ESPEAK_VOICES[say.speaker]
        samples = espeak(say.text, voice, scratch, say.pitch, say.rate)
    else:
        samples = read_wav(audio_dir / f"{say.clip}.wav")
        samples = samples - samples.mean()
        if say.cut is not None:
            samples = samples[round(say.cut[0] * SAMPLE_RATE) : round(say.cut[1] * SAMPLE_RATE)]
    if say.speed != 1.0:
        positions = np.arange(0, samples.size - 1, say.speed)
        samples = np.interp(positions, np.arange(samples.size), samples)
    samples = trim(samples)
    if say.middle is not None and samples.size > say.middle * SAMPLE_RATE:
        first = (samples.size - round(say.middle * SAMPLE_RATE)) // 2
        samples = samples[first : first + round(say.middle * SAMPLE_RATE)]
    return samples


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


def build_all(
    audio_dir: Path, conversations: dict[str, tuple[Say, ...]], folder: Path
) -> dict[str, tuple[Path, list[Turn]]]:
    """Every conversation as folder/NAME.wav, with its reference turns."""
    built = {}
    for name, says in conversations.items():
        wav = folder / f"{name}.wav"
        built[name] = (wav, build_conversation(audio_dir, says, wav))
    return built


def threshold_labels(embeddings: np.ndarray, threshold: float = 0.42) -> np.ndarray:
    """The automatic count before issue 28, the baseline: the average-linkage cut where
    the next merge would pass a fixed cosine distance."""
    from swescribe.engine.diarization.clustering import cut, merge_sequence

    merges = merge_sequence(embeddings)
    found = embeddings.shape[0] - sum(1 for _, _, d in merges if d < threshold)
    return cut(embeddings.shape[0], merges, max(1, found))


def main() -> None:
    import tempfile

    from diarization_scoring import score
    from swescribe.config import Settings
    from swescribe.core.transcript import SpeakerTurn
    from swescribe.engine.diarization.clustering import SpeakerCount, cluster
    from swescribe.engine.diarization.embedding import EmbeddingSession
    from swescribe.engine.diarization.ge2e import VoiceEncoder, resemblyzer_weights

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audio", type=Path, default=Path(__file__).parents[2] / "shared/audio/sv")
    args = parser.parse_args()
    encoder = VoiceEncoder.from_checkpoint(
        resemblyzer_weights(Settings.from_env().speaker_model_dirs)
    )
    sets = {**{n: says for n, (_, says) in COUNT_SET.items()}, **CONVERSATIONS}
    print(f"{'conversation':18} {'voices':>6} {'found before':>12} {'after':>5} "
          f"{'DER before':>10} {'after':>6} {'DER given':>9}")  # fmt: skip
    right = [0, 0]
    ders: list[list[float]] = [[], [], []]
    with tempfile.TemporaryDirectory() as scratch:
        for name, (wav, turns) in build_all(args.audio, sets, Path(scratch)).items():
            reference = [SpeakerTurn(t.start, t.end, t.speaker) for t in turns]
            voices = len({t.speaker for t in turns})
            session = EmbeddingSession(encoder)
            session.add(0.0, read_wav(wav).astype(np.float32))
            embeddings = session.embeddings()
            given = cluster(embeddings, SpeakerCount(exact=voices))
            runs = [threshold_labels(embeddings), cluster(embeddings), given]
            found = [int(labels.max()) + 1 for labels in runs]
            der = [score(reference, session.turns(labels), collar=0.5).der for labels in runs]
            for index in range(3):
                ders[index].append(der[index])
            right = [right[0] + (found[0] == voices), right[1] + (found[1] == voices)]
            print(f"{name:18} {voices:6} {found[0]:12} {found[1]:5} "
                  f"{der[0]:10.3f} {der[1]:6.3f} {der[2]:9.3f}")  # fmt: skip
    total = len(ders[0])
    print(
        f"count right: before {right[0]}/{total}, after {right[1]}/{total}; mean DER "
        f"before {np.mean(ders[0]):.3f}, after {np.mean(ders[1]):.3f}, "
        f"count given {np.mean(ders[2]):.3f}"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
