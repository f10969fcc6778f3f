"""Client.stream's session: audio out over /v1/realtime (OpenAI's Realtime protocol for
transcription sessions), events back, on a WebSocket of the `websockets` library.

Two threads serve one stream: a sender that paces the audio and a reader that turns
server events into the client's. The protocol acknowledges no append, but the server
answers client events in order, and a `session.update` that changes nothing is always
answered by `session.updated`: sent after an append, it tells the sender whether the
server took that append or dropped it (`input_audio_buffer_full`). Fast mode waits for
that answer after each append and sends a dropped one again after a pause, so the audio
arrives whole and in order as fast as the server takes it. Real-time mode sends a chunk
every 100 ms of audio, as a live source does; an append the server drops is lost.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from swescribe.client.live_events import LiveError, StreamEvent, TurnTexts
from swescribe.client.models import ClientError

log = logging.getLogger("swescribe.client")

REALTIME_CHUNK_SECONDS = 0.1
FAST_CHUNK_SECONDS = 1.0
SETTLE_SECONDS = 1.0
"""After the audio ends and no turn is open: how long no event must come before the
stream ends (the engine may still be working through audio without speech)."""
MAX_RETRY_WAIT = 1.0
MAX_REFUSED_SECONDS = 120.0
"""Fast mode gives up when the server has taken no audio for this long."""
MAX_QUEUED_EVENTS = 10_000
NOTHING_SINCE_COMMIT = "input_audio_buffer_commit_empty"
BUFFER_FULL = "input_audio_buffer_full"
_END = object()


class LiveStream:
    """An open live session. Iterate it for events; `stop()` ends the audio early (the
    turn in progress is committed, and its Final still comes); `close()` drops it all."""

    def __init__(
        self,
        connection: ClientConnection,
        session: Mapping[str, Any],
        chunks: Iterator[bytes],
        chunk_seconds: float,
        realtime: bool,
        final_timeout: float,
    ) -> None:
        self._ws = connection
        self._chunks = chunks
        self._chunk_seconds = chunk_seconds
        self._realtime = realtime
        self._final_timeout = final_timeout
        self._turns = TurnTexts()
        self._events: queue.Queue[object] = queue.Queue(MAX_QUEUED_EVENTS)
        self._state = threading.Condition()
        self._send_lock = threading.Lock()
        self._stopping = threading.Event()
        self._syncs_sent = self._syncs_answered = 0
        self._end_sync: int | None = None
        """The sync sent after the final commit: once answered, the server has it all."""
        self._dropped: set[str] = set()
        self._open_turns: set[str] = set()
        self._failure: ClientError | None = None
        self._closed = False
        self._ended_at = 0.0
        self._last_heard = time.monotonic()
        self._session = session
        self._reader = threading.Thread(target=self._read_all, daemon=True)
        self._sender = threading.Thread(target=self._send_all, daemon=True)
        self._reader.start()
        self._sender.start()

    def __iter__(self) -> Iterator[StreamEvent]:
        return self

    def __next__(self) -> StreamEvent:
        while True:
            try:
                item = self._events.get(timeout=0.1)
            except queue.Empty:
                if self._is_over() or (self._closed and not self._reader.is_alive()):
                    self.close()
                    raise StopIteration from None
                continue
            if item is _END:
                self.close()
                if self._failure is not None:
                    raise self._failure
                raise StopIteration
            return item  # type: ignore[return-value]

    def __enter__(self) -> LiveStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stop(self) -> None:
        """End the audio now (Ctrl-C): commit the turn in progress; keep iterating for
        its Final. The audio source is read no further."""
        self._finish()

    def close(self) -> None:
        self._stopping.set()
        with self._state:
            self._closed = True
            self._state.notify_all()
        with contextlib.suppress(Exception):
            self._ws.close()
        self._reader.join(timeout=5)

    def _is_over(self) -> bool:
        """The audio has ended, the server has read it all, and the last turn is done."""
        with self._state:
            if self._end_sync is None:
                return False
            now = time.monotonic()
            if now - self._ended_at > self._final_timeout:
                log.warning(f"live: no final text after {self._final_timeout:g} s; closing")
                return True
            if self._syncs_answered < self._end_sync:
                return False
            return not self._open_turns and now - self._last_heard >= SETTLE_SECONDS

    # The sender's thread.

    def _send_all(self) -> None:
        try:
            first = self._sync(self._session)
            if first is None or not self._answered(first):
                return
            started = time.monotonic()
            sent_seconds = 0.0
            for number, chunk in enumerate(self._chunks):
                if self._stopping.is_set():
                    return
                if self._realtime:
                    if self._stopping.wait(started + sent_seconds - time.monotonic()):
                        return
                    self._append(f"append_{number}", chunk)
                elif not self._append_until_taken(f"append_{number}", chunk):
                    return
                sent_seconds += self._chunk_seconds
            self._finish()
        except ClientError as error:
            self._fail(error)
        except ConnectionClosed:
            pass  # the reader reports it
        except Exception as error:
            self._fail(ClientError(f"reading the audio failed: {type(error).__name__}: {error}"))

    def _append_until_taken(self, event_id: str, chunk: bytes) -> bool:
        """Fast mode: one append at a time, again after a pause while the server drops it."""
        wait, refused_since = 0.05, time.monotonic()
        while not self._stopping.is_set():
            if not self._append(event_id, chunk):
                return False
            sync = self._sync()
            if sync is None or not self._answered(sync):
                return False
            with self._state:
                if event_id not in self._dropped:
                    return True
                self._dropped.discard(event_id)
            if time.monotonic() - refused_since > MAX_REFUSED_SECONDS:
                raise ClientError(f"the server took no audio for {MAX_REFUSED_SECONDS:g} s")
            self._stopping.wait(wait)
            wait = min(wait * 2, MAX_RETRY_WAIT)
        return False

    def _append(self, event_id: str, chunk: bytes) -> bool:
        audio = base64.b64encode(chunk).decode("ascii")
        event = {"type": "input_audio_buffer.append", "event_id": event_id, "audio": audio}
        return self._send(event) is not None

    def _sync(self, session: Mapping[str, Any] | None = None) -> int | None:
        """Send a session.update (none given: one that changes nothing); its number, to
        wait for its answer with _answered (None: the stream is stopping)."""
        update = {"type": "session.update", "session": session or {"type": "transcription"}}
        return self._send(update)

    def _send(self, event: Mapping[str, Any], finishing: bool = False) -> int | None:
        """Send an event unless the stream is stopping (the final commit still goes);
        the number of session updates sent so far, or None when it was not sent."""
        with self._send_lock:
            if self._stopping.is_set() and not finishing:
                return None
            with self._state:
                syncs: int = self._syncs_sent + int(event["type"] == "session.update")
                self._syncs_sent = syncs
            self._ws.send(json.dumps({**event, "event_id": event.get("event_id", f"sync_{syncs}")}))
        return syncs

    def _answered(self, sync: int) -> bool:
        """Wait until the server has answered sync `sync` (False: the stream is ending)."""
        with self._state:
            while self._syncs_answered < sync:
                if self._closed or self._failure is not None:
                    return False
                self._state.wait(timeout=0.5)
        return True

    def _finish(self) -> None:
        """End the audio once: commit the turn in progress, then a sync to know when the
        server has everything."""
        with self._send_lock:
            if self._stopping.is_set():
                return
            self._stopping.set()
        try:
            commit = {"type": "input_audio_buffer.commit", "event_id": "commit_end"}
            self._send(commit, finishing=True)
            update = {"type": "session.update", "session": {"type": "transcription"}}
            end_sync = self._send(update, finishing=True)
        except ConnectionClosed:
            return  # the reader reports it
        with self._state:
            self._end_sync = end_sync
            self._ended_at = time.monotonic()

    # The reader's thread.

    def _read_all(self) -> None:
        try:
            while True:
                message = self._ws.recv()
                if isinstance(message, str):
                    self._heard(json.loads(message))
        except ConnectionClosed as closed:
            with self._state:
                if self._failure is None and self._end_sync is None and not self._closed:
                    reason = closed.rcvd.reason if closed.rcvd else ""
                    code = closed.rcvd.code if closed.rcvd else 1006
                    self._failure = ClientError(
                        f"the server closed the live session ({code}{': ' if reason else ''}"
                        f"{reason})"
                    )
        except ValueError as error:
            self._fail(ClientError(f"the server sent a message that is not JSON: {error}"))
        finally:
            with self._state:
                self._state.notify_all()
            self._put(_END)

    def _heard(self, server_event: Mapping[str, Any]) -> None:
        kind = server_event.get("type")
        fatal = False
        with self._state:
            self._last_heard = time.monotonic()
            item_id = server_event.get("item_id")
            if kind == "session.updated":
                self._syncs_answered += 1
                self._state.notify_all()
            elif kind == "error":
                fatal = self._error(server_event.get("error") or {})
            elif kind == "conversation.item.input_audio_transcription.completed":
                self._open_turns.discard(str(item_id))
            elif item_id is not None:
                self._open_turns.add(str(item_id))
        event = self._turns.event(server_event)
        if event is not None:
            self._put(event)
        if fatal:  # the reader then sees the connection end, and reports the failure
            with contextlib.suppress(Exception):
                self._ws.close()

    def _error(self, error: Mapping[str, Any]) -> bool:
        """Note a server error (holding _state); True when it ends the stream."""
        code, message = str(error.get("code") or "error"), str(error.get("message") or "")
        if code == BUFFER_FULL:
            self._dropped.add(str(error.get("event_id")))
            if self._realtime:
                log.warning(
                    f"live: the server dropped {self._chunk_seconds:g} s of audio: {message}"
                )
            return False
        if code == NOTHING_SINCE_COMMIT and error.get("event_id") == "commit_end":
            return False  # the last turn had ended already
        if self._failure is None:
            self._failure = LiveError(code, message)
        self._state.notify_all()
        return True

    def _fail(self, error: ClientError) -> None:
        with self._state:
            if self._failure is None:
                self._failure = error
            self._state.notify_all()
        with contextlib.suppress(Exception):
            self._ws.close()

    def _put(self, item: object) -> None:
        """Hand an event to the iterating thread; bounded, and given up once closed."""
        while True:
            try:
                self._events.put(item, timeout=0.5)
                return
            except queue.Full:
                if self._closed:
                    return
