"""What the worker's prefetch takes off the next job: probing its file and decoding its
first window (engine.open_audio), measured on a 2-minute and a 10-minute file, as 16 kHz
WAV and as 44.1 kHz stereo MP3 (what users upload), with Silero VAD on that window for
scale (VAD is not done ahead).

    python bench/decode_ahead.py
    python bench/decode_ahead.py --repeat 5 --json /tmp/decode-ahead.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av

from bench import DEFAULT_AUDIO_DIR
from longform import build_long_form
from service import SERVICE_MIX
from swescribe.engine import open_audio
from swescribe.engine.speech import speech_regions


def to_mp3(source: Path, target: Path, rate: int = 44_100) -> Path:
    """source as a stereo MP3 at rate, with PyAV (the same FFmpeg that decodes)."""
    with av.open(str(source)) as given, av.open(str(target), "w") as out:
        stream = out.add_stream("libmp3lame", rate=rate)
        stream.layout = "stereo"
        resampler = av.AudioResampler(format=stream.format.name, layout="stereo", rate=rate)
        for frame in [*given.decode(audio=0), None]:
            if frame is not None:
                frame.pts = None
            for resampled in resampler.resample(frame):
                out.mux(stream.encode(resampled))
        out.mux(stream.encode(None))
    return target


def repeated(source: Path, target: Path, copies: int) -> Path:
    with wave.open(str(source), "rb") as original:
        params = original.getparams()
        frames = original.readframes(original.getnframes())
    with wave.open(str(target), "wb") as out:
        out.setparams(params)
        for _ in range(copies):
            out.writeframes(frames)
    return target


def measure(path: Path, repeat: int) -> dict[str, Any]:
    opens, vads = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        opened = open_audio(path)
        opens.append(time.perf_counter() - started)
        _, samples = next(iter(opened.windows()))
        opened.close()
        started = time.perf_counter()
        speech_regions(samples, True, 500)
        vads.append(time.perf_counter() - started)
    return {
        "file": path.name,
        "audio_seconds": opened.info.duration,
        "first_window_seconds": samples.size / 16_000,
        "open_seconds": statistics.median(opens),
        "vad_seconds": statistics.median(vads),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per file (median)")
    parser.add_argument("--audio-dir", type=Path, default=DEFAULT_AUDIO_DIR)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= 50:
        parser.error("--repeat must be between 1 and 50")
    with tempfile.TemporaryDirectory(prefix="swescribe-bench-decode-") as scratch_dir:
        scratch = Path(scratch_dir)
        two = scratch / "two_minutes.wav"
        build_long_form(args.audio_dir.resolve(), SERVICE_MIX, two)
        ten = repeated(two, scratch / "ten_minutes.wav", 5)
        files = [two, to_mp3(two, scratch / "two_minutes.mp3"), ten]
        files.append(to_mp3(ten, scratch / "ten_minutes.mp3"))
        results = [measure(path, args.repeat) for path in files]
    for r in results:
        print(
            f"{r['file']:>18}: {r['audio_seconds']:6.1f} s audio; probe + first window "
            f"({r['first_window_seconds']:.0f} s) {r['open_seconds']:.3f} s; "
            f"VAD on it {r['vad_seconds']:.3f} s"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
