"""Swedish personal data in text, found and replaced by a tag of its kind (issue 29).

Pure functions on strings: `find_personal_data` says where, `redact_text` replaces.
Applying it to a transcript (words, timings, the JSON's list) is
core.redaction_transcript. Numbers are kept only when their checks hold (date and
Luhn digit, IBAN mod 97), so near misses (years, amounts, times, order numbers) stay."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from swescribe.core.errors import InvalidRequest
from swescribe.core.redaction_names import find_names
from swescribe.core.redaction_numbers import find_ibans, find_numbers

TAGS: dict[str, str] = {
    "personnummer": "[PERSONNUMMER]",
    "samordningsnummer": "[SAMORDNINGSNUMMER]",
    "phone": "[TELEFON]",
    "email": "[E-POST]",
    "account": "[KONTO]",
    "address": "[ADRESS]",
    "name": "[NAMN]",
}
"""Each kind of personal data and the tag that replaces it, most certain kind first."""
REDACTION_KINDS: tuple[str, ...] = tuple(TAGS)
KIND_ALIASES = {
    "iban": "account",
    "bankgiro": "account",
    "plusgiro": "account",
    "konto": "account",
    "telefon": "phone",
    "e-post": "email",
    "epost": "email",
    "adress": "address",
    "namn": "name",
}
"""Other names a kind is asked for by (Swedish ones among them)."""

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}")
_SPOKEN_EMAIL = re.compile(
    r"(?i)\b\w+(?:\s+(?:punkt|bindestreck|understreck)\s+\w+)*\s+snabel[- ]?a\s+"
    r"\w+(?:\s+(?:punkt|bindestreck)\s+\w+)*\s+punkt\s+[a-zåäö]{2,6}\b"
)
_STREET_ENDINGS = (
    "gatan|gata|vägen|väg|gränd|gränden|torget|torg|plan|planen|stigen|stig|allén|allé"
    "|backe|backen|leden|stråket|platsen|kajen|esplanaden|promenaden|parken|kroken|slingan"
)
_POSTAL = r"[1-9]\d{2} ?\d{2}[ ,]+[A-ZÅÄÖ][a-zåäö]+(?: [A-ZÅÄÖ][a-zåäö]+)?"
_ADDRESS = re.compile(
    rf"\b(?:[A-ZÅÄÖ][a-zåäö]+ )?[A-ZÅÄÖ][a-zåäö]*(?:{_STREET_ENDINGS})"
    rf" \d{{1,4}}(?: ?[A-Za-z]\b)?(?:,? {_POSTAL})?"
    rf"|\b{_POSTAL}"
)


@dataclass(frozen=True)
class Found:
    """Personal data of a kind at text[start:end]."""

    kind: str
    start: int
    end: int


def parse_kinds(value: bool | str | Iterable[str] | None) -> tuple[str, ...]:
    """The kinds to redact, in TAGS order: None, True or "all": every kind; False or
    "": none; else a comma list (or list) of kinds or their KIND_ALIASES."""
    if value is None or value is True:
        return REDACTION_KINDS
    if value is False:
        return ()
    names = value.split(",") if isinstance(value, str) else list(value)
    wanted = {KIND_ALIASES.get(n.strip().casefold(), n.strip().casefold()) for n in names}
    wanted.discard("")
    if "all" in wanted:
        return REDACTION_KINDS
    unknown = sorted(wanted - set(REDACTION_KINDS))
    if unknown:
        raise InvalidRequest(
            f"redact: unknown kind {', '.join(unknown)}; kinds: {', '.join(REDACTION_KINDS)}"
        )
    return tuple(kind for kind in REDACTION_KINDS if kind in wanted)


def find_personal_data(text: str, kinds: Sequence[str] = REDACTION_KINDS) -> list[Found]:
    """Where text holds personal data of kinds: non-overlapping, in order. Where two
    finds overlap, the longer wins (then the kind listed first in TAGS)."""
    wanted = frozenset(kinds)
    found: list[Found] = []
    if wanted & {"personnummer", "samordningsnummer", "phone", "account"}:
        found += [Found(n.kind, n.start, n.end) for n in find_numbers(text, wanted)]
    if "account" in wanted:
        found += [Found(n.kind, n.start, n.end) for n in find_ibans(text)]
    if "email" in wanted:
        for pattern in (_EMAIL, _SPOKEN_EMAIL):
            found += [Found("email", m.start(), m.end()) for m in pattern.finditer(text)]
    if "address" in wanted:
        found += [Found("address", m.start(), m.end()) for m in _ADDRESS.finditer(text)]
    if "name" in wanted:
        found += [Found("name", start, end) for start, end in find_names(text)]
    return _without_overlaps(found)


def _without_overlaps(found: list[Found]) -> list[Found]:
    rank = {kind: index for index, kind in enumerate(REDACTION_KINDS)}
    kept: list[Found] = []  # none overlapping, so in order of start and of end alike
    for item in sorted(found, key=lambda f: (f.start - f.end, rank[f.kind], f.start)):
        at = bisect_left(kept, item.start, key=lambda f: f.start)
        before_clear = at == 0 or kept[at - 1].end <= item.start
        after_clear = at == len(kept) or kept[at].start >= item.end
        if before_clear and after_clear:
            kept.insert(at, item)
    return kept


def replace_found(text: str, found: Sequence[Found]) -> str:
    """text with each find replaced by its kind's tag."""
    pieces: list[str] = []
    at = 0
    for item in found:
        pieces += [text[at : item.start], TAGS[item.kind]]
        at = item.end
    return "".join(pieces) + text[at:]


def redact_text(text: str, kinds: Sequence[str] = REDACTION_KINDS) -> str:
    return replace_found(text, find_personal_data(text, kinds))
