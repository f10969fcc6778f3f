"""The bench's numbers: accuracy per clip, totals, speedups, the issue-7 targets, the table."""

from __future__ import annotations

import statistics
from typing import Any, TextIO

import jiwer

from pipelines import BASELINE, SWESCRIBE
from swescribe.core.transcript import Segment
from swescribe.engine.coverage import measure_coverage
from textnorm import normalise_for_wer as normalise

TARGET_CLIP = "espeak_long"
TARGET_SPEEDUP = 2.0
"""swescribe at least this many times faster than the baseline on TARGET_CLIP ..."""
TARGET_WER_MARGIN = 0.01
"""... with a WER at most this much (1.0 point) above the baseline's."""


def accuracy(reference: str, texts: list[str]) -> dict[str, Any]:
    """Median WER over the runs' texts (None for an empty reference), and their word counts.

    Runs can differ: faster-whisper falls back to sampling at higher temperatures.
    """
    ref = normalise(reference)
    wers = [float(jiwer.wer(ref, normalise(text))) for text in texts] if ref else []
    words = [len(normalise(text).split()) for text in texts]
    return {
        "wer": statistics.median(wers) if wers else None,
        "words": [min(words), max(words)],
        "reference_words": len(ref.split()),
        "text_varied": len(set(texts)) > 1,
    }


def coverage(
    speech: list[tuple[float, float]], segments: tuple[tuple[float, float], ...]
) -> dict[str, Any]:
    """Speech seconds (by VAD) that no segment covers, and the longest such stretch."""
    measured = measure_coverage(
        speech, [Segment(i, start, end, "") for i, (start, end) in enumerate(segments)]
    )
    return {
        "speech_seconds": measured.speech_seconds,
        "uncovered_seconds": measured.uncovered_seconds,
        "longest_uncovered": measured.longest_uncovered,
        "longest_uncovered_at": measured.longest_uncovered_at,
    }


def add_speedups(row: dict[str, Any], names: list[str] | tuple[str, ...]) -> None:
    """Each pipeline's speedup over the baseline in the same row (baseline wall / wall)."""
    base = row.get(BASELINE)
    for name in names:
        if name in row and base is not None:
            row[name]["speedup"] = base["wall_seconds"] / row[name]["wall_seconds"]


def totals(clips: list[dict[str, Any]], names: tuple[str, ...], repeat: int) -> dict[str, Any]:
    """Sums over the clips every pipeline ran on; corpus WER of run r over all their words."""
    shared = [c for c in clips if all(name in c for name in names)]
    audio = sum(c["audio_seconds"] for c in shared)
    result: dict[str, Any] = {"clip": "TOTAL", "audio_seconds": audio}
    if not shared:
        return result
    reference = " ".join(c["reference"] for c in shared)
    for name in names:
        holes = [c[name]["coverage"] for c in shared]
        wall = sum(c[name]["wall_seconds"] for c in shared)
        texts = [" ".join(c[name]["runs"][run]["text"] for c in shared) for run in range(repeat)]
        result[name] = {
            "wall_seconds": wall,
            "rtf": wall / audio,
            "x_realtime": audio / wall,
            "peak_rss_mib": max(c[name]["peak_rss_mib"] for c in shared),
            "rss_growth_mib": max(c[name]["rss_growth_mib"] for c in shared),
            **accuracy(reference, texts),
            "coverage": {
                "speech_seconds": sum(h["speech_seconds"] for h in holes),
                "uncovered_seconds": sum(h["uncovered_seconds"] for h in holes),
                "longest_uncovered": max(h["longest_uncovered"] for h in holes),
                "longest_uncovered_at": None,
            },
        }
    add_speedups(result, names)
    return result


def targets(clips: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Issue 7's targets on the long clip, when it ran with both pipelines."""
    clip = next((c for c in clips if c["clip"] == TARGET_CLIP), None)
    if clip is None or BASELINE not in clip or SWESCRIBE not in clip:
        return None
    speedup = clip[SWESCRIBE]["speedup"]
    wer, base_wer = clip[SWESCRIBE]["wer"], clip[BASELINE]["wer"]
    return {
        "clip": TARGET_CLIP,
        "speedup": speedup,
        "speedup_target": TARGET_SPEEDUP,
        "speedup_met": speedup >= TARGET_SPEEDUP,
        "wer": wer,
        "baseline_wer": base_wer,
        "wer_target": base_wer + TARGET_WER_MARGIN,
        "wer_met": wer <= base_wer + TARGET_WER_MARGIN,
    }


def _row(label: str, audio: str, name: str, numbers: dict[str, Any]) -> str:
    wer = "-" if numbers["wer"] is None else f"{numbers['wer']:.3f}"
    low, high = numbers["words"]
    output = "empty" if high == 0 else f"{low}" if low == high else f"{low}-{high}"
    output += f" of {numbers['reference_words']} words" if high else ""
    output += ", runs differ" if numbers["text_varied"] else ""
    speedup = f"{numbers['speedup']:.2f}x" if "speedup" in numbers and name != BASELINE else ""
    memory = f"{numbers['peak_rss_mib']:.0f} +{numbers['rss_growth_mib']:.0f}"
    holes = numbers["coverage"]
    uncovered = f"{holes['uncovered_seconds']:.1f}/{holes['longest_uncovered']:.1f}"
    return (
        f"{label:<18}{audio:>8}  {name:<24}{numbers['wall_seconds']:>8.2f}"
        f"{numbers['rtf']:>7.3f}{numbers['x_realtime']:>8.2f}{speedup:>9}{wer:>8}"
        f"{uncovered:>11}{memory:>12}  {output}"
    )


def print_table(report: dict[str, Any], out: TextIO) -> None:
    setup = report["setup"]
    loads = setup["load_seconds"]
    print(
        f"\nmodel {setup['model']} ({setup['model_path']})\n"
        f"{setup['device']}/{setup['compute_type']}, {setup['cpu_threads']} threads, "
        f"batch {setup['batch_size']}, {report['machine']['cpu']}\n"
        f"model load: baseline {loads['baseline']:.2f} s, swescribe {loads['swescribe']:.2f} s; "
        f"wall = {report['settings']['stat']} of {report['settings']['repeat']}; "
        "RSS MiB = the process's peak during the run (both models loaded) +its growth "
        "in the run; uncov s = speech seconds (VAD) no segment covers / the longest such "
        "stretch\n",
        file=out,
    )
    header = f"{'clip':<18}{'audio s':>8}  {'pipeline':<24}{'wall s':>8}{'RTF':>7}{'xRT':>8}"
    print(f"{header}{'speedup':>9}{'WER':>8}{'uncov s':>11}{'RSS MiB':>12}  output", file=out)
    print("-" * 133, file=out)
    for clip in [*report["clips"], report["total"]]:
        label, audio = clip["clip"], f"{clip['audio_seconds']:.2f}"
        for name in report["settings"]["pipelines"]:
            if name in clip:
                print(_row(label, audio, name, clip[name]), file=out)
                label, audio = "", ""
    goals = report.get("targets")
    if goals:
        print(
            f"\ntarget on {goals['clip']}: speedup {goals['speedup']:.2f}x "
            f"(at least {goals['speedup_target']:.1f}x: "
            f"{'met' if goals['speedup_met'] else 'NOT met'}); "
            f"WER {goals['wer']:.3f} against the baseline's {goals['baseline_wer']:.3f} "
            f"(at most {goals['wer_target']:.3f}: {'met' if goals['wer_met'] else 'NOT met'})",
            file=out,
        )
    print(file=out)
