"""The local service end to end: `swescribe serve` for real, a real webhook receiver,
the offline model and Swedish clips from ../shared/audio/sv."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import audio, reference
from tests.e2e.service import RunningService, start_service
from tests.receiver import Receiver
from tests.wer import word_error_rate

pytestmark = pytest.mark.model

SECRET = "shared-secret-456"
MAX_UPLOAD = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(
        tmp_path_factory.mktemp("serve"),
        workers=2,
        SWESCRIBE_MAX_UPLOAD_BYTES=str(MAX_UPLOAD),
        SWESCRIBE_LEASE_SECONDS="4",
        SWESCRIBE_HEARTBEAT_SECONDS="1",
        SWESCRIBE_WEBHOOK_MAX_ATTEMPTS="3",
        SWESCRIBE_WEBHOOK_BASE_DELAY="0.2",
    )
    yield running
    running.stop()
    assert running.process.returncode == 0
    for pid in running.worker_pids():
        assert not Path(f"/proc/{pid}").exists(), f"worker {pid} outlived serve"
    assert SECRET not in running.logs(), "the callback secret leaked into the logs"
    assert running.api_key not in running.logs().split("\n", 3)[-1], "API key logged"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(SECRET).start()
    yield running
    running.stop()


def register(service: RunningService, callback_url: str, secret: str | None = SECRET) -> dict:  # type: ignore[type-arg]
    body = {"callback_url": callback_url}
    if secret:
        body["callback_secret"] = secret
    with service.client() as http:
        response = http.post("/api", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def upload(registration: dict, path: Path, name: str | None = None) -> httpx.Response:  # type: ignore[type-arg]
    return httpx.put(
        registration["upload_url"],
        params={"filename": name or path.name},
        content=path.read_bytes(),
        timeout=60,
    )


def test_seed_flow_register_upload_signed_webhook_results_and_status(
    service: RunningService, receiver: Receiver
) -> None:
    registration = register(service, receiver.url)
    job_id = registration["callback_id"]
    assert registration["upload_path"] == f"transcription_upload/{job_id}/"
    assert registration["message"] == "Upload audio files to the provided S3 path"
    assert upload(registration, audio("lattlast_stts.wav")).status_code == 200

    delivery = receiver.wait_for(1)[0]
    assert delivery.seed_signature_ok
    assert delivery.standard_signature_ok
    payload = delivery.payload
    assert payload["job_id"] == job_id
    assert payload["status"] == "complete"
    assert word_error_rate(reference("lattlast_stts"), payload["transcript"]["text"]) <= 0.5
    assert payload["transcript"]["segments"][0].keys() >= {"start", "end", "text"}
    assert payload["metadata"]["model"] == "whisper-base"
    assert payload["metadata"]["processing_time"].endswith("s")
    assert int(payload["metadata"]["file_size"]) == audio("lattlast_stts.wav").stat().st_size

    results = sorted((service.data_dir / "objects" / "results" / job_id).iterdir())
    assert [p.suffix for p in results] == [".json", ".srt", ".txt", ".vtt"]
    assert all(p.name.startswith("transcription_") for p in results)
    assert all(p.stem.endswith("_lattlast_stts") for p in results)

    with service.client() as http:
        job = http.get(f"/v1/jobs/{job_id}").json()
        srt = http.get(f"/v1/jobs/{job_id}/transcript", params={"format": "srt"})
    assert job["status"] == "completed"
    assert job["webhook"]["state"] == "delivered"
    assert job["webhook"]["attempts"] == 1
    assert job["audio_duration"] > 31
    assert "callback_secret" not in job
    assert srt.status_code == 200
    assert srt.text.startswith("1\n00:00:")


def test_receiver_500_then_200_is_retried_with_the_same_webhook_id(
    service: RunningService, receiver: Receiver
) -> None:
    receiver.script = [500]
    registration = register(service, receiver.url)
    upload(registration, audio("cv_18742722.wav"))
    first, second = receiver.wait_for(2)[:2]
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert second.seed_signature_ok
    assert second.standard_signature_ok
    job = service.wait_for_status(registration["callback_id"], ("completed",))
    with service.client() as http:
        for _ in range(50):
            job = http.get(f"/v1/jobs/{registration['callback_id']}").json()
            if job["webhook"]["state"] == "delivered":
                break
    assert job["webhook"] == {**job["webhook"], "state": "delivered", "attempts": 2}


def test_receiver_down_is_retried_then_recorded_as_failed(service: RunningService) -> None:
    dead = Receiver(SECRET).start()
    url = dead.url
    dead.stop()
    registration = register(service, url)
    upload(registration, audio("cv_18748646.wav"))
    job_id = registration["callback_id"]
    service.wait_for_status(job_id, ("completed",))
    with service.client() as http:
        for _ in range(200):
            job = http.get(f"/v1/jobs/{job_id}").json()
            if job["webhook"]["state"] == "failed":
                break
            time.sleep(0.1)
    assert job["status"] == "completed", "a dead receiver loses no transcript"
    assert job["webhook"]["state"] == "failed"
    assert job["webhook"]["attempts"] == 3
    assert "connect" in job["webhook"]["last_error"].lower()


def test_non_audio_upload_fails_the_job_with_a_reason_and_a_failed_webhook(
    service: RunningService, receiver: Receiver, tmp_path: Path
) -> None:
    junk = tmp_path / "notes.mp3"
    junk.write_text("det här är ingen ljudfil\n" * 100)
    registration = register(service, receiver.url)
    upload(registration, junk)
    payload = receiver.wait_for(1)[0].payload
    assert payload["status"] == "failed"
    assert payload["type"] == "transcription.failed"
    assert "not a readable audio file" in payload["error"]["message"]
    job = service.wait_for_status(registration["callback_id"], ("failed",))
    assert "not a readable audio file" in job["error_message"]


def test_racing_uploads_and_their_duplicate_events_are_processed_once(
    service: RunningService, receiver: Receiver
) -> None:
    """Four uploads at once: every one is answered, exactly one is stored and launches the
    job (the others are refused with 409 before they are stored), one transcription."""
    registration = register(service, receiver.url)
    clip = audio("cv_18711295.wav")
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: upload(registration, clip), range(4)))
    events = sorted(
        r.json()["event"] if r.status_code == 200 else r.json()["error"]["code"] for r in responses
    )
    assert events == ["conflict", "conflict", "conflict", "launched"], events
    receiver.wait_for(1)
    job = service.wait_for_status(registration["callback_id"], ("completed",))
    assert job["attempts"] == 1
    time.sleep(1.0)
    assert len(receiver.deliveries) == 1
    assert service.data_dir.joinpath("objects", job["s3_key"]).read_bytes() == clip.read_bytes()

    # The same object-created event once more, after the job is done (an S3 event can
    # arrive twice, and late): it is a duplicate, and nothing is transcribed or sent again.
    from swescribe.bootstrap import build_local_services
    from swescribe.config import Settings
    from swescribe.core.intake import handle_object_created

    svc = build_local_services(Settings.from_env({}, data_dir=service.data_dir))
    assert handle_object_created(svc, job["s3_key"], clip.stat().st_size) == "duplicate"
    time.sleep(1.0)
    with service.client() as http:
        again = http.get(f"/v1/jobs/{job['job_id']}").json()
    assert again["attempts"] == 1
    assert again["status"] == "completed"
    assert len(receiver.deliveries) == 1


def test_wrong_key_is_401_and_another_keys_job_is_404(service: RunningService) -> None:
    with service.client("sws_not-a-real-key") as http:
        response = http.post("/api", json={})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    with httpx.Client(base_url=service.url) as http:
        assert http.get("/v1/jobs").status_code == 401

    env = {**os.environ, "SWESCRIBE_DATA_DIR": str(service.data_dir)}
    created = subprocess.run(
        [sys.executable, "-m", "swescribe", "keys", "create", "--name", "other"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    other_key = created.stdout.strip().splitlines()[-1]
    job_id = register(service, "http://127.0.0.1:9/none", secret=None)["callback_id"]
    with service.client(other_key) as http:
        assert http.get(f"/v1/jobs/{job_id}").status_code == 404
        assert http.delete(f"/v1/jobs/{job_id}").status_code == 404
        listed = http.get("/v1/jobs").json()["jobs"]
    assert all(job["job_id"] != job_id for job in listed)


def test_malformed_json_and_unknown_fields_get_json_errors(service: RunningService) -> None:
    with service.client() as http:
        broken = http.post(
            "/api", content=b'{"callback_url": ', headers={"Content-Type": "application/json"}
        )
        unknown = http.post("/v1/jobs", json={"colour": "blue"})
        evil = http.post("/api", json={"callback_url": "http://169.254.169.254/latest"})
    assert broken.status_code == 422
    assert broken.json()["error"]["code"] == "invalid_request"
    assert unknown.status_code == 422
    assert "colour" in unknown.json()["error"]["message"]
    assert evil.status_code == 422
    assert evil.json()["error"]["code"] == "unsafe_url"


def test_oversized_upload_is_refused_and_the_job_stays_waiting(
    service: RunningService, tmp_path: Path
) -> None:
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (MAX_UPLOAD + 1))
    registration = register(service, "http://127.0.0.1:9/none", secret=None)
    response = upload(registration, big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    with service.client() as http:
        job = http.get(f"/v1/jobs/{registration['callback_id']}").json()
    assert job["status"] == "registered"
    assert not (service.data_dir / "objects" / registration["upload_path"]).exists()


def test_worker_killed_mid_job_is_redelivered_and_completes(
    service: RunningService, receiver: Receiver
) -> None:
    registration = register(service, receiver.url)
    assert upload(registration, audio("espeak_long.wav")).status_code == 200
    job = service.wait_for_status(registration["callback_id"], ("processing",))
    pid = int(job["instance_id"].rsplit("-", 1)[-1])
    os.kill(pid, signal.SIGKILL)
    finished = service.wait_for_status(registration["callback_id"], ("completed",), timeout=400)
    assert finished["attempts"] == 2
    assert finished["instance_id"] != job["instance_id"]
    deliveries = receiver.wait_for(1)
    assert deliveries[0].payload["status"] == "complete"
    assert deliveries[0].headers["webhook-id"] == f"msg_{registration['callback_id']}_completed"
    time.sleep(1.0)
    assert len(receiver.deliveries) == 1, "the lost attempt sent nothing; one webhook in all"


def test_healthz_metrics_and_openapi(service: RunningService) -> None:
    with service.client() as http:
        assert http.get("/healthz").json()["status"] == "ok"
        metrics = http.get("/metrics").text
        schema = http.get("/openapi.json").json()
    assert 'swescribe_jobs{status="completed"}' in metrics
    assert "swescribe_webhook_attempts_total" in metrics
    assert {"/api", "/v1/jobs", "/v1/jobs/{job_id}/transcript"} <= set(schema["paths"])


def test_sigterm_gives_the_job_back_and_another_worker_finishes_it(
    service: RunningService, receiver: Receiver
) -> None:
    registration = register(service, receiver.url)
    assert upload(registration, audio("espeak_long.wav")).status_code == 200
    job = service.wait_for_status(registration["callback_id"], ("processing",))
    pid = int(job["instance_id"].rsplit("-", 1)[-1])
    os.kill(pid, signal.SIGTERM)
    finished = service.wait_for_status(registration["callback_id"], ("completed",), timeout=400)
    assert finished["attempts"] == 2
    released = [
        line
        for line in service.logs().splitlines()
        if '"job released"' in line and registration["callback_id"] in line
    ]
    assert len(released) == 1, "the worker released the job itself, not by lease expiry"
    assert receiver.wait_for(1)[0].payload["status"] == "complete"


def test_audio_url_jobs_are_fetched_and_transcribed(service: RunningService) -> None:
    clip = audio("cv_18746434.wav")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = clip.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with service.client() as http:
            created = http.post(
                "/v1/jobs",
                json={"audio_url": f"http://127.0.0.1:{server.server_address[1]}/clip.wav"},
            )
        assert created.status_code == 201, created.text
        assert created.json()["upload"] is None
        job = service.wait_for_status(created.json()["job_id"], ("completed", "failed"))
    finally:
        server.shutdown()
        server.server_close()
    assert job["status"] == "completed", job["error_message"]
    assert job["file_size"] == clip.stat().st_size
    with service.client() as http:
        text = http.get(f"/v1/jobs/{job['job_id']}/transcript").text
    assert word_error_rate(reference("cv_18746434"), text) <= 0.5


def test_submit_wait_prints_the_transcript_and_jobs_cli_shows_it(service: RunningService) -> None:
    env = {
        **os.environ,
        "SWESCRIBE_DATA_DIR": str(service.data_dir),
        "SWESCRIBE_URL": service.url,
    }
    submitted = subprocess.run(
        [sys.executable, "-m", "swescribe", "submit", str(audio("lattlast_stts.wav")), "--wait"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    assert word_error_rate(reference("lattlast_stts"), submitted.stdout) <= 0.5
    assert "completed" in submitted.stderr
    job_id = submitted.stderr.split()[1].rstrip(":")
    listed = subprocess.run(
        [sys.executable, "-m", "swescribe", "jobs", "list", "--status", "completed"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    shown = subprocess.run(
        [sys.executable, "-m", "swescribe", "jobs", "show", job_id],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert job_id in listed.stdout
    assert json.loads(shown.stdout)["status"] == "completed"


def test_a_revoked_key_is_refused_from_then_on(service: RunningService) -> None:
    env = {**os.environ, "SWESCRIBE_DATA_DIR": str(service.data_dir)}
    created = subprocess.run(
        [sys.executable, "-m", "swescribe", "keys", "create", "--name", "temporary"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    key = created.stdout.strip().splitlines()[-1]
    with service.client(key) as http:
        assert http.get("/v1/jobs").status_code == 200
        key_id = key.split("_")[1]
        subprocess.run(
            [sys.executable, "-m", "swescribe", "keys", "revoke", key_id],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        refused = http.get("/v1/jobs")
    assert refused.status_code == 401
    listing = subprocess.run(
        [sys.executable, "-m", "swescribe", "keys", "list"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert key not in listing
    assert f"sws_{key_id}" in listing
    assert "revoked" in listing


def test_a_diarized_job_labels_speakers_in_its_webhook_and_every_format(
    service: RunningService, receiver: Receiver, tmp_path: Path
) -> None:
    """Issue 18: POST /v1/jobs with diarize and speakers, a three-voice conversation,
    and S1, S2, S3 in the webhook's segments and in all four result files."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from conversations import HUMAN_TALK, build_conversation

    talk = tmp_path / "talk.wav"
    build_conversation(audio("lattlast_stts.wav").parent, HUMAN_TALK, talk)
    with service.client() as http:
        created = http.post(
            "/v1/jobs",
            json={"callback_url": receiver.url, "callback_secret": SECRET, "diarize": True},
        )
        assert created.status_code == 201, created.text
        job = created.json()
        assert (job["diarize"], job["speakers"]) == (True, None)
        put = httpx.put(
            job["upload"]["url"], params={"filename": "talk.wav"}, content=talk.read_bytes()
        )
        assert put.status_code == 200
        payload = receiver.wait_for(1)[0].payload
        assert payload["status"] == "complete"
        labels = [segment["speaker"] for segment in payload["transcript"]["segments"]]
        assert labels[0] == "S1"
        assert set(labels) == {"S1", "S2", "S3"}
        results = {
            fmt: http.get(f"/v1/jobs/{job['job_id']}/transcript", params={"format": fmt}).text
            for fmt in ("txt", "json", "srt", "vtt")
        }
    assert results["txt"].startswith("S1: ")
    assert json.loads(results["json"])["diarization"]["speakers"] == ["S1", "S2", "S3"]
    assert "\nS2: " in results["srt"]
    assert "<v S3>" in results["vtt"]
