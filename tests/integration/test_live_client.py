"""Client.stream against /v1/realtime on a real uvicorn, with the stand-in live engine
(tests/fakes.py): a Swedish clip, raw PCM16, backpressure, a refused key, server errors."""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from swescribe.api.live_limits import LiveLimits
from swescribe.client import (
    NO_RETRIES,
    ApiError,
    Client,
    ClientError,
    Final,
    LiveError,
    Partial,
    SpeechStarted,
    SpeechStopped,
    StreamEvent,
)
from swescribe.core.errors import SwescribeError
from swescribe.engine.live_ports import LiveEventSink, LiveOptions
from tests.conftest import audio, reference
from tests.fakes import FakeLiveSession, FakeLiveTranscriber
from tests.live import clip_pcm16, live_service, silence

CLIP = "cv_18711295"


def _all(events: Iterator[StreamEvent], limit: int = 5000) -> list[StreamEvent]:
    collected: list[StreamEvent] = []
    for event in events:
        collected.append(event)
        assert len(collected) < limit
    return collected


def _eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("the condition did not hold in time")


def _check_turns(events: list[StreamEvent]) -> list[str]:
    """Each turn's events in protocol order and its Final equal to its deltas; the finals."""
    finals = []
    for final in (e for e in events if isinstance(e, Final)):
        turn = [e for e in events if e.item_id == final.item_id]
        partials = [e for e in turn if isinstance(e, Partial)]
        assert final.text == "".join(p.delta for p in partials)
        if partials:
            assert isinstance(turn[0], SpeechStarted)
            assert turn[-1] is final
            assert all(p.confirmed.startswith(q.confirmed) for q, p in itertools.pairwise(partials))
        stopped = [e for e in turn if isinstance(e, SpeechStopped)]
        if stopped:
            assert turn.index(stopped[0]) > turn.index(partials[-1])
        finals.append(final.text)
    return finals


def test_a_swedish_clip_streams_fast_and_yields_its_turns_in_order(tmp_path: Path) -> None:
    words = reference(CLIP).split()
    live = FakeLiveTranscriber(words=words)
    with live_service(tmp_path, live) as service, Client(service.url, service.key) as client:
        stream = client.stream(
            audio(f"{CLIP}.wav"), realtime=False, prompt="Ett telefonsamtal.", language="sv"
        )
        with stream:
            events = _all(stream)
        _eventually(lambda: service.open_sessions() == 0)
    finals = [text for text in _check_turns(events) if text]
    assert finals == [" ".join(words[:3])]  # the fake confirms a word per 300 ms of speech
    assert isinstance(events[0], SpeechStarted)
    session = live.sessions[0]
    assert (session.options.language, session.options.prompt) == ("sv", "Ett telefonsamtal.")
    assert session.received_samples == len(clip_pcm16(f"{CLIP}.wav", rate=16_000)) // 2


def test_raw_pcm16_chunks_at_24_khz_from_an_iterable_and_a_stream(tmp_path: Path) -> None:
    pcm = clip_pcm16(f"{CLIP}.wav") + silence(1000)
    live = FakeLiveTranscriber(words=["ett", "två", "tre"])
    with live_service(tmp_path, live) as service, Client(service.url, service.key) as client:
        chunks = (pcm[start : start + 9_999] for start in range(0, len(pcm), 9_999))
        from_chunks = _all(client.stream(chunks, rate=24_000, realtime=False))
        from_stream = _all(client.stream(io.BytesIO(pcm), rate=24_000, realtime=False))
    assert [t for t in _check_turns(from_chunks) if t] == ["ett två tre"]
    assert [t for t in _check_turns(from_stream) if t] == ["ett två tre"]
    for session in live.sessions:  # 24 kHz resampled to 16 kHz, less the filter's delay
        assert len(pcm) // 3 - 64 <= session.received_samples <= len(pcm) // 3


def test_a_file_at_real_time_pace_is_heard_whole(tmp_path: Path) -> None:
    live = FakeLiveTranscriber(words=["hej"])
    with live_service(tmp_path, live) as service, Client(service.url, service.key) as client:
        events = _all(client.stream(audio(f"{CLIP}.wav")))
        assert [t for t in _check_turns(events) if t] == ["hej hej hej"]
    assert live.sessions[0].received_samples > 4 * 16_000


class _CountingTranscriber(FakeLiveTranscriber):
    """The fake engine, counting the appends it refused for a full buffer."""

    def __init__(self, buffer_seconds: float) -> None:
        super().__init__(words=["hej"], buffer_seconds=buffer_seconds)
        self.refused = 0

    def open(self, options: LiveOptions, on_event: LiveEventSink) -> FakeLiveSession:
        session = super().open(options, on_event)
        take = session.append

        def append(samples: object) -> None:
            try:
                take(samples)  # type: ignore[arg-type]
            except SwescribeError:
                self.refused += 1
                raise

        session.append = append  # type: ignore[method-assign]
        return session


def test_fast_mode_slows_down_when_the_server_buffer_is_full_and_loses_no_audio(
    tmp_path: Path,
) -> None:
    live = _CountingTranscriber(buffer_seconds=1.5)
    live.hold()  # the engine decodes nothing until released: its buffer fills
    pcm = clip_pcm16(f"{CLIP}.wav", rate=16_000) + silence(1000, rate=16_000)
    releaser = threading.Timer(1.0, live.release)
    with live_service(tmp_path, live) as service, Client(service.url, service.key) as client:
        releaser.start()
        try:
            events = _all(client.stream(pcm, rate=16_000, realtime=False))
        finally:
            releaser.cancel()
    assert live.refused > 0
    assert live.sessions[0].received_samples == len(pcm) // 2
    assert [t for t in _check_turns(events) if t] == ["hej hej hej"]


def test_a_bad_key_raises_the_clients_api_error_with_the_servers_message(tmp_path: Path) -> None:
    with (
        live_service(tmp_path, FakeLiveTranscriber()) as service,
        Client(service.url, "sws_made_up", retry=NO_RETRIES) as client,
        pytest.raises(ApiError) as refused,
    ):
        client.stream(audio(f"{CLIP}.wav"), realtime=False)
    assert (refused.value.status, refused.value.code) == (401, "invalid_api_key")
    assert refused.value.message == "missing, invalid or revoked API key"


def test_a_server_error_event_surfaces_as_a_live_error_with_its_code(tmp_path: Path) -> None:
    with live_service(tmp_path, FakeLiveTranscriber()) as service:
        client = Client(service.url, service.key)
        with pytest.raises(LiveError) as invalid:
            _all(client.stream(audio(f"{CLIP}.wav"), language="svenska", realtime=False))
        assert invalid.value.code == "invalid_value"
        assert "ISO 639-1" in invalid.value.message
        with pytest.raises(LiveError) as unavailable, live_service(tmp_path / "b", None) as other:
            _all(Client(other.url, other.key).stream(b"\0\0" * 16_000, realtime=False))
        assert unavailable.value.code == "live_unavailable"
        client.close()


def test_a_refused_session_surfaces_with_the_servers_reason(tmp_path: Path) -> None:
    limits = LiveLimits(sessions_per_key=1)
    live = FakeLiveTranscriber()
    with (
        live_service(tmp_path, live, limits=limits) as service,
        Client(service.url, service.key) as client,
        client.stream(iter(()), rate=16_000) as first,  # holds the key's one session
    ):
        _eventually(lambda: service.open_sessions() == 1)
        with pytest.raises(LiveError) as refused:
            _all(client.stream(b"\0\0" * 1600, realtime=False))
        assert refused.value.code == "too_many_live_sessions"
        assert "SWESCRIBE_LIVE_SESSIONS_PER_KEY" in str(refused.value)
        first.close()


def test_a_file_that_is_not_audio_is_refused_before_a_session_opens(tmp_path: Path) -> None:
    notes = tmp_path / "notes.wav"
    notes.write_text("inte ljud, bara text\n" * 100)
    live = FakeLiveTranscriber()
    with live_service(tmp_path, live) as service, Client(service.url, service.key) as client:
        with pytest.raises(ClientError) as refused:
            client.stream(notes, realtime=False)
        assert "cannot read the audio" in str(refused.value)
        assert service.open_sessions() == 0
    assert live.sessions == []
