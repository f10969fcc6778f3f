"""Diarization models by name, and the port the engine uses.

- ``resemblyzer``: the offline model, Resemblyzer 0.1.4's GE2E encoder (its weights
  fetched by `swescribe models fetch speakers`, or from an installed package; numpy, no
  torch), clustered here.
- ``pyannote``: pyannote.audio's pipeline (PYANNOTE_PIPELINE) from a model directory
  (the GPU AMI bakes it there), or the Hugging Face hub or its cache, with an access token.
- ``auto``: pyannote where it loads, otherwise the offline model with a warning, as
  the Whisper model ``auto`` falls back to whisper-base.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from swescribe.core.errors import InvalidOption, ModelUnavailable
from swescribe.core.transcript import SpeakerTurn
from swescribe.engine.diarization.clustering import SpeakerCount
from swescribe.engine.diarization.pyannote import PYANNOTE_PIPELINE as PYANNOTE_PIPELINE

log = logging.getLogger(__name__)

AUTO = "auto"
OFFLINE_DIARIZER = "resemblyzer"
PYANNOTE = "pyannote"
DIARIZATION_MODELS = (AUTO, PYANNOTE, OFFLINE_DIARIZER)


class DiarizationSession(Protocol):
    """One file: windows of 16 kHz samples in order, then the turns."""

    def add(self, offset: float, samples: np.ndarray) -> None: ...

    def finish(self, count: SpeakerCount | None = None) -> list[SpeakerTurn]:
        """Turns with speakers named by the model (the engine renames them S1, S2, …)."""
        ...


class Diarizer(Protocol):
    name: str
    """What the transcript records as the diarization model."""
    warning: str | None

    def session(self) -> DiarizationSession: ...


@dataclass(frozen=True)
class DiarizerSpec:
    """Which diarization model to load, and what it needs (from Settings, at the edge)."""

    model: str = AUTO
    hf_token: str = field(default="", repr=False)
    device: str = "cpu"
    allow_download: bool = True
    model_dirs: tuple[Path, ...] = ()
    """Where a baked copy of the pyannote pipeline is looked for first (no hub, no token)."""
    speaker_model_dirs: tuple[Path, ...] = ()
    """Where the offline model's fetched weights are looked for before an installed
    resemblyzer package (Settings.speaker_model_dirs)."""


def load_diarizer(spec: DiarizerSpec) -> Diarizer:
    if spec.model == OFFLINE_DIARIZER:
        return _offline(spec)
    if spec.model == PYANNOTE:
        return _pyannote(spec)
    if spec.model != AUTO:
        raise InvalidOption(
            f"unknown diarization model {spec.model!r}; use one of {', '.join(DIARIZATION_MODELS)}"
        )
    try:
        return _pyannote(spec)
    except ModelUnavailable as why:
        # Loaded before the warning: with neither model installed, the one line that
        # says how to install it is all the user reads.
        diarizer = _offline(spec)
        warning = (
            f"diarizing with the offline {OFFLINE_DIARIZER} speaker model (GE2E), which is "
            f"less accurate than pyannote, because {why}"
        )
        log.warning(warning)
        diarizer.warning = warning
        return diarizer


def _offline(spec: DiarizerSpec) -> Diarizer:
    from swescribe.engine.diarization.embedding import EmbeddingDiarizer
    from swescribe.engine.diarization.ge2e import VoiceEncoder, resemblyzer_weights

    weights = resemblyzer_weights(spec.speaker_model_dirs)
    return EmbeddingDiarizer(VoiceEncoder.from_checkpoint(weights))


def _pyannote(spec: DiarizerSpec) -> Diarizer:
    from swescribe.engine.diarization.pyannote import PyannoteDiarizer

    return PyannoteDiarizer.load(spec.hf_token, spec.device, spec.allow_download, spec.model_dirs)


def speech_seconds(turns: Sequence[SpeakerTurn]) -> float:
    return sum(t.end - t.start for t in turns)
