"""The transcription engine: faster-whisper with Swedish defaults, plain results."""

from swescribe.core.formats import FORMATS
from swescribe.core.transcript import Segment, Timings, Transcript, Word
from swescribe.core.transcription_settings import TranscriptionSettings
from swescribe.engine.audio import OpenedAudio, check_readable, open_audio
from swescribe.engine.device import DevicePlan, plan_device
from swescribe.engine.knobs import DecoderKnobs, Unsure
from swescribe.engine.models import (
    MODEL_NAMES,
    OFFLINE_MODEL,
    PRODUCTION_MODEL,
    ModelLocator,
    ResolvedModel,
)
from swescribe.engine.options import TranscribeOptions
from swescribe.engine.ports import ProgressCallback, Transcriber
from swescribe.engine.transcriber import Engine
from swescribe.engine.writers import parse_formats, render

__all__ = [
    "FORMATS",
    "MODEL_NAMES",
    "OFFLINE_MODEL",
    "PRODUCTION_MODEL",
    "DecoderKnobs",
    "DevicePlan",
    "Engine",
    "ModelLocator",
    "OpenedAudio",
    "ProgressCallback",
    "ResolvedModel",
    "Segment",
    "Timings",
    "TranscribeOptions",
    "Transcriber",
    "Transcript",
    "TranscriptionSettings",
    "Unsure",
    "Word",
    "check_readable",
    "open_audio",
    "parse_formats",
    "plan_device",
    "render",
]
