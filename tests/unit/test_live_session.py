"""A live session's turns (engine/live/session.py) driven by hand: scripted speech
probabilities in place of Silero, hypotheses in place of a model. What is decoded when,
with which beam, and when a turn completes."""

from __future__ import annotations

import threading

import numpy as np

from swescribe.engine.audio import SAMPLE_RATE
from swescribe.engine.live import LiveTuning, TimedWord, TurnDetector
from swescribe.engine.live.decoder import DecodeRequest, Hypothesis
from swescribe.engine.live.session import StreamSession
from swescribe.engine.live_ports import LiveEvent, LiveOptions
from tests.unit.test_live_turns import ScriptedProbabilities, frames

PIECE = SAMPLE_RATE // 10
WORDS = (" Vanliga", " kännetecken", " för", " lättlästa", " texter")


def script(*parts: tuple[float, float]) -> list[float]:
    """(seconds, probability) pieces, frame by frame."""
    return [p for seconds, p in parts for p in [p] * frames(seconds)]


class Driven:
    """One session, its detector fed the script; decodes answered by `hypothesis`."""

    def __init__(self, speech: list[float], tuning: LiveTuning | None = None) -> None:
        self.events: list[LiveEvent] = []
        self.requests: list[DecodeRequest] = []
        options = LiveOptions()
        detector = TurnDetector(
            ScriptedProbabilities(speech), options.vad_threshold, options.silence_ms
        )
        self.session = StreamSession(
            options, self.events.append, tuning or LiveTuning(), detector, threading.Event()
        )
        self.fed = 0

    def feed(self, seconds: float, decode: bool = True) -> None:
        """Append `seconds` in 100 ms pieces; after each, the decode the session wants
        (answered at once, as if the model were instant) when `decode`."""
        for _ in range(round(seconds * 10)):
            self.session.append(np.zeros(PIECE, dtype=np.float32))
            self.fed += PIECE
            self.session.ingest()
            if decode and self.session.wants_decode():
                self.session.apply(self.hypothesis(self.request()))

    def request(self) -> DecodeRequest:
        request = self.session.request([], "sv")
        self.requests.append(request)
        return request

    @staticmethod
    def hypothesis(request: DecodeRequest) -> Hypothesis:
        """A word for each 0.4 s of the buffer after its first second (where the
        scripted speech is)."""
        end = request.offset + request.audio.size / SAMPLE_RATE
        words = []
        for i, text in enumerate(WORDS):
            start = 1.0 + 0.4 * i
            if start + 0.3 <= end:
                words.append(TimedWord(start, start + 0.3, text))
        return Hypothesis(tuple(words), ())

    def of(self, kind: str) -> list[LiveEvent]:
        return [e for e in self.events if e.type == kind]


SPEECH_THEN_PAUSE = script((1.0, 0.0), (2.0, 0.9), (2.0, 0.05))


def test_a_pause_is_decoded_at_once_with_the_final_beam() -> None:
    driven = Driven(SPEECH_THEN_PAUSE)
    driven.feed(3.0)
    assert driven.requests
    assert not any(r.final for r in driven.requests)
    driven.feed(0.3)
    assert driven.requests[-1].final, "a 200 ms pause should be decoded with the final beam"
    finals = sum(r.final for r in driven.requests)
    driven.feed(0.1)
    assert sum(r.final for r in driven.requests) == finals, "one such decode per pause"


def test_a_turn_whose_pause_was_decoded_completes_at_its_end_without_another_decode() -> None:
    driven = Driven(SPEECH_THEN_PAUSE)
    driven.feed(3.4)
    decoded = len(driven.requests)
    driven.feed(0.6, decode=False)  # the pause reaches 500 ms: the turn ends
    assert [e.type for e in driven.events][-1] == "completed"
    assert driven.of("completed")[0].text == "".join(WORDS).strip()
    assert not driven.session.wants_decode()
    assert len(driven.requests) == decoded


def test_speech_after_a_pause_needs_a_final_decode_of_its_own() -> None:
    speech = script((1.0, 0.0), (1.0, 0.9), (0.3, 0.05), (1.0, 0.9), (2.0, 0.05))
    driven = Driven(speech)
    driven.feed(2.3)  # the 300 ms pause had a final-beam decode; speech goes on
    pause_decode = max(i for i, r in enumerate(driven.requests) if r.final)
    driven.feed(1.0)
    driven.feed(0.7, decode=False)  # the turn ends after its second stretch of speech
    assert driven.of("speech_stopped")
    assert not driven.of("completed")
    assert driven.session.wants_decode()
    last = driven.request()
    assert last.final
    assert len(driven.requests) - 1 > pause_decode
    driven.session.apply(driven.hypothesis(last))
    assert driven.of("completed")[0].text == "".join(WORDS).strip()


def test_a_turn_that_ends_while_its_decode_runs_completes_when_that_decode_comes() -> None:
    driven = Driven(SPEECH_THEN_PAUSE)
    driven.feed(3.0)
    driven.feed(0.2, decode=False)
    assert driven.session.wants_decode()
    in_flight = driven.request()  # the pause's decode, not answered yet
    assert in_flight.final
    driven.feed(0.6, decode=False)
    assert driven.of("speech_stopped")
    assert not driven.of("completed")
    assert not driven.session.wants_decode(), "nothing more to decode while it runs"
    driven.session.apply(driven.hypothesis(in_flight))
    assert driven.of("completed")[0].text == "".join(WORDS).strip()
    assert not driven.session.wants_decode()


def test_a_decode_of_a_cleared_turn_is_dropped_when_it_comes() -> None:
    driven = Driven(script((1.0, 0.0), (3.0, 0.9)))
    driven.feed(2.0, decode=False)
    in_flight = driven.request()
    driven.session.clear()
    driven.session.ingest()
    before = list(driven.events)
    driven.session.apply(driven.hypothesis(in_flight))
    assert driven.events == before


def test_no_pause_decode_when_it_would_not_come_before_the_turns_end() -> None:
    driven = Driven(SPEECH_THEN_PAUSE, LiveTuning(pause_decode_ms=0))
    driven.feed(3.4)
    assert not any(r.final for r in driven.requests)
    driven.feed(0.6, decode=False)
    assert driven.session.wants_decode()
    assert driven.request().final
