"""Multichannel's pure parts (issue 28, item 3): each channel decoded on its own, the
other party's bleed silenced in a channel before it is transcribed, a copied channel
transcribed once, segments labelled with their channel and merged in time order, and
the labels in all four formats."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from swescribe.core.transcript import Segment, Transcript, Word
from swescribe.engine import render
from swescribe.engine.audio import SAMPLE_RATE, iter_windows, open_audio, probe
from swescribe.engine.channels import by_channel, distinct_channels, merge_in_time, own_speech
from tests.conftest import audio

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from calls import write_wav


def babble(seconds: float, seed: int) -> np.ndarray:
    """Speech-like noise: white noise shaped by a 4 Hz syllable rhythm."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return 0.3 * rng.normal(size=t.size) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))


def turns_with_bleed(bleed_db: float = -20.0) -> np.ndarray:
    """Two channels, 4 s: A talks 0-1.5 s, B 2-3.5 s; each leaks into the other's
    channel at bleed_db; from 3 to 3.5 s both talk at once."""
    own = np.zeros((2, 4 * SAMPLE_RATE))
    own[0, : round(1.5 * SAMPLE_RATE)] = babble(1.5, 1)
    own[1, 2 * SAMPLE_RATE : round(3.5 * SAMPLE_RATE)] = babble(1.5, 2)
    own[0, 3 * SAMPLE_RATE : round(3.5 * SAMPLE_RATE)] = babble(0.5, 3)
    gain = 10 ** (bleed_db / 20)
    return np.stack([own[0] + gain * own[1], own[1] + gain * own[0]])


def rms(samples: np.ndarray, start: float, end: float) -> float:
    part = samples[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]
    return float(np.sqrt(np.mean(np.square(part))))


def test_a_stereo_file_is_decoded_one_row_per_channel(tmp_path: Path) -> None:
    mixed = turns_with_bleed()
    wav = tmp_path / "call.wav"
    write_wav(wav, mixed)
    assert probe(wav).channels == 2
    windows = list(iter_windows(wav, window_seconds=60.0, multichannel=True))
    assert len(windows) == 1
    offset, samples = windows[0]
    assert (offset, samples.shape) == (0.0, mixed.shape)
    scale = 0.9 / float(np.abs(mixed).max())
    assert np.abs(samples - mixed * scale).max() < 1e-3, "each channel as it is, not mixed"
    (_, mono), *_ = iter_windows(wav, window_seconds=60.0)
    assert mono.ndim == 1, "without multichannel the file is downmixed, as before"


def test_long_stereo_windows_are_cut_where_every_channel_is_quiet(tmp_path: Path) -> None:
    both = np.stack([babble(85.0, 4), babble(85.0, 5)])
    both[0, round(77.5 * SAMPLE_RATE) : 78 * SAMPLE_RATE] = 0.0  # only A pauses here
    both[:, 80 * SAMPLE_RATE : round(80.5 * SAMPLE_RATE)] = 0.0  # both pause here
    wav = tmp_path / "long.wav"
    write_wav(wav, both)
    windows = list(iter_windows(wav, window_seconds=82.0, search_seconds=5.0, multichannel=True))
    assert [w.shape[0] for _, w in windows] == [2, 2]
    assert sum(w.shape[1] for _, w in windows) == 85 * SAMPLE_RATE
    assert 80.0 <= windows[1][0] <= 80.5, "cut where both channels are quiet"


def test_a_mono_file_opened_for_multichannel_is_its_one_channel() -> None:
    clip = audio("cv_18742722.wav")
    opened = open_audio(clip, 60.0, multichannel=True)
    (_, samples), *_ = opened.windows()
    (_, mono), *_ = iter_windows(clip, 60.0)
    assert opened.multichannel
    assert samples.shape == (1, mono.size)
    assert np.array_equal(samples[0], mono)


def test_bleed_is_silenced_where_the_other_party_is_louder() -> None:
    mixed = turns_with_bleed(-20.0)
    kept = own_speech(mixed, margin_db=10.0)
    assert rms(kept[0], 0.2, 1.3) == pytest.approx(rms(mixed[0], 0.2, 1.3)), "A's own speech"
    assert rms(kept[1], 2.2, 2.9) == pytest.approx(rms(mixed[1], 2.2, 2.9)), "B's own speech"
    assert rms(kept[1], 0.3, 1.2) < 0.01 * rms(mixed[1], 0.3, 1.2), "A's bleed in B's channel"
    assert rms(kept[0], 2.3, 2.8) < 0.01 * rms(mixed[0], 2.3, 2.8), "B's bleed in A's channel"
    both = (3.1, 3.4)
    assert rms(kept[0], *both) == pytest.approx(rms(mixed[0], *both)), "talking at once: kept"
    assert rms(kept[1], *both) == pytest.approx(rms(mixed[1], *both))


def test_without_a_margin_nothing_is_silenced() -> None:
    mixed = turns_with_bleed(-20.0)
    assert np.array_equal(own_speech(mixed, margin_db=None), mixed)


def test_a_channel_that_copies_another_is_transcribed_once() -> None:
    mixed = turns_with_bleed()
    assert distinct_channels(mixed) == [0, 1]
    dual_mono = np.stack([mixed[0], mixed[0] * 0.5, mixed[1]])
    assert distinct_channels(dual_mono) == [0, 2], "a channel at another level is a copy too"
    silent = np.stack([mixed[0], np.zeros(mixed.shape[1])])
    assert distinct_channels(silent) == [0], "a silent channel has nothing to say"


def labelled_call() -> Transcript:
    first = by_channel(
        [Segment(0, 0.0, 2.0, "Hej, det är Anna."), Segment(1, 5.0, 6.0, "Bra, tack.")], 0
    )
    words = (Word(2.5, 2.9, "Hej", 0.9), Word(3.0, 4.0, "Anna.", 0.9))
    second = by_channel([Segment(0, 2.5, 4.0, "Hej Anna.", words)], 1)
    segments = merge_in_time([first, second], first_id=0)
    return Transcript(" ".join(s.text for s in segments), "sv", 6.0, tuple(segments), "m")


def test_channels_are_merged_in_time_order_each_segment_labelled_with_its_channel() -> None:
    segments = labelled_call().segments
    assert [(s.id, s.channel, s.speaker) for s in segments] == [
        (0, 0, "CH1"),
        (1, 1, "CH2"),
        (2, 0, "CH1"),
    ]
    assert {w.speaker for w in segments[1].words or ()} == {"CH2"}


def test_every_format_carries_the_channel_as_the_speaker() -> None:
    call = labelled_call()
    # A change of speaker starts a paragraph: a blank line between them in txt.
    assert render(call, "txt") == "CH1: Hej, det är Anna.\n\nCH2: Hej Anna.\n\nCH1: Bra, tack.\n"
    assert "CH2: Hej Anna." in render(call, "srt")
    assert "<v CH2>Hej Anna.</v>" in render(call, "vtt")
    data = json.loads(render(call, "json"))
    assert [(s["channel"], s["speaker"]) for s in data["segments"]] == [
        (0, "CH1"),
        (1, "CH2"),
        (0, "CH1"),
    ]
    assert Transcript.from_dict(data).segments[1].channel == 1
    plain = Segment(0, 0.0, 1.0, "Hej.")
    assert "channel" not in plain.to_dict(), "a mono transcript's JSON is as before"
