"""WER as the tests and the benchmark compute it (normalisation: docs/performance.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import jiwer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from textnorm import normalise_for_wer as normalise


def word_error_rate(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(normalise(reference), normalise(hypothesis)))
