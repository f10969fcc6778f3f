"""Known voices on the web page (issue 28) in headless chromium, no model, no workers: the
key's enrolled voices listed and deleted, and "This is…" beside a diarized transcript's
segment enrolling that stretch of the job's audio under a name (POST /v1/speakers).

The job is finished through the service functions, as a worker would, with a stored JSON
transcript that has speakers; its audio is a real Swedish clip, so the enrolment runs the
real speaker encoder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from swescribe.api import create_app
from swescribe.bootstrap import build_local_api, build_local_keys, build_local_services
from swescribe.config import Settings
from swescribe.core.jobs import result_key
from swescribe.core.ports import Message, WorkItem
from swescribe.core.processing import Outcome, claim_job, complete_job
from swescribe.core.services import Services
from tests.browser.conftest import ARTIFACTS
from tests.conftest import audio
from tests.support import free_port, serving

pytestmark = pytest.mark.browser

CLIP = "lattlast_stts.wav"
SEGMENTS = [
    {"start": 0.0, "end": 6.0, "text": "Första meningen.", "speaker": "S1"},
    {"start": 6.0, "end": 12.0, "text": "Andra meningen.", "speaker": "S2"},
    {"start": 12.0, "end": 18.0, "text": "Tredje meningen.", "speaker": "S1"},
]


@dataclass
class Served:
    url: str
    key: str
    svc: Services

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": self.key}, timeout=60)

    def voices(self) -> list[dict[str, Any]]:
        with self.http() as http:
            return http.get("/v1/speakers").json()["speakers"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("web-voices")
    port = free_port()
    settings = Settings.from_env(
        {},
        data_dir=data_dir,
        public_url=f"http://127.0.0.1:{port}",
        rate_limit_per_minute=0,
        auth_failures_per_minute=0,
    )
    svc = build_local_services(settings)
    _, key = build_local_keys(settings).create("web")
    with serving(create_app(build_local_api(settings, svc)), port) as url:
        yield Served(url, key, svc)


def diarized_job(served: Served) -> str:
    """A completed job with the clip as its uploaded audio and a transcript with speakers."""
    clip = audio(CLIP)
    with served.http() as http:
        job = http.post("/v1/jobs", json={"filename": CLIP, "diarize": True}).json()
        put = httpx.put(job["upload"]["url"], content=clip.read_bytes(), timeout=60)
        assert put.status_code < 300, put.text
    job_id: str = job["job_id"]
    svc = served.svc
    claim = claim_job(svc, Message(WorkItem("transcribe", job_id), "r", 1), "w1")
    assert claim.job is not None
    transcript = {
        "language": "sv",
        "duration": 31.7,
        "text": " ".join(s["text"] for s in SEGMENTS),  # type: ignore[misc]
        "segments": SEGMENTS,
        "diarization": {"speakers": ["S1", "S2"], "turns": []},
    }
    keys = {"json": result_key(job_id, svc.clock.now(), "talk", "json")}
    svc.objects.put_bytes(keys["json"], json.dumps(transcript).encode())
    complete_job(svc, job_id, "w1", Outcome("whisper-base", 31.7, 0.5, clip.stat().st_size, keys))
    return job_id


@pytest.fixture
def clean(served: Served) -> Served:
    """No voices before a test: each starts from an empty list."""
    for voice in served.voices():
        with served.http() as http:
            http.delete(f"/v1/speakers/{voice['id']}")
    return served


@pytest.fixture
def page(
    browser_context: BrowserContext, clean: Served, request: pytest.FixtureRequest
) -> Iterator[Page]:
    page = browser_context.new_page()
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    page.goto(f"{clean.url}/")
    yield page
    outcome = getattr(request.node, "report_call", None)
    if outcome is not None and outcome.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"), full_page=True)
    assert script_errors == []


def open_transcript(page: Page, served: Served) -> None:
    diarized_job(served)
    page.get_by_label("Your API key").fill(served.key)
    page.get_by_role("button", name="Save key").click()
    row = page.locator("#jobs-body tr", has_text=CLIP).first
    row.get_by_role("button", name=f"Open the transcript of {CLIP}").click()
    expect(page.locator("#segments button.segment").first).to_be_visible()


def enrol(page: Page, segment: int, name: str) -> None:
    page.locator("#segments li").nth(segment).get_by_role("button", name="This is…").click()
    field = page.get_by_label("Name of the voice in 0:", exact=False)
    expect(field).to_be_focused()
    field.fill(name)
    page.get_by_role("button", name="Enrol", exact=True).click()


def test_a_segment_enrolled_as_a_name_appears_in_the_voice_list_and_the_api(
    page: Page, clean: Served
) -> None:
    open_transcript(page, clean)
    enrol(page, 1, "Anna")
    voices = page.locator("#voices-list li")
    expect(voices).to_have_count(1)
    expect(voices.first.locator(".voice-name")).to_have_text("Anna")
    expect(voices.first).to_contain_text("s of speech")
    expect(page.locator("#status-message")).to_have_text("Anna is enrolled.")
    [voice] = clean.voices()
    assert voice["name"] == "Anna"
    assert 0 < voice["seconds"] <= 6.0


def test_a_deleted_voice_is_gone_from_the_list_and_the_api_after_confirming(
    page: Page, clean: Served
) -> None:
    open_transcript(page, clean)
    enrol(page, 0, "Bo")
    voices = page.locator("#voices-list li")
    expect(voices).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete the voice Bo").click()
    expect(voices).to_have_count(1)
    assert [v["name"] for v in clean.voices()] == ["Bo"], "dismissing the question keeps it"
    messages: list[str] = []

    def accept(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Delete the voice Bo").click()
    expect(voices).to_have_count(0)
    expect(page.locator("#voices-empty")).to_be_visible()
    expect(page.locator("#status-message")).to_have_text("The voice Bo is deleted.")
    assert len(messages) == 1
    assert "Bo" in messages[0]
    assert clean.voices() == []


def test_a_duplicate_name_shows_the_apis_error_beside_the_segment(
    page: Page, clean: Served
) -> None:
    open_transcript(page, clean)
    enrol(page, 0, "Cilla")
    expect(page.locator("#voices-list li")).to_have_count(1)
    enrol(page, 2, "Cilla")
    error = page.locator("#segments li").nth(2).get_by_role("alert")
    expect(error).to_contain_text("a voice named 'Cilla' is enrolled already")
    expect(page.get_by_label("Name of the voice in 0:12–0:18")).to_be_focused()
    assert [v["name"] for v in clean.voices()] == ["Cilla"]


def test_the_keyboard_alone_enrols_a_voice_from_a_segment(page: Page, clean: Served) -> None:
    open_transcript(page, clean)
    segment = page.locator("#segments button.segment").nth(1)
    segment.focus()
    page.keyboard.press("Tab")
    control = page.locator("#segments li").nth(1).get_by_role("button", name="This is…")
    expect(control).to_be_focused()
    page.keyboard.press("Enter")
    field = page.get_by_label("Name of the voice in 0:06–0:12")
    expect(field).to_be_focused()
    page.keyboard.type("Doris")
    page.keyboard.press("Enter")
    expect(page.locator("#voices-list li .voice-name")).to_have_text(["Doris"])
    expect(control).to_be_focused()
    assert [v["name"] for v in clean.voices()] == ["Doris"]
    # Escape closes the form without enrolling, and gives the focus back to the control.
    page.keyboard.press("Enter")
    expect(field).to_be_focused()
    page.keyboard.press("Escape")
    expect(field).to_have_count(0)
    expect(control).to_be_focused()
