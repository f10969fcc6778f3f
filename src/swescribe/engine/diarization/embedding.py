"""Diarization from speaker embeddings: GE2E partials over the speech regions, clustered.

Per window of audio (the engine's 10-minute windows): every speech region is cut into
1.6 s partials every 0.8 s (a region shorter than 1.6 s is one partial of its own audio
played in a loop: padded with silence, short turns came out as a voice of their own),
each embedded. At
the end of the file the partials are clustered (clustering.py), and every 50 ms of
speech takes the speaker whose centroid the partials covering it resemble most,
weighted towards the partial centred nearest. Only the embeddings (1 KB a partial) are
kept between windows, so memory does not grow with the audio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from swescribe.core.transcript import SpeakerTurn
from swescribe.engine.audio import SAMPLE_RATE
from swescribe.engine.diarization.clustering import (
    DISTANCE_THRESHOLD,
    SpeakerCount,
    centroids,
    cluster,
)
from swescribe.engine.diarization.ge2e import (
    HOP,
    PARTIAL_FRAMES,
    VoiceEncoder,
    mel_spectrogram,
    normalize_volume,
)
from swescribe.engine.diarization.turns import join_turns

NAME = "resemblyzer-ge2e"

STEP_FRAMES = 80
"""A partial every 0.8 s: each moment of speech is in about two partials."""
BATCH = 128
"""Partials encoded together (bounded memory: about 80 MB of gate inputs)."""
GRID_SECONDS = 0.05
MIN_REGION_SECONDS = 0.2
"""Shorter speech regions are too short to embed; they take their neighbours' speaker."""
VAD_MIN_SILENCE_MS = 150
VAD_PAD_MS = 50
"""Silero VAD cut finer than for transcription (500 ms pauses, 400 ms padding): turns
change at short pauses, and a region should hold one speaker."""


def turn_regions(samples: np.ndarray) -> list[tuple[float, float]]:
    """Speech regions (seconds) cut at pauses of 150 ms: mostly one speaker each."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(
        min_silence_duration_ms=VAD_MIN_SILENCE_MS,
        speech_pad_ms=VAD_PAD_MS,
        max_speech_duration_s=30,
    )
    return [
        (region["start"] / SAMPLE_RATE, region["end"] / SAMPLE_RATE)
        for region in get_speech_timestamps(samples, options)
    ]


class EmbeddingDiarizer:
    """The offline diarizer: one loaded encoder, a session per file."""

    name = NAME

    def __init__(self, encoder: VoiceEncoder, threshold: float = DISTANCE_THRESHOLD) -> None:
        self.encoder = encoder
        self.threshold = threshold
        self.warning: str | None = None

    def session(self) -> EmbeddingSession:
        return EmbeddingSession(self.encoder, self.threshold)


def _one_blas_thread() -> threadpool_limits:
    """numpy's BLAS on one thread while the encoder runs. After CTranslate2 has run, its
    OpenMP threads keep spinning for a while; a multi-threaded OpenBLAS beside them ran
    the encoder 20 times slower on 2 cores (docs/performance.md), one thread does not."""
    return threadpool_limits(limits=1, user_api="blas")


@dataclass
class _Partial:
    start: float
    end: float
    """The speech the partial covers (seconds into the file), within its region."""
    region: int


@dataclass
class EmbeddingSession:
    """One file's diarization: add the windows in order, then finish."""

    encoder: VoiceEncoder
    threshold: float = DISTANCE_THRESHOLD
    regions: list[tuple[float, float]] = field(default_factory=list)
    partials: list[_Partial] = field(default_factory=list)
    _embeddings: list[np.ndarray] = field(default_factory=list)
    _pending: list[np.ndarray] = field(default_factory=list)

    def add(self, offset: float, samples: np.ndarray) -> None:
        """One window of 16 kHz samples starting at offset seconds."""
        with _one_blas_thread():
            self.add_regions(offset, samples, turn_regions(samples))

    def add_regions(
        self, offset: float, samples: np.ndarray, speech: Sequence[tuple[float, float]]
    ) -> None:
        """One window with its speech regions (seconds into the window)."""
        for start, end in speech:
            first, last = round(start * SAMPLE_RATE), round(end * SAMPLE_RATE)
            audio = samples[first:last]
            if audio.size < MIN_REGION_SECONDS * SAMPLE_RATE:
                continue
            self.regions.append((offset + start, offset + end))
            self._add_region(offset + start, normalize_volume(audio), len(self.regions) - 1)
            if len(self._pending) >= BATCH:
                self._encode()

    def _add_region(self, start: float, audio: np.ndarray, region: int) -> None:
        end = start + audio.size / SAMPLE_RATE
        needed = PARTIAL_FRAMES * HOP
        if audio.size < needed:
            looped = np.tile(audio, -(-needed // audio.size))[-needed:]
            self._pending.append(mel_spectrogram(looped)[-PARTIAL_FRAMES:])
            self.partials.append(_Partial(start, end, region))
            return
        mel = mel_spectrogram(audio)
        frames = audio.size // HOP
        starts = list(range(0, frames - PARTIAL_FRAMES + 1, STEP_FRAMES))
        if starts[-1] != frames - PARTIAL_FRAMES:
            starts.append(frames - PARTIAL_FRAMES)
        for first in starts:
            self._pending.append(mel[first : first + PARTIAL_FRAMES])
            self.partials.append(
                _Partial(
                    start + first * HOP / SAMPLE_RATE,
                    start + (first + PARTIAL_FRAMES) * HOP / SAMPLE_RATE,
                    region,
                )
            )

    def _encode(self) -> None:
        if self._pending:
            self._embeddings.append(self.encoder.embed_partials(np.stack(self._pending)))
            self._pending = []

    def embeddings(self) -> np.ndarray:
        self._encode()
        if not self._embeddings:
            return np.zeros((0, 256), dtype=np.float32)
        return np.concatenate(self._embeddings)

    def spans(self) -> np.ndarray:
        """(start, end) seconds of each partial, a row per embedding."""
        return np.array([(p.start, p.end) for p in self.partials], dtype=float).reshape(-1, 2)

    def finish(self, count: SpeakerCount | None = None) -> list[SpeakerTurn]:
        """The file's speaker turns, speakers named by cluster ("0", "1", ...)."""
        with _one_blas_thread():
            embeddings = self.embeddings()
            if embeddings.shape[0] == 0:
                return []
            return self.turns(cluster(embeddings, count, self.threshold))

    def turns(self, labels: np.ndarray) -> list[SpeakerTurn]:
        """The turns for a cluster label per partial: each 50 ms to the nearest centroid."""
        embeddings = self.embeddings()
        scores = embeddings @ centroids(embeddings, labels).T
        return join_turns(self._timeline(scores))

    def _timeline(self, scores: np.ndarray) -> list[SpeakerTurn]:
        by_region: dict[int, list[int]] = {}
        for index, partial in enumerate(self.partials):
            by_region.setdefault(partial.region, []).append(index)
        turns: list[SpeakerTurn] = []
        for region, indices in sorted(by_region.items()):
            start, end = self.regions[region]
            steps = max(1, round((end - start) / GRID_SECONDS))
            grid = start + (np.arange(steps) + 0.5) * (end - start) / steps
            spans = np.array([(self.partials[i].start, self.partials[i].end) for i in indices])
            centres = spans.mean(axis=1)
            half = np.maximum((spans[:, 1] - spans[:, 0]) / 2, GRID_SECONDS)
            inside = (grid[:, None] >= spans[None, :, 0]) & (grid[:, None] <= spans[None, :, 1])
            weight = np.clip(
                1 - np.abs(grid[:, None] - centres[None, :]) / half[None, :], 0.05, None
            )
            weight = np.where(inside, weight, 0.0)
            empty = weight.sum(axis=1) == 0
            weight[empty, np.abs(grid[empty, None] - centres[None, :]).argmin(axis=1)] = 1.0
            speaker = (weight @ scores[indices]).argmax(axis=1)
            edges = np.flatnonzero(np.diff(speaker)) + 1
            bounds = [start, *(grid[edges] - (end - start) / steps / 2), end]
            for number, first in enumerate([0, *edges]):
                turns.append(SpeakerTurn(bounds[number], bounds[number + 1], str(speaker[first])))
        return turns
