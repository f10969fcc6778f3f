"""Custom vocabulary and translation, measured on the engine.

    python bench/vocabulary.py                         # whisper-base, CPU, both decode paths
    python bench/vocabulary.py --model kb-whisper-small --json out.json

Vocabulary: a clip full of rare Swedish names (surnames, small places, invented ones),
spoken by espeak-ng at bench time, transcribed without and with `prompt`, `hotwords`, and
both; WER and name accuracy (the share of the names written exactly as spelled) for each.
Translation: `task=translate` on a human Swedish clip, WER against an English reference.
Results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jiwer

from swescribe.engine import Engine, ModelLocator, TranscribeOptions
from textnorm import normalise_for_wer as normalise

REPO_ROOT = Path(__file__).resolve().parent.parent
AUDIO_DIR = REPO_ROOT / ".." / "shared" / "audio" / "sv"
NAMES = (
    "Ljungqvist",
    "Wahlbeck",
    "Ödeshög",
    "Tjällmo",
    "Zetterqvist",
    "Skärblacka",
    "Hultkrantz",
    "Örkelljunga",
    "Brännström",
    "Grisslehamn",
    "Kvarnbäck",
    "Sjöqvist",
    "Tjälvegård",
    "Åhlberg",
    "Hjortzberg",
    "Vittinge",
)
SENTENCES = (
    "Mötet med Ljungqvist och Wahlbeck hölls i Ödeshög i tisdags.",
    "Sedan åkte Zetterqvist vidare till Tjällmo och Skärblacka.",
    "Hultkrantz bor numera i Örkelljunga med familjen Brännström.",
    "Färjan från Grisslehamn var försenad enligt Kvarnbäck.",
    "Sjöqvist och Åhlberg köpte gården Tjälvegård förra året.",
    "Till sist ringde Hjortzberg från stationen i Vittinge.",
)
"""Each name once, in ordinary sentences."""
PROMPT = "Namn och orter: " + ", ".join(NAMES) + "."
HOTWORDS = " ".join(NAMES)
CONDITIONS: dict[str, dict[str, str]] = {
    "none": {},
    "prompt": {"initial_prompt": PROMPT},
    "hotwords": {"hotwords": HOTWORDS},
    "prompt+hotwords": {"initial_prompt": PROMPT, "hotwords": HOTWORDS},
}
TRANSLATION_CLIP = "lattlast_stts"
TRANSLATION_REFERENCE = (
    "Common features of easy-to-read texts are that they have an airy layout, are short, "
    "have a personal tone, have a varied sentence length, contain words that make the "
    "sentences hang together, avoid long nouns, avoid foreign words, explain connections, "
    "avoid the passive voice, avoid abstract concepts."
)
"""lattlast_stts.txt, translated by hand."""


def speak(text: str, target: Path) -> Path:
    """espeak-ng's Swedish voice, as WAV (22.05 kHz; the engine resamples, as for any file)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        sys.exit("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run([espeak, "-v", "sv", "-s", "150", "-w", str(target), text], check=True)
    return target


def name_accuracy(text: str) -> tuple[int, list[str]]:
    """How many of NAMES the text spells exactly (as whole words), and the missed ones."""
    found = {name for name in NAMES if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text)}
    return len(found), [name for name in NAMES if name not in found]


def wer(reference: str, text: str) -> float:
    return float(jiwer.wer(normalise(reference), normalise(text)))


def run_vocabulary(
    engine: Engine, clip: Path, batch_sizes: list[int | None]
) -> list[dict[str, Any]]:
    reference = " ".join(SENTENCES)
    rows = []
    for batch_size in batch_sizes:
        for condition, vocabulary in CONDITIONS.items():
            started = time.perf_counter()
            transcript = engine.transcribe(
                clip,
                TranscribeOptions(batch_size=batch_size, **vocabulary),  # type: ignore[arg-type]
            )
            seconds = time.perf_counter() - started
            hits, missed = name_accuracy(transcript.text)
            rows.append(
                {
                    "decode_path": "sequential" if batch_size == 1 else "batched",
                    "condition": condition,
                    "wer": round(wer(reference, transcript.text), 4),
                    "names_right": hits,
                    "names": len(NAMES),
                    "name_accuracy": round(hits / len(NAMES), 3),
                    "missed": missed,
                    "seconds": round(seconds, 2),
                    "text": transcript.text,
                }
            )
    return rows


def run_translation(engine: Engine) -> dict[str, Any]:
    clip = AUDIO_DIR / f"{TRANSLATION_CLIP}.wav"
    transcript = engine.transcribe(clip, TranscribeOptions(task="translate"))
    return {
        "clip": TRANSLATION_CLIP,
        "wer_vs_english_reference": round(wer(TRANSLATION_REFERENCE, transcript.text), 4),
        "text": transcript.text,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", default="whisper-base")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None, help="Write the results here too.")
    parser.add_argument("--no-translation", action="store_true")
    args = parser.parse_args(argv)

    cache = Path(tempfile.gettempdir()) / "swescribe-bench-models"
    locator = ModelLocator(cache, search_dirs=(), allow_download=args.model != "whisper-base")
    engine = Engine.load(args.model, locator, device=args.device)
    with tempfile.TemporaryDirectory() as scratch:
        clip = speak(" ".join(SENTENCES), Path(scratch) / "names.wav")
        rows = run_vocabulary(engine, clip, [None, 1])
    results: dict[str, Any] = {
        "model": engine.model.name,
        "device": engine.plan.device,
        "compute_type": engine.plan.compute_type,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "vocabulary": rows,
    }
    if not args.no_translation:
        results["translation"] = run_translation(engine)

    print(f"model {results['model']} on {results['device']}/{results['compute_type']}")
    print(f"{'path':<11} {'vocabulary':<16} {'WER':>6} {'names right':>12} {'seconds':>8}")
    for row in rows:
        print(
            f"{row['decode_path']:<11} {row['condition']:<16} {row['wer']:>6.3f} "
            f"{row['names_right']:>5}/{row['names']:<6} {row['seconds']:>8.2f}"
        )
    if "translation" in results:
        translation = results["translation"]
        print(f"translate {translation['clip']}: WER vs English reference "
              f"{translation['wer_vs_english_reference']:.3f}: {translation['text']}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
