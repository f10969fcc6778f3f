"""Where the speech is (Silero VAD) and how a window is cut into chunks to decode.

Chunks are the window's own audio with its pauses (faster-whisper's batched path cuts
the pauses out and glues the speech together; keeping them made the long human files
better, docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from swescribe.engine.audio import SAMPLE_RATE

CHUNK_SECONDS = 30.0
"""The longest chunk: Whisper's window."""
MAX_PAUSE_SECONDS = 3.0
"""A longer pause ends a chunk, and its silence is not decoded."""
MIN_SILENCE_MS = 500
"""VAD cuts only at pauses of 0.5 s (faster-whisper's batched default is 160 ms):
longer, more coherent chunks (docs/performance.md)."""

Speech = list[tuple[float, float]]
"""Speech regions, (start, end) in seconds."""


def min_silence_ms(extra: Mapping[str, Any]) -> int:
    """The pause VAD cuts at: MIN_SILENCE_MS unless faster-whisper's `vad_parameters` in
    `extra` set `min_silence_duration_ms` (benchmarks)."""
    parameters = extra.get("vad_parameters") or {}
    return int(parameters.get("min_silence_duration_ms", MIN_SILENCE_MS))


def speech_regions(samples: np.ndarray, vad: bool, min_silence_ms: int) -> Speech:
    """Speech by Silero VAD (seconds), or the whole window when VAD is off."""
    if not vad:
        return [(0.0, samples.size / SAMPLE_RATE)] if samples.size else []
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(
        min_silence_duration_ms=min_silence_ms, max_speech_duration_s=CHUNK_SECONDS
    )
    return [
        (region["start"] / SAMPLE_RATE, region["end"] / SAMPLE_RATE)
        for region in get_speech_timestamps(samples, options)
    ]


def cut_chunks(
    samples: np.ndarray, speech: Speech, vad: bool
) -> tuple[list[np.ndarray], list[float]]:
    """Stretches of the window's own audio, at most 30 s each, and their offsets.

    Under VAD a chunk runs from the start of one speech region to the end of the last
    one that fits, the pauses inside it kept. A pause longer than MAX_PAUSE_SECONDS ends
    a chunk and is not decoded. Without VAD: consecutive 30 s cuts."""
    if not vad:
        step = int(CHUNK_SECONDS * SAMPLE_RATE)
        starts = range(0, max(samples.size, 1), step)
        return [samples[s : s + step] for s in starts], [s / SAMPLE_RATE for s in starts]
    spans: list[list[float]] = []
    for start, end in speech:
        if (
            spans
            and end - spans[-1][0] <= CHUNK_SECONDS
            and start - spans[-1][1] <= MAX_PAUSE_SECONDS
        ):
            spans[-1][1] = end
        else:
            spans.append([start, end])
    chunks = [samples[round(s * SAMPLE_RATE) : round(e * SAMPLE_RATE)] for s, e in spans]
    return chunks, [s for s, _ in spans]


def covered_until(
    segments: Sequence[Mapping[str, Any]],
    start: float,
    end: float,
    gap: float,
    speech: Speech,
) -> float | None:
    """Where the segments first leave more than `gap` seconds of speech in [start, end]
    uncovered (the end of the last complete segment before that hole), or None.

    A hole before the piece's first phrase does not count: decoding again from the
    piece's own start would give the same. An unfinished last phrase counts as a hole:
    sequential Whisper decodes it again from its start."""
    reached = start
    for segment in segments:
        if segment["unfinished"]:
            break
        if reached > start and _speech_between(speech, reached, segment["start"]) > gap:
            return float(reached)
        reached = max(reached, segment["end"])
    if reached > start and _speech_between(speech, reached, end) > gap:
        return float(reached)
    return None


def _speech_between(speech: Speech, start: float, end: float) -> float:
    return sum(max(0.0, min(e, end) - max(s, start)) for s, e in speech)
