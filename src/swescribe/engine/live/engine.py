"""The live engine: one loaded model and two threads for all of its sessions.

The engine's thread takes every session's new audio (VAD, turn edges) every 50 ms, also
while a decode runs, so a turn's end is seen as it comes. When no decode runs, it sends
to the decode thread, in one batched call, every session that has a second of new
speech, a pause or an ended turn, the least recently served first, so no session starves
another; it applies the results when they come. The threads run while sessions are open
and end with the last one; the model stays loaded.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from swescribe.core.errors import InvalidOption, ModelUnavailable
from swescribe.engine.live.decoder import BatchDecoder, Hypothesis
from swescribe.engine.live.session import StreamSession
from swescribe.engine.live.tuning import LiveTuning
from swescribe.engine.live.turns import SileroStream, SpeechProbabilities, TurnDetector
from swescribe.engine.live_ports import LiveEventSink, LiveOptions, LiveSession

log = logging.getLogger(__name__)

IDLE_WAIT_SECONDS = 0.5
"""How long the thread sleeps when no session has anything new (a bound, not a pace)."""
INGEST_SECONDS = 0.05
"""While a decode runs, how often the sessions' new audio goes through the VAD, so a
turn's end is seen when it comes rather than after the decode."""
DEFAULT_LANGUAGE = "sv"


@dataclass(frozen=True)
class _Decoding:
    """A batched decode running on the decode thread."""

    sessions: list[StreamSession]
    result: Future[list[Hypothesis]]


class LiveEngine:
    """Implements LiveTranscriber (engine/live_ports.py) for one model."""

    def __init__(
        self,
        load_model: Callable[[], Any],
        tuning: LiveTuning | None = None,
        speech_probabilities: Callable[[], SpeechProbabilities] = SileroStream,
    ) -> None:
        self.tuning = tuning or LiveTuning()
        self._load_model = load_model
        self._speech_probabilities = speech_probabilities
        self._decoder: BatchDecoder | None = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._sessions: list[StreamSession] = []
        self._thread: threading.Thread | None = None
        self._stopping = False
        atexit.register(self.stop)
        self.batch_sizes: Counter[int] = Counter()
        """How many decodes served how many sessions at once (for the bench and tests)."""

    @property
    def thread_alive(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def open(self, options: LiveOptions, on_event: LiveEventSink) -> LiveSession:
        """Loads the model on the first session (seconds); later sessions start at once."""
        decoder = self._loaded()
        if options.language is not None and options.language not in decoder.languages:
            raise InvalidOption(f"language {options.language!r} is not one this model knows")
        if not 0.0 < options.vad_threshold < 1.0:
            raise InvalidOption("the VAD threshold lies between 0 and 1")
        if options.silence_ms <= 0 or options.prefix_padding_ms < 0:
            raise InvalidOption("silence_ms must be positive and prefix_padding_ms not negative")
        detector = TurnDetector(
            self._speech_probabilities(), options.vad_threshold, options.silence_ms
        )
        session = StreamSession(options, on_event, self.tuning, detector, self._wake)
        with self._lock:
            if self._stopping:
                raise ModelUnavailable("the live engine is shutting down")
            self._sessions.append(session)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="swescribe-live-decoder", daemon=True
                )
                self._thread.start()
        return session

    def stop(self, timeout: float = 30.0) -> None:
        """End the threads after the current decode (at exit: a thread still inside
        CTranslate2 as the interpreter ends aborts the process)."""
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _loaded(self) -> BatchDecoder:
        with self._load_lock:
            if self._decoder is None:
                self._decoder = BatchDecoder(
                    self._load_model(), self.tuning.beam_size, self.tuning.final_beam_size
                )
            return self._decoder

    def _run(self) -> None:
        # The model decodes on its own thread while this one goes on taking audio.
        with ThreadPoolExecutor(1, thread_name_prefix="swescribe-live-decode") as pool:
            self._serve(self._loaded(), pool)

    def _serve(self, decoder: BatchDecoder, pool: ThreadPoolExecutor) -> None:
        decoding: _Decoding | None = None
        while True:
            self._wake.clear()
            with self._lock:
                self._sessions = [s for s in self._sessions if not s.closed]
                stopping = self._stopping or not self._sessions
                if stopping and decoding is None:
                    self._thread = None
                    return
                sessions = list(self._sessions)
            try:
                for session in sessions:
                    session.ingest()
                if decoding is not None and decoding.result.done():
                    finished, decoding = decoding, None
                    self._apply(finished)
                if decoding is None and not stopping:
                    decoding = self._start_decode(decoder, pool, sessions)
            except Exception:  # the thread serves every session: it must not die
                log.exception("live decoding round failed")
            if decoding is not None:
                self._wake.wait(INGEST_SECONDS)
            elif not any(s.has_input() for s in sessions):
                self._wake.wait(IDLE_WAIT_SECONDS)

    def _start_decode(
        self, decoder: BatchDecoder, pool: ThreadPoolExecutor, sessions: list[StreamSession]
    ) -> _Decoding | None:
        """The sessions with something to decode, the least recently served first, sent to
        the decode thread in one batched call."""
        ready = [s for s in sessions if not s.closed and s.wants_decode()]
        ready.sort(key=lambda s: s.last_decoded)
        ready = ready[: self.tuning.max_batch]
        if not ready:
            return None
        try:
            requests = []
            for session in ready:
                audio, needs_language = session.next_turn_audio()
                if needs_language and session.options.language is None:
                    session.set_turn_language(decoder.detect_language(audio))
                prompt = decoder.prompt(session.options.prompt, session.prompt_text())
                language = session.options.language or DEFAULT_LANGUAGE
                requests.append(session.request(prompt, language))
            result = pool.submit(decoder.decode, requests)
        except Exception:
            log.exception("live decode of %d sessions could not start", len(ready))
            for session in ready:
                session.abandon()
            return None
        result.add_done_callback(lambda _: self._wake.set())
        return _Decoding(ready, result)

    def _apply(self, decoding: _Decoding) -> None:
        try:
            hypotheses = decoding.result.result()
        except Exception:
            log.exception("live decode of %d sessions failed", len(decoding.sessions))
            for session in decoding.sessions:
                session.abandon()
            return
        self.batch_sizes[len(decoding.sessions)] += 1
        for session, hypothesis in zip(decoding.sessions, hypotheses, strict=True):
            if not session.closed:
                session.apply(hypothesis)
