"""What the live endpoint needs from the engine: the LiveTranscriber port.

A live session takes 16 kHz mono float32 audio as it arrives and reports, from the
engine's own thread, the turns it hears: speech started and stopped, text as it firms
up, and each turn's final text. Text reported as confirmed is never taken back; only
the tentative tail after it may change. The API's WebSocket endpoint (/v1/realtime)
speaks OpenAI's Realtime protocol over this port; tests pass a stand-in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from swescribe.core.errors import SwescribeError
from swescribe.engine.audio import Samples

LiveEventType = Literal["speech_started", "speech_stopped", "delta", "completed"]


@dataclass(frozen=True)
class LiveOptions:
    """One session's settings (the client's session.update)."""

    language: str | None = "sv"
    """None: detected per turn."""
    model: str | None = None
    """None: the service's default model."""
    prompt: str | None = None
    """Custom vocabulary and context, passed to the decoder as its prompt."""
    turn_detection: bool = True
    """Server VAD ends a turn at a pause; False: turns end only on commit()."""
    vad_threshold: float = 0.5
    silence_ms: int = 500
    """The pause that ends a turn."""
    prefix_padding_ms: int = 300
    """Audio kept before the detected start of speech."""


@dataclass(frozen=True)
class LiveEvent:
    type: LiveEventType
    item_id: str
    """The turn's id (one conversation item per turn)."""
    text: str = ""
    """delta: the text confirmed since the last delta (appended, never rewritten);
    completed: the turn's whole final text."""
    tentative: str = ""
    """delta only: the unconfirmed tail after all confirmed text (it may still change)."""
    audio_start_ms: int = 0
    """Milliseconds from the session's first sample: where the turn's speech starts."""
    audio_end_ms: int = 0
    """speech_stopped and completed: where the turn's speech ends."""


LiveEventSink = Callable[[LiveEvent], None]
"""Called from the engine's thread for every event, in order; it must not block."""


class LiveBackpressure(SwescribeError):
    """The client sends audio faster than it is decoded, past the session's buffer."""

    code = "input_audio_buffer_full"


class LiveSession(Protocol):
    def append(self, samples: Samples) -> None:
        """Audio as it arrives; returns at once. Raises LiveBackpressure when more
        undecoded audio is waiting than the session may hold (nothing is appended)."""

    def commit(self) -> None:
        """End the current turn now (the client's input_audio_buffer.commit): its
        completed event follows, after the final decode."""

    def clear(self) -> None:
        """Drop the audio of the current turn not yet committed."""

    def close(self) -> None:
        """End the session and free everything it holds; no event follows."""


class LiveTranscriber(Protocol):
    def open(self, options: LiveOptions, on_event: LiveEventSink) -> LiveSession:
        """A new session; raises InvalidOption for options the engine cannot honour."""
