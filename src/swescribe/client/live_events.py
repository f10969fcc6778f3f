"""What Client.stream yields: a turn's speech starting and stopping, its text as it firms
up (Partial) and its final text (Final), made from the server's Realtime events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from swescribe.client.models import ClientError


@dataclass(frozen=True)
class SpeechStarted:
    type: ClassVar[str] = "speech_started"
    item_id: str
    """The turn's id; every event of the turn carries it."""
    audio_start_ms: int
    """Milliseconds from the stream's first sample."""


@dataclass(frozen=True)
class SpeechStopped:
    type: ClassVar[str] = "speech_stopped"
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True)
class Partial:
    """Text of a turn in progress: `delta` is newly confirmed (never taken back), appended
    to what came before (`confirmed`); `tentative` is the unconfirmed tail after it."""

    type: ClassVar[str] = "partial"
    item_id: str
    delta: str
    confirmed: str
    """All the turn's confirmed text so far, this delta included."""
    tentative: str

    @property
    def text(self) -> str:
        """What to show now: the confirmed text and the tentative tail."""
        return self.confirmed + self.tentative


@dataclass(frozen=True)
class Final:
    type: ClassVar[str] = "final"
    item_id: str
    text: str
    """The turn's whole final text (empty for a turn of no words)."""


StreamEvent = SpeechStarted | SpeechStopped | Partial | Final


def event_json(event: StreamEvent) -> dict[str, Any]:
    """An event as one JSON object, its type first (`swescribe stream --json`)."""
    fields: dict[str, Any] = {"type": event.type, **asdict(event)}
    if isinstance(event, Partial):
        fields["text"] = event.text
    return fields


class LiveError(ClientError):
    """The server ended or refused the live session with an `error` event; `code` is its
    code (e.g. too_many_live_sessions, idle_timeout, invalid_value)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message


class TurnTexts:
    """Confirmed text per turn, so each Partial carries the whole of it."""

    def __init__(self) -> None:
        self._confirmed: dict[str, str] = {}

    def event(self, server_event: Mapping[str, Any]) -> StreamEvent | None:
        """The client's event for a server event (None for those it does not show)."""
        kind = server_event.get("type")
        item_id = str(server_event.get("item_id", ""))
        if kind == "input_audio_buffer.speech_started":
            return SpeechStarted(item_id, int(server_event.get("audio_start_ms", 0)))
        if kind == "input_audio_buffer.speech_stopped":
            return SpeechStopped(item_id, int(server_event.get("audio_end_ms", 0)))
        if kind == "conversation.item.input_audio_transcription.delta":
            delta = str(server_event.get("delta") or "")
            confirmed = self._confirmed.get(item_id, "") + delta
            self._confirmed[item_id] = confirmed
            return Partial(item_id, delta, confirmed, str(server_event.get("tentative") or ""))
        if kind == "conversation.item.input_audio_transcription.completed":
            self._confirmed.pop(item_id, None)
            return Final(item_id, str(server_event.get("transcript") or ""))
        return None
