"""The bench's arithmetic on made-up runs: speedups, totals, the issue-7 targets, the table."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from report import add_speedups, print_table, targets, totals

REFERENCE = "ett två tre fyra fem sex sju åtta nio tio"


def numbers(wall: float, text: str, growth: float = 5.0) -> dict[str, Any]:
    run = {"wall_seconds": wall, "text": text, "peak_rss_mib": 900.0, "rss_growth_mib": growth}
    return {
        "wall_seconds": wall,
        "rtf": wall / 100,
        "x_realtime": 100 / wall,
        "peak_rss_mib": 900.0,
        "rss_growth_mib": growth,
        "wer": 0.1 if text != REFERENCE else 0.0,
        "words": [10, 10],
        "reference_words": 10,
        "text_varied": False,
        "coverage": {
            "speech_seconds": 90.0,
            "uncovered_seconds": 0.5,
            "longest_uncovered": 0.5,
            "longest_uncovered_at": 12.0,
        },
        "runs": [run],
    }


def clip(name: str, base_wall: float, swe_wall: float, swe_text: str) -> dict[str, Any]:
    row = {
        "clip": name,
        "audio_seconds": 100.0,
        "reference": REFERENCE,
        "baseline": numbers(base_wall, REFERENCE),
        "swescribe": numbers(swe_wall, swe_text),
    }
    add_speedups(row, ("baseline", "swescribe"))
    return row


def test_speedups_are_baseline_wall_over_pipeline_wall_per_clip_and_in_total() -> None:
    clips = [clip("espeak_long", 90.0, 20.0, REFERENCE), clip("cv_1", 10.0, 5.0, REFERENCE)]
    assert clips[0]["swescribe"]["speedup"] == pytest.approx(4.5)
    assert clips[0]["baseline"]["speedup"] == pytest.approx(1.0)
    total = totals(clips, ("baseline", "swescribe"), repeat=1)
    assert total["audio_seconds"] == 200.0
    assert total["swescribe"]["wall_seconds"] == 25.0
    assert total["swescribe"]["speedup"] == pytest.approx(100.0 / 25.0)
    assert total["swescribe"]["wer"] == 0.0


def test_the_targets_are_met_only_with_enough_speedup_and_no_worse_wer() -> None:
    met = targets([clip("espeak_long", 90.0, 20.0, REFERENCE)])
    assert met is not None
    assert met["speedup_met"]
    assert met["wer_met"]
    slow = targets([clip("espeak_long", 30.0, 20.0, REFERENCE)])
    assert slow is not None
    assert not slow["speedup_met"]
    worse = targets([clip("espeak_long", 90.0, 20.0, "ett två tre")])
    assert worse is not None
    assert not worse["wer_met"]
    assert targets([clip("cv_1", 90.0, 20.0, REFERENCE)]) is None, "only on the long clip"


def test_the_table_shows_speedup_memory_growth_and_the_target_verdict() -> None:
    clips = [clip("espeak_long", 90.0, 20.0, REFERENCE)]
    report = {
        "setup": {
            "model": "whisper-base",
            "model_path": "/models/whisper-base",
            "device": "cpu",
            "compute_type": "int8",
            "cpu_threads": 2,
            "batch_size": 8,
            "load_seconds": {"baseline": 0.5, "swescribe": 0.6},
        },
        "machine": {"cpu": "test cpu"},
        "settings": {"pipelines": ["baseline", "swescribe"], "stat": "median", "repeat": 1},
        "clips": clips,
        "total": totals(clips, ("baseline", "swescribe"), 1),
        "targets": targets(clips),
    }
    out = io.StringIO()
    print_table(report, out)
    table = out.getvalue()
    assert "4.50x" in table
    assert "900 +5" in table
    assert "speedup 4.50x (at least 2.0x: met)" in table
    assert "(at most 0.010: met)" in table
