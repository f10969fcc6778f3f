"""Wiring of the engine's settings, without the web service: `swescribe transcribe`
starts from here, and so do the workers (through bootstrap.engine_factory)."""

from __future__ import annotations

from typing import Any

from swescribe.config import Settings
from swescribe.core.voices import VoiceRegistry
from swescribe.engine.diarization.models import DiarizerSpec
from swescribe.engine.live_ports import LiveTranscriber


def diarizer_spec(settings: Settings) -> DiarizerSpec:
    """The speaker model the engines load for their first diarized file, from the
    settings (SWESCRIBE_DIARIZATION_MODEL, SWESCRIBE_HF_TOKEN, the device, the baked
    model directories, where the offline model's weights are fetched)."""
    from swescribe.engine.device import plan_device

    device = plan_device(settings.device, settings.compute_type).device
    return DiarizerSpec(
        settings.diarization_model,
        settings.hf_token,
        device,
        model_dirs=settings.model_dirs,
        speaker_model_dirs=settings.speaker_model_dirs,
    )


def local_voices(settings: Settings) -> VoiceRegistry:
    """The CLI's enrolled voices: `speakers add` writes them, `transcribe --diarize`
    reads them (under the data directory's objects/speakers/local/)."""
    from swescribe.adapters.local.filesystem import FilesystemObjectStore
    from swescribe.adapters.local.key_files import read_or_create_secret

    root = settings.data_dir
    root.mkdir(parents=True, exist_ok=True)
    signing_key = read_or_create_secret(root / "upload-signing.key")
    return VoiceRegistry(FilesystemObjectStore(root / "objects", "", signing_key))


def live_transcriber(settings: Settings) -> LiveTranscriber:
    """Live sessions for the serve process: each offered model is loaded on its first
    session (SWESCRIBE_MODEL by default) on SWESCRIBE_LIVE_CPU_THREADS threads, beside
    the batch workers' own processes, and decoded by one thread for all its sessions."""
    from swescribe.engine.live import LiveModels, LiveTuning
    from swescribe.engine.models import ModelLocator

    locator = ModelLocator(settings.model_cache_dir, settings.model_dirs)

    def load(name: str) -> Any:
        from swescribe.engine.device import plan_device
        from swescribe.engine.models import load_whisper_model

        plan = plan_device(settings.device, settings.compute_type, settings.live_cpu_threads)
        return load_whisper_model(locator.resolve(name), plan)

    tuning = LiveTuning(max_undecoded_seconds=settings.live_max_buffer_seconds)
    return LiveModels(load, settings.model, settings.offered_models, tuning)
