"""What `swescribe serve` adds to the engine's time: upload to webhook, on loopback.

    python bench/service.py                         # both targets, 2 runs a side, interleaved
    python bench/service.py --repeat 3 --json docs/bench/service.json
    python bench/service.py --workers 2             # two worker processes, 1 thread each

Two measures (issue 19, item 3), each side run --repeat times, interleaved, medians:

- **one 2-minute file**: a real `swescribe serve` (uvicorn on 127.0.0.1, worker
  processes, SQLite, webhook dispatcher) from the start of the upload to the signed
  webhook arriving at a receiver in this process, against the engine's own
  `Engine.transcribe` of the same file in this process. Target: at most 1.5 s more.
- **twenty short clips at once**: 20 jobs registered and uploaded together (20 threads)
  until the 20th webhook, against `swescribe transcribe` with the same 20 files in one
  call (a whole process, model load included). Target: at most 1.2x.

Both sides get the same CPU threads in all (--cpu-threads; the service splits them
between its --workers). The model is loaded once on each side before anything is
timed: serve's workers transcribe a warm-up job first.
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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import DEFAULT_AUDIO_DIR, cpu_model
from longform import Piece, build_long_form
from serving import Receiver, Service
from swescribe.config import Settings
from swescribe.engine import Engine, ModelLocator, TranscribeOptions
from swescribe.engine.audio import probe

SERVICE_MIX = (
    Piece("lattlast_stts", pause_after=0.5),
    Piece("cv_18746434", pause_after=0.5),
    Piece("lattlast_stts", pause_after=0.5),
    Piece("cv_18733516", pause_after=0.5),
    Piece("cv_18711295", pause_after=0.5),
    Piece("lattlast_stts", pause_after=0.5),
    Piece("cv_18716987", pause_after=0.5),
    Piece("cv_18742722"),
)
"""Three readings of lattlast_stts with five Common Voice clips between: 2 minutes."""
SHORT_CLIPS = 20
OVERHEAD_TARGET_SECONDS = 1.5
BATCH_TARGET_RATIO = 1.2


def short_clips(audio_dir: Path, count: int = SHORT_CLIPS) -> list[Path]:
    """The Common Voice and espeak short clips, repeated in turn until there are count."""
    pool = sorted(audio_dir.glob("cv_*.wav")) + sorted(audio_dir.glob("espeak_0*.wav"))
    if not pool:
        raise SystemExit(f"no cv_*.wav or espeak_0*.wav in {audio_dir}")
    return [pool[index % len(pool)] for index in range(count)]


def check_delivered(payloads: Sequence[dict[str, Any]]) -> None:
    """A bench of failed or unsigned deliveries would measure nothing worth reporting."""
    for payload in payloads:
        if payload["status"] != "complete" or not payload["signed"]:
            raise SystemExit(f"job {payload['job_id']}: {payload['status']}, {payload}")


def measure_service_one(service: Service, receiver: Receiver, audio: Path) -> dict[str, Any]:
    job_id, started = service.submit(audio, receiver.url)
    arrived, payload = receiver.wait_for([job_id])[job_id]
    check_delivered([payload])
    job = service.http.get(f"/v1/jobs/{job_id}").json()
    return {"wall_seconds": arrived - started, "processing_seconds": job["processing_seconds"]}


def measure_service_batch(
    service: Service, receiver: Receiver, clips: Sequence[Path]
) -> dict[str, Any]:
    started = time.perf_counter()
    with ThreadPoolExecutor(len(clips)) as pool:
        submitted = list(pool.map(lambda clip: service.submit(clip, receiver.url), clips))
    arrivals = receiver.wait_for([job_id for job_id, _ in submitted])
    wall = max(arrived for arrived, _ in arrivals.values()) - started
    check_delivered([payload for _, payload in arrivals.values()])
    processing = sum(
        service.http.get(f"/v1/jobs/{job_id}").json()["processing_seconds"]
        for job_id, _ in submitted
    )
    return {
        "wall_seconds": wall,
        "submitted_seconds": max(began for _, began in submitted) - started,
        "processing_seconds": processing,
    }


def measure_engine(engine: Engine, clips: Sequence[Path]) -> dict[str, Any]:
    """The loaded engine on each file in turn, in this process: no start-up, no output."""
    options = TranscribeOptions(language="sv")
    started = time.perf_counter()
    for clip in clips:
        engine.transcribe(clip, options)
    return {"wall_seconds": time.perf_counter() - started}


def measure_cli(clips: Sequence[Path], env: dict[str, str], out_dir: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "swescribe", "transcribe", "-q", "-o", str(out_dir)]
    started = time.perf_counter()
    subprocess.run([*command, *map(str, clips)], env=env, check=True)
    return {"wall_seconds": time.perf_counter() - started}


def run_interleaved(
    sides: dict[str, Callable[[], dict[str, Any]]], repeat: int, flip: bool
) -> dict[str, list[dict[str, Any]]]:
    """Each side repeat times, the order rotating from run to run."""
    names = list(sides)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for run in range(repeat):
        shift = (run + (1 if flip else 0)) % len(names)
        for name in names[shift:] + names[:shift]:
            runs[name].append(sides[name]())
            wall = runs[name][-1]["wall_seconds"]
            print(f"  {name} run {run + 1}/{repeat}: {wall:.2f} s", file=sys.stderr)
    return runs


def median_wall(runs: list[dict[str, Any]]) -> float:
    return statistics.median(r["wall_seconds"] for r in runs)


def serve_threads(args: argparse.Namespace) -> int:
    """CPU threads each serve worker is given (0: none set, serve decides)."""
    if args.serve_threads is None:
        return int(args.cpu_threads // args.workers)
    return int(args.serve_threads)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="whisper-base")
    parser.add_argument("--repeat", type=int, default=2, help="runs per side (default 2)")
    parser.add_argument("--cpu-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workers", type=int, default=1, help="serve's worker processes")
    parser.add_argument(
        "--serve-threads",
        type=int,
        default=None,
        help="CPU threads per serve worker (default: --cpu-threads split between the "
        "workers; 0: leave it to serve)",
    )
    parser.add_argument("--audio-dir", type=Path, default=DEFAULT_AUDIO_DIR)
    parser.add_argument("--json", metavar="PATH", help="write the results here as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= 20:
        parser.error("--repeat must be between 1 and 20")
    if not 1 <= args.workers <= args.cpu_threads:
        parser.error("--workers must be between 1 and --cpu-threads")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    audio_dir = args.audio_dir.resolve()
    threads_each = serve_threads(args)
    base_env = {**os.environ, "SWESCRIBE_MODEL": args.model, "HF_HUB_OFFLINE": "1"}
    cli_env = {**base_env, "SWESCRIBE_CPU_THREADS": str(args.cpu_threads)}
    serve_env = {
        **{k: v for k, v in base_env.items() if k != "SWESCRIBE_CPU_THREADS"},
        "SWESCRIBE_RATE_LIMIT_PER_MINUTE": "0",
        "SWESCRIBE_AUTH_FAILURES_PER_MINUTE": "0",
    }
    if threads_each:
        serve_env["SWESCRIBE_CPU_THREADS"] = str(threads_each)
    clips = short_clips(audio_dir)
    with tempfile.TemporaryDirectory(prefix="swescribe-bench-service-") as scratch_dir:
        scratch = Path(scratch_dir)
        long_clip = scratch / "service_two_minutes.wav"
        build_long_form(audio_dir, SERVICE_MIX, long_clip)
        audio_seconds = probe(long_clip).duration
        serve_env["SWESCRIBE_DATA_DIR"] = str(scratch / "serve")
        (scratch / "serve").mkdir()
        settings = Settings.from_env(model=args.model)  # the CLI's model cache
        locator = ModelLocator(settings.model_cache_dir, settings.model_dirs)
        engine = Engine.load(args.model, locator, "cpu", "auto", args.cpu_threads)
        measure_engine(engine, clips[:1])  # warm-up
        receiver = Receiver()
        service = Service(scratch / "serve", serve_env, args.workers)
        try:
            for clip in clips[: args.workers]:  # every worker has its model loaded
                measure_service_one(service, receiver, clip)

            one = run_interleaved(
                {
                    "engine": lambda: measure_engine(engine, [long_clip]),
                    "service": lambda: measure_service_one(service, receiver, long_clip),
                },
                args.repeat,
                flip=False,
            )
            batch = run_interleaved(
                {
                    "engine": lambda: measure_engine(engine, clips),
                    "cli": lambda: measure_cli(clips, cli_env, scratch / "cli-out"),
                    "service": lambda: measure_service_batch(service, receiver, clips),
                },
                args.repeat,
                flip=True,
            )
        finally:
            service.stop()
    report = summarise(args, audio_seconds, one, batch)
    print_summary(report)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0


def summarise(
    args: argparse.Namespace,
    audio_seconds: float,
    one: dict[str, list[dict[str, Any]]],
    batch: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    engine, service = median_wall(one["engine"]), median_wall(one["service"])
    cli, served = median_wall(batch["cli"]), median_wall(batch["service"])
    outside = statistics.median(r["wall_seconds"] - r["processing_seconds"] for r in one["service"])
    gaps = None  # the time no worker was processing; with several, their jobs overlap
    if args.workers == 1:
        gaps = statistics.median(
            r["wall_seconds"] - r["processing_seconds"] for r in batch["service"]
        )
    return {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count()},
        "settings": {
            "model": args.model,
            "repeat": args.repeat,
            "cpu_threads": args.cpu_threads,
            "serve_workers": args.workers,
            "threads_per_worker": serve_threads(args) or "serve's default",
        },
        "one_file": {
            "audio_seconds": audio_seconds,
            "engine_seconds": engine,
            "service_seconds": service,
            "overhead_seconds": service - engine,
            "outside_processing_seconds": outside,
            "target_seconds": OVERHEAD_TARGET_SECONDS,
            "met": service - engine <= OVERHEAD_TARGET_SECONDS,
            "runs": one,
        },
        "twenty_clips": {
            "clips": SHORT_CLIPS,
            "cli_seconds": cli,
            "service_seconds": served,
            "engine_seconds": median_wall(batch["engine"]),
            "ratio": served / cli,
            "ratio_to_engine": served / median_wall(batch["engine"]),
            "outside_processing_seconds": gaps,
            "target_ratio": BATCH_TARGET_RATIO,
            "met": served / cli <= BATCH_TARGET_RATIO,
            "runs": batch,
        },
    }


def print_summary(report: dict[str, Any]) -> None:
    one, batch, settings = report["one_file"], report["twenty_clips"], report["settings"]
    print(
        f"threads {settings['cpu_threads']} a side; serve --workers {settings['serve_workers']}"
        f" ({settings['threads_per_worker']} each); medians of {settings['repeat']} runs"
    )
    print(
        f"one {one['audio_seconds']:.1f} s file: engine {one['engine_seconds']:.2f} s, "
        f"upload to webhook {one['service_seconds']:.2f} s: overhead "
        f"{one['overhead_seconds']:+.2f} s (at most {OVERHEAD_TARGET_SECONDS} s: "
        f"{'met' if one['met'] else 'NOT met'}); outside the worker's processing "
        f"{one['outside_processing_seconds']:.2f} s"
    )
    print(
        f"{batch['clips']} short clips: CLI {batch['cli_seconds']:.2f} s, service "
        f"{batch['service_seconds']:.2f} s: ratio {batch['ratio']:.2f}x (at most "
        f"{BATCH_TARGET_RATIO}x: {'met' if batch['met'] else 'NOT met'}); the loaded engine "
        f"alone {batch['engine_seconds']:.2f} s ({batch['ratio_to_engine']:.2f}x)"
    )
    if batch["outside_processing_seconds"] is not None:
        print(
            f"  of it outside the worker's processing: {batch['outside_processing_seconds']:.2f} s"
        )


if __name__ == "__main__":
    raise SystemExit(main())
