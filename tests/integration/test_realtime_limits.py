"""Attacks on /v1/realtime (issue 25, item 6): too many sessions, idling, endless
sessions, audio faster than real time, huge or malformed messages, dropped connections,
and the handshake against the rate limits, each on a real uvicorn served as `swescribe
serve` serves it. The engine is the stand-in of tests/fakes.py."""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from swescribe.api.limits import ApiLimits
from swescribe.api.live_limits import LiveLimits
from swescribe.api.routes_realtime import MAX_BAD_EVENTS
from tests.fakes import FakeLiveTranscriber
from tests.live import append, live_service, read_until, silence, tone

COMPLETED = "conversation.item.input_audio_transcription.completed"


def _wait_for(condition: object, seconds: float = 10.0) -> bool:
    """Poll a condition (bounded); the server frees a session after the client is gone."""
    for _ in range(int(seconds / 0.05)):
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


def _closed_with(ws: object, seconds: float = 10.0) -> int | None:
    """Read on until the server closes the socket; its close code."""
    for _ in range(1000):
        try:
            ws.recv(timeout=seconds)  # type: ignore[attr-defined]
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
    raise AssertionError("the server kept sending")


def _one_turn(ws: object) -> dict[str, object]:
    append(ws, tone(400) + silence(800))  # type: ignore[arg-type]
    return read_until(ws, COMPLETED)[-1]  # type: ignore[arg-type]


def test_a_key_past_its_live_sessions_is_refused_and_a_closed_one_frees_its_slot(
    tmp_path: Path,
) -> None:
    limits = LiveLimits(sessions_per_key=2, max_sessions=3)
    with live_service(tmp_path, FakeLiveTranscriber(), limits) as service:
        first, second = service.connect(service.key), service.connect(service.key)
        third = service.connect(service.key)
        refusal = read_until(third, "error")[-1]["error"]
        assert refusal["code"] == "too_many_live_sessions"
        assert "SWESCRIBE_LIVE_SESSIONS_PER_KEY" in refusal["message"]
        assert _closed_with(third) == 1008
        other = service.connect(service.other_key)  # the service's third
        read_until(other, "session.created")
        fourth = service.connect(service.other_key)
        assert read_until(fourth, "error")[-1]["error"]["code"] == "live_capacity_reached"
        assert _closed_with(fourth) == 1013
        first.close()
        assert _wait_for(lambda: service.open_sessions() == 2)
        again = service.connect(service.key)
        assert read_until(again, "session.created")[-1]["type"] == "session.created"
        for ws in (second, other, again):
            ws.close()
        assert _wait_for(lambda: service.open_sessions() == 0)


def test_a_session_without_audio_is_closed_after_the_idle_timeout(tmp_path: Path) -> None:
    live = FakeLiveTranscriber()
    limits = LiveLimits(idle_seconds=1.0)
    with live_service(tmp_path, live, limits) as service, service.connect(service.key) as ws:
        _one_turn(ws)
        for _ in range(3):  # events that are not audio do not keep a session open
            ws.send(json.dumps({"type": "session.update", "session": {"type": "transcription"}}))
        error = read_until(ws, "error", seconds=15)[-1]["error"]
        assert error["code"] == "idle_timeout"
        assert _closed_with(ws) == 1000
        assert live.sessions[0].closed.is_set()
        assert _wait_for(lambda: service.open_sessions() == 0)


def test_a_session_is_closed_at_its_maximum_length_while_audio_keeps_coming(
    tmp_path: Path,
) -> None:
    live = FakeLiveTranscriber()
    limits = LiveLimits(max_seconds=1.5, idle_seconds=60)
    with live_service(tmp_path, live, limits) as service, service.connect(service.key) as ws:
        read_until(ws, "session.created")
        chunk = base64.b64encode(silence(100)).decode()
        code = None
        for _ in range(100):  # 10 s of appends at most
            try:
                ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
                time.sleep(0.1)
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                break
        else:
            code = _closed_with(ws, seconds=0.1)
        assert code == 1000
        assert live.sessions[0].closed.is_set()
        assert _wait_for(lambda: service.open_sessions() == 0)


def test_audio_faster_than_real_time_is_dropped_with_input_audio_buffer_full_and_the_session_goes_on(  # noqa: E501
    tmp_path: Path,
) -> None:
    live = FakeLiveTranscriber(words=["sen"], buffer_seconds=2.0)
    with live_service(tmp_path, live) as service, service.connect(service.key) as ws:
        read_until(ws, "session.created")
        live.hold()  # the engine falls behind
        chunk = base64.b64encode(silence(500)).decode()
        for number in range(8):  # 4 s into a 2 s buffer
            event = {"type": "input_audio_buffer.append", "audio": chunk, "event_id": f"a{number}"}
            ws.send(json.dumps(event))
        error = read_until(ws, "error")[-1]["error"]
        assert error["code"] == "input_audio_buffer_full"
        assert error["event_id"] == "a4"
        live.release()
        # 2 s were taken (at 16 kHz, less the resampler's delay); the rest was dropped
        assert _wait_for(lambda: 31_900 <= live.sessions[0].received_samples <= 32_000)
        assert _one_turn(ws)["transcript"] == "sen"


def test_a_message_over_the_size_cap_is_refused_and_the_session_goes_on(tmp_path: Path) -> None:
    limits = LiveLimits(max_message_bytes=64 * 1024)
    with (
        live_service(tmp_path, FakeLiveTranscriber(words=["kvar"]), limits) as service,
        service.connect(service.key) as ws,
    ):
        read_until(ws, "session.created")
        big = base64.b64encode(silence(2000)).decode()  # 128 KiB of base64
        ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": big}))
        assert read_until(ws, "error")[-1]["error"]["code"] == "message_too_large"
        assert _one_turn(ws)["transcript"] == "kvar"


def test_a_message_far_over_the_cap_is_never_read_whole_the_socket_closes_1009(
    tmp_path: Path,
) -> None:
    limits = LiveLimits(max_message_bytes=64 * 1024)
    live = FakeLiveTranscriber()
    with live_service(tmp_path, live, limits) as service, service.connect(service.key) as ws:
        read_until(ws, "session.created")
        ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 4_000_000}))
        assert _closed_with(ws) == 1009
        assert _wait_for(lambda: service.open_sessions() == 0)


APPEND, UPDATE = "input_audio_buffer.append", "session.update"
BAD_EVENTS: list[tuple[str, str, str | None]] = [
    ("{not json", "invalid_json", None),
    ("[1, 2]", "invalid_json", None),
    (json.dumps({"event_id": "e1"}), "missing_required_parameter", None),
    (json.dumps({"type": "response.create", "event_id": "e2"}), "unsupported_event", "e2"),
    (json.dumps({"type": APPEND, "event_id": "e3", "audio": "@@@"}), "invalid_audio", "e3"),
    (json.dumps({"type": APPEND, "event_id": "e4"}), "missing_required_parameter", "e4"),
    (json.dumps({"type": APPEND, "event_id": "e5", "audio": "AA=="}), "invalid_audio", "e5"),
    (json.dumps({"type": UPDATE, "event_id": "e6", "session": {"type": "x"}}), "invalid_value", "e6"),  # noqa: E501
    (
        json.dumps({"type": UPDATE, "event_id": "e7", "session": {
            "type": "transcription", "audio": {"input": {"transcription": {"model": "gpt-9"}}},
        }}),
        "invalid_value",
        "e7",
    ),
    (
        json.dumps({"type": UPDATE, "event_id": "e8", "session": {
            "type": "transcription", "audio": {"input": {"turn_detection": {"threshold": 7}}},
        }}),
        "invalid_value",
        "e8",
    ),
    (
        json.dumps({"type": "transcription_session.update", "event_id": "e9", "session": {
            "input_audio_format": "mp3"
        }}),
        "invalid_value",
        "e9",
    ),
]  # fmt: skip


def test_malformed_events_get_an_error_event_each_and_the_session_goes_on(
    tmp_path: Path,
) -> None:
    wav = base64.b64encode(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64)).decode()
    with (
        live_service(tmp_path, FakeLiveTranscriber(words=["ändå"])) as service,
        service.connect(service.key) as ws,
    ):
        read_until(ws, "session.created")
        for text, code, client_id in BAD_EVENTS:
            ws.send(text)
            error = read_until(ws, "error")[-1]
            assert (error["error"]["code"], error["error"]["event_id"]) == (code, client_id), text
            assert error["error"]["type"] == "invalid_request_error"
            assert error["event_id"].startswith("event_")
        ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": wav}))
        assert "not an audio file" in read_until(ws, "error")[-1]["error"]["message"]
        ws.send(b"\x00\x01binary audio")
        assert read_until(ws, "error")[-1]["error"]["code"] == "binary_not_supported"
        assert _one_turn(ws)["transcript"] == "ändå"


def test_a_flood_of_bad_events_closes_the_session(tmp_path: Path) -> None:
    with (
        live_service(tmp_path, FakeLiveTranscriber()) as service,
        service.connect(service.key) as ws,
    ):
        read_until(ws, "session.created")
        for _ in range(MAX_BAD_EVENTS):
            ws.send("{")
        assert read_until(ws, "error", limit=MAX_BAD_EVENTS + 5)[-1]["error"]["code"] in (
            "invalid_json",
            "too_many_bad_events",
        )
        assert _closed_with(ws) == 1008
        assert _wait_for(lambda: service.open_sessions() == 0)


def test_a_dropped_connection_closes_the_engine_session_and_frees_the_slot(
    tmp_path: Path,
) -> None:
    live = FakeLiveTranscriber()
    limits = LiveLimits(sessions_per_key=1)
    with live_service(tmp_path, live, limits) as service:
        ws = service.connect(service.key)
        read_until(ws, "session.created")
        append(ws, tone(300))
        assert _wait_for(lambda: len(live.sessions) == 1)
        ws.socket.shutdown(socket.SHUT_RDWR)  # no close frame: the network is gone
        ws.socket.close()
        assert _wait_for(lambda: live.sessions[0].closed.is_set())
        assert _wait_for(lambda: service.open_sessions() == 0)
        with service.connect(service.key) as again:
            assert read_until(again, "session.created")


def test_a_live_session_outlives_the_header_timeout(tmp_path: Path) -> None:
    with (
        live_service(
            tmp_path, FakeLiveTranscriber(words=["fortfarande"]), header_timeout=0.5
        ) as service,
        service.connect(service.key) as ws,
    ):
        read_until(ws, "session.created")
        time.sleep(1.5)  # three header timeouts: the upgrade ended that clock
        assert _one_turn(ws)["transcript"] == "fortfarande"


def test_handshakes_are_charged_to_the_rate_limits_and_bad_keys_to_the_address(
    tmp_path: Path,
) -> None:
    api_limits = ApiLimits(
        rate_per_minute=1, burst=2, auth_failures_per_minute=1, auth_failure_burst=2
    )
    with live_service(tmp_path, FakeLiveTranscriber(), api_limits=api_limits) as service:
        for _ in range(2):
            with service.connect(service.key) as ws:
                read_until(ws, "session.created")
        with pytest.raises(InvalidStatus) as limited:
            service.connect(service.key)
        assert limited.value.response.status_code == 429
        for _ in range(2):
            with pytest.raises(InvalidStatus) as refused:
                service.connect(subprotocols=["realtime", "openai-insecure-api-key.sws_guess"])  # type: ignore[list-item]
            assert refused.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as locked:
            service.connect(subprotocols=["realtime", "openai-insecure-api-key.sws_guess"])  # type: ignore[list-item]
        assert locked.value.response.status_code == 429
        with service.connect(service.other_key) as ws:  # a working key is never locked out
            read_until(ws, "session.created")
