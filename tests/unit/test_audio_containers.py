"""Only the uploaded bytes are ever decoded (issue 24): a playlist or a list of files that
names a file on the server's disk is refused, whatever its name, and every container the
service accepts still decodes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from swescribe.core.errors import InvalidAudio
from swescribe.core.filenames import refuse_playlist
from swescribe.engine.audio import ACCEPTED_CONTAINERS, SAMPLE_RATE, iter_samples, probe
from tests.conftest import audio

SECRET = audio("formats/espeak_02.mp3")
"""Stands for a file on the server's disk that the client never uploaded."""


def hls_playlist(target: Path, secret: Path) -> Path:
    seconds = probe(secret).duration  # the playlist claims exactly what the target holds
    target.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:{seconds:.3f},\n{secret}\n#EXT-X-ENDLIST\n"
    )
    return target


def concat_list(target: Path, secret: Path) -> Path:
    target.write_text(f"ffconcat version 1.0\nfile '{secret}'\n")
    return target


@pytest.mark.parametrize("name", ["x.m3u8", "x.mp3", "x.ogg", "x.wav", "audio"])
@pytest.mark.parametrize("make", [hls_playlist, concat_list])
def test_a_list_naming_a_file_on_the_servers_disk_is_never_opened(
    tmp_path: Path, name: str, make: object
) -> None:
    playlist = make(tmp_path / name, SECRET)  # type: ignore[operator]
    with pytest.raises(InvalidAudio, match="never playlists"):
        probe(playlist)
    with pytest.raises(InvalidAudio):
        next(iter_samples(playlist))


@pytest.mark.parametrize("name", ["x.m3u8", "X.M3U", "list.ffconcat", "a.pls", "b.mpd", "c.sdp"])
def test_playlist_names_are_refused_at_upload(name: str) -> None:
    with pytest.raises(InvalidAudio, match="playlist"):
        refuse_playlist(name)


@pytest.mark.parametrize("name", [None, "", "möte.wav", "x.m4a", "m3u8", "talk.mp4"])
def test_audio_names_pass(name: str | None) -> None:
    refuse_playlist(name)


MUXES = [
    # (file name, container format, codec, sample format)
    ("a.wav", "wav", "pcm_s16le", "s16"),
    ("a.w64", "w64", "pcm_s16le", "s16"),
    ("a.aiff", "aiff", "pcm_s16be", "s16"),
    ("a.caf", "caf", "pcm_s16le", "s16"),
    ("a.au", "au", "pcm_s16be", "s16"),
    ("a.mp3", "mp3", "libmp3lame", "s16p"),
    ("a.flac", "flac", "flac", "s16"),
    ("a.ogg", "ogg", "flac", "s16"),
    ("a.opus", "ogg", "libopus", "s16"),
    ("a.aac", "adts", "aac", "fltp"),
    ("a.ac3", "ac3", "ac3", "fltp"),
    ("a.wv", "wv", "wavpack", "s16p"),
    ("a.m4a", "ipod", "aac", "fltp"),
    ("a.mp4", "mp4", "aac", "fltp"),
    ("a.3gp", "3gp", "aac", "fltp"),
    ("a.mov", "mov", "pcm_s16le", "s16"),
    ("a.mkv", "matroska", "flac", "s16"),
    ("a.webm", "webm", "libopus", "s16"),
    ("a.ts", "mpegts", "mp2", "s16"),
    ("a.asf", "asf", "libmp3lame", "s16p"),
    ("a.eac3", "eac3", "eac3", "fltp"),
    ("a.3g2", "3g2", "aac", "fltp"),
    ("a.avi", "avi", "pcm_s16le", "s16"),
]


def mux_tone(target: Path, fmt: str, codec: str, sample_format: str) -> Path:
    """One second of a 440 Hz tone at 48 kHz in the given container and codec."""
    rate = 48_000
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate) * 32767).astype(np.int16)
    with av.open(str(target), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"  # type: ignore[union-attr]
        for start in range(0, rate, 1024):
            chunk = tone[start : start + 1024].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            if sample_format != "s16":
                frame = av.AudioResampler(format=sample_format, layout="mono", rate=rate).resample(
                    frame
                )[0]
            for packet in stream.encode(frame):  # type: ignore[union-attr]
                container.mux(packet)
        for packet in stream.encode(None):  # type: ignore[union-attr]
            container.mux(packet)
    return target


@pytest.mark.parametrize(("name", "fmt", "codec", "sample_format"), MUXES)
def test_every_accepted_container_decodes(
    tmp_path: Path, name: str, fmt: str, codec: str, sample_format: str
) -> None:
    try:
        made = mux_tone(tmp_path / name, fmt, codec, sample_format)
    except (av.error.FFmpegError, ValueError) as error:  # an encoder this FFmpeg lacks
        pytest.skip(f"cannot make {name} here: {error}")
    info = probe(made)
    assert set(info.container.split(",")) & set(ACCEPTED_CONTAINERS)
    decoded = sum(len(block) for block in iter_samples(made))
    assert abs(decoded - SAMPLE_RATE) < SAMPLE_RATE * 0.1, decoded
