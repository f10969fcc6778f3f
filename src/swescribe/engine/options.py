"""What one transcription is asked to do: TranscribeOptions, plain and immutable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from swescribe.core.errors import InvalidOption
from swescribe.core.request import MAX_SPEAKERS, MAX_TEMPERATURE, MIN_TEMPERATURE, TASKS
from swescribe.core.voices import Voiceprint
from swescribe.engine.knobs import DecoderKnobs

BLEED_MARGIN_DB = 10.0
"""Multichannel: a channel is silenced where another is louder by more than this: below
the 15 to 30 dB a headset or a second phone keeps between the parties, above the
difference in level of two people talking at once, each into their own microphone
(engine/channels.py; docs/performance.md, "Multichannel")."""


@dataclass(frozen=True)
class TranscribeOptions:
    """Everything that changes what a transcription produces (defaults: Swedish, VAD on)."""

    language: str | None = "sv"
    """ISO 639-1 code; None or "auto" detects the language."""
    word_timestamps: bool = False
    vad: bool = True
    beam_size: int = 5
    window_seconds: float = 600.0
    """Audio is decoded and transcribed in windows of this length: bounded memory."""
    max_seconds: float = 0.0
    """Longer audio raises AudioTooLong (0: no limit): before any decoding when the file's
    probe is over it, else as soon as the decoded samples pass it."""
    batch_size: int | None = None
    """Speech segments (cut by VAD) decoded together. None: chosen for the device and
    model (engine.device.default_batch_size); 1: one segment after another, conditioned
    on the previous text, with temperature fallback (plain faster-whisper's way)."""
    task: str = "transcribe"
    """"transcribe", or "translate" (the speech into English text)."""
    initial_prompt: str | None = None
    """Text the model reads as if it came before the audio: spellings of names and terms,
    a style. Only its last tokens are used (Whisper's context is half its 448 tokens)."""
    hotwords: str | None = None
    """Words to listen for (faster-whisper's hotwords), given to every piece of audio."""
    temperature: float | None = None
    """A sampling temperature; None: greedy/beam search (with the sequential path's
    temperature fallback)."""
    # Speaker diarization (issue 18): who spoke when, as S1, S2, … on segments and words.
    diarize: bool = False
    speakers: int | None = None
    """The number of speakers when it is known; None: found from the audio."""
    min_speakers: int | None = None
    max_speakers: int | None = None
    """With multichannel, the speaker count and its bounds are per channel."""
    multichannel: bool = False
    """Each channel transcribed on its own, its segments labelled with it (`channel`, and
    CH1, CH2, … as the speaker) and merged in time order. A mono file: as without it."""
    bleed_margin_db: float | None = BLEED_MARGIN_DB
    """Multichannel: silence a channel where another is louder by more than this, the
    other party's voice leaking into its microphone; None: keep everything (benchmarks)."""
    known_voices: tuple[Voiceprint, ...] = ()
    """Enrolled voices to look for (issue 28): a speaker that matches one is labelled
    with its name instead of S<n>. Only with diarize."""
    decoder: DecoderKnobs = field(default_factory=DecoderKnobs)
    """The batched decoder's own knobs (engine/knobs.py): benchmarks and ablations."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Further keyword arguments for faster-whisper's transcribe, and only those (expert
    use, benchmarks); swescribe's own knobs are `decoder`. Read-only: a copy of the
    mapping given, so the options cannot change once made."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))
        if self.task not in TASKS:
            raise InvalidOption(f"task must be one of {', '.join(TASKS)}, not {self.task!r}")
        if self.temperature is not None and not (
            MIN_TEMPERATURE <= self.temperature <= MAX_TEMPERATURE
        ):
            raise InvalidOption(
                f"temperature must be between {MIN_TEMPERATURE:g} and {MAX_TEMPERATURE:g}"
            )
        if self.beam_size < 1:
            raise InvalidOption("beam_size must be at least 1")
        if self.batch_size is not None and not 1 <= self.batch_size <= 256:
            raise InvalidOption("batch_size must be between 1 and 256")
        if not isinstance(self.decoder, DecoderKnobs):
            raise InvalidOption("decoder must be a DecoderKnobs")
        if self.bleed_margin_db is not None and self.bleed_margin_db < 0:
            raise InvalidOption("bleed_margin_db must not be negative")
        if self.window_seconds < 60:
            raise InvalidOption("window_seconds must be at least 60")
        _check_speakers(self)
        code = self.language
        if code not in (None, "auto") and not (2 <= len(code) <= 3 and code.isalpha()):
            raise InvalidOption(f"language {code!r} is not an ISO 639-1 code")


def _check_speakers(options: TranscribeOptions) -> None:
    if options.known_voices and not options.diarize:
        raise InvalidOption("known_voices needs diarize")
    counts = {
        "speakers": options.speakers,
        "min_speakers": options.min_speakers,
        "max_speakers": options.max_speakers,
    }
    for name, value in counts.items():
        if value is None:
            continue
        if not options.diarize:
            raise InvalidOption(f"{name} needs diarize")
        if not 1 <= value <= MAX_SPEAKERS:
            raise InvalidOption(f"{name} must be between 1 and {MAX_SPEAKERS}")
    low, high = options.min_speakers, options.max_speakers
    if low is not None and high is not None and low > high:
        raise InvalidOption("min_speakers must not be more than max_speakers")
