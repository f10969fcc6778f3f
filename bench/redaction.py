"""Redaction precision and recall per kind on the labelled test set (no model, a second).

python bench/redaction.py              # the table, as in docs/redaction.md
python bench/redaction.py --misses     # and each value missed or text wrongly redacted
"""

from __future__ import annotations

import argparse

from redaction_cases import build_cases, score, untouched_share
from swescribe.core.redaction import find_personal_data, redact_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    cases = build_cases()
    scores = score(cases, find_personal_data)
    print(f"{len(cases)} sentences, {sum(not c.values for c in cases)} with no personal data")
    print("| kind | values | found | wrongly redacted | precision | recall |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, s in scores.items():
        values = s.true_positives + s.false_negatives
        print(
            f"| {kind} | {values} | {s.true_positives} | {s.false_positives} "
            f"| {s.precision:.3f} | {s.recall:.3f} |"
        )
    untouched = untouched_share(cases, find_personal_data)
    print(f"sentences with no personal data left untouched: {untouched:.3f}")
    if args.misses:
        for case in cases:
            redacted = redact_text(case.text)
            wrong = any(value in redacted for _, value in case.values) or (
                not case.values and redacted != case.text
            )
            if wrong:
                print(f"  {case.text!r} -> {redacted!r}")


if __name__ == "__main__":
    main()
