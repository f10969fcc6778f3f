"""The text normalisation that WER is computed after, in tests and in the bench."""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[^\w\s]|_")


def normalise_for_wer(text: str) -> str:
    """NFC, lowercase; every character that is not a letter, digit or whitespace becomes
    a space; whitespace collapses. å, ä and ö are letters, so they count."""
    text = unicodedata.normalize("NFC", text).lower()
    return " ".join(_NOT_WORD.sub(" ", text).split())
