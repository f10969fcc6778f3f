"""The coverage measure and the decoder's rule for what to decode again (no model)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from swescribe.core.transcript import Segment, Word
from swescribe.engine.audio import SAMPLE_RATE
from swescribe.engine.coverage import measure_coverage
from swescribe.engine.speech import covered_until as _covered_until
from swescribe.engine.speech import cut_chunks as _chunks


def segment(start: float, end: float, unfinished: bool = False) -> dict[str, Any]:
    return {"start": start, "end": end, "unfinished": unfinished}


def test_speech_that_no_segment_covers_is_measured_with_its_longest_stretch() -> None:
    speech = [(0.0, 10.0), (12.0, 30.0)]
    segments = [Segment(0, 0.0, 9.0, "a"), Segment(1, 12.0, 20.0, "b")]
    coverage = measure_coverage(speech, segments)
    assert coverage.speech_seconds == pytest.approx(28.0)
    assert coverage.uncovered_seconds == pytest.approx(1.0 + 10.0)
    assert coverage.longest_uncovered == pytest.approx(10.0)
    assert coverage.longest_uncovered_at == pytest.approx(20.0)


def test_word_timings_show_a_hole_that_a_long_segment_hides() -> None:
    words = (Word(0.0, 1.0, "a", 1.0), Word(8.0, 9.0, "b", 1.0))
    coverage = measure_coverage([(0.0, 9.0)], [Segment(0, 0.0, 9.0, "a b", words)])
    assert coverage.longest_uncovered == pytest.approx(8.0 - 0.25 - 1.25)


def test_silence_only_has_nothing_to_cover() -> None:
    coverage = measure_coverage([], [])
    assert coverage.speech_seconds == 0.0
    assert coverage.longest_uncovered == 0.0
    assert coverage.longest_uncovered_at is None
    assert coverage.to_dict()["longest_uncovered_at"] is None


def test_a_chunk_whose_text_ends_early_is_decoded_again_from_the_last_timestamp() -> None:
    speech = [(0.0, 30.0)]
    assert _covered_until([segment(0.0, 12.0)], 0.0, 30.0, 1.0, speech) == 12.0


def test_a_jump_over_a_phrase_is_decoded_again_from_before_the_jump() -> None:
    speech = [(0.0, 30.0)]
    segments = [segment(0.0, 10.0), segment(14.0, 30.0)]
    assert _covered_until(segments, 0.0, 30.0, 1.0, speech) == 10.0


def test_a_gap_over_a_pause_is_not_missing_speech() -> None:
    speech = [(0.0, 10.0), (13.5, 30.0)]
    segments = [segment(0.0, 10.0), segment(13.5, 30.0)]
    assert _covered_until(segments, 0.0, 30.0, 1.0, speech) is None


def test_an_unfinished_last_phrase_is_decoded_again_from_its_start() -> None:
    speech = [(0.0, 30.0)]
    segments = [segment(0.0, 20.0), segment(20.0, 30.0, unfinished=True)]
    assert _covered_until(segments, 0.0, 30.0, 1.0, speech) == 20.0


def test_a_piece_that_decoded_nothing_is_not_decoded_again_from_the_same_place() -> None:
    assert _covered_until([], 5.0, 30.0, 1.0, [(0.0, 30.0)]) is None


def test_chunks_keep_short_pauses_and_skip_long_ones() -> None:
    samples = np.zeros(100 * SAMPLE_RATE, dtype=np.float32)
    speech = [(1.0, 10.0), (11.0, 20.0), (25.0, 40.0), (41.0, 60.0), (61.0, 62.0)]
    chunks, offsets = _chunks(samples, speech, vad=True)
    assert offsets == [1.0, 25.0, 41.0]
    assert [c.size / SAMPLE_RATE for c in chunks] == [19.0, 15.0, 21.0]


def test_without_vad_the_window_is_cut_every_30_seconds() -> None:
    samples = np.zeros(70 * SAMPLE_RATE, dtype=np.float32)
    chunks, offsets = _chunks(samples, [(0.0, 70.0)], vad=False)
    assert offsets == [0.0, 30.0, 60.0]
    assert [c.size / SAMPLE_RATE for c in chunks] == [30.0, 30.0, 10.0]
