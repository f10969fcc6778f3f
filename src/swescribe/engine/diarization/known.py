"""Known speakers (issue 28): a voiceprint from a recording, and clusters named by it.

A voiceprint is the unit-length mean of the GE2E embeddings of a recording's speech
(1.6 s partials every 0.8 s over its speech regions, as the offline diarizer embeds a
file). A diarized file's speakers are compared by the same measure: the mean embedding
of the partials in each speaker's turns. A speaker takes an enrolled name when the
cosine similarity passes MATCH_THRESHOLD; the pairs are taken best first, so each
speaker gets one name at most and each name goes to one speaker at most.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from swescribe.core.jobs import utcnow
from swescribe.core.transcript import SpeakerTurn
from swescribe.core.voices import Voiceprint
from swescribe.engine.audio import decode_span
from swescribe.engine.diarization.ge2e import VoiceEncoder, resemblyzer_weights

MATCH_THRESHOLD = 0.75
"""Cosine similarity of a speaker's mean embedding to a voiceprint above which the
speaker is given its name. Set on the built test sets (docs/performance.md, "Known
speakers"): a false name is worse than none, so it sits above every score of another
person measured there (0.69 at most), below every true one (0.76 and up)."""
MAX_ENROL_SECONDS = 300.0
"""At most this much of a recording is read to enrol a voice (five minutes is plenty)."""
MIN_ENROL_SECONDS = 0.5
"""Less speech than this is too little to recognise a voice by (a few seconds or more
make a steadier voiceprint)."""


@dataclass(frozen=True)
class VoiceMatch:
    """A speaker (the diarizer's label) recognised as an enrolled voice."""

    speaker: str
    voice: Voiceprint
    score: float


def unit(vector: np.ndarray) -> np.ndarray:
    normed: np.ndarray = vector / max(float(np.linalg.norm(vector)), 1e-12)
    return normed


def enrolment_vector(encoder: VoiceEncoder, samples: np.ndarray) -> tuple[np.ndarray, float]:
    """The voiceprint of 16 kHz samples of one person speaking, and the seconds of
    speech it was made from."""
    from swescribe.core.errors import InvalidAudio
    from swescribe.engine.diarization.embedding import EmbeddingSession

    session = EmbeddingSession(encoder)
    session.add(0.0, np.asarray(samples, dtype=np.float32))
    seconds = sum(end - start for start, end in session.regions)
    embeddings = session.embeddings()
    if embeddings.shape[0] == 0 or seconds < MIN_ENROL_SECONDS:
        raise InvalidAudio(
            f"the recording has {seconds:.1f} s of speech; a voice needs at least "
            f"{MIN_ENROL_SECONDS:g} s of one person speaking"
        )
    return unit(embeddings.mean(axis=0)), seconds


class FileEnroller:
    """Voiceprints of recordings (implements core.voices.VoiceEnroller); the encoder is
    loaded on the first and kept."""

    def __init__(
        self, encoder: VoiceEncoder | None = None, weights_dirs: Sequence[Path] = ()
    ) -> None:
        self._encoder = encoder
        self._weights_dirs = tuple(weights_dirs)
        self._lock = threading.Lock()

    def encoder(self) -> VoiceEncoder:
        with self._lock:
            if self._encoder is None:
                weights = resemblyzer_weights(self._weights_dirs)
                self._encoder = VoiceEncoder.from_checkpoint(weights)
            return self._encoder

    def __call__(self, path: Path, start: float = 0.0, end: float | None = None) -> Voiceprint:
        """An unnamed voiceprint (id and name empty) of [start, end] seconds of path."""
        stop = start + MAX_ENROL_SECONDS if end is None else min(end, start + MAX_ENROL_SECONDS)
        vector, seconds = enrolment_vector(self.encoder(), decode_span(path, start, stop))
        return Voiceprint("", "", utcnow(), tuple(float(v) for v in vector), seconds)


def speaker_centroids(
    turns: Sequence[SpeakerTurn], spans: np.ndarray, embeddings: np.ndarray
) -> dict[str, np.ndarray]:
    """Each speaker's unit-length mean embedding, over the partials (spans: start, end
    seconds per row of embeddings) that lie mostly in that speaker's turns."""
    if not turns or embeddings.shape[0] == 0:
        return {}
    speakers = sorted({t.speaker for t in turns})
    overlap = np.zeros((spans.shape[0], len(speakers)))
    for turn in turns:
        shared = np.minimum(spans[:, 1], turn.end) - np.maximum(spans[:, 0], turn.start)
        overlap[:, speakers.index(turn.speaker)] += np.clip(shared, 0.0, None)
    owner = overlap.argmax(axis=1)
    length = np.maximum(spans[:, 1] - spans[:, 0], 1e-9)
    mostly = overlap.max(axis=1) / length > 0.5
    centroids: dict[str, np.ndarray] = {}
    for column, speaker in enumerate(speakers):
        chosen = embeddings[(owner == column) & mostly]
        if chosen.shape[0]:
            centroids[speaker] = unit(chosen.mean(axis=0))
    return centroids


def match_voices(
    centroids: dict[str, np.ndarray],
    voices: Sequence[Voiceprint],
    threshold: float = MATCH_THRESHOLD,
) -> list[VoiceMatch]:
    """The speakers recognised, best score first: greedy one-to-one over the pairs
    that pass the threshold."""
    if not centroids or not voices:
        return []
    speakers = list(centroids)
    prints = np.array([unit(np.asarray(v.vector, dtype=np.float64)) for v in voices])
    scores = np.array([centroids[s] for s in speakers]) @ prints.T
    pairs = sorted(
        ((float(scores[i, j]), i, j) for i in range(len(speakers)) for j in range(len(voices))),
        reverse=True,
    )
    matches: list[VoiceMatch] = []
    taken_speakers: set[int] = set()
    taken_names: set[str] = set()
    for score, i, j in pairs:
        if score < threshold:
            break
        name = voices[j].name.casefold()
        if i in taken_speakers or name in taken_names:
            continue
        taken_speakers.add(i)
        taken_names.add(name)
        matches.append(VoiceMatch(speakers[i], voices[j], score))
    return matches
