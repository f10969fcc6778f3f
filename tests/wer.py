"""WER as the tests and the benchmark compute it.

Normalisation (documented in docs/performance.md): lowercase, every character that is
not a letter, digit or whitespace becomes a space, whitespace collapses. Swedish
letters (å, ä, ö) are letters, so they count.
"""

from __future__ import annotations

import re

import jiwer

_NOT_WORD = re.compile(r"[^\w\s]|_")


def normalise(text: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", text.lower()).split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(normalise(reference), normalise(hypothesis)))
