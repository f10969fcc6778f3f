"""Turn detection on a stream: Silero VAD frame by frame, with its state carried over from
one piece of audio to the next (the same probabilities as faster-whisper's VAD on the
whole file), and the hysteresis of its speech timestamps made causal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from swescribe.engine.audio import SAMPLE_RATE, Samples

FRAME_SAMPLES = 512
"""Silero's frame at 16 kHz: 32 ms."""
_CONTEXT_SAMPLES = 64
MIN_SPEECH_MS = 250
"""Speech shorter than this (a click, a cough) starts no turn (Silero's default)."""

SpeechProbabilities = Callable[[np.ndarray], np.ndarray]
"""Frames (n, 512) in stream order -> their speech probabilities (n,); stateful."""


class SileroStream:
    """faster-whisper's Silero VAD model run frame by frame, its LSTM state and sample
    context kept between calls. One per session; the model itself is shared."""

    def __init__(self) -> None:
        from faster_whisper.vad import get_vad_model

        self._session: Any = get_vad_model().session
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT_SAMPLES, dtype=np.float32)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        contexts = np.concatenate([self._context[None], frames[:-1, -_CONTEXT_SAMPLES:]])
        batch = np.concatenate([contexts, frames], axis=1).astype(np.float32)
        output, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        self._context = frames[-1, -_CONTEXT_SAMPLES:].astype(np.float32)
        return np.asarray(output, dtype=np.float32).reshape(-1)


@dataclass(frozen=True)
class TurnEdge:
    kind: Literal["start", "stop"]
    at: int
    """Samples into the stream: where speech starts, or where the pause that ended it began."""
    detected_at: int
    """Samples into the stream when the edge was known (the audio fed up to then)."""


class TurnDetector:
    """Speech starts a turn once it has lasted MIN_SPEECH_MS; `silence_ms` below the
    lower threshold ends it (Silero's hysteresis: threshold to start, threshold - 0.15 to
    count as silence)."""

    def __init__(
        self, probabilities: SpeechProbabilities, threshold: float, silence_ms: int
    ) -> None:
        self._probabilities = probabilities
        self._threshold = threshold
        self._low = max(threshold - 0.15, 0.01)
        self._silence = max(1, silence_ms * SAMPLE_RATE // 1000)
        self._min_speech = MIN_SPEECH_MS * SAMPLE_RATE // 1000
        self._leftover = np.zeros(0, dtype=np.float32)
        self._position = 0
        """Samples classified so far (whole frames)."""
        self.speaking = False
        self._candidate: int | None = None
        self._voiced = 0
        self._silent_since: int | None = None

    def feed(self, samples: Samples) -> list[TurnEdge]:
        """Classify what whole frames the new samples complete; the edges they reveal."""
        audio = np.concatenate([self._leftover, samples]) if self._leftover.size else samples
        whole = audio.size // FRAME_SAMPLES * FRAME_SAMPLES
        self._leftover = audio[whole:].copy()
        if not whole:
            return []
        frames = audio[:whole].reshape(-1, FRAME_SAMPLES)
        edges: list[TurnEdge] = []
        for probability in self._probabilities(frames):
            edge = self._step(float(probability))
            self._position += FRAME_SAMPLES
            if edge is not None:
                edges.append(edge)
        return edges

    @property
    def pause_since(self) -> int | None:
        """Where the pause in the speech began, while a turn is speaking and its audio is
        below the lower threshold (samples into the stream); None otherwise."""
        return self._silent_since if self.speaking else None

    @property
    def position(self) -> int:
        """Samples into the stream classified so far."""
        return self._position

    def reset(self) -> None:
        """Back to silence (the client cleared its turn); the VAD keeps its state."""
        self.speaking = False
        self._candidate = None
        self._voiced = 0
        self._silent_since = None

    def _step(self, probability: float) -> TurnEdge | None:
        here = self._position
        end = here + FRAME_SAMPLES
        if probability >= self._threshold:
            self._silent_since = None
        elif probability < self._low and self._silent_since is None:
            self._silent_since = here
        if not self.speaking:
            if probability >= self._threshold:
                if self._candidate is None:
                    self._candidate, self._voiced = here, 0
                self._voiced += FRAME_SAMPLES
                if self._voiced >= self._min_speech:
                    self.speaking, start = True, self._candidate
                    self._candidate = None
                    return TurnEdge("start", start, end)
            elif self._silent_since is not None and end - self._silent_since >= self._silence:
                self._candidate = None
            return None
        if self._silent_since is not None and end - self._silent_since >= self._silence:
            self.speaking = False
            stopped, self._silent_since = self._silent_since, None
            return TurnEdge("stop", stopped, end)
        return None
