"""/v1/realtime: OpenAI's Realtime protocol for transcription sessions, spoken by the
official SDK and by raw WebSocket clients (beta shape, browsers' subprotocol key) to a
real uvicorn. The engine is a stand-in (tests/fakes.py); the endpoint is the real one."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

import openai
import pytest
from starlette.routing import NoMatchFound
from websockets.exceptions import InvalidStatus

from swescribe.api import ApiContext, create_app
from swescribe.bootstrap_aws import build_aws_api
from swescribe.config import Settings
from tests.conftest import reference
from tests.fakes import FakeLiveTranscriber, memory_services
from tests.live import append, clip_pcm16, live_service, read_until, silence, tone

CLIP = "cv_18711295.wav"


def _collect(connection: Any, until: str, seconds: float = 20.0) -> list[Any]:
    """SDK events up to the first `until`; the connection is closed past `seconds`, so
    a missing event fails the test instead of hanging it."""
    watchdog = threading.Timer(seconds, connection.close)
    watchdog.start()
    events: list[Any] = []
    try:
        for _ in range(2000):
            event = connection.recv()
            events.append(event)
            if event.type == until:
                return events
    finally:
        watchdog.cancel()
    raise AssertionError(f"no {until}: {[e.type for e in events]}")


def test_the_official_sdk_streams_a_swedish_clip_and_receives_deltas_and_a_completed_turn(
    tmp_path: Path,
) -> None:
    words = reference(CLIP.removesuffix(".wav")).split()
    live = FakeLiveTranscriber(words=words)
    with live_service(tmp_path, live) as service:
        client = openai.OpenAI(base_url=f"{service.url}/v1", api_key=service.key, max_retries=0)
        with client.realtime.connect(
            model="gpt-4o-transcribe", extra_query={"intent": "transcription"}
        ) as connection:
            created = _collect(connection, "session.created")[-1]
            assert created.session.type == "transcription"
            connection.session.update(
                session={
                    "type": "transcription",
                    "audio": {
                        "input": {
                            "format": {"type": "audio/pcm", "rate": 24000},
                            "transcription": {
                                "model": "gpt-4o-transcribe",
                                "language": "sv",
                                "prompt": "Ett telefonsamtal.",
                                "keywords": ["nummer"],
                            },
                            "turn_detection": {
                                "type": "server_vad",
                                "threshold": 0.4,
                                "silence_duration_ms": 600,
                                "prefix_padding_ms": 200,
                            },
                        }
                    },
                }
            )
            updated = _collect(connection, "session.updated")[-1]
            assert updated.session.audio.input.transcription.language == "sv"
            assert updated.session.audio.input.turn_detection.silence_duration_ms == 600
            pcm = clip_pcm16(CLIP) + silence(1000)
            for start in range(0, len(pcm), 4800):  # 100 ms appends
                connection.input_audio_buffer.append(
                    audio=base64.b64encode(pcm[start : start + 4800]).decode()
                )
            events = _collect(connection, "conversation.item.input_audio_transcription.completed")
    kinds = [event.type for event in events]
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index(
        "conversation.item.input_audio_transcription.delta"
    )
    assert kinds.index("input_audio_buffer.speech_stopped") < kinds.index(
        "input_audio_buffer.committed"
    )
    deltas = [e for e in events if e.type.endswith(".delta")]
    completed = events[-1]
    assert completed.transcript == "".join(delta.delta for delta in deltas)
    assert completed.transcript.split() == words[: len(completed.transcript.split())]
    assert {delta.item_id for delta in deltas} == {completed.item_id}
    assert all(event.event_id for event in events)
    options = live.sessions[0].options
    assert (options.language, options.model, options.silence_ms) == ("sv", None, 600)
    assert (options.vad_threshold, options.prefix_padding_ms) == (0.4, 200)
    assert options.prompt == "nummer Ett telefonsamtal."


def test_a_beta_client_gets_transcription_session_events_and_its_g711_audio_is_heard(
    tmp_path: Path,
) -> None:
    live = FakeLiveTranscriber(words=["hej"])
    with (
        live_service(tmp_path, live) as service,
        service.connect(service.key, additional_headers={"OpenAI-Beta": "realtime=v1"}) as ws,
    ):
        assert (
            read_until(ws, "transcription_session.created")[-1]["session"]["input_audio_format"]
            == "pcm16"
        )
        update = {
            "type": "transcription_session.update",
            "event_id": "c1",
            "session": {
                "input_audio_format": "g711_ulaw",
                "input_audio_transcription": {"model": "whisper-1", "language": "sv"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
            },
        }
        ws.send(json.dumps(update))
        session = read_until(ws, "transcription_session.updated")[-1]["session"]
        assert session["input_audio_format"] == "g711_ulaw"
        assert session["turn_detection"]["silence_duration_ms"] == 300
        loud_ulaw = bytes([0x00, 0x80] * 4000)  # full scale, alternating sign: 1 s at 8 kHz
        quiet_ulaw = bytes([0xFF] * 8000)  # μ-law's zero
        append(ws, loud_ulaw + quiet_ulaw, rate=8000, width=1)
        events = read_until(ws, "conversation.item.input_audio_transcription.completed")
    assert events[-1]["transcript"] == "hej hej hej"
    heard = live.sessions[0].received_samples
    assert 32_000 - 64 <= heard <= 32_000  # 2 s at 16 kHz, less the resampler's filter delay


def test_a_browser_authenticates_with_the_key_subprotocol_and_is_answered_realtime(
    tmp_path: Path,
) -> None:
    with (
        live_service(tmp_path, FakeLiveTranscriber()) as service,
        service.connect(
            subprotocols=["realtime", f"openai-insecure-api-key.{service.key}"]  # type: ignore[list-item]
        ) as ws,
    ):
        assert ws.subprotocol == "realtime"
        assert read_until(ws, "session.created")[-1]["session"]["type"] == "transcription"


@pytest.mark.parametrize(
    ("headers", "subprotocols"),
    [
        ({}, None),
        ({"Authorization": "Bearer sws_made_up"}, None),
        ({}, ["realtime", "openai-insecure-api-key.sws_made_up"]),
        ({}, ["realtime"]),
    ],
    ids=["no key", "wrong bearer", "wrong subprotocol key", "realtime alone"],
)
def test_a_handshake_without_a_valid_key_is_refused_with_401(
    tmp_path: Path, headers: dict[str, str], subprotocols: list[str] | None
) -> None:
    with live_service(tmp_path, FakeLiveTranscriber()) as service:
        with pytest.raises(InvalidStatus) as refused:
            service.connect(additional_headers=headers, subprotocols=subprotocols).close()
        assert refused.value.response.status_code == 401
        assert json.loads(refused.value.response.body)["error"]["code"] == "invalid_api_key"
        assert service.open_sessions() == 0


def test_without_a_live_engine_the_socket_says_so_and_closes(tmp_path: Path) -> None:
    with live_service(tmp_path, None) as service, service.connect(service.key) as ws:
        error = json.loads(ws.recv(timeout=10))
        assert error["type"] == "error"
        assert error["error"]["code"] == "live_unavailable"
        assert error["error"]["message"] == "live transcription is not available here"


def test_without_turn_detection_a_commit_ends_the_turn(tmp_path: Path) -> None:
    live = FakeLiveTranscriber(words=["ett", "två"])
    with live_service(tmp_path, live) as service, service.connect(service.key) as ws:
        read_until(ws, "session.created")
        ws.send(json.dumps({"type": "input_audio_buffer.commit", "event_id": "empty"}))
        empty = read_until(ws, "error")[-1]["error"]
        assert (empty["code"], empty["event_id"]) == ("input_audio_buffer_commit_empty", "empty")
        update = {"type": "session.update", "session": {"type": "transcription"}}
        update["session"]["audio"] = {"input": {"turn_detection": None}}  # type: ignore[index]
        ws.send(json.dumps(update))
        assert (
            read_until(ws, "session.updated")[-1]["session"]["audio"]["input"]["turn_detection"]
            is None
        )
        append(ws, tone(700) + silence(2000))
        read_until(ws, "conversation.item.input_audio_transcription.delta")
        ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        events = read_until(ws, "conversation.item.input_audio_transcription.completed")
    kinds = [event["type"] for event in events]
    assert "input_audio_buffer.speech_stopped" not in kinds
    committed = next(e for e in events if e["type"] == "input_audio_buffer.committed")
    assert committed["item_id"] == events[-1]["item_id"]
    assert committed["previous_item_id"] is None
    assert events[-1]["transcript"] == "ett två"
    assert live.sessions[0].options.turn_detection is False


def test_the_aws_api_lambda_never_offers_the_realtime_endpoint() -> None:
    local = create_app(ApiContext(svc=memory_services(), keys=None, realtime=True))
    assert local.url_path_for("realtime") == "/v1/realtime"
    settings = Settings.from_env({}, backend="aws", queue_url="q")
    aws = build_aws_api(memory_services(), settings)
    with pytest.raises(NoMatchFound):
        aws.url_path_for("realtime")
