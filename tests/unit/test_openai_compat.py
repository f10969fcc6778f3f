"""The OpenAI-compatible layer without a model: response shapes, the error shape, model
names, Bearer keys, the synchronous limits, and the AWS shape's answer."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from swescribe.api import ApiContext, create_app
from swescribe.api.openai_shapes import language_name, verbose_json_body
from swescribe.api.schemas import JobView
from swescribe.bootstrap_aws import build_aws_api
from swescribe.config import Settings
from swescribe.core.apikeys import ApiKey
from swescribe.core.errors import (
    InvalidParameter,
    InvalidRequest,
    PayloadTooLarge,
    SyncUnavailable,
)
from swescribe.core.intake import NewJob, create_job
from swescribe.core.jobs import JobStatus
from swescribe.core.request import JobRequest
from swescribe.core.services import Policy
from swescribe.core.synchronous import model_for, model_ids, submit_file
from swescribe.core.transcript import Transcript
from tests.fakes import memory_services
from tests.gateway import gateway_event

STORED: dict[str, Any] = {
    "text": "Hej Ödeshög",
    "model": "whisper-base",
    "task": "transcribe",
    "language": "sv",
    "duration": 2.5,
    "segments": [
        {
            "id": 0,
            "start": 0.5,
            "end": 2.0,
            "text": "Hej Ödeshög",
            "seek": 50,
            "tokens": [50364, 1, 2],
            "temperature": 0.0,
            "avg_logprob": -0.3,
            "compression_ratio": 0.9,
            "no_speech_prob": 0.01,
            "words": [
                {"start": 0.5, "end": 0.9, "word": "Hej", "probability": 0.9},
                {"start": 1.0, "end": 2.0, "word": "Ödeshög", "probability": 0.7},
            ],
        }
    ],
}
TRANSCRIPT = Transcript.from_dict(STORED)


def test_verbose_json_has_openais_fields_the_language_by_name_and_words_when_asked() -> None:
    body = verbose_json_body(TRANSCRIPT, ("word", "segment"))
    assert body["task"] == "transcribe"
    assert body["language"] == "swedish"
    assert body["duration"] == 2.5
    assert body["segments"][0].keys() == {
        "id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob",
        "compression_ratio", "no_speech_prob",
    }  # fmt: skip
    assert body["words"] == [
        {"word": "Hej", "start": 0.5, "end": 0.9},
        {"word": "Ödeshög", "start": 1.0, "end": 2.0},
    ]
    assert "words" not in verbose_json_body(TRANSCRIPT)
    assert "segments" not in verbose_json_body(TRANSCRIPT, ("word",))
    assert language_name("haw") == "hawaiian"
    assert language_name("ht") == "haitian creole"


def test_openai_model_names_mean_the_services_model_and_others_must_be_offered() -> None:
    svc = memory_services(Policy(offered_models=("kb-whisper-small", "whisper-base")))
    assert model_for(svc, "whisper-1") is None
    assert model_for(svc, "gpt-4o-transcribe") is None
    assert model_for(svc, "whisper-base") == "whisper-base"
    with pytest.raises(InvalidParameter) as refused:
        model_for(svc, "whisper-large-v3")
    assert refused.value.param == "model"
    assert model_ids(svc)[0] == "whisper-1"
    assert "kb-whisper-small" in model_ids(svc)


def test_a_job_records_task_prompt_and_hotwords_and_refuses_what_cannot_work() -> None:
    svc = memory_services()
    job = create_job(
        svc,
        "k",
        NewJob(JobRequest(task="translate", prompt=" Ljungqvist ", hotwords="Ödeshög Ljungqvist")),
    )
    asked = job.request
    assert (asked.task, asked.prompt, asked.hotwords) == (
        "translate",
        "Ljungqvist",
        "Ödeshög Ljungqvist",
    )
    assert JobView.from_job(job).prompt == "Ljungqvist"
    bad: dict[str, Any]
    for bad in (
        {"task": "summarize"},
        {"prompt": "x" * 2001},
        {"hotwords": "x" * 501},
        {"temperature": 1.5},
    ):
        with pytest.raises(InvalidRequest):
            create_job(svc, "k", NewJob(JobRequest(**bad)))


def test_a_synchronous_file_is_an_ordinary_queued_job_and_a_refused_one_leaves_nothing() -> None:
    svc = memory_services(Policy(sync_max_bytes=10))
    job = submit_file(
        svc, "k", NewJob(JobRequest(formats=("json",))), io.BytesIO(b"RIFF1234"), "a b.wav"
    )
    stored = svc.jobs.get(job.job_id)
    assert stored is not None
    assert stored.status is JobStatus.LAUNCHING
    assert stored.s3_key == f"transcription_upload/{job.job_id}/a_b.wav"
    assert [item.job_id for item in svc.queue.items()] == [job.job_id]  # type: ignore[attr-defined]
    with pytest.raises(PayloadTooLarge, match="POST /v1/jobs"):
        submit_file(svc, "k", NewJob(), io.BytesIO(b"x" * 11), "big.wav")
    with pytest.raises(InvalidParameter, match="empty"):
        submit_file(svc, "k", NewJob(), io.BytesIO(b""), "empty.wav")
    assert len(svc.jobs.list_jobs("k").jobs) == 1
    off = memory_services(Policy(sync_timeout_seconds=0))
    with pytest.raises(SyncUnavailable, match="POST /v1/jobs"):
        submit_file(off, "k", NewJob(), io.BytesIO(b"RIFF"), "a.wav")


class OneKey:
    """An ApiKeyStore with a single key."""

    def authenticate(self, presented: str) -> ApiKey | None:
        return ApiKey("k1", "test", TRANSCRIPT_TIME) if presented == "sws_good" else None


TRANSCRIPT_TIME = memory_services().clock.now()


@pytest.fixture
def client() -> TestClient:
    context = ApiContext(svc=memory_services(Policy(sync_max_bytes=1000)), keys=OneKey())  # type: ignore[arg-type]
    return TestClient(create_app(context))


def test_bearer_and_x_api_key_both_authenticate_old_and_new_endpoints(client: TestClient) -> None:
    for headers in ({"Authorization": "Bearer sws_good"}, {"X-API-Key": "sws_good"}):
        assert client.get("/v1/models", headers=headers).status_code == 200
        assert client.get("/v1/jobs", headers=headers).status_code == 200
    assert client.get("/v1/jobs", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_openai_paths_answer_openais_error_shape_with_its_status_codes(client: TestClient) -> None:
    denied = client.get("/v1/models", headers={"Authorization": "Bearer nope"})
    assert denied.status_code == 401
    assert denied.json() == {
        "error": {
            "message": "invalid or revoked API key",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    auth = {"Authorization": "Bearer sws_good"}
    files = {"file": ("a.wav", b"RIFF")}
    bad = client.post(
        "/v1/audio/transcriptions", headers=auth, files=files, data={"response_format": "xml"}
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "response_format"
    words = client.post(
        "/v1/audio/transcriptions",
        headers=auth,
        files=files,
        data={"timestamp_granularities[]": "word"},
    )
    assert words.status_code == 400
    assert words.json()["error"]["param"] == "timestamp_granularities"
    big = client.post(
        "/v1/audio/transcriptions", headers=auth, files={"file": ("a.wav", b"x" * 200_000)}
    )
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "payload_too_large"
    assert "POST /v1/jobs" in big.json()["error"]["message"]
    unknown = client.get("/v1/models/nope", headers=auth)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "invalid_request_error"
    # The rest of the API keeps its own shape.
    assert client.get("/v1/jobs/nope", headers=auth).json()["error"].keys() == {"code", "message"}


def test_the_aws_api_answers_synchronous_requests_at_once_pointing_to_the_async_api() -> None:
    from mangum import Mangum

    svc = memory_services()
    handler = Mangum(build_aws_api(svc, Settings(backend="aws")), lifespan="off")
    boundary = "swescribe-boundary"
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        f"Content-Type: audio/wav\r\n\r\nRIFF\r\n--{boundary}--\r\n"
    ).encode()
    event = gateway_event("POST", "/v1/audio/transcriptions", api_key_id="key-1")
    content_type = f"multipart/form-data; boundary={boundary}"
    event["headers"]["Content-Type"] = content_type
    event["multiValueHeaders"]["Content-Type"] = [content_type]
    event["body"] = base64.b64encode(form).decode()
    event["isBase64Encoded"] = True
    answer = handler(event, None)  # type: ignore[arg-type]
    assert answer["statusCode"] == 501
    assert answer["multiValueHeaders"].get("x-should-retry") == ["false"] or (
        answer["headers"].get("x-should-retry") == "false"
    )
    assert "POST /v1/jobs" in answer["body"]
    assert svc.jobs.list_jobs(None).jobs == []
    models = handler(gateway_event("GET", "/v1/models", api_key_id="key-1"), None)  # type: ignore[arg-type]
    assert models["statusCode"] == 200


def test_a_500_tells_the_sdks_not_to_retry_since_a_retry_would_start_another_job() -> None:
    from swescribe.api.openai_errors import openai_error_response

    assert openai_error_response(500, "job_failed", "crashed").headers["x-should-retry"] == "false"
    assert "x-should-retry" not in openai_error_response(503, "busy", "busy").headers
