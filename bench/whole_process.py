"""Whole processes, as a user runs them: `swescribe transcribe` against faster-whisper's
own BatchedInferencePipeline (batch 8, its defaults) in a script that loads the model
and runs it, model loading and imports included. Plain faster-whisper (beam 5,
temperature 0) is the second peer (--plain; slow).

    python bench/whole_process.py --clips longform --repeat 3 --json docs/bench/x.json

Every process gets the same model files, device, compute type and CPU threads. Runs
rotate which pipeline goes first; the median of the runs is reported. Issue 19's target:
swescribe at least 1.33x faster than fw-batched over the clips, at the engine's WER.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import DEFAULT_AUDIO_DIR, Clip, cpu_model, select_clips, speech_of
from report import accuracy, coverage
from swescribe.config import Settings
from swescribe.engine.device import plan_device
from swescribe.engine.models import ModelLocator

HERE = Path(__file__).resolve().parent
TARGET_SPEEDUP = 1.33
SWESCRIBE = "swescribe"
FW_BATCHED = "fw-batched"
PLAIN = "baseline"


def commands(
    model: str, model_dir: Path, device: str, compute_type: str, threads: int, language: str
) -> dict[str, Any]:
    """name -> (audio, out dir) -> argv; and how each names its output file."""
    peer = [
        "--device",
        device,
        "--compute-type",
        compute_type,
        "--cpu-threads",
        str(threads),
        "--language",
        language,
    ]

    def swescribe(audio: Path, out: Path) -> list[str]:
        return [
            *(sys.executable, "-m", "swescribe", "transcribe", str(audio)),
            *("--model", model, "--device", device, "--compute-type", compute_type),
            *("--language", language, "--format", "json", "-o", str(out), "-q"),
        ]

    def faster_whisper(pipeline: str) -> Any:
        def argv(audio: Path, out: Path) -> list[str]:
            script = str(HERE / "fw_process.py")
            target = str(out / f"{audio.stem}.json")
            files = [str(model_dir), str(audio), target]
            return [sys.executable, script, *files, *peer, "--pipeline", pipeline]

        return argv

    return {
        SWESCRIBE: swescribe,
        FW_BATCHED: faster_whisper("batched"),
        PLAIN: faster_whisper("plain"),
    }


def run_once(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def read_outcome(out: Path, audio: Path) -> tuple[str, tuple[tuple[float, float], ...]]:
    data = json.loads((out / f"{audio.stem}.json").read_text("utf-8"))
    return data["text"], tuple((float(s["start"]), float(s["end"])) for s in data["segments"])


def bench_clip(
    clip: Clip, argvs: dict[str, Any], names: list[str], repeat: int, env: dict[str, str]
) -> dict[str, Any]:
    speech = speech_of(clip.wav)
    walls: dict[str, list[float]] = {name: [] for name in names}
    texts: dict[str, list[str]] = {name: [] for name in names}
    covers: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for run in range(repeat):
        shift = run % len(names)
        for name in names[shift:] + names[:shift]:
            with tempfile.TemporaryDirectory(prefix="swescribe-whole-") as out:
                wall = run_once(argvs[name](clip.wav, Path(out)), env)
                text, segments = read_outcome(Path(out), clip.wav)
            walls[name].append(wall)
            texts[name].append(text)
            covers[name].append(coverage(speech, segments))
            print(f"  {clip.name} {name} run {run + 1}/{repeat}: {wall:.2f} s", file=sys.stderr)
    row: dict[str, Any] = {"clip": clip.name}
    for name in names:
        row[name] = {
            "wall_seconds": statistics.median(walls[name]),
            "runs": walls[name],
            **accuracy(clip.reference, texts[name]),
            "coverage": max(covers[name], key=lambda c: c["uncovered_seconds"]),
        }
    return row


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ours = sum(row[SWESCRIBE]["wall_seconds"] for row in rows)
    peer = sum(row[FW_BATCHED]["wall_seconds"] for row in rows)
    speedup = peer / ours
    longest = max(row[SWESCRIBE]["coverage"]["longest_uncovered"] for row in rows)
    return {
        "swescribe_seconds": ours,
        "fw_batched_seconds": peer,
        "speedup_vs_fw_batched": speedup,
        "target": TARGET_SPEEDUP,
        "met": speedup >= TARGET_SPEEDUP,
        "longest_uncovered": longest,
    }


def print_table(rows: list[dict[str, Any]], names: list[str], summary: dict[str, Any]) -> None:
    print(f"{'clip':20} " + " ".join(f"{n + ' s':>14} {'WER':>6}" for n in names))
    for row in rows:
        cells = " ".join(
            f"{row[n]['wall_seconds']:14.2f} {row[n]['wer'] or 0.0:6.3f}" for n in names
        )
        print(f"{row['clip']:20} {cells}")
    state = "met" if summary["met"] else "NOT met"
    print(
        f"1.33x target (whole process, all clips): swescribe {summary['swescribe_seconds']:.1f} s, "
        f"fw-batched {summary['fw_batched_seconds']:.1f} s: "
        f"{summary['speedup_vs_fw_batched']:.2f}x, {state}; longest uncovered speech "
        f"{summary['longest_uncovered']:.2f} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", default="longform")
    parser.add_argument("--model", default="whisper-base")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--compute-type", default="auto")
    parser.add_argument("--language", default="sv")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plain", action="store_true", help="also plain faster-whisper (slow)")
    parser.add_argument("--audio-dir", type=Path, default=DEFAULT_AUDIO_DIR)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= 20:
        parser.error("--repeat must be between 1 and 20")

    settings = Settings.from_env()
    resolved = ModelLocator(settings.model_cache_dir, settings.model_dirs).resolve(args.model)
    plan = plan_device(args.device, args.compute_type, settings.cpu_threads)
    argvs = commands(
        args.model,
        resolved.path,
        plan.device,
        plan.compute_type,
        plan.cpu_threads,
        args.language,
    )
    names = [SWESCRIBE, FW_BATCHED] + ([PLAIN] if args.plain else [])
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory(prefix="swescribe-bench-") as scratch:
        clips = select_clips(args.audio_dir.resolve(), args.clips, tuple(names), Path(scratch))
        rows = [bench_clip(clip, argvs, names, args.repeat, env) for clip in clips]
    summary = verdict(rows)
    print_table(rows, names, summary)
    report = {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count()},
        "setup": {
            "model": resolved.name,
            "device": plan.device,
            "compute_type": plan.compute_type,
            "cpu_threads": plan.cpu_threads,
            "repeat": args.repeat,
            "stat": "median",
        },
        "clips": rows,
        "verdict": summary,
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
