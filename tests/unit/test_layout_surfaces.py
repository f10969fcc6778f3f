"""The subtitle layout fields reach every subtitle output: /v1/jobs and the OpenAI form
take them (with their bounds), the job records them, and the worker's srt and vtt
results are laid out by them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from swescribe.api import ApiContext, create_app
from swescribe.core.intake import NewJob, create_job, handle_object_created
from swescribe.core.jobs import JobStatus
from swescribe.core.request import JobRequest
from swescribe.core.services import Policy
from swescribe.engine import Segment, Transcript
from swescribe.worker.runner import Worker, WorkerConfig
from tests.fakes import memory_services
from tests.unit.test_openai_compat import OneKey

AUTH = {"Authorization": "Bearer sws_good"}
LONG_TEXT = (
    "Vanliga kännetecken för lättlästa texter är att de har en luftig layout och korta "
    "meningar som inte kräver att läsaren håller många saker i huvudet"
)


def test_v1_jobs_takes_and_shows_the_layout_and_refuses_one_out_of_bounds() -> None:
    svc = memory_services()
    http = TestClient(create_app(ApiContext(svc=svc, keys=OneKey())))  # type: ignore[arg-type]
    layout = {"max_line_width": 20, "max_lines": 1, "max_cue_seconds": 2.5}
    created = http.post("/v1/jobs", headers=AUTH, json=layout)
    assert created.status_code == 201, created.text
    assert {k: created.json()[k] for k in layout} == layout
    job = svc.jobs.get(created.json()["job_id"])
    assert job is not None
    assert (job.request.max_line_width, job.request.max_lines) == (20, 1)
    for bad in ({"max_line_width": 3}, {"max_lines": 0}, {"max_cue_seconds": 0.0}):
        refused = http.post("/v1/jobs", headers=AUTH, json=bad)
        assert refused.status_code in (400, 422)
        assert next(iter(bad)) in refused.text


def test_the_openai_form_takes_the_layout_as_an_extension() -> None:
    svc = memory_services(Policy(sync_max_bytes=1000, sync_timeout_seconds=0.2))
    http = TestClient(create_app(ApiContext(svc=svc, keys=OneKey())))  # type: ignore[arg-type]
    files = {"file": ("a.wav", b"RIFF1234")}
    form = {"response_format": "srt", "max_line_width": "24", "max_lines": "3"}
    waited = http.post("/v1/audio/transcriptions", headers=AUTH, files=files, data=form)
    assert waited.status_code == 504  # no worker here: the job stays queued, as asked
    (job,) = svc.jobs.list_jobs("k1").jobs
    assert (job.request.max_line_width, job.request.max_lines) == (24, 3)
    bad = {"response_format": "srt", "max_cue_seconds": "9999"}
    refused = http.post("/v1/audio/transcriptions", headers=AUTH, files=files, data=bad)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "max_cue_seconds"


class LongSegmentEngine:
    def transcribe(
        self, path: object, options: object = None, progress: object = None
    ) -> Transcript:
        segment = Segment(0, 0.0, 20.0, LONG_TEXT)
        return Transcript(segment.text, "sv", 20.0, (segment,), "stand-in")


def test_the_workers_subtitles_are_laid_out_as_the_job_asks() -> None:
    svc = memory_services()
    request = JobRequest(formats=("srt", "vtt"), max_line_width=24, max_lines=1)
    job_id = create_job(svc, "k", NewJob(request)).job_id
    key = f"transcription_upload/{job_id}/a.wav"
    svc.objects.put_bytes(key, b"RIFF")
    handle_object_created(svc, key, 4)
    engine = LongSegmentEngine()
    worker = Worker(svc, lambda model: engine, WorkerConfig("w1", poll_seconds=0.0))  # type: ignore[arg-type,return-value]
    assert worker.run(max_jobs=1) == 1
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.COMPLETED
    for fmt in ("srt", "vtt"):
        text = svc.objects.get_bytes(job.result_keys[fmt]).decode()
        blocks = [b.split("\n") for b in text.strip().split("\n\n") if "-->" in b]
        cue_lines = [b[b.index(next(x for x in b if "-->" in x)) + 1 :] for b in blocks]
        assert all(len(lines) == 1 for lines in cue_lines), fmt
        assert max(len(line) for lines in cue_lines for line in lines) <= 24
