"""`swescribe jobs ...` as a user of this machine meets them: a list with headers and file
names, one job, its transcript by id (from the local store, or from a service by --url),
and Ctrl-C on `submit --wait` that says the job goes on and how to fetch it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from swescribe.api import create_app
from swescribe.bootstrap import build_local_api, build_local_keys, build_local_services
from swescribe.config import Settings
from swescribe.core.jobs import result_key
from swescribe.core.ports import Message, WorkItem
from swescribe.core.processing import Outcome, claim_job, complete_job
from swescribe.core.services import Services
from tests.support import free_port, serving

RESULTS = {
    "txt": "Hej världen\n",
    "srt": "1\n00:00:00,000 --> 00:00:01,200\nHej världen\n",
    "vtt": "WEBVTT\n\n00:00.000 --> 00:01.200\nHej världen\n",
    "json": '{"text": "Hej världen"}\n',
}
LONG_NAME = "intervju_med_kommunstyrelsens_ordforande_2026-11-30.wav"


@dataclass
class Local:
    data_dir: Path
    url: str
    key: str
    svc: Services
    done: str
    """A completed job's id."""
    waiting: str
    """A job that waits for its audio."""


def finish(svc: Services, job_id: str) -> None:
    """What a worker does when it has transcribed the job's audio."""
    claim = claim_job(svc, Message(WorkItem("transcribe", job_id), "r", 1), "w1")
    assert claim.job is not None
    keys = {}
    for fmt, text in RESULTS.items():
        keys[fmt] = result_key(job_id, svc.clock.now(), "intervju", fmt)
        svc.objects.put_bytes(keys[fmt], text.encode())
    complete_job(svc, job_id, "w1", Outcome("whisper-base", 1.2, 0.5, 10, keys))


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    data_dir = tmp_path_factory.mktemp("jobs")
    port = free_port()
    settings = Settings.from_env({}, data_dir=data_dir, public_url=f"http://127.0.0.1:{port}")
    svc = build_local_services(settings)
    _, key = build_local_keys(settings).create("tests")
    with serving(create_app(build_local_api(settings, svc)), port) as url:
        headers = {"X-API-Key": key}
        done = httpx.post(f"{url}/v1/jobs", json={}, headers=headers).json()
        httpx.put(done["upload"]["url"], params={"filename": LONG_NAME}, content=b"RIFF" * 100)
        finish(svc, done["job_id"])
        waiting = httpx.post(f"{url}/v1/jobs", json={}, headers=headers).json()["job_id"]
        yield Local(data_dir, url, key, svc, done["job_id"], waiting)


def swescribe(
    local: Local, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swescribe", *args],
        env={
            **{k: v for k, v in os.environ.items() if k != "SWESCRIBE_URL"},
            "SWESCRIBE_DATA_DIR": str(local.data_dir),
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_jobs_list_has_a_header_and_shows_file_names_not_storage_keys(local: Local) -> None:
    done = swescribe(local, "jobs", "list")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["JOB", "STATUS", "CREATED", "AUDIO", "FILE"]
    [finished] = [row for row in rows if row.startswith(local.done)]
    assert LONG_NAME in finished
    assert "transcription_upload/" not in done.stdout
    assert "1.2 s" in finished, "the audio's length"
    [waiting] = [row for row in rows if row.startswith(local.waiting)]
    assert "waiting for audio" in waiting


@pytest.mark.parametrize("fmt", ["txt", "srt", "vtt", "json"])
def test_jobs_transcript_prints_a_finished_jobs_result(local: Local, fmt: str) -> None:
    done = swescribe(local, "jobs", "transcript", local.done, "--format", fmt)
    assert done.returncode == 0, done.stderr
    assert done.stdout == RESULTS[fmt]


def test_jobs_transcript_saves_to_a_file(local: Local, tmp_path: Path) -> None:
    target = tmp_path / "intervju.srt"
    done = swescribe(local, "jobs", "transcript", local.done, "--format", "srt", "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert target.read_text(encoding="utf-8") == RESULTS["srt"]
    assert done.stdout == ""
    assert str(target) in done.stderr


def test_jobs_transcript_of_an_unfinished_job_says_its_state_in_one_line(local: Local) -> None:
    done = swescribe(local, "jobs", "transcript", local.waiting)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line == f"swescribe: error: job {local.waiting} is waiting for audio, not completed"


def test_jobs_transcript_of_an_unknown_job_is_one_line(local: Local) -> None:
    done = swescribe(local, "jobs", "transcript", "nope")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["swescribe: error: no job 'nope'"]


def test_jobs_transcript_and_show_from_a_service_by_url(local: Local, tmp_path: Path) -> None:
    """Another machine's service: through the API with the key, not the local store."""
    elsewhere = {"SWESCRIBE_DATA_DIR": str(tmp_path / "empty"), "SWESCRIBE_API_KEY": local.key}
    text = swescribe(
        local,
        "jobs",
        "transcript",
        local.done,
        "--format",
        "vtt",
        "--url",
        local.url,
        env=elsewhere,
    )
    assert text.returncode == 0, text.stderr
    assert text.stdout == RESULTS["vtt"]
    shown = swescribe(
        local, "jobs", "show", local.done, env={**elsewhere, "SWESCRIBE_URL": local.url}
    )
    assert shown.returncode == 0, shown.stderr
    assert f'"job_id": "{local.done}"' in shown.stdout
    assert '"status": "completed"' in shown.stdout


def test_ctrl_c_on_submit_wait_says_the_job_goes_on_and_how_to_fetch_it(
    local: Local, tmp_path: Path
) -> None:
    """No worker runs here: the job waits, and the user gives up waiting."""
    audio = tmp_path / "möte.wav"
    audio.write_bytes(b"RIFF" * 100)
    waiting = subprocess.Popen(
        [sys.executable, "-m", "swescribe", "submit", str(audio), "--wait", "--url", local.url],
        env={**os.environ, "SWESCRIBE_API_KEY": local.key, "SWESCRIBE_DATA_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert waiting.stderr is not None
    first = waiting.stderr.readline()  # "job <id>: uploading möte.wav"
    job_id = first.split()[1].rstrip(":")
    time.sleep(1.5)  # into the wait
    waiting.send_signal(signal.SIGINT)
    _, rest = waiting.communicate(timeout=30)
    assert waiting.returncode == 130, first + rest
    assert "Traceback" not in rest
    said = rest.strip().splitlines()[-1]
    assert job_id in said
    assert "goes on" in said
    assert f"swescribe jobs transcript {job_id} --url {local.url}" in said
