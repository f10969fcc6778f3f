"""The newer OpenAI transcription surface without a model (issue 25, item 3): stream=true
as Server-Sent Events, the new model names, diarized_json, keywords and languages.

The API runs in a TestClient and a real Worker runs beside it in a thread, on in-memory
ports with a stand-in engine that returns two segments (labelled by speaker when the job
asks for diarization)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from swescribe.api import ApiContext, create_app
from swescribe.core.apikeys import ApiKey
from swescribe.core.request import MAX_HOTWORDS_CHARS
from swescribe.core.services import Policy, Services
from swescribe.core.synchronous import OPENAI_MODEL_ALIASES, model_for
from swescribe.engine import ProgressCallback, Segment, TranscribeOptions, Transcript
from swescribe.worker.runner import Worker, WorkerConfig
from tests.fakes import memory_services

AUTH = {"Authorization": "Bearer sws_good"}
FILE = {"file": ("a.wav", b"RIFF1234")}
SEGMENTS = ("Hej där.", "Hur mår du?", "Bra, tack.")


class OneKey:
    def authenticate(self, presented: str) -> ApiKey | None:
        return (
            ApiKey("k1", "test", memory_services().clock.now()) if presented == "sws_good" else None
        )


class StandInEngine:
    """Three segments; speakers S1, S2, S1 when diarization is asked for."""

    def __init__(self) -> None:
        self.options: list[TranscribeOptions] = []

    def transcribe(
        self,
        path: Path,
        options: TranscribeOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        options = options or TranscribeOptions()
        self.options.append(options)
        speakers = ("S1", "S2", "S1") if options.diarize else (None, None, None)
        segments = tuple(
            Segment(i, float(i), i + 0.9, text, speaker=speaker)
            for i, (text, speaker) in enumerate(zip(SEGMENTS, speakers, strict=True))
        )
        return Transcript(" ".join(SEGMENTS), options.language or "sv", 3.0, segments, "stand-in")


@pytest.fixture
def svc() -> Services:
    return memory_services(Policy(sync_max_bytes=1000, sync_timeout_seconds=1.0))


@pytest.fixture
def engine() -> StandInEngine:
    return StandInEngine()


@pytest.fixture
def client(svc: Services, engine: StandInEngine) -> Iterator[TestClient]:
    """The API, and one worker that takes each queued job until the test ends."""
    worker = Worker(
        svc, lambda model: engine, WorkerConfig("w1", poll_seconds=0.01, prefetch=False)
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    context = ApiContext(svc=svc, keys=OneKey())  # type: ignore[arg-type]
    with TestClient(create_app(context)) as test_client:
        yield test_client
    worker.stopping.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def transcribe(client: TestClient, **form: Any) -> Any:
    return client.post("/v1/audio/transcriptions", headers=AUTH, files=FILE, data=form)


def events_of(body: str) -> list[dict[str, Any]]:
    """The JSON data of each Server-Sent Event in body."""
    events = []
    for block in body.split("\n\n"):
        data = [
            line.removeprefix("data: ") for line in block.splitlines() if line.startswith("data: ")
        ]
        if data:
            events.append(json.loads("\n".join(data)))
    return events


# Attacks and bad input: each was accepted (ignored, and a job run) on the old code.


def test_keywords_past_the_hotword_limit_are_refused_naming_keywords(
    client: TestClient, svc: Services
) -> None:
    keywords = [f"Ödeshög{i:03d}" for i in range(MAX_HOTWORDS_CHARS // 10 + 1)]
    refused = transcribe(client, **{"keywords[]": keywords})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["param"] == "keywords"
    assert str(MAX_HOTWORDS_CHARS) in refused.json()["error"]["message"]
    assert svc.jobs.list_jobs(None).jobs == []


@pytest.mark.parametrize("bad", ["../etc", "svenska", "", "sv\nx"])
def test_a_language_list_with_anything_but_codes_is_refused(
    client: TestClient, svc: Services, bad: str
) -> None:
    refused = transcribe(client, **{"languages[]": ["sv", bad]})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["param"] == "languages"
    assert svc.jobs.list_jobs(None).jobs == []


@pytest.mark.parametrize("response_format", ["srt", "vtt", "verbose_json"])
def test_stream_with_a_format_that_cannot_stream_is_refused_before_any_job(
    client: TestClient, svc: Services, response_format: str
) -> None:
    refused = transcribe(client, stream="true", response_format=response_format)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["param"] == "stream"
    assert refused.json()["error"]["type"] == "invalid_request_error"
    assert svc.jobs.list_jobs(None).jobs == []


def test_a_chunking_strategy_other_than_auto_or_server_vad_is_refused(client: TestClient) -> None:
    refused = transcribe(client, chunking_strategy="everything")
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["param"] == "chunking_strategy"
    odd = transcribe(client, **{"chunking_strategy[type]": "client_vad"})
    assert odd.status_code == 400, odd.text
    assert odd.json()["error"]["param"] == "chunking_strategy"


# What the new fields do.


def test_stream_sends_a_delta_per_segment_then_done_with_the_whole_text(
    client: TestClient,
) -> None:
    streamed = transcribe(client, stream="true", model="gpt-4o-transcribe")
    assert streamed.status_code == 200, streamed.text
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = events_of(streamed.text)
    assert [e["type"] for e in events] == ["transcript.text.delta"] * 3 + ["transcript.text.done"]
    deltas = "".join(e["delta"] for e in events[:-1])
    assert deltas == events[-1]["text"] == transcribe(client).json()["text"]
    assert events[0]["delta"] == "Hej där."
    assert events[1]["delta"] == " Hur mår du?"
    text_format = transcribe(client, stream="true", response_format="text")
    assert events_of(text_format.text)[-1]["text"] == deltas


def test_every_openai_model_name_means_the_services_model(client: TestClient) -> None:
    svc = memory_services(Policy(offered_models=("whisper-base",)))
    for name in (
        "whisper-1",
        "gpt-transcribe",
        "gpt-live-transcribe",
        "gpt-realtime-whisper",
        "gpt-4o-transcribe-diarize",
        "gpt-4o-mini-transcribe-2025-12-15",
    ):
        assert name in OPENAI_MODEL_ALIASES
        assert model_for(svc, name) is None
    listed = [m["id"] for m in client.get("/v1/models", headers=AUTH).json()["data"]]
    assert listed[0] == "whisper-1"
    assert "gpt-4o-transcribe-diarize" in listed
    assert transcribe(client, model="gpt-realtime-whisper").status_code == 200


def test_diarized_json_runs_diarization_and_answers_openais_shape(
    client: TestClient, engine: StandInEngine
) -> None:
    answer = transcribe(
        client,
        model="gpt-4o-transcribe-diarize",
        response_format="diarized_json",
        chunking_strategy="auto",
    )
    assert answer.status_code == 200, answer.text
    assert engine.options[-1].diarize
    body = answer.json()
    assert body["task"] == "transcribe"
    assert body["duration"] == 3.0
    assert body["text"] == " ".join(SEGMENTS)
    assert [(s["speaker"], s["text"]) for s in body["segments"]] == [
        ("A", SEGMENTS[0]),
        ("B", SEGMENTS[1]),
        ("A", SEGMENTS[2]),
    ]
    assert body["segments"][0] == {
        "type": "transcript.text.segment",
        "id": "seg_0",
        "start": 0.0,
        "end": 0.9,
        "text": SEGMENTS[0],
        "speaker": "A",
    }
    assert body["usage"] == {"type": "duration", "seconds": 3.0}
    plain = transcribe(client, model="gpt-4o-transcribe-diarize")
    assert not engine.options[-1].diarize
    assert plain.json() == {"text": " ".join(SEGMENTS)}


def test_diarized_json_streams_segments_with_their_speakers(client: TestClient) -> None:
    streamed = transcribe(
        client,
        model="gpt-4o-transcribe-diarize",
        response_format="diarized_json",
        stream="true",
        **{"chunking_strategy[type]": "server_vad", "chunking_strategy[threshold]": "0.5"},
    )
    assert streamed.status_code == 200, streamed.text
    events = events_of(streamed.text)
    segments = [e for e in events if e["type"] == "transcript.text.segment"]
    deltas = [e for e in events if e["type"] == "transcript.text.delta"]
    assert [s["speaker"] for s in segments] == ["A", "B", "A"]
    assert [d["segment_id"] for d in deltas] == ["seg_0", "seg_1", "seg_2"]
    assert events[-1] == {"type": "transcript.text.done", "text": " ".join(SEGMENTS)}


def test_keywords_become_hotwords_beside_swescribes_own(
    client: TestClient, engine: StandInEngine
) -> None:
    answer = transcribe(
        client, hotwords="Wahlbeck", **{"keywords[]": ["Ljungqvist", " Ödeshög ", ""]}
    )
    assert answer.status_code == 200, answer.text
    assert engine.options[-1].hotwords == "Wahlbeck Ljungqvist Ödeshög"
    plain = transcribe(client, keywords="Ljungqvist")  # curl's spelling, without []
    assert plain.status_code == 200, plain.text
    assert engine.options[-1].hotwords == "Ljungqvist"


def test_multichannel_is_an_extension_field_that_reaches_the_engine(
    client: TestClient, engine: StandInEngine, svc: Services
) -> None:
    answer = transcribe(client, multichannel="true")
    assert answer.status_code == 200, answer.text
    assert engine.options[-1].multichannel
    assert svc.jobs.list_jobs(None).jobs[0].request.multichannel
    assert transcribe(client).status_code == 200
    assert not engine.options[-1].multichannel


@pytest.mark.parametrize(
    ("form", "language"),
    [
        ({"languages[]": ["en"]}, "en"),
        ({"languages[]": ["sv", "en"]}, "sv"),
        ({"languages[]": ["en", "sv"]}, "auto"),
        ({"languages[]": ["en", "sv"], "language": "fi"}, "fi"),
        ({"languages": "da"}, "da"),
        ({}, "sv"),
    ],
)
def test_languages_choose_the_language_or_detection(
    client: TestClient, engine: StandInEngine, form: dict[str, Any], language: str
) -> None:
    answer = transcribe(client, **form)
    assert answer.status_code == 200, answer.text
    assert engine.options[-1].language == language
