"""Audio is measured by its decoded samples (issue 24, item 2): a container whose
timestamps claim a fiftieth of its length is decoded to the end, or to the limit and no
further. No model: the engine's decode alone (tests/integration/test_decoded_limits.py
runs the same attack through the engine and the worker)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from swescribe.core.errors import AudioTooLong, InvalidAudio
from swescribe.engine.audio import SAMPLE_RATE, DecodeMeter, iter_windows, open_audio, probe
from tests.conftest import audio
from tests.lying_audio import scaled_timestamps_mkv


@pytest.fixture(scope="module")
def claims_2_s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """115 s of a tone in a container that claims 2.3 s."""
    t = np.arange(int(115 * SAMPLE_RATE)) / SAMPLE_RATE
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    path = scaled_timestamps_mkv(tmp_path_factory.mktemp("lying") / "attack.mkv", tone)
    assert probe(path).duration < 3.0, "the container claims a fiftieth of its length"
    return path


def test_the_decode_counts_every_sample_of_a_file_whose_container_claims_2_s(
    claims_2_s: Path,
) -> None:
    opened = open_audio(claims_2_s)
    decoded = sum(samples.size for _, samples in opened.windows())
    assert decoded / SAMPLE_RATE == pytest.approx(115, abs=0.05)
    assert opened.meter.seconds == pytest.approx(115, abs=0.05)
    assert opened.meter.finished


def test_decoding_stops_at_the_limit_with_audio_too_long(claims_2_s: Path) -> None:
    meter = DecodeMeter(max_seconds=60)
    with pytest.raises(AudioTooLong, match="longer than the limit of 0:01:00") as refused:
        for _ in iter_windows(claims_2_s, meter=meter):
            pass
    assert refused.value.code == "audio_too_long"
    assert isinstance(refused.value, InvalidAudio), "handled as any bad input (a 4xx)"
    assert 60 < meter.seconds < 61, "not a second decoded past the limit"
    assert not meter.finished


def test_an_hour_in_a_948_kb_file_claiming_36_s_is_decoded_only_to_the_limit(
    tmp_path: Path,
) -> None:
    """The issue's second file: 60 minutes (of silence) that report well under a minute."""
    ten_seconds = np.zeros(10 * SAMPLE_RATE, dtype=np.float32)
    path = scaled_timestamps_mkv(tmp_path / "hour.mkv", ten_seconds, scale=0.01, repeat=360)
    assert path.stat().st_size < 1_000_000
    assert probe(path).duration < 60
    with pytest.raises(AudioTooLong):
        open_audio(path, max_seconds=60)  # the prefetch: probe and first window
    meter = DecodeMeter(max_seconds=60)
    started = time.perf_counter()
    with pytest.raises(AudioTooLong):
        for _ in iter_windows(path, meter=meter):
            pass
    assert meter.seconds < 61
    assert time.perf_counter() - started < 5, "the hour was not decoded to be refused"


def test_an_honest_file_over_the_limit_is_refused_by_its_probe_before_decoding() -> None:
    with pytest.raises(AudioTooLong, match=r"0:00:05 long; the limit is 0:00:03"):
        open_audio(audio("cv_18733516.wav"), max_seconds=3)


def test_an_opened_file_under_its_limit_decodes_as_without_one() -> None:
    path = audio("cv_18733516.wav")
    opened = open_audio(path, max_seconds=6)
    limited = [samples for _, samples in opened.windows()]
    plain = [samples for _, samples in iter_windows(path)]
    assert len(limited) == len(plain) == 1
    np.testing.assert_array_equal(limited[0], plain[0])
    assert opened.meter.seconds == pytest.approx(probe(path).duration, abs=0.01)
