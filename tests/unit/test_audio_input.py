"""Bad audio input is refused before any model time is spent, with a clear reason."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

from swescribe.core.errors import AudioNotFound, InvalidAudio
from swescribe.engine.audio import SAMPLE_RATE, iter_samples, iter_windows, probe, quietest_cut
from tests.conftest import audio


def truncated_copy(source: Path, target: Path, keep_bytes: int) -> Path:
    target.write_bytes(source.read_bytes()[:keep_bytes])
    return target


def test_missing_file() -> None:
    with pytest.raises(AudioNotFound, match="no such file"):
        probe(Path("does/not/exist.wav"))


def test_a_directory_is_not_audio(tmp_path: Path) -> None:
    with pytest.raises(AudioNotFound, match="not a regular file"):
        probe(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(InvalidAudio, match="empty"):
        probe(empty)


def test_text_file_is_not_audio(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp3"
    text.write_text("det här är ingen ljudfil\n" * 20)
    with pytest.raises(InvalidAudio, match="not a readable audio file"):
        probe(text)


def test_video_without_audio_track() -> None:
    with pytest.raises(InvalidAudio, match="no audio track"):
        probe(audio("formats/video_no_audio.mp4"))


def test_truncated_wav_is_detected_from_its_header(tmp_path: Path) -> None:
    cut = truncated_copy(audio("espeak_01.wav"), tmp_path / "cut.wav", 60_000)
    with pytest.raises(InvalidAudio, match="truncated"):
        probe(cut)


def test_wav_header_only(tmp_path: Path) -> None:
    cut = truncated_copy(audio("espeak_01.wav"), tmp_path / "header.wav", 44)
    with pytest.raises(InvalidAudio, match=r"truncated|no audio data"):
        probe(cut)


def test_truncated_mp3_is_detected_from_its_declared_length(tmp_path: Path) -> None:
    cut = truncated_copy(audio("formats/espeak_02.mp3"), tmp_path / "cut.mp3", 6_000)
    with pytest.raises(InvalidAudio, match="truncated"):
        probe(cut)


@pytest.mark.parametrize("container", ["mp3", "ogg", "flac", "m4a", "webm", "mp4"])
def test_every_shipped_container_probes_to_about_four_seconds(container: str) -> None:
    info = probe(audio(f"formats/espeak_02.{container}"))
    assert info.duration == pytest.approx(4.0, abs=0.15)


def test_lossless_flac_decodes_to_the_same_samples_as_the_wav() -> None:
    wav = np.concatenate(list(iter_samples(audio("espeak_02.wav"))))
    flac = np.concatenate(list(iter_samples(audio("formats/espeak_02.flac"))))
    assert wav.size == flac.size
    assert np.abs(wav - flac).max() < 1e-4


def test_windows_cover_the_whole_file_and_cut_in_quiet_spots() -> None:
    path = audio("espeak_long.wav")
    windows = list(iter_windows(path, window_seconds=60.0, search_seconds=10.0))
    total = sum(samples.size for _, samples in windows) / SAMPLE_RATE
    assert total == pytest.approx(probe(path).duration, abs=0.01)
    assert 5 <= len(windows) <= 6  # 282.7 s in windows of 50-60 s
    assert all(samples.size <= 60 * SAMPLE_RATE for _, samples in windows)
    offsets = [offset for offset, _ in windows]
    assert offsets == sorted(offsets)
    assert all(50.0 <= b - a <= 60.0 for a, b in itertools.pairwise(offsets))


def test_quietest_cut_finds_the_silent_frame() -> None:
    samples = np.ones(SAMPLE_RATE * 10, dtype=np.float32)
    samples[SAMPLE_RATE * 8 : SAMPLE_RATE * 8 + 1600] = 0.0
    cut = quietest_cut(samples, search=SAMPLE_RATE * 5)
    assert SAMPLE_RATE * 8 <= cut <= SAMPLE_RATE * 8 + 1600


def resident_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_ninety_minutes_are_decoded_window_by_window_in_bounded_memory(tmp_path: Path) -> None:
    """A 90-minute WAV (the whole file as float32 samples would be 330 MiB) goes through
    the engine's decode-ahead windows while resident memory grows by a few windows only,
    whatever the length. 60 s windows here (3.7 MiB each) keep the test quick; the
    engine's 10-minute windows hold 37 MiB each, the same way."""
    import threading
    import wave

    from swescribe.engine._decode_ahead import decoded_ahead

    minutes = 90
    path = tmp_path / "long.wav"
    minute = (np.sin(np.arange(SAMPLE_RATE * 60) / 7.0) * 3000).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        for _ in range(minutes):
            out.writeframes(minute)
    del minute
    start = peak = resident_mib()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.01):
            peak = max(peak, resident_mib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    seconds = 0.0
    try:
        for _, samples in decoded_ahead(iter_windows(path, window_seconds=60.0)):
            seconds += samples.size / SAMPLE_RATE
            peak = max(peak, resident_mib())
            del samples
    finally:
        done.set()
        sampler.join()
    assert seconds == pytest.approx(minutes * 60, abs=0.1)
    assert peak - start < 60, f"resident memory grew by {peak - start:.0f} MiB"


def test_a_wav_whose_header_names_no_codec_is_invalid_audio_not_a_crash(tmp_path: Path) -> None:
    """Issue 24: bits per sample zeroed in the header gave an AttributeError, a 500 that
    OpenAI's SDK retried (three jobs)."""
    data = bytearray(audio("cv_18746434.wav").read_bytes())
    data[34:36] = b"\0\0"  # the fmt chunk's bits per sample
    broken = tmp_path / "bps0.wav"
    broken.write_bytes(bytes(data))
    with pytest.raises(InvalidAudio, match="names no codec"):
        probe(broken)
    with pytest.raises(InvalidAudio, match="names no codec"):
        next(iter_samples(broken))
