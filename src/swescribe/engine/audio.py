"""Audio probing and streaming decode to 16 kHz mono float32, in bounded memory.

With multichannel, each channel is kept as it is (one row per channel) instead of
mixed down: a call recorded with one party per channel is transcribed per channel.

Audio and video files FFmpeg (through PyAV) decodes are accepted, in the containers of
ACCEPTED_CONTAINERS only: each of those reads the one file it is given. Playlists and
lists (HLS, DASH, concat, image sequences) would open other files on the server's disk,
so they are never opened. Files are checked before any model time is spent: missing,
empty, not audio, no audio track and truncated files each raise a clear error.

A container's timestamps (and so probe's duration) can claim any length: FLAC in
Matroska with its timestamps scaled by 0.02 claims 2.3 s for 115 s. Limits, durations
and progress are therefore counted on the decoded samples (DecodeMeter), and decoding
stops as soon as it passes the limit.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from swescribe.core.errors import AudioNotFound, AudioTooLong, InvalidAudio

SAMPLE_RATE = 16_000
Samples = npt.NDArray[np.float32]

ACCEPTED_CONTAINERS = (
    "wav",
    "w64",
    "aiff",
    "caf",
    "au",
    "mp3",
    "flac",
    "ogg",
    "aac",
    "ac3",
    "eac3",
    "amr",
    "wv",
    "mov",
    "mp4",
    "m4a",
    "3gp",
    "3g2",
    "mj2",
    "matroska",
    "webm",
    "mpegts",
    "asf",
    "avi",
)
"""FFmpeg demuxers that read only the bytes of the file given (mov with its default
enable_drefs=0). Any other is refused as FFmpeg probes the file, before it reads more."""
_OPEN_OPTIONS = {"format_whitelist": ",".join(ACCEPTED_CONTAINERS), "protocol_whitelist": "file"}
_REFUSED_HINT = "swescribe opens audio and video files, never playlists or lists of other files"
MAX_CHANNELS = 8
"""Channels a multichannel decode takes (each is transcribed): more is refused."""
_TRUNCATION_TOLERANCE = 0.8
"""Decodable length below this share of the declared length means a truncated file."""


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    duration: float
    """Seconds the packets' timestamps cover (not the header's claim); a container can
    scale its timestamps, so only the decode (DecodeMeter) measures what is there."""
    container: str
    codec: str
    size_bytes: int
    channels: int = 1


def check_readable(path: Path) -> None:
    """Refuse a path that is no file, before anything is loaded for it."""
    if not path.exists():
        raise AudioNotFound(f"{path}: no such file")
    if not path.is_file():
        raise AudioNotFound(f"{path}: not a regular file")


def probe(path: Path) -> AudioInfo:
    """Check that path holds decodable audio and measure it, without decoding."""
    check_readable(path)
    size = path.stat().st_size
    if size == 0:
        raise InvalidAudio(f"{path.name}: the file is empty")
    _check_wav_header(path, size)
    try:
        with _open(path) as container:
            stream = _audio_stream(container, path)
            declared = _declared_duration(container, stream)
            present = 0.0
            for packet in container.demux(stream):
                if packet.pts is not None and packet.duration is not None:
                    present = max(present, float((packet.pts + packet.duration) * packet.time_base))
            container_name = container.format.name
            codec = stream.codec_context.name
            channels = stream.codec_context.channels or 1
    except av.error.FFmpegError as error:
        raise InvalidAudio(
            f"{path.name}: not a readable audio file ({_reason(error)}; {_REFUSED_HINT})"
        ) from None
    if present <= 0.0:
        raise InvalidAudio(f"{path.name}: the file has no audio data (empty or cut off)")
    if declared and present < declared * _TRUNCATION_TOLERANCE:
        raise InvalidAudio(
            f"{path.name}: the file is truncated ({present:.1f} s of the declared "
            f"{declared:.1f} s are present)"
        )
    return AudioInfo(path, present, container_name, codec, size, channels)


@dataclass
class DecodeMeter:
    """How much of a file has been decoded, in 16 kHz samples: the one measure of its
    length that the container cannot fake. Past max_seconds (0: no limit) the decode
    raises AudioTooLong. The decode (in the decode-ahead thread) writes it; the
    transcription reads it for the duration and the progress."""

    max_seconds: float = 0.0
    samples: int = 0
    finished: bool = False
    """The decode reached the end of the file."""

    @property
    def seconds(self) -> float:
        return self.samples / SAMPLE_RATE

    def add(self, samples: int, path: Path) -> None:
        self.samples += samples
        if self.max_seconds and self.samples > self.max_seconds * SAMPLE_RATE:
            raise AudioTooLong(
                f"{path.name}: the audio is longer than the limit of "
                f"{clock(self.max_seconds)} (decoding stopped there, whatever length "
                "the file claims)"
            )


def refuse_over_limit(info: AudioInfo, max_seconds: float) -> None:
    """The early refusal, before any decoding: a file whose probe is already over the
    limit (an honest one; a lying one is stopped by its DecodeMeter)."""
    if max_seconds and info.duration > max_seconds:
        raise AudioTooLong(
            f"{info.path.name}: the audio is {clock(info.duration)} long; the limit is "
            f"{clock(max_seconds)}"
        )


def iter_samples(
    path: Path,
    block_seconds: float = 30.0,
    meter: DecodeMeter | None = None,
    multichannel: bool = False,
) -> Iterator[Samples]:
    """Decode path to 16 kHz mono float32 blocks of about block_seconds each, counted
    on meter (which stops the decode at its limit). multichannel: each block is one row
    per channel (a mono file: one row) instead of the channels mixed down."""
    meter = meter or DecodeMeter()
    block = max(1, int(block_seconds * SAMPLE_RATE))
    pending: list[Samples] = []
    pending_len = 0
    try:
        with _open(path) as container:
            stream = _audio_stream(container, path)
            if multichannel:
                _check_channels(stream, path)
            resampler = av.AudioResampler(
                format="fltp" if multichannel else "flt",
                layout=None if multichannel else "mono",  # None: the file's own channels
                rate=SAMPLE_RATE,
            )
            frames = container.decode(stream)
            for frame in frames:
                for out in resampler.resample(frame):
                    pending.append(_rows(out, multichannel))
                    pending_len += out.samples
                    meter.add(out.samples, path)
                if pending_len >= block:
                    yield np.concatenate(pending, axis=-1)
                    pending, pending_len = [], 0
            for out in resampler.resample(None):
                pending.append(_rows(out, multichannel))
                meter.add(out.samples, path)
    except av.error.FFmpegError as error:
        raise InvalidAudio(f"{path.name}: decoding failed ({_reason(error)})") from None
    meter.finished = True
    if pending:
        yield np.concatenate(pending, axis=-1)


def _rows(frame: av.AudioFrame, multichannel: bool) -> Samples:
    """A resampled frame's samples: one row per channel (multichannel), else one row."""
    array = frame.to_ndarray().astype(np.float32, copy=False)
    return array.reshape(array.shape[0], -1) if multichannel else array.reshape(-1)


def _check_channels(stream: av.AudioStream, path: Path) -> None:
    channels = stream.codec_context.channels or 1
    if channels > MAX_CHANNELS:
        raise InvalidAudio(
            f"{path.name}: the file has {channels} channels; multichannel transcribes at "
            f"most {MAX_CHANNELS}"
        )


def decode_span(path: Path, start: float = 0.0, end: float | None = None) -> Samples:
    """[start, end] seconds of path as 16 kHz mono float32 (end None: to the end); only
    that much is kept, and decoding stops at end."""
    first = max(0, round(start * SAMPLE_RATE))
    last = None if end is None else max(first, round(end * SAMPLE_RATE))
    kept: list[Samples] = []
    position = 0
    samples = iter_samples(path, block_seconds=5.0)
    try:
        for block in samples:
            lo, hi = max(first - position, 0), block.size
            if last is not None:
                hi = min(hi, last - position)
            if hi > lo:
                kept.append(block[lo:hi])
            position += block.size
            if last is not None and position >= last:
                break
    finally:
        samples.close()  # type: ignore[attr-defined]
    return np.concatenate(kept) if kept else np.zeros(0, dtype=np.float32)


def iter_windows(
    path: Path,
    window_seconds: float = 600.0,
    search_seconds: float = 30.0,
    meter: DecodeMeter | None = None,
    multichannel: bool = False,
) -> Iterator[tuple[float, Samples]]:
    """(offset seconds, samples) windows of at most window_seconds, cut in a quiet spot.

    Long audio is transcribed window by window so memory stays bounded whatever its
    length; each cut is placed at the quietest 100 ms in the window's last
    search_seconds (of all channels together), so no word is split across windows.
    meter and multichannel: as for iter_samples.
    """
    window = int(window_seconds * SAMPLE_RATE)
    pending: list[Samples] = []  # blocks not yet in a window: joined once per window
    pending_size = 0
    offset = 0
    for block in iter_samples(path, meter=meter, multichannel=multichannel):
        pending.append(block)
        pending_size += block.shape[-1]
        while pending_size > window:
            joined = np.concatenate(pending, axis=-1)
            level = _level(joined[..., :window])
            cut = quietest_cut(level, int(search_seconds * SAMPLE_RATE))
            yield offset / SAMPLE_RATE, joined[..., :cut]
            offset += cut
            rest = joined[..., cut:].copy()  # so the window handed out is not kept alive
            del joined
            pending, pending_size = [rest], rest.shape[-1]
    if pending_size:
        yield offset / SAMPLE_RATE, np.concatenate(pending, axis=-1)


def _level(samples: Samples) -> Samples:
    """One row whose square is the channels' mean power (a mono row as it is)."""
    if samples.ndim == 1:
        return samples
    level: Samples = np.sqrt(np.square(samples).mean(axis=0))
    return level


Window = tuple[float, Samples]
"""(offset seconds, samples): one window of a file, as iter_windows yields it."""


@dataclass
class OpenedAudio:
    """A file probed and its first window decoded before its transcription starts.

    The worker's prefetch makes one (open_audio) while the job before is transcribed,
    and hands it to Transcriber.transcribe in place of the path: the transcription then
    starts on decoded samples. The rest of the file is decoded as it is transcribed.
    Its windows can be read once; close() (or reading them to the end) frees them.
    """

    info: AudioInfo
    window_seconds: float
    meter: DecodeMeter
    """What has been decoded so far, and the limit it was decoded under."""
    _first: Window | None = field(repr=False)
    _rest: Iterator[Window] = field(repr=False)
    _used: bool = field(default=False, repr=False)
    multichannel: bool = False
    """Decoded one row per channel (iter_samples)."""

    @property
    def path(self) -> Path:
        return self.info.path

    def windows(self) -> Iterator[Window]:
        """Every window of the file, the first one already decoded (once only)."""
        if self._used:
            raise RuntimeError(f"{self.path.name}: its opened audio was read already")
        self._used = True
        first, self._first = self._first, None
        return _chain_windows(first, self._rest)

    def close(self) -> None:
        """Free the decoded window and the open file (a job that never ran)."""
        self._first = None
        _close(self._rest)


def open_audio(
    path: Path, window_seconds: float = 600.0, max_seconds: float = 0.0, multichannel: bool = False
) -> OpenedAudio:
    """Probe path and decode its first window now (see OpenedAudio); raises as probe
    does, and AudioTooLong past max_seconds (0: no limit)."""
    info = probe(path)
    refuse_over_limit(info, max_seconds)
    meter = DecodeMeter(max_seconds)
    windows = iter_windows(path, window_seconds, meter=meter, multichannel=multichannel)
    try:
        first = next(windows, None)
    except BaseException:
        _close(windows)
        raise
    return OpenedAudio(info, window_seconds, meter, first, windows, multichannel=multichannel)


def _chain_windows(first: Window | None, rest: Iterator[Window]) -> Iterator[Window]:
    try:
        if first is not None:
            yield first
        yield from rest
    finally:
        _close(rest)


def _close(windows: Iterator[Window]) -> None:
    close = getattr(windows, "close", None)  # a generator holds the file open until closed
    if close is not None:
        close()


def quietest_cut(samples: Samples, search: int, frame: int = SAMPLE_RATE // 10) -> int:
    """Index of the middle of the lowest-energy frame within the last `search` samples."""
    start = max(0, samples.size - search)
    tail = samples[start:]
    count = tail.size // frame
    if count == 0:
        return int(samples.size)
    energy = np.square(tail[: count * frame].reshape(count, frame)).mean(axis=1)
    return int(start + int(np.argmin(energy)) * frame + frame // 2)


def _open(path: Path) -> av.container.InputContainer:
    """path opened with the accepted demuxers only, reading no other file or URL."""
    return av.open(str(path), metadata_errors="ignore", options=dict(_OPEN_OPTIONS))


def _audio_stream(container: av.container.InputContainer, path: Path) -> av.AudioStream:
    stream = next(iter(container.streams.audio), None)
    if stream is None:
        raise InvalidAudio(f"{path.name}: the file has no audio track")
    if stream.codec_context is None:  # e.g. a WAV header whose bits per sample is 0
        raise InvalidAudio(
            f"{path.name}: the audio track names no codec FFmpeg can decode "
            "(a damaged or unsupported header)"
        )
    return stream


def _declared_duration(container: av.container.InputContainer, stream: av.AudioStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return 0.0


def _check_wav_header(path: Path, size: int) -> None:
    """A RIFF/WAVE file whose data chunk claims more bytes than exist was cut off.

    FFmpeg silently trusts the file size for WAV, so this is checked by hand.
    """
    with path.open("rb") as handle:
        head = handle.read(4096)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    position = 12
    while position + 8 <= len(head):
        chunk_id = head[position : position + 4]
        (chunk_size,) = struct.unpack("<I", head[position + 4 : position + 8])
        if chunk_id == b"data":
            streaming = chunk_size in (0, 0xFFFFFFFF)
            if not streaming and position + 8 + chunk_size > size:
                present = max(0, size - position - 8)
                raise InvalidAudio(
                    f"{path.name}: the WAV file is truncated ({present} of {chunk_size} "
                    "data bytes present)"
                )
            return
        position += 8 + chunk_size + (chunk_size & 1)
    if position + 8 > size:
        raise InvalidAudio(f"{path.name}: the WAV file has no audio data (header only)")


def clock(seconds: float) -> str:
    """seconds as h:mm:ss, as limits are written in messages."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _reason(error: av.error.FFmpegError) -> str:
    return str(getattr(error, "strerror", None) or error).strip() or type(error).__name__
