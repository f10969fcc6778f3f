"""People's names, found with name lists and context rules (no model).

A capitalised word from the list of common Swedish first names is a name, with the
capitalised surnames that follow it, unless it opens a sentence (where any word is
capitalised): there it needs a surname after it. After a cue ("heter", "jag är",
"herr", "doktor"...) any capitalised words are a name. A surname alone is not (Lund,
Berg and Holm are towns and words too). What it misses: names outside the lists with
no cue, names written in lower case, a first name alone at a sentence's start."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from importlib import resources

_WORD = re.compile(r"[A-ZÅÄÖÉÜ][a-zåäöéüà]+(?:-[A-ZÅÄÖÉÜ][a-zåäöéüà]+)?")
_SURNAME_ENDING = re.compile(
    r"(?:sson|son|berg|ström|qvist|quist|kvist|gren|lund|dahl|holm|blad|stedt|lin|ell)$"
)
_CUE = re.compile(
    r"(?i)(?:\bheter|\bjag är|\bnamnet är|\bkallas"
    r"|\bherr|\bfru|\bfröken|\bdoktor|\bdr\.?|\bprofessor|\bsyster|\bmamma|\bpappa)"
    r"[ ,]+$"
)

_CUE_WINDOW = 40
"""How far back (characters) a cue is looked for: bounded, so a long text stays linear."""


@cache
def _names(file: str) -> frozenset[str]:
    text = resources.files("swescribe.core").joinpath("data", file).read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def first_names() -> frozenset[str]:
    return _names("first_names_sv.txt")


def surnames() -> frozenset[str]:
    return _names("surnames_sv.txt")


def _is_first_name(word: str) -> bool:
    """A listed first name, double names (Anna-Karin) and the genitive (Annas) too."""
    names = first_names()
    if word.endswith("s") and word[:-1] in names:
        return True
    return all(part in names for part in word.split("-"))


def _is_surname(word: str) -> bool:
    return word in surnames() or _is_first_name(word) or bool(_SURNAME_ENDING.search(word))


def _opens_sentence(text: str, start: int) -> bool:
    before = text[max(0, start - _CUE_WINDOW) : start].rstrip()
    if not before and start > _CUE_WINDOW:
        return False  # a long run of spaces
    return not before or before[-1] in '.!?:;"”–-'


def find_names(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each name in text."""
    words = list(_WORD.finditer(text))
    index = 0
    while index < len(words):
        word = words[index]
        cued = bool(_CUE.search(text, max(0, word.start() - _CUE_WINDOW), word.start()))
        last = index
        while (
            last + 1 < len(words)
            and text[words[last].end() : words[last + 1].start()] == " "
            and (cued or _is_surname(words[last + 1].group()))
        ):
            last += 1
        first = _is_first_name(word.group())
        if cued or (first and (last > index or not _opens_sentence(text, word.start()))):
            yield word.start(), words[last].end()
            index = last + 1
        else:
            index += 1
