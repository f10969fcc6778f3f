"""The pipelines the bench compares, all over one set of model files in one process.

- baseline: plain faster-whisper, ``WhisperModel.transcribe(path, beam_size=5,
  temperature=0)``: no VAD, conditioning on previous text, and no temperature fallback
  (the fallback samples at random and swung the baseline's time from 90 to 160 s);
- fw-batched: faster-whisper's own ``BatchedInferencePipeline`` (batch 8, its defaults),
  the peer a user would pick instead;
- swescribe: the engine as it ships;
- the ablations, each the engine with one thing changed, to show what each part buys.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swescribe.config import Settings
from swescribe.engine import DecoderKnobs, Engine, ModelLocator, TranscribeOptions, Unsure
from swescribe.engine.models import load_whisper_model


@dataclass(frozen=True)
class Outcome:
    text: str
    segments: tuple[tuple[float, float], ...]
    """(start, end) of each segment, seconds: the coverage measure reads them."""


Transcribe = Callable[[Path], Outcome]

BASELINE = "baseline"
FW_BATCHED = "fw-batched"
SWESCRIBE = "swescribe"
ABLATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "sequential+vad": (
        "the engine decoding one VAD segment after another (batch 1): VAD and windows only",
        {"batch_size": 1},
    ),
    "batched, no timestamps": (
        "batched, but without timestamp tokens (faster-whisper's batched default)",
        {"decoder": DecoderKnobs(without_timestamps=True)},
    ),
    "vad cuts at 160 ms": (
        "VAD cutting at pauses of 160 ms (faster-whisper's batched default) instead of 500 ms",
        {"extra": {"vad_parameters": {"min_silence_duration_ms": 160}}},
    ),
    "batch 4": ("batch size 4 instead of the device default", {"batch_size": 4}),
    "batch 16": ("batch size 16 instead of the device default", {"batch_size": 16}),
    "beam 1": ("greedy decoding instead of beam 5", {"beam_size": 1}),
    "selective beam": (
        "greedy first, beam 5 again only where the greedy result looks unsure",
        {"decoder": DecoderKnobs(selective_beam=True)},
    ),
    "selective beam -0.7": (
        "selective beam, unsure only below a mean log-probability of -0.7",
        {"decoder": DecoderKnobs(selective_beam=True, unsure=Unsure(avg_logprob=-0.7))},
    ),
    "encoder trimmed": (
        "short pieces encoded at their own length (+1 s) instead of padded to 30 s",
        {"decoder": DecoderKnobs(encoder_margin=100)},
    ),
    "beam 1 + encoder trimmed": (
        "greedy, and short pieces encoded at their own length (+1 s)",
        {"beam_size": 1, "decoder": DecoderKnobs(encoder_margin=100)},
    ),
    "one pass": (
        "one decode per chunk, no second pass over what it left out (max_passes=1)",
        {"decoder": DecoderKnobs(max_passes=1)},
    ),
}
PEERS = (BASELINE, FW_BATCHED, SWESCRIBE)
ALL_PIPELINES = (*PEERS, *ABLATIONS)


@dataclass(frozen=True)
class Setup:
    pipelines: dict[str, Transcribe]
    facts: dict[str, Any]


def make_pipelines(
    model: str, device: str, names: tuple[str, ...], language: str, compute_type: str = "auto"
) -> Setup:
    """Load the engine, and a plain WhisperModel from the same CT2 directory, both with the
    same device, compute type and threads."""
    from faster_whisper import BatchedInferencePipeline

    settings = Settings.from_env()
    locator = ModelLocator(settings.model_cache_dir, settings.model_dirs)
    started = time.perf_counter()
    engine = Engine.load(model, locator, device=device, compute_type=compute_type)
    resolve_seconds = time.perf_counter() - started - engine.load_seconds
    plan = engine.plan
    started = time.perf_counter()
    whisper = load_whisper_model(engine.model, plan)
    baseline_load = time.perf_counter() - started

    batched = BatchedInferencePipeline(whisper)

    def outcome(segments: Any) -> Outcome:
        listed = list(segments)
        text = " ".join(segment.text.strip() for segment in listed)
        return Outcome(text, tuple((float(s.start), float(s.end)) for s in listed))

    def baseline(wav: Path) -> Outcome:
        segments, _ = whisper.transcribe(str(wav), language=language, beam_size=5, temperature=0.0)
        return outcome(segments)

    def fw_batched(wav: Path) -> Outcome:
        segments, _ = batched.transcribe(str(wav), language=language, batch_size=8)
        return outcome(segments)

    def engine_with(**changes: Any) -> Transcribe:
        options = TranscribeOptions(language=language, **changes)
        return lambda wav: outcome(engine.transcribe(wav, options).segments)

    available: dict[str, Transcribe] = {
        BASELINE: baseline,
        FW_BATCHED: fw_batched,
        SWESCRIBE: engine_with(),
    }
    for name, (_, changes) in ABLATIONS.items():
        available[name] = engine_with(**changes)
    facts = {
        "model": engine.model.name,
        "model_path": _display_path(engine.model.path),
        "device": plan.device,
        "compute_type": plan.compute_type,
        "cpu_threads": plan.cpu_threads,
        "batch_size": engine.batch_size,
        "resolve_seconds": resolve_seconds,
        "load_seconds": {BASELINE: baseline_load, SWESCRIBE: engine.load_seconds},
        "ablations": {name: why for name, (why, _) in ABLATIONS.items() if name in names},
    }
    return Setup({name: available[name] for name in names}, facts)


def _display_path(path: Path) -> str:
    """The path with the home directory as ~ (bench results get committed and shared)."""
    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)
