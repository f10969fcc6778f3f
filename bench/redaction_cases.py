"""A labelled Swedish test set for redaction (issue 29), built here, not downloaded:
sentences with personal data (each value marked with its kind) and sentences with none,
near misses included (wrong check digits, years, amounts, times, dates, order numbers,
towns, names that are words). tests/unit/test_redaction_figures.py bounds the figures;
bench/redaction.py prints them (docs/redaction.md)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from swescribe.core.redaction import REDACTION_KINDS, Found


@dataclass(frozen=True)
class Case:
    text: str
    values: tuple[tuple[str, str], ...]
    """(kind, the value as written in text) for each piece of personal data."""


def _check_digit(nine: str) -> str:
    total = 0
    for index, char in enumerate(nine):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value // 10 + value % 10
    return str((10 - total % 10) % 10)


def identity_number(rng: random.Random, coordination: bool = False) -> tuple[str, str]:
    """(century, ten digits) of a valid personnummer (or samordningsnummer)."""
    year, month, day = rng.randint(1930, 2015), rng.randint(1, 12), rng.randint(1, 28)
    nine = f"{year % 100:02d}{month:02d}{day + (60 if coordination else 0):02d}"
    nine += f"{rng.randint(0, 999):03d}"
    return str(year // 100), nine + _check_digit(nine)


WRITTEN_FORMS: tuple[Callable[[str, str], str], ...] = (
    lambda c, d: f"{d[:6]}-{d[6:]}",
    lambda c, d: d,
    lambda c, d: f"{d[:6]} {d[6:]}",
    lambda c, d: f"{c}{d[:6]}-{d[6:]}",
    lambda c, d: f"{c}{d}",
    lambda c, d: " ".join([c, *(d[i : i + 2] for i in range(0, 10, 2))]),
    lambda c, d: " ".join(d[i : i + 2] for i in range(0, 10, 2)),
    lambda c, d: f"{c}{d[:2]} {d[2:4]} {d[4:6]} {d[6:8]} {d[8:]}",
    lambda c, d: f"{d[:6]} {d[6:8]} {d[8:]}",
    lambda c, d: ", ".join([c, *(d[i : i + 2] for i in range(0, 10, 2))]),
)
"""How a personnummer is written, by people and by speech recognition."""

PNR_FRAMES = (
    "Mitt personnummer är {}.",
    "Personnumret {} står på remissen.",
    "Kan du bekräfta {} åt mig?",
    "Ja det är {} och jag ringer om min mamma.",
)
PHONES = (
    "070-123 45 67",
    "0701234567",
    "073 987 65 43",
    "+46 70 123 45 67",
    "+46 8 123 456 78",
    "08-123 456 78",
    "031 12 34 56",
    "0171-123 45",
    "076 55 44 33 2",
)
EMAILS = (
    "anna.svensson@exempel.se",
    "k.lindqvist@region.se",
    "info.kansli@kommun.se",
    "anna punkt svensson snabel-a exempel punkt se",
    "erik snabel-a firma punkt com",
)
ACCOUNTS = (
    ("IBAN {} gäller.", "SE45 5000 0000 0583 9825 7466"),
    ("Betala till bankgiro {} senast fredag.", "5050-1055"),
    ("Mitt kontonummer är {}.", "8327-9 123 456 789"),
    ("Plusgiro {} tack.", "4 12 34-5"),
)
ADDRESSES = (
    "Storgatan 12",
    "Kungsgatan 4B",
    "Sveavägen 101",
    "Lilla Nygatan 3",
    "Björkstigen 7, 123 45 Farsta",
    "451 50 Uddevalla",
    "Drottninggatan 55",
)
NAME_CASES = (
    ("Jag heter {}.", "Anna Svensson"),
    ("Jag pratade med {} i går.", "Erik"),
    ("{} ringde i morse.", "Karin Lindqvist"),
    ("Skicka det till {} på ekonomi.", "Johan Eriksson"),
    ("Hej {}, hur mår du?", "Maria"),
    ("Jag är {} och jobbar här.", "Sofia Berg"),
    ("Det var doktor {} som skrev.", "Holmberg"),
    ("Jag heter {} och ringer från Malmö.", "Ahmed Hassan"),
    ("Hon heter {}.", "Linnéa Öberg"),
)
NO_PERSONAL_DATA = (
    "Mitt personnummer är 811218-9877.",
    "Personnumret 19811218-9871 stämmer inte.",
    "Det hände 2024 och 1999.",
    "Det kostar 1 500 kronor, eller 12 000 kronor.",
    "Summan blev 2 345 678 kronor.",
    "Vi ses klockan 14.30 på tisdag.",
    "Mötet är den 2024-03-12 klockan 09.00.",
    "Ordernummer 4471 2290 33 skickades.",
    "Ärendenumret är 2024 1234.",
    "Fakturanummer 0012 3456 78 är betald.",
    "Jag åkte till Lund och sedan Göteborg.",
    "Per person kostar det 300 kronor.",
    "Björn sprang in i skogen.",
    "Vägen var 5 kilometer lång.",
    "Ring 112 om det brinner.",
    "Tabell 3 på sidan 45 visar 1 234 fall.",
    "Det var 19 81 procent i 12 18 fall.",
    "Temperaturen var 21,5 grader.",
    "Version 3.12.1 släpps i maj.",
    "Hans bil stod kvar i Uppsala.",
    "Stockholm och Malmö fick mest regn.",
    "Berg och dal var det hela vägen.",
    "Tåget går från spår 12 klockan 07.45.",
    "Hon vann med 6-4, 6-3 i finalen.",
    "Befolkningen ökade med 10 000 personer till 450 000.",
    "Kommunen har 35 skolor och 120 förskolor.",
    "Beslutet togs 1998 och ändrades 2021.",
    "Skriv in koden 4821 i rutan.",
    "Det är 3 grader kallt och 80 procent fukt.",
    "Ungefär 1 av 20 svarade nej.",
    "Vi åkte till Nora i helgen och sedan till Svea hovrätt.",
)


HARD_CASES = (
    Case("Vi bjöd Eva och Lars.", (("name", "Eva"), ("name", "Lars"))),
    Case("Anna ringde i morse.", (("name", "Anna"),)),
    Case("jag pratade med erik andersson i går", (("name", "erik andersson"),)),
    Case("Det är Annas bok.", (("name", "Annas"),)),
    Case("Jag träffade Tove Lo igår.", (("name", "Tove Lo"),)),
    Case("Hon heter Signe och bor i Kiruna.", (("name", "Signe"),)),
    Case(
        "Mejla anna svensson snabel-a exempel punkt se.",
        (("email", "anna svensson snabel-a exempel punkt se"),),
    ),
    Case(
        "Ring noll sju noll ett två tre fyra fem sex sju.",
        (("phone", "noll sju noll ett två tre fyra fem sex sju"),),
    ),
    Case("Ring +46 (0)70 123 45 67 i morgon.", (("phone", "+46 (0)70 123 45 67"),)),
    Case("Adressen är Storgatan tolv i Umeå.", (("address", "Storgatan tolv"),)),
    Case("Jag bor på Rosenlundsgatan 29 A.", (("address", "Rosenlundsgatan 29 A"),)),
    Case("Vi ses den 12 maj i Kalmar.", ()),
    Case("Jag heter inte så.", ()),
    Case("Ring kundtjänst på 0771-567 567.", (("phone", "0771-567 567"),)),
    Case("Hon bor på Hornsgatan.", ()),
    Case("Det var Per Albin Hansson som sa det.", (("name", "Per Albin Hansson"),)),
)
"""Cases written to find the method's limits (names alone at a sentence's start, in
lower case or outside the lists, numbers spoken as words): some are missed, on purpose
kept so that the figures show it."""


def build_cases(seed: int = 29) -> list[Case]:
    """The test set: every written form of generated personnummer and samordningsnummer
    in several sentences, and the other kinds in sentences of their own, and the
    sentences with no personal data."""
    rng = random.Random(seed)
    cases: list[Case] = []
    for coordination, kind in ((False, "personnummer"), (True, "samordningsnummer")):
        for form in WRITTEN_FORMS:
            for frame in PNR_FRAMES:
                value = form(*identity_number(rng, coordination))
                cases.append(Case(frame.format(value), ((kind, value),)))
    cases += [Case(f"Ring mig på {p} efter lunch.", (("phone", p),)) for p in PHONES]
    cases += [Case(f"Mejla {e} i dag.", (("email", e),)) for e in EMAILS]
    cases += [Case(frame.format(v), (("account", v),)) for frame, v in ACCOUNTS]
    cases += [Case(f"Jag bor på {a} sedan i våras.", (("address", a),)) for a in ADDRESSES]
    cases += [Case(frame.format(n), (("name", n),)) for frame, n in NAME_CASES]
    cases += [Case(text, ()) for text in NO_PERSONAL_DATA]
    return cases + list(HARD_CASES)


@dataclass(frozen=True)
class Score:
    kind: str
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0


def score(
    cases: Sequence[Case],
    find: Callable[[str], list[Found]],
    kinds: Sequence[str] = REDACTION_KINDS,
) -> dict[str, Score]:
    """Per kind: a value counts as found when a find of its kind covers all of it; a
    find that covers no value of its kind is a false positive."""
    counts = {kind: [0, 0, 0] for kind in kinds}
    for case in cases:
        finds = find(case.text)
        gold = [(kind, case.text.index(value), len(value)) for kind, value in case.values]
        for kind, start, length in gold:
            hit = any(
                f.kind == kind and f.start <= start and start + length <= f.end for f in finds
            )
            counts[kind][0 if hit else 2] += 1
        for f in finds:
            if not any(k == f.kind and f.start < s + n and s < f.end for k, s, n in gold):
                counts[f.kind][1] += 1
    return {kind: Score(kind, *numbers) for kind, numbers in counts.items()}


def untouched_share(cases: Sequence[Case], find: Callable[[str], list[Found]]) -> float:
    """The share of the sentences with no personal data that are left as they are."""
    clean = [case for case in cases if not case.values]
    return sum(not find(case.text) for case in clean) / len(clean)
