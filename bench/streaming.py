"""Live transcription measured on human speech streamed at real-time pace.

    python bench/streaming.py                      # whisper-base, CPU, 2 threads: ~7 minutes
    python bench/streaming.py --max-streams 3 --json out.json

Each file is fed to a live session by a paced thread, 100 ms at a time, each piece sent
when its audio would have been spoken (1.5 s of silence after the file closes its last
turn). Printed per file: time to first text (per turn: the first delta with any text,
tentative or confirmed, after the turn's speech started), the lag of confirmed text
behind the audio (median and p90: the wall time a word was confirmed minus the wall
time its audio ended; each word's end comes from the batch engine's word timestamps on
the same file, words matched by sequence alignment), revisions of confirmed text (a
delta's text that its turn's completed text does not continue: must be 0), and the
final WER of the completed turns against the reference, beside the batch engine's on
the same file. Then capacity: 1, 2, 3 ... sessions of lattlast_stts at once (at most
--max-streams) until they fall behind: a stream holds when no append is refused and its
last turn is completed within --behind seconds of its audio's end.

One run is about 7 minutes on 2 cores (it takes real time: 3.2 minutes of audio, then
up to 4 x 35 s of capacity runs). Memory: the process's resident memory before and
after the live model loads. Results: docs/performance.md ("Live").
"""

from __future__ import annotations

import argparse
import difflib
import json
import platform
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jiwer
import numpy as np

from swescribe.engine import Engine, ModelLocator, TranscribeOptions
from swescribe.engine.audio import SAMPLE_RATE, iter_samples
from swescribe.engine.device import plan_device
from swescribe.engine.live import LiveEngine, LiveTuning
from swescribe.engine.live_ports import LiveBackpressure, LiveEvent, LiveOptions
from swescribe.engine.models import load_whisper_model
from textnorm import normalise_for_wer as normalise

REPO_ROOT = Path(__file__).resolve().parent.parent
AUDIO_DIR = REPO_ROOT / ".." / "shared" / "audio" / "sv"
FILES = ("lattlast_stts", "longform_reading")
CV_CLIPS = (
    "cv_18711295",
    "cv_18716987",
    "cv_18733516",
    "cv_18742722",
    "cv_18746434",
    "cv_18746511",
    "cv_18748646",
)
CAPACITY_FILE = "lattlast_stts"
PIECE = SAMPLE_RATE // 10
TAIL_SECONDS = 1.5
DRAIN_LIMIT = 60.0
"""The longest a run waits for its last turns after its audio ends."""


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def samples_of(name: str) -> np.ndarray:
    return np.concatenate(list(iter_samples(AUDIO_DIR / f"{name}.wav")))


@dataclass
class Stream:
    """One paced session: its events with their wall times."""

    name: str
    samples: np.ndarray
    events: list[tuple[float, LiveEvent]] = field(default_factory=list)
    started: float = 0.0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, event: LiveEvent) -> None:
        with self.lock:
            self.events.append((time.perf_counter(), event))

    def of(self, kind: str) -> list[tuple[float, LiveEvent]]:
        with self.lock:
            return [(t, e) for t, e in self.events if e.type == kind]


def run_streams(engine: LiveEngine, streams: list[Stream]) -> None:
    """Feed every stream at real-time pace at once, then wait for their last turns."""
    sessions = [engine.open(LiveOptions(), s.record) for s in streams]
    start = time.perf_counter() + 0.2
    feeders = [
        threading.Thread(target=_feed, args=(session, stream, start))
        for session, stream in zip(sessions, streams, strict=True)
    ]
    for feeder in feeders:
        feeder.start()
    for feeder in feeders:
        feeder.join()
    deadline = time.perf_counter() + DRAIN_LIMIT
    while time.perf_counter() < deadline and any(
        len(s.of("completed")) < len(s.of("speech_started")) for s in streams
    ):
        time.sleep(0.05)
    for session in sessions:
        session.close()


def _feed(session: Any, stream: Stream, start: float) -> None:
    audio = np.concatenate([stream.samples, np.zeros(round(TAIL_SECONDS * SAMPLE_RATE))])
    audio = audio.astype(np.float32)
    stream.started = start
    for index, first in enumerate(range(0, audio.size, PIECE)):
        due = start + (index + 1) * PIECE / SAMPLE_RATE
        time.sleep(max(0.0, due - time.perf_counter()))
        try:
            session.append(audio[first : first + PIECE])
        except LiveBackpressure:
            stream.refused += 1


def word_ends(engine: Engine, name: str) -> list[tuple[str, float]]:
    """The batch engine's words on the file, normalised, each with its end (seconds)."""
    transcript = engine.transcribe(
        AUDIO_DIR / f"{name}.wav", TranscribeOptions(word_timestamps=True)
    )
    found = []
    for segment in transcript.segments:
        for word in segment.words or ():
            found += [(key, word.end) for key in normalise(word.word).split()]
    return found


def measure(stream: Stream, reference_words: list[tuple[str, float]]) -> dict[str, Any]:
    """Latency, revisions and the streamed text of one stream."""
    completed = {e.item_id: e.text for _, e in stream.of("completed")}
    first_text: list[float] = []
    lags: list[float] = []
    revisions = 0
    so_far: dict[str, str] = {}
    for item, text in completed.items():
        speech = next((e for _, e in stream.of("speech_started") if e.item_id == item), None)
        deltas = [(t, e) for t, e in stream.of("delta") if e.item_id == item]
        shown = [t for t, e in deltas if (e.text + e.tentative).strip()]
        if speech is not None and shown:
            first_text.append(shown[0] - (stream.started + speech.audio_start_ms / 1000))
        confirmed_words: list[tuple[str, float]] = []
        for wall, event in deltas:
            so_far[item] = so_far.get(item, "") + event.text
            if not text.startswith(so_far[item]):
                revisions += 1
            confirmed_words += [(key, wall) for key in normalise(event.text).split()]
        if so_far.get(item, "") != text:
            revisions += 1
        # Matched against the batch engine's words of the turn's own stretch of audio
        # only: the long file reads the same text three times.
        stop = next((e for _, e in stream.of("completed") if e.item_id == item), None)
        if speech is not None and stop is not None:
            low, high = speech.audio_start_ms / 1000 - 1.0, stop.audio_end_ms / 1000 + 1.0
            nearby = [(k, end) for k, end in reference_words if low <= end <= high]
            lags += _lags(confirmed_words, nearby, stream.started)
    return {
        "turns": len(completed),
        "first_text_median_s": _quantile(first_text, 0.5),
        "first_text_max_s": max(first_text) if first_text else None,
        "lag_median_s": _quantile(lags, 0.5),
        "lag_p90_s": _quantile(lags, 0.9),
        "words_timed": len(lags),
        "revisions": revisions,
        "refused_appends": stream.refused,
        "text": " ".join(completed.values()),
    }


def _lags(
    confirmed: list[tuple[str, float]], reference: list[tuple[str, float]], started: float
) -> list[float]:
    matcher = difflib.SequenceMatcher(
        None, [k for k, _ in confirmed], [k for k, _ in reference], autojunk=False
    )
    lags = []
    for block in matcher.get_matching_blocks():
        for offset in range(block.size):
            wall = confirmed[block.a + offset][1]
            lags.append(wall - (started + reference[block.b + offset][1]))
    return lags


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return float(np.quantile(np.array(values), q))


def last_turn_delay(stream: Stream) -> float | None:
    """How long after its audio ended (tail excluded) the stream's last turn completed."""
    completed = stream.of("completed")
    if not completed:
        return None
    audio_end = stream.started + stream.samples.size / SAMPLE_RATE
    return completed[-1][0] - audio_end


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", default="whisper-base")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="SWESCRIBE_LIVE_CPU_THREADS")
    parser.add_argument("--max-streams", type=int, default=4)
    parser.add_argument("--behind", type=float, default=4.0)
    parser.add_argument("--json", type=Path, default=None, help="Write the results here too.")
    parser.add_argument(
        "--step", type=float, default=LiveTuning.step_seconds, help="LiveTuning.step_seconds"
    )
    parser.add_argument(
        "--final-beam", type=int, default=LiveTuning.final_beam_size, help="final_beam_size"
    )
    parser.add_argument(
        "--pause-ms",
        type=int,
        default=LiveTuning.pause_decode_ms,
        help="LiveTuning.pause_decode_ms (0: the final beam only after a turn ends)",
    )
    args = parser.parse_args(argv)

    cache = Path(tempfile.gettempdir()) / "swescribe-bench-models"
    locator = ModelLocator(cache, search_dirs=(), allow_download=args.model != "whisper-base")
    resolved = locator.resolve(args.model)
    plan = plan_device(args.device, "auto", args.threads)
    tuning = LiveTuning(
        step_seconds=args.step, final_beam_size=args.final_beam, pause_decode_ms=args.pause_ms
    )
    live = LiveEngine(lambda: load_whisper_model(resolved, plan), tuning)
    before = rss_mib()
    live.open(LiveOptions(), lambda event: None).close()  # loads the model
    after = rss_mib()
    batch = Engine.load(args.model, locator, device=args.device)
    results: dict[str, Any] = {
        "model": resolved.name,
        "device": plan.device,
        "compute_type": plan.compute_type,
        "live_threads": plan.cpu_threads,
        "step_seconds": tuning.step_seconds,
        "final_beam_size": tuning.final_beam_size,
        "pause_decode_ms": tuning.pause_decode_ms,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "rss_before_mib": round(before, 1),
        "rss_after_live_model_mib": round(after, 1),
        "files": [],
        "capacity": [],
    }
    print(f"model {resolved.name} on {plan.device}/{plan.compute_type}, {plan.cpu_threads} threads")
    print(f"resident memory: {before:.0f} MiB before the live model, {after:.0f} MiB after")
    header = (
        f"{'file':<18} {'audio s':>7} {'turns':>5} {'first text':>10} {'lag med':>7} "
        f"{'lag p90':>7} {'revised':>7} {'WER live':>8} {'WER batch':>9}"
    )
    print(header)
    groups = [(name, [name]) for name in FILES] + [("cv clips (7)", list(CV_CLIPS))]
    for label, names in groups:
        rows = []
        for name in names:
            stream = Stream(name, samples_of(name))
            run_streams(live, [stream])
            rows.append((name, measure(stream, word_ends(batch, name))))
        references = " ".join((AUDIO_DIR / f"{n}.txt").read_text().strip() for n in names)
        batch_text = " ".join(batch.transcribe(AUDIO_DIR / f"{n}.wav").text for n in names)
        live_text = " ".join(row["text"] for _, row in rows)
        lags = [r for _, row in rows for r in [row["lag_median_s"]] if r is not None]
        row = {
            "file": label,
            "audio_seconds": round(sum(samples_of(n).size for n in names) / SAMPLE_RATE, 1),
            "turns": sum(r["turns"] for _, r in rows),
            "first_text_median_s": _median([r["first_text_median_s"] for _, r in rows]),
            "lag_median_s": _median(lags),
            "lag_p90_s": max(
                (r["lag_p90_s"] for _, r in rows if r["lag_p90_s"] is not None), default=None
            ),
            "revisions": sum(r["revisions"] for _, r in rows),
            "refused_appends": sum(r["refused_appends"] for _, r in rows),
            "wer_live": jiwer.wer(normalise(references), normalise(live_text)),
            "wer_batch": jiwer.wer(normalise(references), normalise(batch_text)),
            "text": live_text,
        }
        results["files"].append(row)
        print(
            f"{label:<18} {row['audio_seconds']:>7.1f} {row['turns']:>5} "
            f"{_s(row['first_text_median_s']):>10} {_s(row['lag_median_s']):>7} "
            f"{_s(row['lag_p90_s']):>7} {row['revisions']:>7} {row['wer_live']:>8.3f} "
            f"{row['wer_batch']:>9.3f}",
            flush=True,
        )

    reference_words = word_ends(batch, CAPACITY_FILE)
    print(f"\ncapacity: sessions of {CAPACITY_FILE} at once (holds: no refusal, last turn "
          f"completed within {args.behind:g} s of the audio's end)")  # fmt: skip
    print(f"{'streams':>7} {'lag med':>7} {'lag p90':>7} {'last turn':>9} {'refused':>7} holds")
    held = 0
    for count in range(1, args.max_streams + 1):
        streams = [Stream(f"{CAPACITY_FILE}#{i}", samples_of(CAPACITY_FILE)) for i in range(count)]
        live.batch_sizes.clear()
        run_streams(live, streams)
        measured = [measure(s, reference_words) for s in streams]
        delays = [last_turn_delay(s) for s in streams]
        worst = max((d for d in delays if d is not None), default=float("inf"))
        refused = sum(m["refused_appends"] for m in measured)
        holds = refused == 0 and worst <= args.behind
        row = {
            "streams": count,
            "lag_median_s": _median([m["lag_median_s"] for m in measured]),
            "lag_p90_s": max(
                (m["lag_p90_s"] for m in measured if m["lag_p90_s"] is not None), default=None
            ),
            "last_turn_after_audio_s": worst,
            "refused_appends": refused,
            "holds": holds,
            "batch_sizes": dict(live.batch_sizes),
        }
        results["capacity"].append(row)
        print(
            f"{count:>7} {_s(row['lag_median_s']):>7} {_s(row['lag_p90_s']):>7} "
            f"{_s(worst):>9} {refused:>7} {'yes' if holds else 'no'}",
            flush=True,
        )
        if not holds:
            break
        held = count
    results["streams_held"] = held
    print(f"streams held at real time: {held}")
    live.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    raise SystemExit(main())
