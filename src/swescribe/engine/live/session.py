"""One live session: the client's handle (any thread) and its turns (the engine's thread).

The client appends audio and commands to an inbox and returns at once. The engine's
thread takes the inbox in order, runs the VAD over it, keeps each turn's audio in a
buffer, asks for decodes and turns their hypotheses into events.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from swescribe.core.errors import InvalidAudio
from swescribe.engine.audio import SAMPLE_RATE, Samples
from swescribe.engine.live.agreement import LocalAgreement, TimedWord, trim_point
from swescribe.engine.live.decoder import DecodeRequest, Hypothesis
from swescribe.engine.live.tuning import LiveTuning
from swescribe.engine.live.turns import TurnDetector
from swescribe.engine.live_ports import (
    LiveBackpressure,
    LiveEvent,
    LiveEventSink,
    LiveEventType,
    LiveOptions,
)

log = logging.getLogger(__name__)


class _Command(Enum):
    COMMIT = "commit"
    CLEAR = "clear"


def _ms(samples: int) -> int:
    return samples * 1000 // SAMPLE_RATE


@dataclass
class _Turn:
    item_id: str
    start: int
    """Session sample where its speech starts."""
    chunks: list[Samples]
    buffer_start: int
    """Session sample of the buffer's first sample."""
    buffered: int = 0
    decoded_to: int = 0
    """Session sample up to which the last decode heard."""
    heard_speech: bool = False
    end: int | None = None
    """Set when the turn has ended: it waits for its final decode."""
    language: str | None = None
    agreement: LocalAgreement = field(default_factory=LocalAgreement)
    emitted: str = ""
    """Its deltas' text so far: what it has confirmed."""
    tentative: str = ""
    settled_to: int | None = None
    """Where the audio ended that its latest decode heard, when that decode used the final
    beam: if the turn's speech ends before this, that decode was its last."""

    @property
    def buffer_end(self) -> int:
        return self.buffer_start + self.buffered

    def add(self, samples: Samples) -> None:
        if samples.size:
            self.chunks.append(samples)
            self.buffered += samples.size

    def audio(self) -> Samples:
        if len(self.chunks) > 1:
            self.chunks = [np.concatenate(self.chunks)]
        return self.chunks[0] if self.chunks else np.zeros(0, dtype=np.float32)

    def cut_before(self, sample: int) -> None:
        """Drop the buffer's audio before a session sample."""
        drop = min(max(0, sample - self.buffer_start), self.buffered)
        self.chunks = [self.audio()[drop:]]
        self.buffer_start += drop
        self.buffered -= drop


@dataclass(frozen=True)
class _Decoding:
    """The decode a session has asked for and not yet been given."""

    turn: _Turn
    final: bool
    heard_to: int
    """Session sample where the decoded audio ends."""


class StreamSession:
    """Implements LiveSession (engine/live_ports.py)."""

    def __init__(
        self,
        options: LiveOptions,
        on_event: LiveEventSink,
        tuning: LiveTuning,
        detector: TurnDetector,
        wake: threading.Event,
    ) -> None:
        self.options = options
        self._on_event = on_event
        self._tuning = tuning
        self._detector = detector
        self._wake = wake
        self._lock = threading.RLock()
        self._inbox: deque[Samples | _Command] = deque()
        self._waiting = 0
        """Samples in the inbox."""
        self._undecoded = 0
        """Samples in turns that no decode has heard (kept by the engine's thread)."""
        self.closed = False
        self.last_decoded = 0.0
        """When a decode last served this session (monotonic): the least recently served
        go first."""
        self._timeline = 0
        self._history: deque[Samples] = deque()
        """The latest audio, in or out of turns: a new turn's padding and left context."""
        self._history_samples = 0
        self._turn_starts: deque[int] = deque()
        """Where recent turns' buffers began: where a new turn's left context may begin."""
        self._last_stop = 0
        self._turn: _Turn | None = None
        self._ending: deque[_Turn] = deque()
        self._context = ""
        """Text of the finished turns, for the prompt."""
        self._decoding: _Decoding | None = None

    # The client's side: any thread, returns at once.

    def append(self, samples: Samples) -> None:
        audio = np.asarray(samples, dtype=np.float32)
        if audio.ndim != 1:
            raise InvalidAudio("live audio is one channel: a one-dimensional array of samples")
        limit = round(self._tuning.max_undecoded_seconds * SAMPLE_RATE)
        with self._lock:
            if self.closed:
                return
            if self._waiting + self._undecoded + audio.size > limit:
                raise LiveBackpressure(
                    "audio arrives faster than it is transcribed: more than "
                    f"{self._tuning.max_undecoded_seconds:g} s wait; send it at real-time pace"
                )
            self._inbox.append(audio.copy())
            self._waiting += audio.size
        self._wake.set()

    def commit(self) -> None:
        self._command(_Command.COMMIT)

    def clear(self) -> None:
        self._command(_Command.CLEAR)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._inbox.clear()
            self._waiting = 0
            self._turn = None
            self._ending.clear()
            self._history.clear()
        self._wake.set()

    def _command(self, command: _Command) -> None:
        with self._lock:
            if not self.closed:
                self._inbox.append(command)
        self._wake.set()

    # The engine's side: its one thread.

    def has_input(self) -> bool:
        with self._lock:
            return bool(self._inbox)

    def ingest(self) -> None:
        """Take the inbox, in order: audio through the VAD into turns, then commands."""
        with self._lock:
            items = list(self._inbox)
            self._inbox.clear()
            self._waiting = 0
        for item in items:
            if item is _Command.COMMIT:
                self._commit()
            elif item is _Command.CLEAR:
                self._clear()
            elif isinstance(item, np.ndarray):
                self._ingest_audio(item)
        self._count_undecoded()

    def wants_decode(self) -> bool:
        if self._decoding is not None:
            return False
        if self._ending:
            return True
        turn = self._turn
        if turn is None or not turn.heard_speech:
            return False
        pause = self._pause_start(turn)
        if pause is not None:  # one final-beam decode per pause
            return turn.settled_to is None or turn.settled_to <= pause
        step = round(self._tuning.step_seconds * SAMPLE_RATE)
        return turn.buffer_end - turn.decoded_to >= step

    def request(self, prompt: list[int], language: str) -> DecodeRequest:
        """The buffer to decode now: an ended turn's final decode first; a turn that has
        paused is decoded with the final beam too."""
        turn = self._next_turn()
        assert turn is not None
        pause = None if self._ending else self._pause_start(turn)
        final = bool(self._ending) or pause is not None
        turn.decoded_to = turn.buffer_end
        self._decoding = _Decoding(turn, final, turn.buffer_end)
        audio, rest = turn.audio(), 0
        if pause is not None:  # heard as if the pause went on to end the turn
            rest = max(0, pause + self.options.silence_ms * SAMPLE_RATE // 1000 - turn.buffer_end)
            audio = np.concatenate([audio, np.zeros(rest, dtype=np.float32)])
        offset = turn.buffer_start / SAMPLE_RATE
        language = turn.language or language
        return DecodeRequest(audio, offset, prompt, language, final, rest / SAMPLE_RATE)

    def _next_turn(self) -> _Turn | None:
        """The turn the next decode is for: an ended turn's final decode comes first."""
        return self._ending[0] if self._ending else self._turn

    def _pause_start(self, turn: _Turn) -> int | None:
        """Where the growing turn's speech paused, once the pause has lasted
        `pause_decode_ms` (it may be the turn's end); None while it speaks, and always
        without turn detection (a pause does not end such a turn)."""
        pause = self._detector.pause_since
        wait = self._tuning.pause_decode_ms
        if turn is not self._turn or pause is None or not self.options.turn_detection:
            return None
        if not 0 < wait < self.options.silence_ms:
            return None
        paused = self._detector.position - pause >= wait * SAMPLE_RATE // 1000
        return pause if paused else None

    def next_turn_audio(self) -> tuple[Samples, bool]:
        """The audio the next decode will hear, and whether its turn needs a language."""
        turn = self._next_turn()
        assert turn is not None
        return turn.audio(), turn.language is None

    def set_turn_language(self, language: str) -> None:
        turn = self._next_turn()
        if turn is not None:
            turn.language = language

    def prompt_text(self) -> str:
        """Confirmed text before the next decode's buffer."""
        turn = self._next_turn()
        earlier = self._context if self._tuning.prompt_previous_turns else ""
        if turn is None:
            return earlier
        cut = turn.buffer_start / SAMPLE_RATE + 1e-6
        before = "".join(w.text for w in turn.agreement.confirmed if w.end <= cut)
        return f"{earlier} {before}".strip()

    def apply(self, hypothesis: Hypothesis) -> None:
        """A decode's result for the turn that `request` gave (which may have ended, or
        been cleared, while it was decoded)."""
        self.last_decoded = time.monotonic()
        decoding, self._decoding = self._decoding, None
        if decoding is None:
            return
        turn = decoding.turn
        if turn is not self._turn and turn not in self._ending:
            return
        agreed = turn.agreement.update(hypothesis.words)
        turn.settled_to = decoding.heard_to if decoding.final else None
        if self._ending and self._ending[0] is turn and self._settled(turn):
            self._complete(self._ending.popleft(), agreed)
            while self._ending and self._settled(self._ending[0]):
                self._complete(self._ending.popleft(), [])
        else:
            self._confirm(turn, agreed, final=False)
            if turn is self._turn:
                self._trim(turn, hypothesis)
        self._count_undecoded()

    def abandon(self) -> None:
        """A decode failed: end this session's turns with what they have confirmed."""
        self.last_decoded = time.monotonic()
        self._decoding = None
        turns = list(self._ending) + ([self._turn] if self._turn is not None else [])
        self._ending.clear()
        self._turn = None
        for turn in turns:
            self._emit("completed", turn, text=turn.emitted, end=turn.end or self._timeline)
        self._count_undecoded()

    @staticmethod
    def _settled(turn: _Turn) -> bool:
        """Whether a final-beam decode has heard all of the ended turn's speech."""
        return turn.end is not None and turn.settled_to is not None and turn.settled_to >= turn.end

    def _complete(self, turn: _Turn, agreed: list[TimedWord]) -> None:
        """The turn's tentative tail becomes final; its completed event."""
        self._confirm(turn, agreed + turn.agreement.finish(), final=True)
        self._emit("completed", turn, text=turn.emitted, end=turn.end)
        self._context = f"{self._context} {turn.emitted}".strip()[-1000:]

    def _ingest_audio(self, samples: Samples) -> None:
        first = self._timeline
        cursor = 0
        for edge in self._detector.feed(samples):
            cut = min(max(cursor, edge.detected_at - first), samples.size)
            self._take(samples[cursor:cut])
            cursor = cut
            if edge.kind == "start":
                if self._turn is not None:
                    self._turn.heard_speech = True
                elif self.options.turn_detection:
                    self._start_turn(edge.at)
            elif self.options.turn_detection and self._turn is not None:
                self._end_turn(edge.at, stopped=True)
        self._take(samples[cursor:])
        if self._detector.speaking and self._turn is not None:
            self._turn.heard_speech = True

    def _take(self, samples: Samples) -> None:
        if not samples.size:
            return
        if self._turn is None and not self.options.turn_detection:
            now = self._timeline
            self._turn = _Turn(self._new_id(), now, [], now, decoded_to=now)
        if self._turn is not None:
            self._turn.add(samples)
            if not self._turn.heard_speech:  # commit-only turns keep no audio before speech
                self._turn.cut_before(self._turn.buffer_end - self._idle_keep())
                self._turn.decoded_to = self._turn.buffer_start
        self._history.append(samples)
        self._history_samples += samples.size
        keep = self._idle_keep() + round(self._tuning.left_context_seconds * SAMPLE_RATE)
        while self._history and self._history_samples - self._history[0].size >= keep:
            self._history_samples -= self._history.popleft().size
        self._timeline += samples.size

    def _idle_keep(self) -> int:
        return (self.options.prefix_padding_ms + self._tuning.idle_keep_ms) * SAMPLE_RATE // 1000

    def _start_turn(self, speech_start: int) -> None:
        """A turn's buffer begins with its padding, and before that (as context the
        decoder hears but whose words the turn leaves out) the recent turns that began
        within `left_context_seconds`."""
        padded = max(0, speech_start - self.options.prefix_padding_ms * SAMPLE_RATE // 1000)
        kept_from = self._timeline - self._history_samples
        context_from = padded - round(self._tuning.left_context_seconds * SAMPLE_RATE)
        earlier = [s for s in self._turn_starts if s >= max(kept_from, context_from)]
        first = min([*earlier, max(padded, kept_from)])
        floor = (max(self._last_stop, first) + speech_start) / 2 / SAMPLE_RATE
        turn = _Turn(
            self._new_id(),
            speech_start,
            [],
            first,
            decoded_to=first,
            heard_speech=True,
            agreement=LocalAgreement(floor=floor if first < padded else 0.0),
        )
        if self._history:
            audio = np.concatenate(list(self._history))
            turn.add(audio[first - kept_from :])
        self._turn_starts.append(max(padded, kept_from))
        while self._turn_starts and self._turn_starts[0] < context_from:
            self._turn_starts.popleft()
        self._turn = turn
        self._emit("speech_started", turn)

    def _end_turn(self, end: int, stopped: bool) -> None:
        turn = self._turn
        if turn is None:
            return
        self._turn = None
        turn.end = end
        self._last_stop = end
        if stopped:
            self._emit("speech_stopped", turn, end=end)
        if turn.heard_speech and self._settled(turn) and not self._ending:
            self._complete(turn, [])
        elif turn.heard_speech:
            self._ending.append(turn)
        else:
            self._emit("completed", turn, text="", end=end)

    def _commit(self) -> None:
        self._end_turn(self._timeline, stopped=False)
        self._detector.reset()

    def _clear(self) -> None:
        self._turn = None
        self._decoding = None
        self._history.clear()
        self._history_samples = 0
        self._turn_starts.clear()
        self._detector.reset()

    def _confirm(self, turn: _Turn, words: list[TimedWord], final: bool) -> None:
        text = "".join(w.text for w in words)
        if not turn.emitted:
            text = text.lstrip()
        tentative = "" if final else "".join(w.text for w in turn.agreement.tentative)
        if not turn.emitted and not text:
            tentative = tentative.lstrip()
        if not text and (final or tentative == turn.tentative):
            return
        turn.emitted += text
        turn.tentative = tentative
        self._emit("delta", turn, text=text, tentative=tentative)

    def _trim(self, turn: _Turn, hypothesis: Hypothesis) -> None:
        """Keep the buffer short: cut at a confirmed segment's end, or (past the hard
        limit) confirm the tentative words and cut after them."""
        length = turn.buffered / SAMPLE_RATE
        if length <= self._tuning.trim_seconds:
            return
        point = trim_point(hypothesis.segment_ends, turn.agreement.confirmed_end)
        if point is not None and point * SAMPLE_RATE > turn.buffer_start:
            turn.cut_before(round(point * SAMPLE_RATE))
        if turn.buffered / SAMPLE_RATE > self._tuning.max_buffer_seconds:
            self._confirm(turn, turn.agreement.finish(), final=True)
            keep_from = max(turn.agreement.confirmed_end, turn.buffer_end / SAMPLE_RATE - 1.0)
            turn.cut_before(round(keep_from * SAMPLE_RATE))

    def _count_undecoded(self) -> None:
        turns = list(self._ending) + ([self._turn] if self._turn is not None else [])
        undecoded = sum(
            t.buffer_end - max(t.decoded_to, t.buffer_start) for t in turns if t.heard_speech
        )
        with self._lock:
            self._undecoded = undecoded

    def _new_id(self) -> str:
        return f"item_{secrets.token_hex(10)}"

    def _emit(
        self,
        kind: LiveEventType,
        turn: _Turn,
        text: str = "",
        tentative: str = "",
        end: int | None = None,
    ) -> None:
        event = LiveEvent(
            kind,
            turn.item_id,
            text=text,
            tentative=tentative,
            audio_start_ms=_ms(turn.start),
            audio_end_ms=_ms(end) if end is not None else 0,
        )
        with self._lock:
            if self.closed:
                return
            try:
                self._on_event(event)
            except Exception:  # a broken sink must not stop the engine's thread
                log.exception("live event sink failed on %s", kind)
