"""Plain faster-whisper against the swescribe engine: same model files, same process, same audio.

    python bench/bench.py                        # quick set, one run each
    python bench/bench.py --clips all --repeat 3 --json bench.json
    python bench/bench.py --clips espeak_long --json -   # JSON on stdout, table on stderr

Method and the latest numbers: docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, TextIO

import jiwer

from swescribe.config import Settings
from swescribe.engine import Engine, ModelLocator, TranscribeOptions
from swescribe.engine.audio import probe
from swescribe.engine.textnorm import normalise_for_wer as normalise

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AUDIO_DIR = REPO_ROOT / ".." / "shared" / "audio" / "sv"
QUICK_CLIPS = ("cv_18711295", "espeak_01", "lattlast_stts")
PIPELINES = ("baseline", "swescribe")
STATS: dict[str, Callable[[list[float]], float]] = {"min": min, "median": statistics.median}

Transcribe = Callable[[Path], str]


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def select_clips(audio_dir: Path, spec: str) -> list[str]:
    """Clip names from 'all' (every NAME.wav with a NAME.txt) or a comma-separated list."""
    if spec == "all":
        names = sorted(p.stem for p in audio_dir.glob("*.wav") if p.with_suffix(".txt").is_file())
    else:
        names = [name.strip().removesuffix(".wav") for name in spec.split(",") if name.strip()]
    missing = [
        n for n in names if not all((audio_dir / f"{n}{x}").is_file() for x in (".wav", ".txt"))
    ]
    if missing or not names:
        raise SystemExit(f"need NAME.wav and NAME.txt in {audio_dir}: {', '.join(missing)}")
    return names


def make_pipelines(model: str, device: str) -> tuple[dict[str, Transcribe], dict[str, Any]]:
    """Load the engine and a separate plain WhisperModel from the same CT2 directory."""
    from faster_whisper import WhisperModel

    settings = Settings.from_env()
    locator = ModelLocator(settings.model_cache_dir, settings.model_dirs)
    started = time.perf_counter()
    engine = Engine.load(model, locator, device=device)
    resolve_seconds = time.perf_counter() - started - engine.load_seconds
    plan = engine.plan
    started = time.perf_counter()
    whisper = WhisperModel(
        str(engine.model.path),
        device=plan.device,
        compute_type=plan.compute_type,
        cpu_threads=plan.cpu_threads,
    )
    baseline_load = time.perf_counter() - started
    options = TranscribeOptions(language="sv")

    def baseline(wav: Path) -> str:
        segments, _ = whisper.transcribe(str(wav), language="sv", beam_size=5)
        return " ".join(segment.text.strip() for segment in segments)

    def swescribe(wav: Path) -> str:
        return engine.transcribe(wav, options).text

    setup = {
        "model": engine.model.name,
        "model_path": str(engine.model.path),
        "device": plan.device,
        "compute_type": plan.compute_type,
        "cpu_threads": plan.cpu_threads,
        "resolve_seconds": resolve_seconds,
        "load_seconds": {"baseline": baseline_load, "swescribe": engine.load_seconds},
    }
    return {"baseline": baseline, "swescribe": swescribe}, setup


def timed(run: Transcribe, wav: Path) -> tuple[float, str]:
    """Wall seconds of one transcription, audio decode included, and its text."""
    started = time.perf_counter()
    text = run(wav)
    return time.perf_counter() - started, text


def summarise(
    audio: float, walls: list[float], texts: list[str], reference: str, stat: str
) -> dict[str, Any]:
    """One pipeline on one clip: the chosen wall time, its rates, the WER of its runs."""
    wall = STATS[stat](walls)
    runs = [{"wall_seconds": w, "text": t} for w, t in zip(walls, texts, strict=True)]
    return {
        "wall_seconds": wall,
        "rtf": wall / audio,
        "x_realtime": audio / wall,
        **accuracy(reference, texts),
        "runs": runs,
    }


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
        "text_varied": len(set(texts)) > 1,
    }


def bench_clip(
    pipelines: dict[str, Transcribe], wav: Path, repeat: int, stat: str, flip: bool
) -> dict[str, Any]:
    """Run both pipelines repeat times on wav, alternating which one goes first."""
    audio = probe(wav).duration
    reference = wav.with_suffix(".txt").read_text(encoding="utf-8").strip()
    walls: dict[str, list[float]] = {name: [] for name in PIPELINES}
    texts: dict[str, list[str]] = {name: [] for name in PIPELINES}
    for run in range(repeat):
        order = PIPELINES[::-1] if (run % 2 == 1) != flip else PIPELINES
        for name in order:
            wall, text = timed(pipelines[name], wav)
            walls[name].append(wall)
            texts[name].append(text)
            print(f"  {wav.stem} {name} run {run + 1}/{repeat}: {wall:.2f} s", file=sys.stderr)
    result: dict[str, Any] = {"clip": wav.stem, "audio_seconds": audio, "reference": reference}
    for name in PIPELINES:
        result[name] = summarise(audio, walls[name], texts[name], reference, stat)
    result["speedup"] = result["baseline"]["wall_seconds"] / result["swescribe"]["wall_seconds"]
    return result


def totals(clips: list[dict[str, Any]], repeat: int) -> dict[str, Any]:
    """Sums over all clips; corpus WER of run r over the concatenated words of every clip."""
    audio = sum(c["audio_seconds"] for c in clips)
    reference = " ".join(c["reference"] for c in clips)
    result: dict[str, Any] = {"audio_seconds": audio}
    for name in PIPELINES:
        wall = sum(c[name]["wall_seconds"] for c in clips)
        texts = [" ".join(c[name]["runs"][run]["text"] for c in clips) for run in range(repeat)]
        result[name] = {
            "wall_seconds": wall,
            "rtf": wall / audio,
            "x_realtime": audio / wall,
            **accuracy(reference, texts),
        }
    result["speedup"] = result["baseline"]["wall_seconds"] / result["swescribe"]["wall_seconds"]
    return result


def _row(label: str, audio: str, name: str, numbers: dict[str, Any], speedup: str) -> str:
    wer = "-" if numbers["wer"] is None else f"{numbers['wer']:.3f}"
    low, high = numbers["words"]
    output = "empty" if high == 0 else f"{low} words" if low == high else f"{low}-{high} words"
    output += ", runs differ" if numbers["text_varied"] else ""
    return (
        f"{label:<16}{audio:>8}  {name:<10}{numbers['wall_seconds']:>8.2f}"
        f"{numbers['rtf']:>7.3f}{numbers['x_realtime']:>7.2f}{speedup:>9}{wer:>8}  {output}"
    )


def print_table(report: dict[str, Any], out: TextIO) -> None:
    setup = report["setup"]
    loads = setup["load_seconds"]
    print(
        f"\nmodel {setup['model']} ({setup['model_path']})\n"
        f"{setup['device']}/{setup['compute_type']}, {setup['cpu_threads']} threads, "
        f"{report['machine']['cpu']}\n"
        f"load: baseline {loads['baseline']:.2f} s, swescribe {loads['swescribe']:.2f} s; "
        f"peak RSS {report['peak_rss_mib']['end']:.0f} MiB "
        f"({report['peak_rss_mib']['after_load']:.0f} MiB after loading both models); "
        f"wall = {report['settings']['stat']} of {report['settings']['repeat']}\n",
        file=out,
    )
    header = f"{'clip':<16}{'audio s':>8}  {'pipeline':<10}{'wall s':>8}{'RTF':>7}{'xRT':>7}"
    print(f"{header}{'speedup':>9}{'WER':>8}  output", file=out)
    print("-" * 90, file=out)
    for clip in [*report["clips"], {"clip": "TOTAL", **report["total"]}]:
        speedup = f"{clip['speedup']:.2f}x"
        audio = f"{clip['audio_seconds']:.2f}"
        print(_row(clip["clip"], audio, "baseline", clip["baseline"], ""), file=out)
        print(_row("", "", "swescribe", clip["swescribe"], speedup), file=out)
    print(file=out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--clips",
        default=",".join(QUICK_CLIPS),
        help="'all' or comma-separated clip names (default: %(default)s)",
    )
    parser.add_argument("--model", default="whisper-base", help="a swescribe model name or path")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--repeat", type=int, default=1, help="runs per clip and pipeline")
    parser.add_argument("--stat", choices=sorted(STATS), default="median", help="of the runs")
    parser.add_argument(
        "--audio-dir", type=Path, default=DEFAULT_AUDIO_DIR, help="default: ../shared/audio/sv"
    )
    parser.add_argument("--json", metavar="PATH", help="write JSON here ('-': stdout)")
    parser.add_argument(
        "--warmup",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run both pipelines once, untimed, on the shortest clip first",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= 100:
        parser.error("--repeat must be between 1 and 100")
    if not args.audio_dir.is_dir():
        parser.error(f"no audio directory {args.audio_dir}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    audio_dir = args.audio_dir.resolve()
    wavs = [audio_dir / f"{name}.wav" for name in select_clips(audio_dir, args.clips)]
    pipelines, setup = make_pipelines(args.model, args.device)
    after_load = peak_rss_mib()
    if args.warmup:
        shortest = min(wavs, key=lambda wav: wav.stat().st_size)
        for name in PIPELINES:
            pipelines[name](shortest)
    clips = [
        bench_clip(pipelines, wav, args.repeat, args.stat, flip=index % 2 == 1)
        for index, wav in enumerate(wavs)
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
        "setup": setup,
        "settings": {
            "clips": [wav.stem for wav in wavs],
            "repeat": args.repeat,
            "stat": args.stat,
            "warmup": args.warmup,
            "audio_dir": str(audio_dir),
        },
        "peak_rss_mib": {"after_load": after_load, "end": peak_rss_mib()},
        "clips": clips,
        "total": totals(clips, args.repeat),
    }
    print_table(report, sys.stderr if args.json == "-" else sys.stdout)
    if args.json == "-":
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        print()
    elif args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
