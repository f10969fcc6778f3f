"""Helpers of the /v1/realtime tests: a swescribe API with a stand-in live engine on a real
uvicorn, Swedish clips as the protocol's PCM, and a bounded reader of server events."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from websockets.sync.client import ClientConnection, connect

from swescribe.adapters.local.sqlite_keys import SqliteApiKeyStore
from swescribe.api import ApiContext, create_app
from swescribe.api.limits import ApiLimits
from swescribe.api.live_limits import LiveLimits
from swescribe.api.server import uvicorn_options
from swescribe.engine.live_ports import LiveTranscriber
from tests.conftest import audio
from tests.fakes import memory_services
from tests.support import free_port, serving


@dataclass(frozen=True)
class LiveService:
    url: str
    key: str
    other_key: str
    app: Any

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/v1/realtime"

    def open_sessions(self) -> int:
        return int(self.app.state.live_slots.total())

    def connect(self, key: str | None = None, **options: Any) -> ClientConnection:
        """A raw WebSocket client, with the key as a bearer token unless told otherwise."""
        headers = dict(options.pop("additional_headers", {}))
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        query = options.pop("query", "?intent=transcription")
        return connect(self.ws_url + query, additional_headers=headers, open_timeout=10, **options)


@contextmanager
def live_service(
    tmp_path: Path,
    live: LiveTranscriber | None,
    limits: LiveLimits | None = None,
    api_limits: ApiLimits | None = None,
    header_timeout: float = 10.0,
) -> Iterator[LiveService]:
    """create_app over the local key store and `live`, served as `swescribe serve` serves."""
    limits = limits or LiveLimits()
    keys = SqliteApiKeyStore(tmp_path / "keys.db")
    _, key = keys.create("one")
    _, other_key = keys.create("two")
    context = ApiContext(
        svc=memory_services(),
        keys=keys,
        limits=api_limits or ApiLimits(),
        realtime=True,
        live=live,
        live_limits=limits,
    )
    app = create_app(context)
    options = uvicorn_options((), header_timeout, limits.max_message_bytes)
    with serving(app, free_port(), **options) as url:
        yield LiveService(url, key, other_key, app)


def clip_pcm16(name: str, rate: int = 24_000) -> bytes:
    """A clip of ../shared/audio/sv as raw PCM16 little-endian mono at `rate`."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    parts: list[bytes] = []
    with av.open(str(audio(name))) as container:
        for frame in container.decode(audio=0):
            parts += [out.to_ndarray().tobytes() for out in resampler.resample(frame)]
    parts += [out.to_ndarray().tobytes() for out in resampler.resample(None)]
    return b"".join(parts)


def silence(ms: int, rate: int = 24_000, bytes_per_sample: int = 2) -> bytes:
    return bytes(rate * ms // 1000 * bytes_per_sample)


def tone(ms: int, rate: int = 24_000) -> bytes:
    """A loud 220 Hz tone as PCM16: speech to the stand-in engine."""
    t = np.arange(rate * ms // 1000) / rate
    return (np.sin(2 * np.pi * 220 * t) * 12_000).astype("<i2").tobytes()


def b64_chunks(pcm: bytes, ms: int = 100, rate: int = 24_000, width: int = 2) -> Iterator[str]:
    step = rate * ms // 1000 * width
    for start in range(0, len(pcm), step):
        yield base64.b64encode(pcm[start : start + step]).decode()


def append(ws: ClientConnection, pcm: bytes, rate: int = 24_000, width: int = 2) -> None:
    for chunk in b64_chunks(pcm, rate=rate, width=width):
        ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))


def sdk_send_swedish_speech(connection: Any, pcm: bytes, rate: int = 24_000) -> None:
    """Through the official SDK's realtime connection: a Swedish transcription session
    with server VAD (700 ms), then `pcm` in 100 ms appends, as fast as the socket takes them."""
    connection.session.update(
        session={
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": rate},
                    "transcription": {"model": "gpt-4o-transcribe", "language": "sv"},
                    "turn_detection": {"type": "server_vad", "silence_duration_ms": 700},
                }
            },
        }
    )
    for chunk in b64_chunks(pcm, rate=rate):
        connection.input_audio_buffer.append(audio=chunk)


def read_until(
    ws: ClientConnection, wanted: str, seconds: float = 10.0, limit: int = 2000
) -> list[dict[str, Any]]:
    """Server events up to and including the first of type `wanted` (bounded)."""
    events: list[dict[str, Any]] = []
    for _ in range(limit):
        event = json.loads(ws.recv(timeout=seconds))
        events.append(event)
        if event["type"] == wanted:
            return events
    raise AssertionError(f"no {wanted} in {limit} events: {[e['type'] for e in events]}")
