"""What a transcript was made with: the options that ran, resolved, and the versions.

Recorded in the transcript (JSON key "settings") so that a result says how it was
made, as faster-whisper's `TranscriptionInfo.transcription_options` does. A prompt and
hotwords are recorded as present or not, never their text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class EngineVersions:
    swescribe: str = "unknown"
    faster_whisper: str = "unknown"
    ctranslate2: str = "unknown"


@dataclass(frozen=True)
class VadSettings:
    """Silero VAD as it cut the audio into speech regions."""

    enabled: bool = True
    min_silence_ms: int = 500
    max_speech_seconds: float = 30.0


@dataclass(frozen=True)
class TranscriptionSettings:
    model: str
    device: str
    compute_type: str
    language: str | None
    """The language asked for; None: detected (the detected one is Transcript.language)."""
    task: str = "transcribe"
    beam_size: int = 5
    batch_size: int = 1
    """The batch size used (1: faster-whisper's sequential path)."""
    temperature: float | None = None
    word_timestamps: bool = False
    window_seconds: float = 600.0
    vad: VadSettings = field(default_factory=VadSettings)
    initial_prompt: bool = False
    """Whether an initial prompt was given (its text is not recorded)."""
    hotwords: bool = False
    """Whether hotwords were given (their text is not recorded)."""
    diarize: bool = False
    speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    multichannel: bool = False
    """Each channel transcribed on its own (a mono file: as without it)."""
    bleed_margin_db: float | None = None
    """Multichannel: a channel's audio was silenced where another was louder by this
    many dB (the other party's voice leaking in); None: not silenced."""
    decoder: dict[str, Any] = field(default_factory=dict)
    """The engine's decoder knobs as they were (engine.knobs.DecoderKnobs, as plain data)."""
    extra: tuple[str, ...] = ()
    """The names of the faster-whisper options given in `extra` (not their values)."""
    versions: EngineVersions = field(default_factory=EngineVersions)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["extra"] = list(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TranscriptionSettings:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["decoder"] = dict(data.get("decoder") or {})
        known["vad"] = VadSettings(**(data.get("vad") or {}))
        known["versions"] = EngineVersions(**(data.get("versions") or {}))
        known["extra"] = tuple(data.get("extra") or ())
        return cls(**known)
