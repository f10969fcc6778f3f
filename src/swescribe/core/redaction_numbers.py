"""Numbers that identify a person: personnummer, samordningsnummer, phone numbers and
accounts, found in runs of digit groups as speech recognition writes them ("19 85 03
12 12 34", "850312-1234", "070-123 45 67"), and each kept only when its checks hold."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_SPACE = "[ \u00a0\u202f]"
_SEPARATOR = rf"(?:{_SPACE}?[-+–]{_SPACE}?|{_SPACE}?\(0\){_SPACE}?|,{_SPACE}|{_SPACE}{{1,2}})"
"""Between digit groups: a hyphen or plus (spaced or not), "(0)", a comma and a space (a
pause, as speech recognition writes it; not for phone numbers), one or two spaces."""
_RUN = re.compile(rf"(?<![\w.,])\+?\d+(?:{_SEPARATOR}\d+)*(?![\w]|[.,]\d)")
_GROUP = re.compile(r"\d+")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{1,4}){2,8}\b")
_ACCOUNT_CUE = re.compile(
    r"(?i)\b(?:bankgiro\w*|plusgiro\w*|postgiro\w*|\w*konto\w*|clearing\w*|iban)"
    r"(?:\W+\w+){0,3}?\W+$"
)
_NOT_A_PHONE_CUE = re.compile(
    r"(?i)\b(?:order|ärende|faktura|referens|artikel|kund|beställning|serie)\w*\W+$"
)
_MAX_DIGITS = 14
_CUE_WINDOW = 60
"""How far back (characters) a cue word is looked for: a bounded window keeps a long
transcript's search linear."""


@dataclass(frozen=True)
class NumberFound:
    kind: str
    start: int
    end: int


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check that personnummer, bankgiro and plusgiro end with."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value // 10 + value % 10
    return total % 10 == 0


def _valid_date(year: int, month: int, day: int) -> bool:
    if not 1 <= month <= 12 or day < 1:
        return False
    days = (31, 29 if year % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    return day <= days[month - 1]


def identity_number_kind(digits: str) -> str | None:
    """ "personnummer" or "samordningsnummer" when digits (10, or 12 with the century)
    are one: a real date (day + 60 for a samordningsnummer) and the Luhn check digit."""
    if len(digits) == 12:
        if digits[:2] not in ("18", "19", "20"):
            return None
        digits = digits[2:]
    if len(digits) != 10 or not luhn_valid(digits):
        return None
    year, month, day = int(digits[:2]), int(digits[2:4]), int(digits[4:6])
    if _valid_date(year, month, day):
        return "personnummer"
    if _valid_date(year, month, day - 60):
        return "samordningsnummer"
    return None


def _is_phone(digits: str, plus: bool) -> bool:
    """A Swedish number: 0 and an area code (8 to 10 digits, a mobile 07x: 10), or the
    same after +46 / 0046 without its 0."""
    if plus or digits.startswith("0046"):
        rest = digits[2:] if plus else digits[4:]
        if not digits.startswith("46") and not digits.startswith("0046"):
            return False
        digits = "0" + (rest[1:] if rest.startswith("0") else rest)  # "+46 (0)70 ..."
    if not digits.startswith("0") or digits.startswith("00"):
        return False
    if digits.startswith("07"):
        return len(digits) == 10
    return 8 <= len(digits) <= 10


def _iban_valid(compact: str) -> bool:
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def find_ibans(text: str) -> Iterator[NumberFound]:
    """IBANs (any country) whose mod-97 check holds, longest first at each place."""
    for match in _IBAN.finditer(text):
        candidate = match.group()
        while candidate:
            if _iban_valid(candidate.replace(" ", "")):
                yield NumberFound("account", match.start(), match.start() + len(candidate))
                break
            candidate = candidate.rpartition(" ")[0] if " " in candidate else ""


def find_numbers(text: str, kinds: frozenset[str]) -> Iterator[NumberFound]:
    """Identity numbers, phone numbers and (after a cue such as "bankgiro" or
    "kontonummer") account numbers in text's digit runs."""
    for run in _RUN.finditer(text):
        digits = sum(c.isdigit() for c in run.group())
        if (
            "account" in kinds
            and digits >= 5
            and _ACCOUNT_CUE.search(text, max(0, run.start() - _CUE_WINDOW), run.start())
        ):
            yield NumberFound("account", run.start(), run.end())
            continue
        yield from _in_run(text, run, kinds)


def _in_run(text: str, run: re.Match[str], kinds: frozenset[str]) -> Iterator[NumberFound]:
    groups = list(_GROUP.finditer(text, run.start(), run.end()))
    phone_ok = "phone" in kinds and not _NOT_A_PHONE_CUE.search(
        text, max(0, run.start() - _CUE_WINDOW), run.start()
    )
    index = 0
    while index < len(groups):
        found = _longest_at(text, groups, index, kinds, phone_ok)
        if found is None:
            index += 1
            continue
        kind, last = found
        start = groups[index].start()
        if text[start - 1 : start] == "+":
            start -= 1
        yield NumberFound(kind, start, groups[last].end())
        index = last + 1


def _longest_at(
    text: str, groups: list[re.Match[str]], first: int, kinds: frozenset[str], phone_ok: bool
) -> tuple[str, int] | None:
    """The longest number starting at groups[first]: (kind, index of its last group)."""
    plus = text[groups[first].start() - 1 : groups[first].start()] == "+"
    best: tuple[str, int] | None = None
    digits = ""
    commas = False
    for last in range(first, len(groups)):
        digits += groups[last].group()
        if last > first:
            commas = commas or "," in text[groups[last - 1].end() : groups[last].start()]
        if len(digits) > _MAX_DIGITS:
            break
        kind = identity_number_kind(digits)
        if kind is not None and kind in kinds:
            best = (kind, last)
        elif phone_ok and not commas and _is_phone(digits, plus):
            best = ("phone", last)
    return best
