"""Wiring of the engine's settings, without the web service: `swescribe transcribe`
starts from here, and so do the workers (through bootstrap.engine_factory)."""

from __future__ import annotations

from swescribe.config import Settings
from swescribe.engine.diarization.models import DiarizerSpec


def diarizer_spec(settings: Settings) -> DiarizerSpec:
    """The speaker model the engines load for their first diarized file, from the
    settings (SWESCRIBE_DIARIZATION_MODEL, SWESCRIBE_HF_TOKEN, the device, the baked
    model directories)."""
    from swescribe.engine.device import plan_device

    device = plan_device(settings.device, settings.compute_type).device
    return DiarizerSpec(
        settings.diarization_model, settings.hf_token, device, model_dirs=settings.model_dirs
    )
