"""Opening a live stream: the audio source as chunks, the session as the server's
`session.update` takes it, and the WebSocket handshake with the client's key."""

from __future__ import annotations

import itertools
import json
from typing import Any

from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from swescribe.client.live import (
    FAST_CHUNK_SECONDS,
    REALTIME_CHUNK_SECONDS,
    LiveStream,
)
from swescribe.client.live_audio import AudioSource, chunked, pcm_source
from swescribe.client.models import ApiError, ClientError


def open_live_stream(
    base_url: str,
    api_key: str,
    audio: AudioSource,
    *,
    language: str | None,
    prompt: str | None,
    model: str | None,
    realtime: bool,
    rate: int | None,
    open_timeout: float,
    final_timeout: float,
) -> LiveStream:
    """Client.stream's work: the handshake now (a refused key raises here), then a
    LiveStream that sends the audio while its events are read."""
    pcm_rate, parts = pcm_source(audio, rate)
    seconds = REALTIME_CHUNK_SECONDS if realtime else FAST_CHUNK_SECONDS
    chunks = chunked(parts, int(pcm_rate * seconds) * 2)
    first = next(chunks, None)  # a file that is not audio fails here, before a session opens
    if first is not None:
        chunks = itertools.chain([first], chunks)
    url = realtime_url(base_url)
    try:
        connection = connect(
            url,
            additional_headers={"Authorization": f"Bearer {api_key}"},
            open_timeout=open_timeout,
            max_size=2**22,
        )  # the connection outlives this call: LiveStream closes it
    except InvalidStatus as refused:
        raise _refusal(refused) from None
    except (OSError, TimeoutError, InvalidHandshake) as error:
        raise ClientError(f"cannot open {url}: {error}") from None
    return LiveStream(
        connection,
        session_update(pcm_rate, language, prompt, model),
        chunks,
        seconds,
        realtime,
        final_timeout,
    )


def realtime_url(base_url: str) -> str:
    """http(s)://host/prefix -> ws(s)://host/prefix/v1/realtime?intent=transcription"""
    scheme, _, rest = base_url.rstrip("/").partition("://")
    ws_scheme = {"http": "ws", "https": "wss"}.get(scheme.lower())
    if ws_scheme is None or not rest:
        raise ClientError(f"the service URL must be http:// or https://, not {base_url!r}")
    return f"{ws_scheme}://{rest}/v1/realtime?intent=transcription"


def session_update(
    rate: int, language: str | None, prompt: str | None, model: str | None
) -> dict[str, Any]:
    """The session a stream asks for: PCM16 at `rate`, server VAD's turns."""
    transcription: dict[str, Any] = {"language": language or "auto"}
    if prompt:
        transcription["prompt"] = prompt
    if model:
        transcription["model"] = model
    return {
        "type": "transcription",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": rate},
                "transcription": transcription,
            }
        },
    }


def _refusal(refused: InvalidStatus) -> ApiError:
    """A refused handshake as the client's ApiError, with the server's own message."""
    response = refused.response
    try:
        body = json.loads(response.body or b"")["error"]
        code, message = str(body["code"]), str(body["message"])
    except (ValueError, KeyError, TypeError):
        code = "http_error"
        message = (response.body or b"").decode("utf-8", "replace")[:200] or response.reason_phrase
    return ApiError(response.status_code, code, message)
