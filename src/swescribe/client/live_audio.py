"""Audio for Client.stream as raw PCM16 (little-endian, mono) in chunks of a fixed length:
a file or a binary stream decoded with PyAV, or raw PCM16 as given.

PyAV is imported only when something is to be decoded, so the rest of the client does
not load it; raw PCM16 needs no decoder at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import IO, Any

from swescribe.client.models import ClientError

DECODED_RATE = 16_000
"""Files are decoded to the engine's own rate, which the server takes as it is."""
PCM_RATES = (16_000, 24_000)
READ_BYTES = 64 * 1024

AudioSource = str | os.PathLike[str] | IO[bytes] | bytes | Iterable[bytes]
"""A path (decoded), a binary stream (decoded, or raw PCM16 when a rate is given), raw
PCM16 bytes, or an iterable of raw PCM16 chunks (a live source)."""


def pcm_source(audio: AudioSource, rate: int | None) -> tuple[int, Iterator[bytes]]:
    """(rate, PCM16 byte strings of any length) for one of the AudioSource shapes; `rate`
    says that bytes and streams are raw PCM16 at that rate (bytes: 16000 when unsaid)."""
    if rate is not None and rate not in PCM_RATES:
        raise ClientError(f"raw PCM16 must be at 16000 or 24000 Hz, not {rate}")
    if isinstance(audio, str | os.PathLike):
        if rate is not None:
            return rate, _read_raw_file(os.fspath(audio))
        return DECODED_RATE, _decoded(os.fspath(audio))
    if isinstance(audio, bytes | bytearray | memoryview):
        return rate or DECODED_RATE, iter([bytes(audio)])
    if hasattr(audio, "read"):
        stream: IO[bytes] = audio  # type: ignore[assignment]
        if rate is not None:
            return rate, _read_raw(stream)
        return DECODED_RATE, _decoded(stream)
    return rate or DECODED_RATE, (bytes(chunk) for chunk in audio)


def chunked(parts: Iterator[bytes], chunk_bytes: int) -> Iterator[bytes]:
    """Parts of any length as chunks of `chunk_bytes` (the last may be shorter; always an
    even count of bytes, whole samples)."""
    pending = bytearray()
    for part in parts:
        pending += part
        while len(pending) >= chunk_bytes:
            yield bytes(pending[:chunk_bytes])
            del pending[:chunk_bytes]
    tail = len(pending) - len(pending) % 2
    if tail:
        yield bytes(pending[:tail])


def _read_raw(stream: IO[bytes]) -> Iterator[bytes]:
    while part := stream.read(READ_BYTES):
        yield part


def _read_raw_file(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        yield from _read_raw(handle)


def _decoded(source: str | IO[bytes]) -> Iterator[bytes]:
    """Any audio PyAV reads (a file, or a pipe of a streamable format: WAV, MP3, Ogg,
    FLAC, WebM) as 16 kHz mono PCM16, a decoded frame at a time."""
    av = _pyav()
    resampler = av.AudioResampler(format="s16", layout="mono", rate=DECODED_RATE)
    try:
        container: Any = av.open(source, mode="r")
    except (av.error.FFmpegError, OSError) as error:
        raise ClientError(f"cannot read the audio: {error}") from error
    with container:
        if not container.streams.audio:
            raise ClientError("the input has no audio stream")
        try:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    yield out.to_ndarray().tobytes()
        except av.error.FFmpegError as error:
            raise ClientError(f"cannot decode the audio: {error}") from error
    for out in resampler.resample(None):
        yield out.to_ndarray().tobytes()


def _pyav() -> ModuleType:
    try:
        import av
    except ImportError as error:  # pragma: no cover (av is a dependency of swescribe)
        raise ClientError(
            "decoding audio needs PyAV (pip install av); or send raw PCM16 with rate="
        ) from error
    return av
