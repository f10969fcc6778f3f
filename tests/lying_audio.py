"""Audio whose container lies about its length (issue 24, item 2): FLAC in Matroska with
every packet's timestamps scaled down, as `ffmpeg -itsscale 0.02` writes it. The file
holds all of its samples, while its timestamps (and so any duration read from them)
claim a fiftieth of that. Built with PyAV: neither this machine nor CI has ffmpeg."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from swescribe.engine.audio import SAMPLE_RATE, Samples
from tests.conftest import audio

TIMESTAMP_SCALE = 0.02
"""ffmpeg's -itsscale 0.02 of the attack: 115 s of audio claim 2.3 s."""


def scaled_timestamps_mkv(
    path: Path, samples: Samples, scale: float = TIMESTAMP_SCALE, repeat: int = 1
) -> Path:
    """samples (16 kHz mono float32) as FLAC in Matroska, every packet's pts, dts and
    duration multiplied by scale; repeat: the encoded packets written that many times
    over (an hour of silence without encoding an hour)."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("flac", rate=SAMPLE_RATE, layout="mono")
        stream.time_base = Fraction(1, SAMPLE_RATE)
        encoded: list[tuple[bytes, int, int]] = []  # (data, pts, duration), unscaled
        step = 4096
        for start in range(0, pcm.size, step):
            frame = av.AudioFrame.from_ndarray(
                pcm[None, start : start + step], format="s16", layout="mono"
            )
            frame.sample_rate = SAMPLE_RATE
            frame.pts = start
            frame.time_base = Fraction(1, SAMPLE_RATE)
            encoded.extend((bytes(p), p.pts or 0, p.duration or 0) for p in stream.encode(frame))
        encoded.extend((bytes(p), p.pts or 0, p.duration or 0) for p in stream.encode(None))
        for copy in range(repeat):
            for data, pts, duration in encoded:
                packet = av.Packet(data)
                packet.stream = stream
                packet.time_base = Fraction(1, SAMPLE_RATE)  # the muxer rescales to ms
                packet.pts = packet.dts = int((copy * pcm.size + pts) * scale)
                packet.duration = max(1, int(duration * scale))
                container.mux(packet)
    return path


def speech_in_silence(seconds: float, clips: dict[float, str]) -> Samples:
    """seconds of silence with 16 kHz Swedish clips (../shared/audio/sv) placed at their
    start times: VAD skips the silence, so a model transcribes only the clips."""
    out = np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)
    for at, name in clips.items():
        with wave.open(str(audio(name)), "rb") as clip:
            assert clip.getframerate() == SAMPLE_RATE
            assert clip.getnchannels() == 1
            pcm = np.frombuffer(clip.readframes(clip.getnframes()), dtype=np.int16)
        start = int(at * SAMPLE_RATE)
        out[start : start + pcm.size] = pcm[: out.size - start].astype(np.float32) / 32768
    return out
