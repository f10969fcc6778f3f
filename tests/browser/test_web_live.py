"""The web page's Live view in headless chromium with a fake microphone playing a Swedish
clip: captions from /v1/realtime turn by turn, the tentative tail apart, Stop, and the
session saved as a job whose upload is a WAV as long as the audio sent. The live engine
is the stand-in of tests/fakes.py behind the real endpoint, on a real uvicorn."""

from __future__ import annotations

import re
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from swescribe.adapters.local.filesystem import FilesystemObjectStore
from swescribe.api import create_app
from swescribe.api.server import uvicorn_options
from swescribe.bootstrap import build_local_api, build_local_services
from swescribe.config import Settings
from swescribe.core.services import Services
from swescribe.engine.audio import probe
from tests.browser.conftest import ARTIFACTS, chromium
from tests.conftest import audio, reference
from tests.fakes import FakeLiveTranscriber
from tests.support import free_port, serving

pytestmark = pytest.mark.browser

CLIP = "lattlast_stts"
MARKUP = "<img/src/onerror=window.pwned=1>"
"""A "word" the engine returns that looks like HTML: the page must show it as text."""
WORDS = [MARKUP, *reference(CLIP).split()]
CAPTIONS_WITHIN_MS = 30_000

NO_CSP_VIOLATION = """() => {
  window.cspViolations = [];
  document.addEventListener("securitypolicyviolation", (event) => {
    window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
  });
}"""


@dataclass
class LiveWebService:
    url: str
    key: str
    svc: Services
    live: FakeLiveTranscriber
    open_sessions: Callable[[], int]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": self.key}, timeout=10)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWebService]:
    """swescribe's local API (jobs, uploads, the web page) with the stand-in live engine;
    one live session per key, so a test can hold the key's only one."""
    port = free_port()
    env = {"SWESCRIBE_RATE_LIMIT_PER_MINUTE": "0", "SWESCRIBE_LIVE_SESSIONS_PER_KEY": "1"}
    settings = Settings.from_env(
        env,
        data_dir=tmp_path_factory.mktemp("serve-live"),
        public_url=f"http://127.0.0.1:{port}",
    )
    svc = build_local_services(settings)
    live = FakeLiveTranscriber(words=WORDS, word_ms=300)
    context = build_local_api(settings, svc, live)
    assert context.keys is not None
    _, key = context.keys.create("web-live")
    app = create_app(context)
    options = uvicorn_options((), 10.0, settings.live_max_message_bytes)
    with serving(app, port, **options) as url:
        yield LiveWebService(url, key, svc, live, app.state.live_slots.total)


@pytest.fixture
def microphone_context(tmp_path: Path) -> Iterator[BrowserContext]:
    """Chromium whose microphone plays the clip (in a loop), allowed without asking."""
    fake_microphone = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={audio(f'{CLIP}.wav')}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    with chromium(tmp_path / "chromium-profile", fake_microphone) as context:
        yield context


@pytest.fixture
def page(
    microphone_context: BrowserContext, service: LiveWebService, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """The page with the key saved; any script error, console error or CSP violation
    fails the test, and a failed test leaves a screenshot in tests/browser/artifacts."""
    page = microphone_context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type in ("error", "warning")
            and not message.location.get("url", "").endswith("/favicon.ico")
            else None
        ),
    )
    page.add_init_script(f"({NO_CSP_VIOLATION})()")
    page.goto(f"{service.url}/")
    page.get_by_label("Your API key").fill(service.key)
    page.get_by_role("button", name="Save key").click()
    expect(page.locator("#key-state")).to_have_text("A key is saved for this tab.")
    yield page
    outcome = getattr(request.node, "report_call", None)
    if outcome is not None and outcome.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"), full_page=True)
    assert page.evaluate("window.cspViolations") == []
    assert problems == []


def caption_words(page: Page) -> list[str]:
    texts = page.locator("#live-captions .live-turn .confirmed").all_text_contents()
    return " ".join(texts).split()


def test_live_captions_from_the_microphone_show_turns_stop_and_save_as_a_job(
    page: Page, service: LiveWebService
) -> None:
    sessions_before = len(service.live.sessions)
    captions = page.locator("#live-captions")
    expect(captions).to_have_attribute("aria-live", "polite")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#live-state")).to_have_text("Listening. Press Stop to end.")

    # The unconfirmed tail shows apart from the confirmed text, muted, and is not read out.
    tentative = captions.locator(".live-turn:not(.done) .tentative", has_text="…").first
    expect(tentative).to_be_visible(timeout=CAPTIONS_WITHIN_MS)
    expect(tentative).to_have_attribute("aria-hidden", "true")
    styles = tentative.evaluate(
        """span => {
          const confirmed = span.parentElement.querySelector(".confirmed");
          const style = (element) => getComputedStyle(element);
          return [style(confirmed).color, style(span).color, style(span).fontStyle];
        }"""
    )
    assert styles[0] != styles[1], styles
    assert styles[2] == "italic", styles

    # Captions come turn by turn: the engine's words, in order, the markup as text.
    page.wait_for_function(
        """() => document.querySelectorAll('#live-captions .live-turn.done').length >= 2
          && [...document.querySelectorAll('#live-captions .confirmed')]
               .map((span) => span.textContent).join(" ").split(/\\s+/).length > 6""",
        timeout=CAPTIONS_WITHIN_MS,
    )
    expect(captions.locator(".confirmed").first).to_contain_text(MARKUP)
    assert captions.locator("img").count() == 0
    assert page.evaluate("window.pwned") is None
    scrolled = captions.evaluate("box => [box.scrollHeight, box.clientHeight, box.scrollTop]")
    assert scrolled[0] <= scrolled[1] or scrolled[2] > 0, scrolled

    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("button", name="Start")).to_be_enabled()
    expect(page.locator("#live-state")).to_contain_text("s recorded.")
    expect(page.locator("#status-message")).to_have_text("Live captions stopped.")
    words = caption_words(page)
    assert len(words) >= 3
    assert words == WORDS[: len(words)], words
    assert captions.locator(".tentative:not(:empty)").count() == 0, "no tail after Stop"
    [session] = service.live.sessions[sessions_before:]
    assert session.closed.wait(10), "Stop closes the engine session"
    assert service.open_sessions() == 0
    assert session.options.language == "sv"
    assert session.options.turn_detection is True
    sent_seconds = session.received_samples / 16_000

    page.get_by_role("button", name="Save as a job").click()
    row = page.locator("#jobs-body tr", has_text="live-")
    expect(row).to_have_attribute("data-status", "launching")
    expect(page.locator("#live-state")).to_have_text("Saved as a job: see the job list.")
    expect(page.get_by_role("button", name="Save as a job")).to_be_disabled()
    row.locator("summary", has_text="Live captions").click()
    live_text = row.locator(".live-text p")
    expect(live_text).to_be_visible()
    assert live_text.inner_text().split() == words
    page.reload()  # the live text is kept in the tab's memory only
    expect(page.locator("#jobs-body tr", has_text="live-")).to_have_count(1)
    expect(page.locator("#jobs-body .live-text")).to_have_count(0)

    with service.client() as http:
        [job] = [j for j in http.get("/v1/jobs").json()["jobs"] if "/live-" in (j["s3_key"] or "")]
    assert job["s3_key"].endswith(".wav")
    objects = service.svc.objects
    assert isinstance(objects, FilesystemObjectStore)
    stored = objects.path_of(job["s3_key"])
    with wave.open(str(stored)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16_000)
        wav_seconds = wav.getnframes() / 16_000
    assert probe(stored).duration == pytest.approx(wav_seconds, abs=0.05)
    assert wav_seconds == pytest.approx(sent_seconds, abs=0.2), "the WAV is the audio sent"
    assert sent_seconds > 2.0


def test_a_refused_live_session_shows_the_servers_error_and_the_page_can_start_again(
    page: Page, service: LiveWebService
) -> None:
    from websockets.sync.client import connect

    ws_url = service.url.replace("http://", "ws://") + "/v1/realtime?intent=transcription"
    headers = {"Authorization": f"Bearer {service.key}"}
    with connect(ws_url, additional_headers=headers, open_timeout=10) as holder:
        holder.recv(timeout=10)  # session.created: the key's only live session is taken
        page.get_by_role("button", name="Start").click()
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("The live connection closed (code 1008)")
        expect(alert).to_contain_text("too_many_live_sessions")
        expect(page.get_by_role("button", name="Start")).to_be_enabled()
        expect(page.locator("#live-state")).to_have_text("Press Start and allow the microphone.")


WAV_OF_A_FULL_RECORDING = """async () => {
  const { Recording, CHUNK_SAMPLES } = await import("/web/recording.js");
  const recording = new Recording(1);  // at most one second
  const kept = [];
  for (let i = 0; i < 12; i += 1) {
    const chunk = new ArrayBuffer(CHUNK_SAMPLES * 2);
    new DataView(chunk).setInt16(0, i * 100, true);
    kept.push(recording.keep(chunk));
  }
  const file = recording.toWav();
  const bytes = new Uint8Array(await file.arrayBuffer());
  return { kept, full: recording.full, name: file.name, type: file.type, bytes: [...bytes] };
}"""


def test_the_recording_kept_for_saving_is_bounded_and_writes_a_valid_wav(
    page: Page, tmp_path: Path
) -> None:
    """The page keeps the session's audio in memory: past its bound it keeps no more."""
    result = page.evaluate(WAV_OF_A_FULL_RECORDING)
    assert result["kept"] == [True] * 10 + [False] * 2
    assert result["full"] is True
    assert result["type"] == "audio/wav"
    assert re.fullmatch(r"live-\d{4}-\d\d-\d\d-\d{6}\.wav", result["name"]), result["name"]
    saved = tmp_path / "full.wav"
    saved.write_bytes(bytes(result["bytes"]))
    with wave.open(str(saved)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16_000)
        assert wav.getnframes() == 16_000
        frames = wav.readframes(1600 * 2)
    assert int.from_bytes(frames[3200:3202], "little", signed=True) == 100
