"""Multichannel: a two-party call with bleed, transcribed per channel (bench/calls.py).

    python bench/multichannel.py                     # whisper-base on the CPU
    python bench/multichannel.py --repeat 3 --json docs/bench/multichannel-2026-12-03.json

Per bleed level (the other party's voice in each channel, dB below its own): the call
transcribed with multichannel, with the bleed suppression on (the default margin) and
off; per channel the words of the other party that came out under it (duplicates:
bleed transcribed again) and the WER against the party's own text. Then the time: the
-20 dB call transcribed per channel against the same file mixed down to mono (what
swescribe did before multichannel), interleaved, --repeat times each after a warm-up.
Method and numbers: docs/performance.md ("Multichannel").
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import jiwer

from calls import build_call, foreign_words
from swescribe.config import Settings
from swescribe.core.transcript import Transcript
from swescribe.engine import Engine, ModelLocator, TranscribeOptions
from textnorm import normalise_for_wer as normalise

REPO_ROOT = Path(__file__).resolve().parent.parent
AUDIO_DIR = REPO_ROOT / ".." / "shared" / "audio" / "sv"

BLEEDS = (-26.0, -20.0, -14.0)


def word_error_rate(reference: str, text: str) -> float:
    return float(jiwer.wer(normalise(reference), normalise(text)))


def channel_text(transcript: Transcript, channel: int) -> str:
    return " ".join(s.text for s in transcript.segments if s.channel == channel)


def measure(transcript: Transcript, references: dict[int, str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for channel, reference in references.items():
        text = channel_text(transcript, channel)
        other = references[1 - channel]
        row[f"ch{channel + 1}"] = {
            "duplicated_words": len(foreign_words(text, reference, other)),
            "wer": round(word_error_rate(reference, text), 4),
        }
    row["duplicated_words"] = sum(row[f"ch{c + 1}"]["duplicated_words"] for c in references)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="whisper-base")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        locator = ModelLocator(Path(scratch) / "models", Settings().model_dirs)
        engine = Engine.load(args.model, locator, device=args.device)
        calls = {}
        for bleed in (None, *BLEEDS):
            wav = Path(scratch) / f"call{bleed}.wav"
            calls[bleed] = (wav, build_call(AUDIO_DIR, wav, bleed_db=bleed))
        for bleed, (wav, call) in calls.items():
            name = "no bleed" if bleed is None else f"{bleed:g} dB"
            suppressed = engine.transcribe(wav, TranscribeOptions(multichannel=True))
            rows[name] = {"suppressed": measure(suppressed, call.references)}
            if bleed is not None:
                kept = engine.transcribe(
                    wav, TranscribeOptions(multichannel=True, bleed_margin_db=None)
                )
                rows[name]["not_suppressed"] = measure(kept, call.references)
        wav, _ = calls[-20.0]
        engine.transcribe(wav, TranscribeOptions())
        mono_walls, multi_walls = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            mono = engine.transcribe(wav, TranscribeOptions())
            mono_walls.append(time.perf_counter() - started)
            started = time.perf_counter()
            multi = engine.transcribe(wav, TranscribeOptions(multichannel=True))
            multi_walls.append(time.perf_counter() - started)
    timing = {
        "audio_seconds": round(mono.duration, 2),
        "mono_wall": round(statistics.median(mono_walls), 3),
        "multichannel_wall": round(statistics.median(multi_walls), 3),
        "mono_speech_seconds": round(mono.coverage.speech_seconds, 2),
        "multichannel_segments": len(multi.segments),
        "mono_segments": len(mono.segments),
    }
    timing["ratio"] = round(timing["multichannel_wall"] / timing["mono_wall"], 3)
    print(f"model {engine.model.name} on {engine.plan.device}")
    print(f"{'bleed':10} {'dup on':>7} {'dup off':>8} {'WER ch1/ch2 on':>15} {'off':>12}")
    for name, row in rows.items():
        on, off = row["suppressed"], row.get("not_suppressed")
        print(
            f"{name:10} {on['duplicated_words']:7d} "
            f"{off['duplicated_words'] if off else '-':>8} "
            f"{on['ch1']['wer']:7.3f}/{on['ch2']['wer']:.3f} "
            + (f"{off['ch1']['wer']:6.3f}/{off['ch2']['wer']:.3f}" if off else "")
        )
    print(
        f"time: mono {timing['mono_wall']:.2f} s, multichannel {timing['multichannel_wall']:.2f}"
        f" s (x{timing['ratio']:.2f}) for {timing['audio_seconds']:.1f} s of audio"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "model": engine.model.name,
            "device": engine.plan.device,
            "machine": platform.processor() or platform.machine(),
            "repeat": args.repeat,
            "calls": rows,
            "timing": timing,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
