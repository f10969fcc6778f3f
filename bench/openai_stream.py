"""stream=true on POST /v1/audio/transcriptions: when the first text arrives, against the
whole answer of the same request without stream (issue 25, item 3).

    python bench/openai_stream.py                 # two clips, 3 runs a side, interleaved
    python bench/openai_stream.py --repeat 5 --clips lattlast_stts

A real `swescribe serve` (one worker) on 127.0.0.1 and the official openai SDK. For each
clip: the seconds from sending the request to the plain JSON answer, and with stream=True
to the first transcript.text.delta and to transcript.text.done; medians. The serve's
worker transcribes a warm-up clip first, so the model load is not timed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import openai

from bench import DEFAULT_AUDIO_DIR
from serving import Service


def plain_seconds(client: openai.OpenAI, clip: Path) -> float:
    started = time.perf_counter()
    with clip.open("rb") as file:
        client.audio.transcriptions.create(model="whisper-1", file=file)
    return time.perf_counter() - started


def stream_seconds(client: openai.OpenAI, clip: Path) -> tuple[float, float, int]:
    """Seconds to the first delta and to done, and how many deltas came."""
    started = time.perf_counter()
    first = done = 0.0
    deltas = 0
    with clip.open("rb") as file:
        for event in client.audio.transcriptions.create(model="whisper-1", file=file, stream=True):
            now = time.perf_counter() - started
            if event.type == "transcript.text.delta":
                deltas += 1
                first = first or now
            elif event.type == "transcript.text.done":
                done = now
    return first, done, deltas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", nargs="+", default=["cv_18746434", "lattlast_stts"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--audio-dir", type=Path, default=DEFAULT_AUDIO_DIR)
    parser.add_argument("--model", default="whisper-base")
    args = parser.parse_args()
    clips = [args.audio_dir / f"{name}.wav" for name in args.clips]
    env = {
        **os.environ,
        "SWESCRIBE_MODEL": args.model,
        "HF_HUB_OFFLINE": "1",
        "SWESCRIBE_RATE_LIMIT_PER_MINUTE": "0",
    }
    with tempfile.TemporaryDirectory(prefix="swescribe-bench-stream-") as scratch:
        env["SWESCRIBE_DATA_DIR"] = scratch
        service = Service(Path(scratch), env, workers=1)
        try:
            key = (Path(scratch) / "local-api-key").read_text().strip()
            client = openai.OpenAI(base_url=f"{service.url}/v1", api_key=key, max_retries=0)
            plain_seconds(client, clips[0])  # warm-up: the worker loads its model
            print("| clip | plain answer (s) | first delta (s) | done (s) | deltas |")
            print("|---|---|---|---|---|")
            for clip in clips:
                plain, first, done, count = [], [], [], 0
                for _ in range(args.repeat):
                    plain.append(plain_seconds(client, clip))
                    first_delta, done_at, count = stream_seconds(client, clip)
                    first.append(first_delta)
                    done.append(done_at)
                print(
                    f"| {clip.stem} | {statistics.median(plain):.2f} | "
                    f"{statistics.median(first):.2f} | {statistics.median(done):.2f} | {count} |"
                )
        finally:
            service.stop()


if __name__ == "__main__":
    main()
