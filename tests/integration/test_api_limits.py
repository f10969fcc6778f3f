"""The API's request limits on a real uvicorn on 127.0.0.1: JSON body size, the rate limit
per API key, and JSON errors (never a 500) for JSON that is broken or of the wrong shape.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from swescribe.api import create_app
from swescribe.api.body_limit import DRAIN_MAX_BYTES
from swescribe.bootstrap import build_local_api, build_local_keys, build_local_services
from swescribe.config import Settings
from tests.support import free_port, serving

MAX_JSON = 1024
MAX_UPLOAD = 64 * 1024
RATE_PER_MINUTE = 30  # a token every 2 seconds
BURST = 5
FAILURES_PER_MINUTE = 6
FAILURE_BURST = 5
JSON = {"Content-Type": "application/json"}


@dataclass
class Api:
    url: str
    new_key: Callable[[], str]
    data_dir: Path

    def http(self, key: str | None = None, local_address: str = "127.0.0.1") -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        transport = httpx.HTTPTransport(local_address=local_address)
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, transport=transport)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("limits")
    port = free_port()
    settings = Settings.from_env(
        {},
        data_dir=data_dir,
        public_url=f"http://127.0.0.1:{port}",
        max_upload_bytes=MAX_UPLOAD,
        max_json_bytes=MAX_JSON,
        rate_limit_per_minute=RATE_PER_MINUTE,
        rate_limit_burst=BURST,
        auth_failures_per_minute=FAILURES_PER_MINUTE,
        auth_failure_burst=FAILURE_BURST,
    )
    svc = build_local_services(settings)
    keys = build_local_keys(settings)
    with serving(create_app(build_local_api(settings, svc)), port) as url:
        yield Api(url, lambda: keys.create("limits")[1], data_dir)


def padded_job(size: int) -> bytes:
    """A valid job body of exactly size bytes (a long callback URL pads it)."""
    url = "https://client.example/hook?pad="
    body = json.dumps({"callback_url": url}).encode()
    return json.dumps({"callback_url": url + "a" * (size - len(body))}).encode()


def error_of(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/json"
    code: str = response.json()["error"]["code"]
    return code


# JSON body size


def test_json_over_the_limit_by_content_length_is_a_413_json_error(api: Api) -> None:
    with api.http(api.new_key()) as http:
        jobs = http.post("/v1/jobs", content=padded_job(MAX_JSON + 1), headers=JSON)
        seed = http.post("/api", content=padded_job(4 * MAX_JSON), headers=JSON)
    for response in (jobs, seed):
        assert response.status_code == 413
        assert error_of(response) == "payload_too_large"
        assert f"{MAX_JSON} bytes" in response.json()["error"]["message"]


def urllib_post(url: str, body: bytes, key: str) -> tuple[int, dict[str, object]]:
    """POST as urllib does: the whole body is written before the answer is read."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"X-API-Key": key, **JSON}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_5_mb_json_body_from_a_client_that_writes_it_all_first_gets_the_413_json(
    api: Api,
) -> None:
    key = api.new_key()
    status, body = urllib_post(f"{api.url}/v1/jobs", padded_job(5 * 1024 * 1024), key)
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"  # type: ignore[index]
    seed_status, _ = urllib_post(f"{api.url}/api", b"{" + b" " * (3 * 1024 * 1024) + b"}", key)
    assert seed_status == 413


def test_a_body_past_the_drain_bound_is_cut_off_and_the_service_goes_on(api: Api) -> None:
    key = api.new_key()
    try:
        status, _ = urllib_post(f"{api.url}/v1/jobs", padded_job(DRAIN_MAX_BYTES + 1), key)
    except (ConnectionError, urllib.error.URLError):
        status = 0  # a reset is the documented answer past the bound
    assert status in (0, 413)
    with api.http(key) as http:
        assert http.get("/v1/jobs").status_code == 200


def test_json_growing_past_the_limit_while_streamed_is_a_413_json_error(api: Api) -> None:
    body = padded_job(3 * MAX_JSON)

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for start in range(0, len(body), 256):
            yield body[start : start + 256]

    with api.http(api.new_key()) as http:
        response = http.post("/v1/jobs", content=chunks(), headers=JSON)
        after = http.get("/v1/jobs")  # the same connection still serves the next request
    assert response.status_code == 413
    assert error_of(response) == "payload_too_large"
    assert after.status_code == 200


def test_json_at_the_limit_is_read_whole_streamed_or_declared(api: Api) -> None:
    body = padded_job(MAX_JSON)

    def chunks() -> Iterator[bytes]:
        yield body[:100]
        yield body[100:]

    with api.http(api.new_key()) as http:
        declared = http.post("/v1/jobs", content=body, headers=JSON)
        streamed = http.post("/v1/jobs", content=chunks(), headers=JSON)
    for response in (declared, streamed):
        assert response.status_code == 201, response.text
        assert response.json()["upload"]["url"]


def test_an_upload_over_the_json_limit_but_within_the_upload_limit_is_stored(api: Api) -> None:
    audio = b"RIFF" + b"\0" * (8 * MAX_JSON)
    with api.http(api.new_key()) as http:
        declared_job = http.post("/v1/jobs", json={"filename": "a.wav"}).json()
        streamed_job = http.post("/v1/jobs", json={"filename": "b.wav"}).json()
    # Even labelled JSON, an upload is audio under the upload limit, not the JSON one.
    declared = httpx.put(
        declared_job["upload"]["url"],
        content=audio,
        headers=JSON,
        timeout=10,
    )
    streamed = httpx.put(
        streamed_job["upload"]["url"], content=iter([audio[:5000], audio[5000:]]), timeout=10
    )
    for response in (declared, streamed):
        assert response.status_code == 200, response.text
        assert response.json()["size"] == len(audio)
        assert (api.data_dir / "objects" / response.json()["key"]).read_bytes() == audio


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("/api", b'{"callback_url": '),
        ("/v1/jobs", b"{not json}"),
        ("/v1/jobs", b'{"formats": "txt"}'),
        ("/v1/jobs", b'{"word_timestamps": [1, 2]}'),
        ("/v1/jobs", b'{"language": 7}'),
        ("/v1/jobs", b'{"colour": "blue"}'),
        ("/v1/jobs", b"[1, 2, 3]"),
        ("/v1/jobs", b'"a string"'),
        ("/api", b"null"),
        ("/api", b"42"),
        ("/v1/jobs", b"\xff\xfe not utf-8"),
    ],
)
def test_broken_wrongly_typed_and_non_object_json_get_a_422_json_error(
    api: Api, path: str, content: bytes
) -> None:
    with api.http(api.new_key()) as http:
        response = http.post(path, content=content, headers=JSON)
    assert response.status_code == 422, response.text
    assert error_of(response) == "invalid_request"


# rate limit per key


def test_burst_plus_one_requests_get_429_with_retry_after_and_other_keys_go_on(
    api: Api,
) -> None:
    with api.http(api.new_key()) as busy, api.http(api.new_key()) as other:
        answers = [busy.get("/v1/jobs") for _ in range(BURST + 1)]
        neighbour = other.get("/v1/jobs")
    assert [answer.status_code for answer in answers] == [200] * BURST + [429]
    limited = answers[-1]
    assert error_of(limited) == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60 // RATE_PER_MINUTE
    assert neighbour.status_code == 200


def test_a_limited_key_works_again_after_waiting_retry_after(api: Api) -> None:
    with api.http(api.new_key()) as http:
        for _ in range(BURST):
            assert http.get("/v1/jobs").status_code == 200
        limited = http.get("/v1/jobs")
        assert limited.status_code == 429
        time.sleep(int(limited.headers["retry-after"]))
        assert http.get("/v1/jobs").status_code == 200
        assert http.get("/v1/jobs").status_code == 429  # one token came back, not the burst


def test_a_throttled_request_is_refused_before_its_body_is_read_or_acted_on(api: Api) -> None:
    with api.http(api.new_key()) as http:
        for _ in range(BURST):
            http.get("/v1/jobs")
        refused = http.post("/v1/jobs", json={"filename": "never.wav"})
        listed = http.get("/v1/jobs")
    assert refused.status_code == 429
    assert listed.status_code == 429


def test_health_is_never_rate_limited(api: Api) -> None:
    with api.http(local_address="127.0.0.3") as http:
        answers = [http.get("/healthz") for _ in range(3 * BURST)]
    assert {answer.status_code for answer in answers} == {200}


def test_metrics_are_rate_limited_like_any_other_call(api: Api) -> None:
    with api.http(api.new_key()) as http:
        answers = [http.get("/metrics").status_code for _ in range(BURST + 1)]
    assert answers == [200] * BURST + [429]


def test_requests_without_a_key_are_limited_per_client_address(api: Api) -> None:
    # From 127.0.0.2, so no other test's keyless requests (uploads) share the bucket.
    with api.http(local_address="127.0.0.2") as http:
        answers = [http.get("/v1/jobs") for _ in range(BURST + 1)]
    assert [answer.status_code for answer in answers] == [401] * BURST + [429]
    assert answers[-1].headers["retry-after"]


# failed authentication, per client address


def test_300_made_up_keys_from_one_address_are_cut_off_by_429s(api: Api) -> None:
    answers = []
    with api.http(local_address="127.0.0.4") as http:
        for number in range(300):
            answers.append(http.get("/v1/jobs", headers={"X-API-Key": f"sws_guess{number}_x"}))
    codes = [answer.status_code for answer in answers]
    assert set(codes) == {401, 429}
    assert codes.count(401) <= FAILURE_BURST + 1, "each failure after the burst costs a token"
    assert codes[:FAILURE_BURST] == [401] * FAILURE_BURST
    assert error_of(answers[-1]) == "rate_limited"
    assert answers[-1].headers["retry-after"]


def test_a_flood_of_bad_keys_does_not_lock_out_a_key_that_works(api: Api) -> None:
    key = api.new_key()
    with api.http(local_address="127.0.0.6") as http:
        assert http.get("/v1/jobs", headers={"X-API-Key": key}).status_code == 200
        for number in range(2 * FAILURE_BURST):
            http.get("/v1/jobs", headers={"X-API-Key": f"sws_guess{number}_y"})
        assert http.get("/v1/jobs", headers={"X-API-Key": "sws_more_guessing"}).status_code == 429
        assert http.get("/v1/jobs", headers={"X-API-Key": key}).status_code == 200
    with api.http(api.new_key(), local_address="127.0.0.7") as elsewhere:
        assert elsewhere.get("/v1/jobs").status_code == 200


def test_knowing_a_keys_id_does_not_spend_its_owners_allowance(api: Api) -> None:
    key = api.new_key()
    key_id = "sws_" + key.removeprefix("sws_").partition("_")[0]
    with api.http(local_address="127.0.0.8") as guesser:
        for _ in range(3 * BURST):
            guesser.get("/v1/jobs", headers={"X-API-Key": f"{key_id}_guessed"})
    with api.http(key, local_address="127.0.0.9") as owner:
        answers = [owner.get("/v1/jobs").status_code for _ in range(BURST)]
    assert answers == [200] * BURST


def test_an_audio_upload_with_a_wrong_key_is_refused_before_its_body_is_read(
    api: Api,
) -> None:
    """/v1/audio/* takes files of up to 25 MiB: a request whose key is wrong gets its 401
    at once, with none of the body read, spooled or parsed (else anyone could make the
    service write 25 MiB twice per request without a key)."""
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(
            b"POST /v1/audio/transcriptions HTTP/1.1\r\n"
            + f"Host: {host}\r\n".encode()
            + b"Authorization: Bearer not-a-key\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
            b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
        )
        conn.settimeout(3)
        answer = b""
        try:
            while chunk := conn.recv(4096):  # the 401 closes the connection: read to the end
                answer += chunk
        except TimeoutError:
            answer = answer or b"(no answer in 3 s: the server waited for the rest of the body)"
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"invalid_api_key" in answer
