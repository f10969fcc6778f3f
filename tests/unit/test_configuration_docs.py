"""docs/configuration.md names every environment variable the code reads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_swescribe_variable_in_the_code_is_documented() -> None:
    code = "\n".join(p.read_text() for p in (ROOT / "src" / "swescribe").rglob("*.py"))
    used = set(re.findall(r'"(SWESCRIBE_[A-Z_]+)"', code))
    documented = set(re.findall(r"SWESCRIBE_[A-Z_]+", (ROOT / "docs/configuration.md").read_text()))
    assert used, "the pattern finds the variables"
    assert sorted(used - documented) == []
