"""The live engine: one loaded model and one decode thread for all of its sessions.

Each round the thread takes every session's new audio (VAD, turn edges), then decodes
together, in one batched call, every session that has a second of new speech or an
ended turn, the least recently served first, so no session starves another. The thread
runs while sessions are open and ends with the last one; the model stays loaded.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from swescribe.core.errors import InvalidOption, ModelUnavailable
from swescribe.engine.live.decoder import BatchDecoder
from swescribe.engine.live.session import StreamSession
from swescribe.engine.live.tuning import LiveTuning
from swescribe.engine.live.turns import SileroStream, SpeechProbabilities, TurnDetector
from swescribe.engine.live_ports import LiveEventSink, LiveOptions, LiveSession

log = logging.getLogger(__name__)

IDLE_WAIT_SECONDS = 0.5
"""How long the thread sleeps when no session has anything new (a bound, not a pace)."""
DEFAULT_LANGUAGE = "sv"


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
        """End the decode thread after its current decode (at exit: a thread still
        inside CTranslate2 as the interpreter ends aborts the process)."""
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
        decoder = self._loaded()
        while True:
            self._wake.clear()
            with self._lock:
                self._sessions = [s for s in self._sessions if not s.closed]
                if not self._sessions or self._stopping:
                    self._thread = None
                    return
                sessions = list(self._sessions)
            try:
                served = self._round(decoder, sessions)
            except Exception:  # the thread serves every session: it must not die
                log.exception("live decoding round failed")
                served = True
            if not served and not any(s.has_input() for s in sessions):
                self._wake.wait(IDLE_WAIT_SECONDS)

    def _round(self, decoder: BatchDecoder, sessions: list[StreamSession]) -> bool:
        """One round: every session's input taken, one batched decode. Whether it decoded."""
        for session in sessions:
            session.ingest()
        ready = [s for s in sessions if not s.closed and s.wants_decode()]
        ready.sort(key=lambda s: s.last_decoded)
        ready = ready[: self.tuning.max_batch]
        if not ready:
            return False
        requests = []
        for session in ready:
            audio, needs_language = session.next_turn_audio()
            if needs_language and session.options.language is None:
                session.set_turn_language(decoder.detect_language(audio))
            prompt = decoder.prompt(session.options.prompt, session.prompt_text())
            requests.append(session.request(prompt, session.options.language or DEFAULT_LANGUAGE))
        try:
            hypotheses = decoder.decode(requests)
            self.batch_sizes[len(requests)] += 1
        except Exception:
            log.exception("live decode of %d sessions failed", len(ready))
            for session in ready:
                session.abandon()
            return True
        for session, hypothesis in zip(ready, hypotheses, strict=True):
            if not session.closed:
                session.apply(hypothesis)
        return True
