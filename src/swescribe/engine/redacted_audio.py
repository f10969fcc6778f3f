"""A copy of the audio with the redacted spans silent (--redact-audio): decoded as the
engine hears it (16 kHz mono), block by block so a long file stays in bounded memory,
and written as 16-bit PCM WAV."""

from __future__ import annotations

import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from swescribe.engine.audio import SAMPLE_RATE, iter_samples


def write_silenced(source: Path, spans: Sequence[tuple[float, float]], target: Path) -> None:
    """Write source's audio to target (WAV) with every (start, end) span in seconds
    silent."""
    at = 0
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        for block in iter_samples(source):
            block = block.copy()
            for start, end in spans:
                first = max(0, round(start * SAMPLE_RATE) - at)
                last = min(len(block), round(end * SAMPLE_RATE) - at)
                if first < last:
                    block[first:last] = 0.0
            pcm = (np.clip(block, -1.0, 1.0) * 32767).astype("<i2")
            out.writeframes(pcm.tobytes())
            at += len(block)
