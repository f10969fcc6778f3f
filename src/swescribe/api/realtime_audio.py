"""The audio of input_audio_buffer.append: base64 PCM16 (24 kHz, OpenAI's rate, or
16 kHz) or G.711 μ-law/A-law (8 kHz), turned into the engine's 16 kHz mono float32.

One decoder per session: its resampler keeps its state between appends, so a chunk's
edge is no seam in the audio.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal

import av
import numpy as np

from swescribe.core.errors import InvalidAudio
from swescribe.engine.audio import SAMPLE_RATE, Samples

AudioEncoding = Literal["pcm16", "pcmu", "pcma"]

CONTAINER_MAGIC = (b"RIFF", b"OggS", b"fLaC", b"ID3", b"\x1aE\xdf\xa3", b"FORM", b"#!AMR")
"""How files start (WAV, Ogg, FLAC, MP3 with tags, WebM/Matroska, AIFF, AMR): an append
carries raw samples, never a file."""


@dataclass(frozen=True)
class AudioFormat:
    encoding: AudioEncoding = "pcm16"
    rate: int = 24_000

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.encoding == "pcm16" else 1


PCM16_24K = AudioFormat()


class AppendDecoder:
    """Base64 appends of one format in, 16 kHz float32 samples out."""

    def __init__(self, audio_format: AudioFormat) -> None:
        self.format = audio_format
        self._resampler = (
            None
            if audio_format.rate == SAMPLE_RATE
            else av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        )

    def decode(self, audio_b64: str) -> Samples:
        """InvalidAudio for text that is not base64, or bytes that are not this format."""
        pcm = _pcm16(_raw_bytes(audio_b64, self.format), self.format.encoding)
        if self._resampler is None:
            return (pcm.astype(np.float32) / 32768.0).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.format.rate
        parts = [out.to_ndarray().reshape(-1) for out in self._resampler.resample(frame)]
        if not parts:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)


def _raw_bytes(audio_b64: str, audio_format: AudioFormat) -> bytes:
    try:
        raw = base64.b64decode(audio_b64, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidAudio("audio is not valid base64") from error
    if raw.startswith(CONTAINER_MAGIC) or raw[4:8] == b"ftyp":
        raise InvalidAudio(
            "audio must be raw samples (PCM16 little-endian mono, or G.711), not an audio file"
        )
    if len(raw) % audio_format.bytes_per_sample:
        raise InvalidAudio("PCM16 audio has 2 bytes a sample; this append has an odd count")
    return raw


def _pcm16(raw: bytes, encoding: AudioEncoding) -> np.ndarray[tuple[int], np.dtype[np.int16]]:
    if encoding == "pcm16":
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)
    table = _ULAW if encoding == "pcmu" else _ALAW
    return table[np.frombuffer(raw, dtype=np.uint8)]


def _ulaw_table() -> np.ndarray[tuple[int], np.dtype[np.int16]]:
    codes = np.arange(256, dtype=np.int32)
    inverted = ~codes & 0xFF
    exponent = (inverted >> 4) & 0x07
    magnitude = ((((inverted & 0x0F) << 3) + 0x84) << exponent) - 0x84
    return np.where(inverted & 0x80, -magnitude, magnitude).astype(np.int16)


def _alaw_table() -> np.ndarray[tuple[int], np.dtype[np.int16]]:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    return np.where(codes & 0x80, magnitude, -magnitude).astype(np.int16)


_ULAW = _ulaw_table()
_ALAW = _alaw_table()
