"""OpenAI's Realtime protocol for transcription sessions, as plain functions: a client's
session update (the GA `session.update` and the beta `transcription_session.update`)
into LiveOptions and an audio format, and the server events in the shapes the official
SDK parses (openai/types/realtime). No I/O here: routes_realtime.py runs the socket.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from swescribe.api.realtime_audio import PCM16_24K, AudioEncoding, AudioFormat
from swescribe.core.errors import SwescribeError
from swescribe.core.request import (
    LANGUAGE_PATTERN,
    MAX_HOTWORDS_CHARS,
    MAX_MODEL_NAME_CHARS,
    MAX_PROMPT_CHARS,
)
from swescribe.engine.live_ports import LiveEvent, LiveOptions

DEFAULT_MODEL = "whisper-1"
"""What session.created names before the client picks one: the service's own model."""
MAX_PADDING_MS = 10_000
GA_FORMATS: dict[str, AudioEncoding] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "pcmu",
    "audio/pcma": "pcma",
}
BETA_FORMATS: dict[str, AudioFormat] = {
    "pcm16": PCM16_24K,
    "g711_ulaw": AudioFormat("pcmu", 8000),
    "g711_alaw": AudioFormat("pcma", 8000),
}
PCM_RATES = (24_000, 16_000)
"""OpenAI's PCM is 24 kHz; 16 kHz (the engine's own rate) is swescribe's extension."""

ResolveModel = Callable[[str], str | None]
"""A client's model name -> the service's model (None: its default); raises for others."""


class ProtocolError(Exception):
    """A client event the session cannot take; answered with an `error` event."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.param = param
        self.client_event_id: str | None = None
        """The event_id of the client event it answers, where that event had one."""


@dataclass(frozen=True)
class SessionConfig:
    """What the client asked for, as it asked it (echoed in session.updated), and the
    LiveOptions the engine gets."""

    options: LiveOptions = field(default_factory=LiveOptions)
    audio_format: AudioFormat = PCM16_24K
    model_name: str = DEFAULT_MODEL
    prompt: str | None = None
    keywords: tuple[str, ...] = ()


def client_event(text: str) -> dict[str, Any]:
    """A text frame's event; ProtocolError for anything but a JSON object with a type."""
    try:
        event = json.loads(text)
    except ValueError as error:
        raise ProtocolError("invalid_json", f"the message is not JSON: {error}") from error
    if not isinstance(event, dict):
        raise ProtocolError("invalid_json", "a client event is a JSON object")
    if not isinstance(event.get("type"), str):
        raise ProtocolError("missing_required_parameter", "the event has no type", "type")
    return event


def updated_config(
    current: SessionConfig, session: object, beta: bool, resolve_model: ResolveModel
) -> SessionConfig:
    """The session after a client's update: only the fields it names change."""
    prefix = "session"
    fields = _object(session, prefix)
    if beta:
        audio_in = fields
        format_key, transcription_key = "input_audio_format", "input_audio_transcription"
    else:
        kind = fields.get("type", "transcription")
        if kind != "transcription":
            raise ProtocolError(
                "invalid_value",
                "this endpoint runs transcription sessions only: session.type must be "
                f"'transcription', not {kind!r}",
                "session.type",
            )
        audio = _object(fields.get("audio", {}), "session.audio")
        audio_in = _object(audio.get("input", {}), "session.audio.input")
        prefix = "session.audio.input"
        format_key, transcription_key = "format", "transcription"
    config = current
    if format_key in audio_in:
        config = replace(config, audio_format=_audio_format(audio_in[format_key], beta, prefix))
    if audio_in.get(transcription_key) is not None:
        place = f"{prefix}.{transcription_key}"
        config = _with_transcription(config, _object(audio_in[transcription_key], place), place)
        config = _resolved(config, resolve_model, f"{place}.model")
    if "turn_detection" in audio_in:
        turns = _turn_detection(audio_in["turn_detection"], f"{prefix}.turn_detection")
        config = replace(config, options=replace(config.options, **turns))
    return config


def _audio_format(value: object, beta: bool, prefix: str) -> AudioFormat:
    if beta:
        if value not in BETA_FORMATS:
            raise ProtocolError(
                "invalid_value",
                f"input_audio_format must be one of {', '.join(BETA_FORMATS)}",
                f"{prefix}.input_audio_format",
            )
        return BETA_FORMATS[str(value)]
    fields = _object(value, f"{prefix}.format")
    kind = fields.get("type", "audio/pcm")
    if kind not in GA_FORMATS:
        raise ProtocolError(
            "invalid_value",
            f"format.type must be one of {', '.join(GA_FORMATS)}",
            f"{prefix}.format.type",
        )
    encoding = GA_FORMATS[str(kind)]
    if encoding != "pcm16":
        return AudioFormat(encoding, 8000)
    rate = fields.get("rate", 24_000)
    if rate not in PCM_RATES:
        raise ProtocolError(
            "invalid_value", "audio/pcm takes rate 24000 (or 16000)", f"{prefix}.format.rate"
        )
    return AudioFormat("pcm16", int(rate))


def _with_transcription(
    config: SessionConfig, fields: Mapping[str, Any], place: str
) -> SessionConfig:
    options = config.options
    model_name, prompt, keywords = config.model_name, config.prompt, config.keywords
    if "model" in fields and fields["model"] is not None:
        model_name = _text(fields["model"], f"{place}.model", MAX_MODEL_NAME_CHARS)
    if "language" in fields:
        options = replace(options, language=_language(fields["language"], f"{place}.language"))
    if fields.get("languages"):
        languages = _list_of_text(fields["languages"], f"{place}.languages", 16)
        one = _language(languages[0], f"{place}.languages") if len(languages) == 1 else None
        options = replace(options, language=one)
    if "prompt" in fields:
        prompt = None if fields["prompt"] is None else _text(fields["prompt"], f"{place}.prompt")
    if "keywords" in fields:
        keywords = tuple(_list_of_text(fields["keywords"] or [], f"{place}.keywords", 100))
        if len(", ".join(keywords)) > MAX_HOTWORDS_CHARS:
            raise ProtocolError(
                "invalid_value",
                f"keywords together are longer than {MAX_HOTWORDS_CHARS} characters",
                f"{place}.keywords",
            )
    vocabulary = ", ".join(keywords)
    combined = " ".join(part for part in (vocabulary, prompt or "") if part) or None
    return replace(
        config,
        options=replace(options, prompt=combined),
        model_name=model_name,
        prompt=prompt,
        keywords=keywords,
    )


def _resolved(config: SessionConfig, resolve_model: ResolveModel, place: str) -> SessionConfig:
    try:
        model = resolve_model(config.model_name)
    except SwescribeError as error:
        raise ProtocolError("invalid_value", str(error), place) from error
    return replace(config, options=replace(config.options, model=model))


def _turn_detection(value: object, place: str) -> dict[str, Any]:
    if value is None:
        return {"turn_detection": False}
    fields = _object(value, place)
    kind = fields.get("type", "server_vad")
    if kind not in ("server_vad", "semantic_vad"):
        raise ProtocolError(
            "invalid_value", "turn_detection.type is server_vad or semantic_vad", f"{place}.type"
        )
    turns: dict[str, Any] = {"turn_detection": True}
    if fields.get("threshold") is not None:
        turns["vad_threshold"] = _number(fields["threshold"], f"{place}.threshold", 0.0, 1.0)
    for name, option in (("silence_duration_ms", "silence_ms"), ("prefix_padding_ms", None)):
        if fields.get(name) is not None:
            milliseconds = _number(fields[name], f"{place}.{name}", 0, MAX_PADDING_MS)
            turns[option or name] = int(milliseconds)
    return turns


def _object(value: object, place: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError("invalid_type", f"{place} must be an object", place)
    return value


def _text(value: object, place: str, limit: int = MAX_PROMPT_CHARS) -> str:
    if not isinstance(value, str):
        raise ProtocolError("invalid_type", f"{place} must be a string", place)
    if len(value) > limit:
        raise ProtocolError("invalid_value", f"{place} is longer than {limit} characters", place)
    return value


def _list_of_text(value: object, place: str, limit: int) -> list[str]:
    if not isinstance(value, list) or len(value) > limit:
        raise ProtocolError("invalid_type", f"{place} must be a list of strings", place)
    return [_text(item, place) for item in value]


def _language(value: object, place: str) -> str | None:
    if value is None or value == "auto":
        return None
    if not isinstance(value, str) or not re.match(LANGUAGE_PATTERN, value):
        raise ProtocolError(
            "invalid_value", f"{place} must be an ISO 639-1 code such as 'sv', or 'auto'", place
        )
    return value


def _number(value: object, place: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        message = f"{place} must be a number from {low:g} to {high:g}"
        raise ProtocolError("invalid_value", message, place)
    return float(value)


# Server events, in the SDK's shapes.


def session_object(session_id: str, config: SessionConfig, beta: bool) -> dict[str, Any]:
    """The session as session.created/updated (GA) or transcription_session.* (beta) show it."""
    options = config.options
    transcription = {
        "model": config.model_name,
        "language": options.language,
        "prompt": config.prompt,
        **({"keywords": list(config.keywords)} if config.keywords else {}),
    }
    turn_detection = (
        {
            "type": "server_vad",
            "threshold": options.vad_threshold,
            "prefix_padding_ms": options.prefix_padding_ms,
            "silence_duration_ms": options.silence_ms,
        }
        if options.turn_detection
        else None
    )
    audio_format = config.audio_format
    if beta:
        beta_format = next(name for name, known in BETA_FORMATS.items() if known == audio_format)
        return {
            "id": session_id,
            "object": "realtime.transcription_session",
            "input_audio_format": beta_format,
            "input_audio_transcription": transcription,
            "turn_detection": turn_detection,
            "input_audio_noise_reduction": None,
            "modalities": ["text"],
            "include": None,
        }
    ga_format: dict[str, Any] = {"type": f"audio/{audio_format.encoding}"}
    if audio_format.encoding == "pcm16":
        ga_format = {"type": "audio/pcm", "rate": audio_format.rate}
    return {
        "type": "transcription",
        "id": session_id,
        "object": "realtime.transcription_session",
        "audio": {
            "input": {
                "format": ga_format,
                "transcription": transcription,
                "turn_detection": turn_detection,
                "noise_reduction": None,
            }
        },
        "include": None,
    }


def error_event(
    event_id: str, code: str, message: str, param: str | None = None, client_event_id: Any = None
) -> dict[str, Any]:
    """OpenAI's error event; `error.event_id` names the client event it answers."""
    return {
        "type": "error",
        "event_id": event_id,
        "error": {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id if isinstance(client_event_id, str) else None,
        },
    }


def engine_event(event_id: str, event: LiveEvent) -> dict[str, Any]:
    """An engine event in the protocol's shape (committed is the caller's to add)."""
    if event.type == "speech_started":
        return {
            "type": "input_audio_buffer.speech_started",
            "event_id": event_id,
            "item_id": event.item_id,
            "audio_start_ms": event.audio_start_ms,
        }
    if event.type == "speech_stopped":
        return {
            "type": "input_audio_buffer.speech_stopped",
            "event_id": event_id,
            "item_id": event.item_id,
            "audio_end_ms": event.audio_end_ms,
        }
    if event.type == "delta":
        return {
            "type": "conversation.item.input_audio_transcription.delta",
            "event_id": event_id,
            "item_id": event.item_id,
            "content_index": 0,
            "delta": event.text,
            "tentative": event.tentative,  # swescribe's extension: the unconfirmed tail
        }
    seconds = max(0, event.audio_end_ms - event.audio_start_ms) / 1000
    return {
        "type": "conversation.item.input_audio_transcription.completed",
        "event_id": event_id,
        "item_id": event.item_id,
        "content_index": 0,
        "transcript": event.text,
        "usage": {"type": "duration", "seconds": seconds},
    }


def committed_event(event_id: str, item_id: str, previous_item_id: str | None) -> dict[str, Any]:
    return {
        "type": "input_audio_buffer.committed",
        "event_id": event_id,
        "item_id": item_id,
        "previous_item_id": previous_item_id,
    }
