"""swescribe.client against the real app on a real uvicorn on 127.0.0.1 (no model: a job is
finished through the service functions, as a worker would)."""

from __future__ import annotations

import io
import itertools
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import httpx
import pytest

from swescribe.adapters.aws.s3 import S3ObjectStore
from swescribe.api import create_app
from swescribe.bootstrap import build_local_api, build_local_keys, build_local_services
from swescribe.client import (
    ApiError,
    Client,
    ClientError,
    Job,
    UploadTarget,
    WebhookVerificationError,
    verify_webhook,
)
from swescribe.config import Settings
from swescribe.core.jobs import result_key
from swescribe.core.ports import Message, WorkItem
from swescribe.core.processing import Outcome, claim_job, complete_job
from swescribe.core.services import Services
from swescribe.webhooks.signing import signature_headers
from tests.e2e.aws_env import moto_server
from tests.support import free_port, serving

AUDIO = b"RIFF" + bytes(range(256)) * 40  # 10 244 bytes; the API does not decode it
TRANSCRIPT_JSON = {
    "text": "Hej världen. Det här är ett test.",
    "language": "sv",
    "duration": 4.2,
    "segments": [
        {"id": 0, "start": 0.3, "end": 1.9, "text": "Hej världen."},
        {"id": 1, "start": 2.0, "end": 4.1, "text": "Det här är ett test."},
    ],
}
RESULTS = {
    "txt": "Hej världen.\nDet här är ett test.\n",
    "json": json.dumps(TRANSCRIPT_JSON, ensure_ascii=False),
    "srt": "1\n00:00:00,300 --> 00:00:01,900\nHej världen.\n",
    "vtt": "WEBVTT\n\n00:00:00.300 --> 00:00:01.900\nHej världen.\n",
}


@dataclass
class Api:
    url: str
    key: str
    svc: Services
    settings: Settings

    def client(self, key: str | None = None) -> Client:
        return Client(self.url, key or self.key, timeout=10)

    def new_key(self, name: str) -> str:
        """A key of its own, so a test sees only the jobs it made."""
        return build_local_keys(self.settings).create(name)[1]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("client")
    port = free_port()
    settings = Settings.from_env({}, data_dir=data_dir, public_url=f"http://127.0.0.1:{port}")
    svc = build_local_services(settings)
    _, key = build_local_keys(settings).create("tests")
    with serving(create_app(build_local_api(settings, svc)), port) as url:
        yield Api(url, key, svc, settings)


def finish(svc: Services, job_id: str) -> None:
    """Do what a worker does when it has transcribed the job's audio."""
    claim = claim_job(svc, Message(WorkItem("transcribe", job_id), "r", 1), "w1")
    assert claim.job is not None
    keys = {}
    for fmt, text in RESULTS.items():
        keys[fmt] = result_key(job_id, svc.clock.now(), "talk", fmt)
        svc.objects.put_bytes(keys[fmt], text.encode())
    complete_job(svc, job_id, "w1", Outcome("whisper-base", 4.2, 0.5, len(AUDIO), keys))


class OneWayStream(io.RawIOBase):
    """A stream that cannot seek, like a pipe: its size is unknown until it ends."""

    def __init__(self, data: bytes) -> None:
        self._rest = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        size = min(len(buffer), len(self._rest))
        buffer[:size] = self._rest[:size]
        self._rest = self._rest[size:]
        return size


def test_upload_from_a_path_stores_the_file_and_reports_progress_up_to_its_size(
    api: Api, tmp_path: Path
) -> None:
    path = tmp_path / "möte 1.wav"
    path.write_bytes(AUDIO)
    seen: list[tuple[int, int | None]] = []
    with api.client() as client:
        job = client.create_job(filename=path.name, formats=["txt", "srt"])
        result = client.upload(job, path, progress=lambda sent, total: seen.append((sent, total)))
        after = client.get_job(job.job_id)
    assert job.status == "registered"
    assert job.formats == ("txt", "srt")
    assert job.upload is not None
    assert job.upload.method == "PUT"
    assert result.size == len(AUDIO)
    assert result.event == "launched"
    assert result.key == f"transcription_upload/{job.job_id}/möte_1.wav"
    assert seen[-1] == (len(AUDIO), len(AUDIO))
    assert after.status == "launching"
    assert after.filename == "möte_1.wav"
    assert after.created_at is not None
    assert api.svc.objects.get_bytes(result.key) == AUDIO


def test_a_file_whose_name_is_not_utf8_is_uploaded_under_a_readable_name(
    api: Api, tmp_path: Path
) -> None:
    """A Latin-1 name on disk (b"m\xf6te.wav"): Python holds it with a lone surrogate,
    which no URL or JSON can carry; the client sends U+FFFD instead."""
    path = Path(os.fsdecode(bytes(tmp_path) + b"/m\xf6te.wav"))
    path.write_bytes(AUDIO)
    with api.client() as client:
        job = client.create_job(filename=path.name)
        pending = client.create_job()
        result = client.upload(job, path)
        unnamed = client.upload(pending, path)
    for uploaded in (result, unnamed):
        assert uploaded.event == "launched"
        assert uploaded.key.endswith("/m_te.wav")
        assert api.svc.objects.get_bytes(uploaded.key) == AUDIO


def test_the_upload_endpoint_sanitises_a_filename_that_is_not_utf8(api: Api) -> None:
    with api.client() as client:
        job = client.create_job()
    assert job.upload is not None
    answer = httpx.put(f"{job.upload.url}?filename=%FF%FEm%F6te.wav", content=AUDIO, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["key"] == f"transcription_upload/{job.job_id}/m_te.wav"


def test_upload_from_a_file_object_is_sent_in_chunks_with_progress(api: Api) -> None:
    seen: list[tuple[int, int | None]] = []
    source = io.BytesIO(AUDIO)
    with api.client() as client:
        job = client.create_job()
        result = client.upload(
            job,
            source,
            filename="från minnet.wav",
            chunk_size=4096,
            progress=lambda sent, total: seen.append((sent, total)),
        )
    assert seen == [(4096, len(AUDIO)), (8192, len(AUDIO)), (len(AUDIO), len(AUDIO))]
    assert result.key.endswith("/från_minnet.wav")
    assert api.svc.objects.get_bytes(result.key) == AUDIO


def test_upload_from_a_stream_of_unknown_size_reports_no_total_until_it_ends(api: Api) -> None:
    seen: list[tuple[int, int | None]] = []
    stream = io.BufferedReader(OneWayStream(AUDIO))
    with api.client() as client:
        job = client.create_job()
        result = client.upload(
            job, stream, filename="pipe.wav", progress=lambda s, t: seen.append((s, t))
        )
    assert result.size == len(AUDIO)
    assert seen[0][1] is None
    assert seen[-1] == (len(AUDIO), len(AUDIO))


def test_register_and_upload_through_the_seed_flow_launches_the_job(
    api: Api, tmp_path: Path
) -> None:
    path = tmp_path / "cv_1.wav"
    path.write_bytes(AUDIO)
    with api.client() as client:
        registration = client.register("https://client.example/hook", "shared-secret-456")
        result = client.upload(registration, path)
        job = client.get_job(registration.job_id)
    assert registration.upload_path == f"transcription_upload/{registration.callback_id}/"
    assert registration.message == "Upload audio files to the provided S3 path"
    assert registration.upload.method == "PUT"
    assert result.key == f"{registration.upload_path}cv_1.wav"
    assert job.status == "launching"
    assert job.raw["callback_url"] == "https://client.example/hook"
    assert job.raw["has_callback_secret"] is True


def test_uploads_do_not_send_the_api_key_to_the_upload_url(api: Api) -> None:
    received: list[dict[str, str]] = []

    class Storage(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            received.append(dict(self.headers))
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Storage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = UploadTarget(url=f"http://127.0.0.1:{server.server_port}/bucket/key.wav", method="PUT")
    try:
        with api.client() as client:
            result = client.upload(target, io.BytesIO(AUDIO), filename="key.wav")
    finally:
        server.shutdown()
        server.server_close()
    assert result.size == len(AUDIO)
    assert {name.lower() for name in received[0]}.isdisjoint({"x-api-key"})


def test_a_transcript_redirect_is_followed_without_the_api_key() -> None:
    """On AWS the transcript route answers a 303 to a presigned S3 GET: the client reads
    the result there and never sends its key to the storage host."""
    received: list[dict[str, str]] = []
    body = json.dumps({"text": "Hej.", "segments": [{"start": 0, "end": 1, "text": "Hej."}]})

    class Gateway(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received.append({"path": self.path, **dict(self.headers)})
            if self.path.startswith("/v1/jobs/"):
                self.send_response(303)
                self.send_header("Location", f"http://127.0.0.1:{port}/bucket/t.json?X-Amz=1")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    port = server.server_port
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Client(f"http://127.0.0.1:{port}", "the-key") as client:
            text = client.transcript("j1", "json")
            segments = client.transcript_segments("j1")
    finally:
        server.shutdown()
        server.server_close()
    assert json.loads(text)["text"] == "Hej."
    assert segments.text == "Hej."
    followed = [seen for seen in received if seen["path"].startswith("/bucket/")]
    assert len(followed) == 2
    assert all("x-api-key" not in {name.lower() for name in seen} for seen in followed)


def test_uploads_reach_s3_through_a_post_form_and_a_presigned_put(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with moto_server(tmp_path / "moto.log") as endpoint:
        s3 = boto3.client("s3", region_name="eu-north-1", endpoint_url=endpoint)
        s3.create_bucket(
            Bucket="uploads", CreateBucketConfiguration={"LocationConstraint": "eu-north-1"}
        )
        store = S3ObjectStore(s3, "uploads")
        form = store.upload_target("transcription_upload/j1/", "", 600, len(AUDIO))
        put = store.upload_target("transcription_upload/j2/", "named.wav", 600, len(AUDIO))
        seen: list[tuple[int, int | None]] = []
        with Client(endpoint, "unused") as client:
            for target, name in ((form, "form.wav"), (put, "named.wav")):
                client.upload(
                    UploadTarget(target.url, target.method, target.headers, target.fields),
                    io.BytesIO(AUDIO),
                    filename=name,
                    progress=lambda sent, total: seen.append((sent, total)),
                )
        stored = {
            key: s3.get_object(Bucket="uploads", Key=key)["Body"].read()
            for key in ("transcription_upload/j1/form.wav", "transcription_upload/j2/named.wav")
        }
    assert form.method == "POST"
    assert put.method == "PUT"
    assert set(stored.values()) == {AUDIO}
    assert seen[-1] == (len(AUDIO), len(AUDIO))


def test_list_jobs_follows_every_page_newest_first_and_filters(api: Api) -> None:
    with api.client(api.new_key("lister")) as client:
        ids = [client.create_job().job_id for _ in range(5)]
        client.upload(client.create_job(), io.BytesIO(AUDIO), filename="a.wav")
        every = [job.job_id for job in client.list_jobs(page_size=2)]
        registered = [job.job_id for job in client.list_jobs(status="registered", page_size=2)]
        first_three = list(client.list_jobs(limit=3, page_size=2))
    assert len(every) == 6
    assert registered == ids[::-1]
    assert [job.job_id for job in first_three] == every[:3]
    assert all(isinstance(job, Job) for job in first_three)


def test_a_completed_job_gives_every_format_and_delete_removes_it(api: Api) -> None:
    updates: list[str] = []
    with api.client() as client:
        job = client.create_job(filename="talk.wav")
        client.upload(job, io.BytesIO(AUDIO))
        finish(api.svc, job.job_id)
        done = client.wait(job.job_id, timeout=5, on_update=lambda j: updates.append(j.status))
        texts = {fmt: client.transcript(job.job_id, fmt) for fmt in RESULTS}
        transcript = client.transcript_segments(job.job_id)
        removed = client.delete_job(job.job_id)
        with pytest.raises(ApiError) as gone:
            client.get_job(job.job_id)
    assert updates == ["completed"]
    assert done.is_final
    assert done.progress == 1.0
    assert done.audio_duration == 4.2
    assert done.model_used == "whisper-base"
    assert set(done.results) == set(RESULTS)
    assert texts == RESULTS
    assert transcript.language == "sv"
    assert [(s.start, s.text) for s in transcript.segments] == [
        (0.3, "Hej världen."),
        (2.0, "Det här är ett test."),
    ]
    assert removed == 5, "the audio and four results"
    assert gone.value.status == 404


def test_wait_polls_with_backoff_until_the_job_finishes_and_sees_each_change(
    api: Api,
) -> None:
    with api.client() as client:
        job = client.create_job(filename="talk.wav")
        client.upload(job, io.BytesIO(AUDIO))
        finisher = threading.Timer(1.5, finish, args=(api.svc, job.job_id))
        finisher.start()
        polls: list[float] = []
        original_get = client.get_job

        def counted_get(job_id: str) -> Job:
            polls.append(time.monotonic())
            return original_get(job_id)

        client.get_job = counted_get  # type: ignore[method-assign]
        try:
            updates: list[str] = []
            done = client.wait(job.job_id, timeout=30, on_update=lambda j: updates.append(j.status))
        finally:
            finisher.join()
    assert done.status == "completed"
    assert updates[0] == "launching"
    assert updates[-1] == "completed"
    assert len(updates) == len(set(updates)), "each change once, not every poll"
    gaps = [later - earlier for earlier, later in itertools.pairwise(polls)]
    assert 3 <= len(polls) <= 6, f"backed off: {len(polls)} polls in 1.5 s"
    assert gaps == sorted(gaps), "the delay between polls only grows"


def test_wait_gives_up_at_its_timeout_with_the_jobs_status(api: Api) -> None:
    with api.client() as client:
        job = client.create_job()
        started = time.monotonic()
        with pytest.raises(ClientError, match="is still registered after 1 s"):
            client.wait(job.job_id, timeout=1.0)
    assert time.monotonic() - started < 3.0


def test_a_transcript_of_an_unfinished_job_is_a_409_not_ready(api: Api) -> None:
    with api.client() as client:
        job = client.create_job()
        with pytest.raises(ApiError) as early:
            client.transcript(job.job_id, "srt")
    assert early.value.status == 409
    assert early.value.code == "not_ready"


def test_a_wrong_api_key_raises_api_error_401_unauthorized(api: Api) -> None:
    with api.client("sws_nope_wrong") as client, pytest.raises(ApiError) as error:
        client.create_job()
    assert error.value.status == 401
    assert error.value.code == "unauthorized"
    assert "invalid or revoked API key" in str(error.value)


def test_a_missing_job_raises_api_error_404_not_found(api: Api) -> None:
    with api.client() as client, pytest.raises(ApiError) as error:
        client.get_job("0123456789abcdef")
    assert error.value.status == 404
    assert error.value.code == "not_found"


def test_verify_webhook_from_the_client_accepts_signed_deliveries_and_refuses_tampering() -> None:
    body = b'{"job_id": "job-1", "status": "complete"}'
    headers = signature_headers("shared-secret-456", "msg_1", body)
    seed_only = {"X-Webhook-Signature": headers["X-Webhook-Signature"]}
    assert verify_webhook(headers, body, "shared-secret-456") == "standard"
    assert verify_webhook(seed_only, body, "shared-secret-456", accept_seed_only=True) == "seed"
    with pytest.raises(WebhookVerificationError, match="webhook-signature is missing"):
        verify_webhook(seed_only, body, "shared-secret-456")
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, body.replace(b"complete", b"failed"), "shared-secret-456")
    stale = signature_headers("shared-secret-456", "msg_1", body, timestamp=int(time.time()) - 900)
    with pytest.raises(WebhookVerificationError, match="replay window"):
        verify_webhook(stale, body, "shared-secret-456")


def test_create_job_sends_the_subtitle_layout(api: Api) -> None:
    with api.client() as client:
        job = client.create_job(max_line_width=30, max_lines=1, max_cue_seconds=3.5)
    assert (job.raw["max_line_width"], job.raw["max_lines"]) == (30, 1)
    assert job.raw["max_cue_seconds"] == 3.5


def test_a_job_created_by_the_client_can_ask_for_redaction(api: Api) -> None:
    with api.client() as client:
        job = client.create_job(redact=["personnummer", "telefon"])
        every = client.create_job(redact=True)
    stored = api.svc.jobs.get(job.job_id)
    assert stored is not None
    assert stored.request.redact == ("personnummer", "phone")
    stored_every = api.svc.jobs.get(every.job_id)
    assert stored_every is not None
    assert len(stored_every.request.redact) == 7
