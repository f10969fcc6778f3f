"""Plain faster-whisper against the swescribe engine: same model files, same process, same audio.

    python bench/bench.py                          # quick set, one run each
    python bench/bench.py --clips longform         # human long-form first, then espeak_long
    python bench/bench.py --clips espeak_long --repeat 3      # the long clip (issue 7's target)
    python bench/bench.py --clips all --repeat 3 --json bench/results/all.json
    python bench/bench.py --clips espeak_long --ablation     # what each part of the engine buys
    python bench/bench.py --clips longform --pipelines fw-batched,swescribe,"beam 1"
    python bench/bench.py --hour                    # + a synthesised one-hour file (memory)
    python bench/bench.py --device cuda             # on a GPU
    python bench/bench.py --compute-type float32    # what int8 buys on the CPU

Method and the latest numbers: docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from longform import MIXES, build_long_form
from pipelines import ALL_PIPELINES, PEERS, Transcribe, make_pipelines
from report import accuracy, add_speedups, coverage, print_table, targets, totals
from swescribe.engine.audio import iter_windows, probe
from swescribe.engine.speech import speech_regions

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AUDIO_DIR = REPO_ROOT / ".." / "shared" / "audio" / "sv"
QUICK_CLIPS = ("lattlast_stts", "cv_18711295", "espeak_01")
LONGFORM_CLIPS = (
    "lattlast_stts",
    "longform_reading",
    "longform_mix_a",
    "longform_minutes",
    "espeak_long",
)
"""Human speech first (the shared reading, then files built from the human clips), then
the synthetic long clip as a second opinion."""
STATS: dict[str, Callable[[list[float]], float]] = {"min": min, "median": statistics.median}
HOUR_SOURCE = "espeak_long"
HOUR_COPIES = 13
"""13 x espeak_long (282.69 s) = 61.3 minutes."""


@dataclass(frozen=True)
class Clip:
    name: str
    wav: Path
    reference: str
    pipelines: tuple[str, ...]


class PeakRss:
    """The highest resident memory of this process while the block runs (sampled)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")

    def _now_mib(self) -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self._page / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mib = max(self.peak_mib, self._now_mib())

    @property
    def growth_mib(self) -> float:
        """How far the peak rose above the resident memory at the start of the block."""
        return self.peak_mib - self.start_mib

    def __enter__(self) -> PeakRss:
        self.start_mib = self.peak_mib = self._now_mib()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mib = max(self.peak_mib, self._now_mib())


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def select_clips(
    audio_dir: Path, spec: str, pipelines: tuple[str, ...], scratch: Path
) -> list[Clip]:
    """Clips from 'all' (every NAME.wav with a NAME.txt), 'longform', or a comma-separated
    list; the names in longform.MIXES are built from the human clips into scratch."""
    if spec == "all":
        names = sorted(p.stem for p in audio_dir.glob("*.wav") if p.with_suffix(".txt").is_file())
    elif spec == "longform":
        names = list(LONGFORM_CLIPS)
    else:
        names = [name.strip().removesuffix(".wav") for name in spec.split(",") if name.strip()]
    missing = [
        n
        for n in names
        if n not in MIXES and not all((audio_dir / f"{n}{x}").is_file() for x in (".wav", ".txt"))
    ]
    if missing or not names:
        raise SystemExit(f"need NAME.wav and NAME.txt in {audio_dir}: {', '.join(missing)}")
    clips = []
    for name in names:
        if name in MIXES:
            wav = scratch / f"{name}.wav"
            clips.append(Clip(name, wav, build_long_form(audio_dir, MIXES[name], wav), pipelines))
        else:
            text = (audio_dir / f"{name}.txt").read_text("utf-8")
            clips.append(Clip(name, audio_dir / f"{name}.wav", text, pipelines))
    return clips


def speech_of(wav: Path) -> list[tuple[float, float]]:
    """VAD speech regions of the whole file (seconds), for the coverage measure."""
    regions: list[tuple[float, float]] = []
    for offset, samples in iter_windows(wav, 600.0):
        regions.extend((offset + s, offset + e) for s, e in speech_regions(samples, True, 500))
    return regions


def hour_clip(
    audio_dir: Path, scratch: Path, pipelines: tuple[str, ...], copies: int = HOUR_COPIES
) -> Clip:
    """espeak_long 13 times over, as one WAV in scratch (never in the repository)."""
    source = audio_dir / f"{HOUR_SOURCE}.wav"
    with wave.open(str(source), "rb") as original:
        params = original.getparams()
        frames = original.readframes(original.getnframes())
    target = scratch / f"{HOUR_SOURCE}_x{copies}.wav"
    with wave.open(str(target), "wb") as out:
        out.setparams(params)
        for _ in range(copies):
            out.writeframes(frames)
    reference = " ".join([(audio_dir / f"{HOUR_SOURCE}.txt").read_text("utf-8")] * copies)
    return Clip(target.stem, target, reference, pipelines)


def bench_clip(
    pipelines: dict[str, Transcribe], clip: Clip, repeat: int, stat: str, flip: bool
) -> dict[str, Any]:
    """Run each pipeline repeat times on the clip, rotating which one goes first."""
    audio = probe(clip.wav).duration
    speech = speech_of(clip.wav)
    names = [name for name in pipelines if name in clip.pipelines]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for run in range(repeat):
        shift = (run + (1 if flip else 0)) % len(names)
        for name in names[shift:] + names[:shift]:
            with PeakRss() as rss:
                started = time.perf_counter()
                outcome = pipelines[name](clip.wav)
                wall = time.perf_counter() - started
            runs[name].append(
                {
                    "wall_seconds": wall,
                    "text": outcome.text,
                    "coverage": coverage(speech, outcome.segments),
                    "peak_rss_mib": rss.peak_mib,
                    "rss_growth_mib": rss.growth_mib,
                }
            )
            print(f"  {clip.name} {name} run {run + 1}/{repeat}: {wall:.2f} s", file=sys.stderr)
    result: dict[str, Any] = {
        "clip": clip.name,
        "audio_seconds": audio,
        "reference": clip.reference,
    }
    for name in names:
        wall = STATS[stat]([r["wall_seconds"] for r in runs[name]])
        result[name] = {
            "wall_seconds": wall,
            "rtf": wall / audio,
            "x_realtime": audio / wall,
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs[name]),
            "rss_growth_mib": max(r["rss_growth_mib"] for r in runs[name]),
            **accuracy(clip.reference, [r["text"] for r in runs[name]]),
            "coverage": max(
                (r["coverage"] for r in runs[name]), key=lambda c: c["uncovered_seconds"]
            ),
            "runs": runs[name],
        }
    add_speedups(result, names)
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--clips",
        default=",".join(QUICK_CLIPS),
        help="'all', 'longform' (human long-form first, then espeak_long) or comma-separated "
        "clip names, the built mixes included: " + ", ".join(MIXES) + " (default: %(default)s)",
    )
    parser.add_argument("--model", default="whisper-base", help="a swescribe model name or path")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--compute-type",
        default="auto",
        help="CTranslate2 compute type for both pipelines (auto: int8 on CPU, float16 on GPU)",
    )
    parser.add_argument("--language", default="sv")
    parser.add_argument("--repeat", type=int, default=1, help="runs per clip and pipeline")
    parser.add_argument("--stat", choices=sorted(STATS), default="median", help="of the runs")
    parser.add_argument(
        "--ablation", action="store_true", help="also run each ablation (see bench/pipelines.py)"
    )
    parser.add_argument(
        "--pipelines",
        help="comma-separated pipelines to run instead (peers and ablations by name: "
        + ", ".join(ALL_PIPELINES)
        + ")",
    )
    parser.add_argument(
        "--hour",
        action="store_true",
        help=f"add {HOUR_SOURCE} x{HOUR_COPIES} (61 min), swescribe only unless --hour-baseline",
    )
    parser.add_argument(
        "--hour-baseline", action="store_true", help="run the baseline on the hour too (slow)"
    )
    parser.add_argument(
        "--hour-copies",
        type=int,
        default=HOUR_COPIES,
        help="copies of espeak_long in --hour's file (default %(default)s, 61 min; 26: two hours)",
    )
    parser.add_argument(
        "--audio-dir", type=Path, default=DEFAULT_AUDIO_DIR, help="default: ../shared/audio/sv"
    )
    parser.add_argument("--json", metavar="PATH", help="write JSON here ('-': stdout)")
    parser.add_argument(
        "--warmup",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run every pipeline once, untimed, on the shortest clip of --audio-dir first",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= 100:
        parser.error("--repeat must be between 1 and 100")
    if not args.audio_dir.is_dir():
        parser.error(f"no audio directory {args.audio_dir}")
    if args.pipelines:
        chosen = tuple(dict.fromkeys(n.strip() for n in args.pipelines.split(",") if n.strip()))
        unknown = [name for name in chosen if name not in ALL_PIPELINES]
        if unknown or not chosen:
            parser.error(f"unknown pipelines: {', '.join(unknown)}")
        args.pipelines = chosen
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    audio_dir = args.audio_dir.resolve()
    names = args.pipelines or (ALL_PIPELINES if args.ablation else PEERS)
    setup = make_pipelines(args.model, args.device, names, args.language, args.compute_type)
    with tempfile.TemporaryDirectory(prefix="swescribe-bench-") as scratch:
        clips = select_clips(audio_dir, args.clips, names, Path(scratch))
        if args.hour:
            hour_pipelines = PEERS if args.hour_baseline else (PEERS[-1],)
            clips.append(hour_clip(audio_dir, Path(scratch), hour_pipelines, args.hour_copies))
        if args.warmup:  # on the shortest clip there is, so it costs seconds
            shortest = min(audio_dir.glob("*.wav"), key=lambda wav: wav.stat().st_size)
            for run in setup.pipelines.values():
                run(shortest)
        results = [
            bench_clip(setup.pipelines, clip, args.repeat, args.stat, flip=index % 2 == 1)
            for index, clip in enumerate(clips)
        ]
    report: dict[str, Any] = {
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "faster_whisper": version("faster-whisper"),
            "ctranslate2": version("ctranslate2"),
        },
        "setup": setup.facts,
        "settings": {
            "clips": [clip.name for clip in clips],
            "pipelines": list(names),
            "repeat": args.repeat,
            "stat": args.stat,
            "warmup": args.warmup,
        },
        "clips": results,
        "total": totals(results, names, args.repeat),
        "targets": targets(results),
    }
    print_table(report, sys.stderr if args.json == "-" else sys.stdout)
    if args.json == "-":
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        print()
    elif args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
