"""Per-key caps on a real uvicorn on 127.0.0.1: one key cannot register jobs it never
uploads to, nor fill the transcription queue, without bound; other keys go on as usual.

Each test is the attack (issue 24, item 3): a key creating job after job, uploading file
after file, or sending synchronous request after request.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from swescribe.api import create_app
from swescribe.bootstrap import build_local_api, build_local_keys, build_local_services
from swescribe.config import Settings
from swescribe.core.jobs import JobStatus
from swescribe.core.services import Services
from tests.support import free_port, serving

WAITING_CAP = 3
QUEUED_CAP = 2


@dataclass
class Api:
    url: str
    svc: Services
    new_key: Callable[[], str]

    def http(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key}, timeout=10)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    port = free_port()
    env = {
        "SWESCRIBE_MAX_WAITING_JOBS_PER_KEY": str(WAITING_CAP),
        "SWESCRIBE_MAX_QUEUED_JOBS_PER_KEY": str(QUEUED_CAP),
    }
    settings = Settings.from_env(
        env,
        data_dir=tmp_path_factory.mktemp("caps"),
        public_url=f"http://127.0.0.1:{port}",
        rate_limit_per_minute=0,
        auth_failures_per_minute=0,
        sync_timeout_seconds=5,  # a synchronous request let through waits no longer
    )
    svc = build_local_services(settings)  # no worker: queued jobs stay queued
    keys = build_local_keys(settings)
    with serving(create_app(build_local_api(settings, svc)), port) as url:
        yield Api(url, svc, lambda: keys.create("caps")[1])


def create(api: Api, key: str, **body: object) -> httpx.Response:
    with api.http(key) as http:
        return http.post("/v1/jobs", json=body)


def upload(created: httpx.Response) -> httpx.Response:
    target = created.json()["upload"]
    return httpx.put(target["url"], params={"filename": "a.wav"}, content=b"RIFF", timeout=10)


def assert_too_many_jobs(response: httpx.Response, setting: str) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "too_many_jobs"
    assert setting in error["message"]


def test_a_key_over_the_waiting_cap_gets_too_many_jobs_and_another_key_does_not(
    api: Api,
) -> None:
    attacker, other = api.new_key(), api.new_key()
    for _ in range(WAITING_CAP):
        assert create(api, attacker).status_code == 201
    over = create(api, attacker)
    assert_too_many_jobs(over, "SWESCRIBE_MAX_WAITING_JOBS_PER_KEY")
    assert "DELETE /v1/jobs/" in over.json()["error"]["message"], "says what to do"
    assert create(api, other).status_code == 201, "another key is not affected"


def test_an_upload_over_the_queued_cap_gets_too_many_jobs_and_the_job_keeps_waiting(
    api: Api,
) -> None:
    attacker, other = api.new_key(), api.new_key()
    jobs = [create(api, attacker) for _ in range(QUEUED_CAP + 1)]
    for created in jobs[:QUEUED_CAP]:
        assert upload(created).status_code == 200
    over = upload(jobs[QUEUED_CAP])
    assert_too_many_jobs(over, "SWESCRIBE_MAX_QUEUED_JOBS_PER_KEY")
    waiting = api.svc.jobs.get(jobs[QUEUED_CAP].json()["job_id"])
    assert waiting is not None
    assert waiting.status is JobStatus.REGISTERED, "the link can be used once the queue drains"
    assert waiting.upload_holder is None
    assert upload(create(api, other)).status_code == 200, "another key is not affected"


def test_a_job_by_audio_url_over_the_queued_cap_gets_too_many_jobs(api: Api) -> None:
    attacker = api.new_key()
    for created in [create(api, attacker) for _ in range(QUEUED_CAP)]:
        assert upload(created).status_code == 200
    over = create(api, attacker, audio_url="http://127.0.0.1:9/a.wav")
    assert_too_many_jobs(over, "SWESCRIBE_MAX_QUEUED_JOBS_PER_KEY")
    with api.http(attacker) as http:
        listed = http.get("/v1/jobs").json()["jobs"]
    assert len(listed) == QUEUED_CAP, "the refused job was never stored"


def test_a_synchronous_request_over_the_queued_cap_gets_too_many_jobs(api: Api) -> None:
    attacker = api.new_key()
    for created in [create(api, attacker) for _ in range(QUEUED_CAP)]:
        assert upload(created).status_code == 200
    with api.http(attacker) as http:
        response = http.post(
            "/v1/audio/transcriptions",
            data={"model": "whisper-1"},
            files={"file": ("a.wav", silent_wav(), "audio/wav")},
        )
        listed = http.get("/v1/jobs").json()["jobs"]
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "too_many_jobs"
    assert "SWESCRIBE_MAX_QUEUED_JOBS_PER_KEY" in response.json()["error"]["message"]
    assert len(listed) == QUEUED_CAP, "the refused request left no job behind"


def silent_wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0\0" * 1600)
    return buffer.getvalue()
