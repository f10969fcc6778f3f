"""Turn detection on a stream (engine/live/turns.py), with scripted speech probabilities
in place of Silero: where turns start and stop, whatever the size of the pieces fed."""

from __future__ import annotations

import numpy as np

from swescribe.engine.live import TurnDetector, TurnEdge
from swescribe.engine.live.turns import FRAME_SAMPLES


class ScriptedProbabilities:
    """Frame n's probability is script[n] (0 past its end)."""

    def __init__(self, script: list[float]) -> None:
        self.script = script
        self.frame = 0

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        found = [
            self.script[i] if i < len(self.script) else 0.0
            for i in range(self.frame, self.frame + len(frames))
        ]
        self.frame += len(frames)
        return np.array(found, dtype=np.float32)


def frames(seconds: float) -> int:
    return round(seconds * 16000 / FRAME_SAMPLES)


def feed(script: list[float], pieces: list[int], silence_ms: int = 500) -> list[TurnEdge]:
    detector = TurnDetector(ScriptedProbabilities(script), 0.5, silence_ms)
    edges: list[TurnEdge] = []
    for size in pieces:
        edges += detector.feed(np.zeros(size, dtype=np.float32))
    return edges


SPEECH = [0.0] * frames(1.0) + [0.9] * frames(2.0) + [0.05] * frames(1.5)
SAMPLES = len(SPEECH) * FRAME_SAMPLES


def test_speech_starts_a_turn_where_it_began_and_a_pause_ends_it_where_it_began() -> None:
    edges = feed(SPEECH, [SAMPLES])
    assert [e.kind for e in edges] == ["start", "stop"]
    assert edges[0].at == frames(1.0) * FRAME_SAMPLES
    assert edges[1].at == (frames(1.0) + frames(2.0)) * FRAME_SAMPLES
    assert edges[1].detected_at - edges[1].at >= 500 * 16
    assert edges[0].detected_at - edges[0].at >= 250 * 16


def test_edges_do_not_depend_on_how_the_audio_is_cut() -> None:
    whole = feed(SPEECH, [SAMPLES])
    pieces = [100, 511, 1, 4000, 333] * 10
    pieces.append(SAMPLES - sum(pieces))
    assert feed(SPEECH, pieces) == whole


def test_a_click_shorter_than_a_quarter_second_starts_no_turn() -> None:
    click = [0.0] * 10 + [0.95] * 4 + [0.0] * 60
    assert feed(click, [len(click) * FRAME_SAMPLES]) == []


def test_a_pause_shorter_than_silence_ms_keeps_the_turn() -> None:
    script = [0.9] * frames(1.0) + [0.05] * frames(0.3) + [0.9] * frames(1.0) + [0.0] * 40
    edges = feed(script, [len(script) * FRAME_SAMPLES], silence_ms=500)
    assert [e.kind for e in edges] == ["start", "stop"]
    edges = feed(script, [len(script) * FRAME_SAMPLES], silence_ms=200)
    assert [e.kind for e in edges] == ["start", "stop", "start", "stop"]


def test_silence_gives_no_edge() -> None:
    assert feed([0.01] * 500, [500 * FRAME_SAMPLES]) == []
