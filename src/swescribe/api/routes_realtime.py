"""/v1/realtime: live transcription over OpenAI's Realtime protocol (a WebSocket), so the
official SDK's `client.realtime.connect(...)` and browsers can stream audio to swescribe.

One connection is one LiveSession of the engine (opened at the first audio): client
events are read here, in order, and the engine's events come back from its thread
through the event loop. Every server event is sent by one task, so their order holds.
The route is mounted only where create_app is told to (the local shape); the limits are
api/live_limits.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from functools import partial
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from swescribe.api.credentials import authenticated_key, scope_key
from swescribe.api.deps import ApiContext
from swescribe.api.live_limits import LiveLimits, LiveSlots, SessionRefused
from swescribe.api.openai_errors import openai_error_response
from swescribe.api.realtime_audio import AppendDecoder
from swescribe.api.realtime_protocol import (
    ProtocolError,
    SessionConfig,
    client_event,
    committed_event,
    engine_event,
    error_event,
    session_object,
    updated_config,
)
from swescribe.core.apikeys import ApiKey
from swescribe.core.errors import InvalidAudio, SwescribeError
from swescribe.core.synchronous import model_for
from swescribe.engine.live_ports import LiveBackpressure, LiveEvent, LiveSession

log = logging.getLogger(__name__)
router = APIRouter(tags=["openai-compatible"])

REALTIME_SUBPROTOCOL = "realtime"
BETA_SUBPROTOCOL = "openai-beta.realtime-v1"
CLOSE_NORMAL, CLOSE_POLICY, CLOSE_TRY_LATER = 1000, 1008, 1013
MAX_BAD_EVENTS = 100
"""Client events answered with an error before the session is closed: a client this
broken is not streaming audio any more."""
MAX_PENDING_EVENTS = 1000
"""Server events waiting for a client that does not read them; past it, the session ends."""
POLL_SECONDS = 1.0
"""The longest one wait for a client message; the session's clocks are checked between."""


@router.websocket("/v1/realtime")
async def realtime(websocket: WebSocket) -> None:
    context: ApiContext = websocket.app.state.context
    slots: LiveSlots = websocket.app.state.live_slots
    try:
        key = await _caller(websocket, context)
    except SwescribeError as error:  # the key store is busy
        await _deny(websocket, 503, error.code, str(error))
        return
    if key is None:
        await _deny(websocket, 401, "invalid_api_key", "missing, invalid or revoked API key")
        return
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(REALTIME_SUBPROTOCOL if REALTIME_SUBPROTOCOL in offered else None)
    ids = _EventIds()
    if context.live is None:
        await _refuse(websocket, ids, "live_unavailable", CLOSE_NORMAL)
        return
    try:
        slots.take(key.key_id)
    except SessionRefused as refused:
        code = CLOSE_POLICY if refused.code == "too_many_live_sessions" else CLOSE_TRY_LATER
        await _refuse(websocket, ids, refused.code, code, str(refused))
        return
    connection = _LiveConnection(websocket, context, ids, _is_beta(websocket))
    fields = {"key_id": key.key_id, "session_id": connection.session_id}
    log.info("live session opened", extra=fields)
    try:
        await connection.run()
    finally:
        slots.give_back(key.key_id)
        log.info("live session ended", extra=fields)


class _EventIds:
    def __call__(self) -> str:
        return f"event_{uuid.uuid4().hex[:22]}"


class _LiveConnection:
    """One client's session: its settings, its engine session and its clocks."""

    def __init__(self, websocket: WebSocket, context: ApiContext, ids: _EventIds, beta: bool):
        assert context.live is not None
        self.websocket = websocket
        self.live = context.live
        self.limits: LiveLimits = context.live_limits
        self.resolve_model = partial(model_for, context.svc)
        self.ids = ids
        self.beta = beta
        self.session_id = f"sess_{uuid.uuid4().hex[:22]}"
        self.config = self._initial_config()
        self.decoder = AppendDecoder(self.config.audio_format)
        self.session: LiveSession | None = None
        self.generation = 0
        """Counts the engine sessions opened; events of an earlier one are dropped."""
        self.loop = asyncio.get_running_loop()
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.ending: tuple[str, str, int] | None = None
        """(code, message, close code) when something other than the client ends it."""
        self.current_item: str | None = None
        self.last_committed: str | None = None
        self.audio_since_commit = False
        self.bad_events = 0
        self.opened_at = self.last_audio = time.monotonic()

    def _initial_config(self) -> SessionConfig:
        """Defaults, with the connection's `model` query parameter where it names a model
        this service maps (a realtime conversation model such as gpt-realtime: ignored)."""
        requested = self.websocket.query_params.get("model", "")
        update = {"audio": {"input": {"transcription": {"model": requested}}}}
        try:
            return updated_config(SessionConfig(), update, False, self.resolve_model)
        except ProtocolError:
            return SessionConfig()

    async def run(self) -> None:
        created = "transcription_session.created" if self.beta else "session.created"
        self._send({"type": created, "event_id": self.ids(), "session": self._session()})
        sender = asyncio.create_task(self._send_all())
        close_code: int | None = None
        try:
            close_code = await self._receive_all()
        finally:
            await self._close_session()
            self.outbox.put_nowait(None)
            try:
                await asyncio.wait_for(sender, timeout=10)
            except (TimeoutError, Exception):  # a client gone or not reading: it is over
                sender.cancel()
            if close_code is not None and self.websocket.client_state is WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):  # the client left first
                    await self.websocket.close(close_code)

    async def _receive_all(self) -> int | None:
        """Client events until the client leaves (None) or a limit ends the session (its
        close code). Bounded: the session's deadline ends it, message or none."""
        limits = self.limits
        ends_at = self.opened_at + limits.max_seconds
        while True:
            now = time.monotonic()
            if self.ending is not None:
                code, reason, close_code = self.ending
                self._error(code, reason)
                return close_code
            if now >= ends_at:
                self._error(
                    "session_expired",
                    f"the session reached its maximum length of {limits.max_seconds:g} s "
                    "(SWESCRIBE_LIVE_MAX_SECONDS)",
                )
                return CLOSE_NORMAL
            if now >= self.last_audio + limits.idle_seconds:
                self._error(
                    "idle_timeout",
                    f"no audio for {limits.idle_seconds:g} s (SWESCRIBE_LIVE_IDLE_SECONDS)",
                )
                return CLOSE_NORMAL
            wait = min(ends_at, self.last_audio + limits.idle_seconds) - now
            try:
                message = await asyncio.wait_for(
                    self.websocket.receive(), timeout=min(wait, POLL_SECONDS)
                )
            except TimeoutError:
                continue
            except WebSocketDisconnect:
                return None
            if message["type"] == "websocket.disconnect":
                return None
            text = message.get("text")
            try:
                if text is None:
                    raise ProtocolError(
                        "binary_not_supported",
                        "send client events as JSON text frames; audio goes base64 in "
                        "input_audio_buffer.append",
                    )
                await self._handle(text)
            except ProtocolError as error:
                if self._bad_event(error):
                    return CLOSE_POLICY

    async def _handle(self, text: str) -> None:
        if len(text) > self.limits.max_message_bytes // 4 and (
            len(text.encode("utf-8", "surrogatepass")) > self.limits.max_message_bytes
        ):
            raise ProtocolError(
                "message_too_large",
                f"a message may be at most {self.limits.max_message_bytes} bytes "
                "(SWESCRIBE_LIVE_MAX_MESSAGE_BYTES): send the audio in smaller appends",
            )
        event = client_event(text)
        kind, client_id = event["type"], event.get("event_id")
        try:
            if kind in ("session.update", "transcription_session.update"):
                await self._update(event, beta=kind.startswith("transcription_session"))
            elif kind == "input_audio_buffer.append":
                await self._append(event)
            elif kind == "input_audio_buffer.commit":
                self._commit()
            elif kind == "input_audio_buffer.clear":
                self._clear()
            else:
                raise ProtocolError(
                    "unsupported_event",
                    f"{kind!r} is not an event of a transcription session; swescribe takes "
                    "session.update, transcription_session.update and "
                    "input_audio_buffer.append/commit/clear",
                    "type",
                )
        except ProtocolError as error:
            error.client_event_id = client_id if isinstance(client_id, str) else None
            raise

    async def _update(self, event: dict[str, Any], beta: bool) -> None:
        if "session" not in event:
            raise ProtocolError("missing_required_parameter", "the event has no session", "session")
        config = updated_config(self.config, event["session"], beta, self.resolve_model)
        if config.audio_format != self.config.audio_format:
            self.decoder = AppendDecoder(config.audio_format)
        if config.options != self.config.options:
            await self._close_session()  # the next audio opens one with the new options
        self.config = config
        updated = "transcription_session.updated" if beta else "session.updated"
        self._send({"type": updated, "event_id": self.ids(), "session": self._session(beta)})

    async def _append(self, event: dict[str, Any]) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise ProtocolError(
                "missing_required_parameter", "append carries base64 audio in 'audio'", "audio"
            )
        try:
            samples = self.decoder.decode(audio)
        except InvalidAudio as error:
            raise ProtocolError("invalid_audio", str(error), "audio") from error
        self.last_audio = time.monotonic()
        if not len(samples):
            return
        session = await self._engine_session()
        try:
            session.append(samples)
        except LiveBackpressure as full:
            self._error(
                full.code,
                "audio arrives faster than it is transcribed; this append was dropped "
                "(send audio at real-time pace)",
                "audio",
                event.get("event_id"),
            )
            return
        self.audio_since_commit = True

    def _commit(self) -> None:
        if self.session is None or not self.audio_since_commit:
            raise ProtocolError(
                "input_audio_buffer_commit_empty", "no audio has arrived since the last commit"
            )
        self.session.commit()
        self.audio_since_commit = False
        if self.current_item is not None:
            self._committed(self.current_item)

    def _clear(self) -> None:
        if self.session is not None:
            self.session.clear()
        self.current_item = None
        self.audio_since_commit = False
        self._send({"type": "input_audio_buffer.cleared", "event_id": self.ids()})

    async def _engine_session(self) -> LiveSession:
        if self.session is None:
            try:
                sink = partial(self._from_engine, self.generation)
                self.session = await run_in_threadpool(self.live.open, self.config.options, sink)
            except SwescribeError as error:
                raise ProtocolError(error.code, str(error), "session") from error
        return self.session

    async def _close_session(self) -> None:
        self.generation += 1
        session, self.session = self.session, None
        if session is not None:
            await run_in_threadpool(session.close)

    def _from_engine(self, generation: int, event: LiveEvent) -> None:
        """The engine's sink, called from its thread: hand the event to the loop."""
        with contextlib.suppress(RuntimeError):  # the loop is gone: the connection with it
            self.loop.call_soon_threadsafe(self._engine_event, generation, event)

    def _engine_event(self, generation: int, event: LiveEvent) -> None:
        if generation != self.generation:
            return
        if event.type == "speech_started":
            self.current_item = event.item_id
        if event.type == "completed":
            self._committed(event.item_id)
        self._send(engine_event(self.ids(), event))
        if event.type == "speech_stopped":
            self._committed(event.item_id)

    def _committed(self, item_id: str) -> None:
        """input_audio_buffer.committed, once an item, before its completed event."""
        if item_id == self.last_committed:
            return
        self._send(committed_event(self.ids(), item_id, self.last_committed))
        self.last_committed = item_id
        self.audio_since_commit = False
        if self.current_item == item_id:
            self.current_item = None

    def _bad_event(self, error: ProtocolError) -> bool:
        """Answer a bad client event; True when the client has sent too many."""
        self._error(error.code, str(error), error.param, error.client_event_id)
        self.bad_events += 1
        if self.bad_events < MAX_BAD_EVENTS:
            return False
        self._error("too_many_bad_events", f"{MAX_BAD_EVENTS} bad events: closing the session")
        return True

    def _error(
        self, code: str, message: str, param: str | None = None, client_id: Any = None
    ) -> None:
        self._send(error_event(self.ids(), code, message, param, client_id))

    def _send(self, event: dict[str, Any]) -> None:
        if self.outbox.qsize() >= MAX_PENDING_EVENTS:
            reason = "the client does not read its events"
            self.ending = ("client_not_reading", reason, CLOSE_POLICY)
            return
        self.outbox.put_nowait(event)

    async def _send_all(self) -> None:
        while (event := await self.outbox.get()) is not None:
            await self.websocket.send_text(json.dumps(event, ensure_ascii=False))

    def _session(self, beta: bool | None = None) -> dict[str, Any]:
        return session_object(self.session_id, self.config, self.beta if beta is None else beta)


async def _caller(websocket: WebSocket, context: ApiContext) -> ApiKey | None:
    """The key the handshake presents (Authorization: Bearer, X-API-Key, or the
    `openai-insecure-api-key.<key>` subprotocol), checked once."""
    key = authenticated_key(websocket.scope)  # the rate limiter has checked it
    presented = scope_key(websocket.scope)
    if key is None and presented and context.keys is not None:
        key = await run_in_threadpool(context.keys.authenticate, presented)
    return key


async def _deny(websocket: WebSocket, status: int, code: str, message: str) -> None:
    """Refuse the handshake: an HTTP answer where the server can send one, else a close
    (policy violation) before the socket opens."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(openai_error_response(status, code, message))
    else:
        await websocket.close(CLOSE_POLICY, reason=message[:100])


async def _refuse(
    websocket: WebSocket, ids: _EventIds, code: str, close_code: int, message: str = ""
) -> None:
    message = message or "live transcription is not available here"
    await websocket.send_text(json.dumps(error_event(ids(), code, message)))
    await websocket.close(close_code)


def _is_beta(websocket: WebSocket) -> bool:
    """A client of the beta protocol (OpenAI-Beta: realtime=v1, or its subprotocol) gets
    transcription_session.created first."""
    offered = websocket.scope.get("subprotocols") or []
    return "realtime=v1" in websocket.headers.get("openai-beta", "") or BETA_SUBPROTOCOL in offered
