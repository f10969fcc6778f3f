"""Speaker diarization: DER on conversations with known turns, and the time it adds.

    python bench/diarization.py                      # DER + overhead, whisper-base on the CPU
    python bench/diarization.py --repeat 3 --json docs/bench/diarization-2026-12-01.json
    python bench/diarization.py --device cuda --model kb-whisper-small

Per clip: the engine transcribes it plainly and with diarize=True, interleaved, --repeat
times each (after one untimed warm-up run of each). Reported: the wall time of both, the
seconds the diarizer itself took (`diarization.seconds` in the transcript: its VAD, the
encoder, clustering, attribution) and that as a share of the plain transcription, DER
(collar 0.5 s as pyannote.metrics counts it, and 0), speakers found against the
reference, and the share of each reference speaker's speech attributed to them.
Method and numbers: docs/performance.md ("Speaker diarization").
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from conversations import CONVERSATIONS, build_conversation
from diarization_scoring import score
from longform import MIXES, build_long_form
from swescribe.config import Settings
from swescribe.core.transcript import SpeakerTurn
from swescribe.engine import Engine, ModelLocator, TranscribeOptions

REPO_ROOT = Path(__file__).resolve().parent.parent
AUDIO_DIR = REPO_ROOT / ".." / "shared" / "audio" / "sv"
OVERHEAD_ONLY = ("longform_minutes",)
"""Long human speech without speaker references: what diarization costs per minute."""


def build_clips(folder: Path) -> list[tuple[str, Path, list[SpeakerTurn] | None]]:
    clips: list[tuple[str, Path, list[SpeakerTurn] | None]] = []
    for name, says in CONVERSATIONS.items():
        wav = folder / f"{name}.wav"
        turns = build_conversation(AUDIO_DIR, says, wav)
        clips.append((name, wav, [SpeakerTurn(t.start, t.end, t.speaker) for t in turns]))
    for name in OVERHEAD_ONLY:
        wav = folder / f"{name}.wav"
        build_long_form(AUDIO_DIR, MIXES[name], wav)
        clips.append((name, wav, None))
    return clips


def bench_clip(
    engine: Engine, wav: Path, reference: list[SpeakerTurn] | None, repeat: int
) -> dict[str, Any]:
    plain_walls: list[float] = []
    diarized_walls: list[float] = []
    diarize_seconds: list[float] = []
    transcript = None
    for _ in range(repeat):
        started = time.perf_counter()
        engine.transcribe(wav, TranscribeOptions())
        plain_walls.append(time.perf_counter() - started)
        started = time.perf_counter()
        transcript = engine.transcribe(wav, TranscribeOptions(diarize=True))
        diarized_walls.append(time.perf_counter() - started)
        assert transcript.diarization is not None
        diarize_seconds.append(transcript.diarization.seconds)
    assert transcript is not None
    assert transcript.diarization is not None
    plain = statistics.median(plain_walls)
    diarized = statistics.median(diarized_walls)
    own = statistics.median(diarize_seconds)
    row: dict[str, Any] = {
        "audio_seconds": round(transcript.duration, 2),
        "plain_wall": round(plain, 3),
        "diarized_wall": round(diarized, 3),
        "diarizer_seconds": round(own, 3),
        "diarizer_share": round(own / plain, 4),
        "wall_overhead": round(diarized / plain - 1, 4),
        "diarizer_seconds_per_audio_minute": round(own / transcript.duration * 60, 3),
        "speakers_found": len(transcript.diarization.speakers),
    }
    if reference is not None:
        turns = list(transcript.diarization.turns)
        collared = score(reference, turns, collar=0.5)
        row["speakers_reference"] = len({t.speaker for t in reference})
        row["der"] = round(collared.der, 4)
        row["der_no_collar"] = round(score(reference, turns).der, 4)
        row["score"] = collared.to_dict()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="whisper-base")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        locator = ModelLocator(Path(scratch) / "models", Settings().model_dirs)
        engine = Engine.load(args.model, locator, device=args.device)
        diarizer = engine.diarizer()
        clips = build_clips(Path(scratch))
        shortest = min(clips, key=lambda clip: clip[1].stat().st_size)[1]
        engine.transcribe(shortest, TranscribeOptions())
        engine.transcribe(shortest, TranscribeOptions(diarize=True))
        rows = {name: bench_clip(engine, wav, ref, args.repeat) for name, wav, ref in clips}
    audio = sum(r["audio_seconds"] for r in rows.values())
    plain = sum(r["plain_wall"] for r in rows.values())
    own = sum(r["diarizer_seconds"] for r in rows.values())
    diarized = sum(r["diarized_wall"] for r in rows.values())
    totals = {
        "audio_seconds": round(audio, 2),
        "diarizer_share": round(own / plain, 4),
        "wall_overhead": round(diarized / plain - 1, 4),
        "diarizer_seconds_per_audio_minute": round(own / audio * 60, 3),
    }
    print(f"model {engine.model.name} on {engine.plan.device}; diarizer {diarizer.name}")
    print(f"{'clip':18} {'audio s':>8} {'plain s':>8} {'diar s':>8} {'share':>7} "
          f"{'wall +':>7} {'DER':>6} {'DER/0':>6} {'speakers':>9}")  # fmt: skip
    for name, row in rows.items():
        der = f"{row['der']:.3f}" if "der" in row else "-"
        der0 = f"{row['der_no_collar']:.3f}" if "der" in row else "-"
        speakers = f"{row['speakers_found']}/{row.get('speakers_reference', '-')}"
        print(
            f"{name:18} {row['audio_seconds']:8.1f} {row['plain_wall']:8.2f} "
            f"{row['diarizer_seconds']:8.2f} {row['diarizer_share']:7.1%} "
            f"{row['wall_overhead']:7.1%} {der:>6} {der0:>6} {speakers:>9}"
        )
    print(
        f"all: diarizer {totals['diarizer_share']:.1%} of plain transcription "
        f"(target at most 15%: {'met' if totals['diarizer_share'] <= 0.15 else 'NOT met'}), "
        f"wall {totals['wall_overhead']:+.1%}, "
        f"{totals['diarizer_seconds_per_audio_minute']:.2f} s per audio minute"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "machine": {"cpu": platform.processor() or platform.machine(), "python": sys.version},
            "model": engine.model.name,
            "device": engine.plan.device,
            "diarizer": diarizer.name,
            "repeat": args.repeat,
            "clips": rows,
            "totals": totals,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
