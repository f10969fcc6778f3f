"""The web page of `swescribe serve` in headless chromium: a Swedish clip from upload to
transcript, playback from a segment, the SRT download, and the Swedish UI."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.conftest import audio, reference
from tests.e2e.service import RunningService, start_service
from tests.wer import word_error_rate

pytestmark = [pytest.mark.browser, pytest.mark.model]

CLIP = "lattlast_stts.wav"
TRANSCRIBED_WITHIN_MS = 180_000


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(tmp_path_factory.mktemp("serve"), workers=1)
    yield running
    running.stop()


@pytest.fixture
def page(
    browser_context: BrowserContext, service: RunningService, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """The page, opened; a script error anywhere in a test fails it, and a failed test
    leaves a screenshot of the page in tests/browser/artifacts."""
    browser_context.grant_permissions(["clipboard-read", "clipboard-write"], origin=service.url)
    page = browser_context.new_page()
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    page.goto(f"{service.url}/")
    yield page
    outcome = getattr(request.node, "report_call", None)
    if outcome is not None and outcome.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"), full_page=True)
    assert script_errors == []


def save_key(page: Page, key: str) -> None:
    page.get_by_label("Your API key").fill(key)
    page.get_by_role("button", name="Save key").click()


def test_a_swedish_clip_goes_from_upload_to_a_playable_transcript_and_an_srt(
    page: Page, service: RunningService, tmp_path: Path
) -> None:
    clip = audio(CLIP)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    save_key(page, service.api_key)
    expect(page.locator("#key-state")).to_have_text("A key is saved for this tab.")

    page.get_by_label("Audio file").set_input_files(clip)
    row = page.locator("#jobs-body tr", has_text=CLIP)
    expect(row).to_have_attribute("data-status", "completed", timeout=TRANSCRIBED_WITHIN_MS)
    # Issue 27: the upload line and its full bar leave once the job is done.
    expect(page.locator("#upload-status")).to_be_hidden()
    expect(page.locator("#upload-label")).to_have_text("")
    expect(page.locator("#status-message")).to_have_text(f"{CLIP}: Completed")
    cells = row.locator("td")
    expect(cells.nth(1)).to_have_text("Completed")
    expect(cells.nth(2)).to_have_text("100 %")
    expect(cells.nth(3)).to_have_text(re.compile(r"^0:\d\d$"))
    expect(cells.nth(4)).to_have_text(re.compile(r"\d"))

    row.get_by_role("button", name=f"Open the transcript of {CLIP}").click()
    expect(page.locator("#transcript-heading")).to_have_text(f"Transcript: {CLIP}")
    expect(page.locator("#transcript-heading")).to_be_focused()
    segments = page.locator("#segments button.segment")
    expect(segments.first).to_be_visible()
    times = segments.locator(".time").all_inner_texts()
    assert all(re.fullmatch(r"\d+:\d\d–\d+:\d\d", time) for time in times), times
    spoken = " ".join(segments.locator(".text").all_inner_texts())
    assert word_error_rate(reference("lattlast_stts"), spoken) <= 0.5, spoken

    player = page.locator("#player")
    expect(player).to_be_visible()
    assert player.evaluate("audio => audio.src").startswith("blob:"), "the uploaded File"
    chosen = segments.last
    start = float(chosen.get_attribute("data-start") or "nan")
    assert start > 0
    chosen.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "start => Math.abs(document.getElementById('player').currentTime - start) < 1.0",
        arg=start,
    )
    segments.first.click()
    first_start = float(segments.first.get_attribute("data-start") or "nan")
    page.wait_for_function(
        "start => Math.abs(document.getElementById('player').currentTime - start) < 1.0",
        arg=first_start,
    )

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download SRT").click()
    download = download_info.value
    assert download.suggested_filename.endswith(f"_{Path(CLIP).stem}.srt")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_text(encoding="utf-8").startswith("1\n00:00:")

    page.get_by_role("button", name="Copy text").click()
    expect(page.locator("#status-message")).to_have_text("The text is copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert [line for line in copied.splitlines() if line] == [
        text.strip() for text in segments.locator(".text").all_inner_texts()
    ], "each segment a line; a blank line between paragraphs (issue 29)"

    page.get_by_label("Language").select_option("sv")
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.locator("label[for=api-key]")).to_have_text("Din API-nyckel")
    expect(cells.nth(1)).to_have_text("Klar")
    expect(page.locator("#transcript-heading")).to_have_text(f"Transkription: {CLIP}")
    expect(page.locator("#upload-status")).to_be_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)

    # After a reload the uploaded File is gone: the page plays the audio the service stored.
    page.reload()
    page.get_by_label("Språk").select_option("en")
    row = page.locator("#jobs-body tr", has_text=CLIP)
    row.get_by_role("button", name=f"Open the transcript of {CLIP}").click()
    expect(player).to_be_visible()
    expect(page.locator("#audio-missing")).to_be_hidden()
    assert "/v1/objects/" in player.evaluate("audio => audio.src"), "the stored audio's link"
    segments.last.click()
    page.wait_for_function(
        "start => Math.abs(document.getElementById('player').currentTime - start) < 1.0",
        arg=start,
    )


def test_the_drop_zone_opens_the_file_picker_from_the_keyboard(page: Page) -> None:
    page.on("filechooser", lambda chooser: None)  # intercept pickers before the first opens
    zone = page.get_by_role("button", name="Choose a file to transcribe, or drop one here")
    zone.focus()
    for key in ("Enter", " "):
        with page.expect_file_chooser() as chooser:
            page.keyboard.press(key)
        assert chooser.value.is_multiple()
        chooser.value.set_files([])  # close it: chromium opens one picker at a time


DROP_A_FILE = """([name, text]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([text], name, { type: "audio/wav" }));
  const zone = document.getElementById("drop-zone");
  zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true }));
  zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
}"""


def test_a_dropped_file_is_uploaded_and_its_failure_is_shown_with_the_reason(
    page: Page, service: RunningService
) -> None:
    save_key(page, service.api_key)
    page.evaluate(DROP_A_FILE, ["inte-ljud.wav", "this is not audio"])
    row = page.locator("#jobs-body tr", has_text="inte-ljud.wav")
    expect(row).to_have_attribute("data-status", "failed", timeout=TRANSCRIBED_WITHIN_MS)
    expect(row.locator(".badge")).to_have_text("Failed")
    expect(row.locator(".failure")).not_to_be_empty()
    expect(row.get_by_role("button", name="Open the transcript of inte-ljud.wav")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete inte-ljud.wav").click()
    expect(page.locator("#status-message")).to_have_text("inte-ljud.wav is deleted.")
    expect(row).to_have_count(0)


def test_the_custom_vocabulary_field_goes_with_the_next_file_as_its_prompt(
    page: Page, service: RunningService
) -> None:
    save_key(page, service.api_key)
    page.get_by_label("Custom vocabulary").fill("Ljungqvist, Ödeshög")
    page.evaluate(DROP_A_FILE, ["ordlista.wav", "this is not audio either"])
    row = page.locator("#jobs-body tr", has_text="ordlista.wav")
    expect(row).to_have_attribute("data-status", "failed", timeout=TRANSCRIBED_WITHIN_MS)
    with service.client() as http:
        jobs = http.get("/v1/jobs").json()["jobs"]
    [job] = [j for j in jobs if (j["s3_key"] or "").endswith("/ordlista.wav")]
    assert job["prompt"] == "Ljungqvist, Ödeshög"


def test_a_wrong_key_shows_the_apis_error_in_the_page(page: Page) -> None:
    save_key(page, "sws_not_a_key")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("invalid or revoked API key (HTTP 401, unauthorized)")
    expect(alert).to_contain_text("The service did not accept the API key.")
    # Issue 27: the notice beside the key says what happened, not "A key is saved".
    expect(page.locator("#key-state")).to_have_text("The service refused this key.")


def test_a_good_key_saved_after_a_refused_one_is_noted_as_saved(
    page: Page, service: RunningService
) -> None:
    save_key(page, "sws_not_a_key")
    expect(page.locator("#key-state")).to_have_text("The service refused this key.")
    save_key(page, service.api_key)
    expect(page.locator("#key-state")).to_have_text("A key is saved for this tab.")
    expect(page.get_by_role("alert")).to_be_hidden()


RUNNING_JOB = {
    "job_id": "0123456789abcdef",
    "status": "processing",
    "s3_key": "transcription_upload/0123456789abcdef/intervju.wav",
    "created_at": "2026-12-01T10:00:00Z",
    "audio_duration": 222.5,
    "progress": 0.4,
}
"""A job the worker is part way through, as the API lists it (the page's list is routed)."""


def test_a_running_job_shows_a_moving_bar_its_duration_and_the_time_left(
    page: Page, service: RunningService
) -> None:
    """Issue 27: "Transcribing 0 %" with duration "–" was all a running job showed. The
    job list here is the API's answer for a job the worker is part way through."""
    job = dict(RUNNING_JOB, eta_seconds=80.0)
    page.route(
        "**/v1/jobs?limit=100",
        lambda route: route.fulfill(json={"jobs": [dict(job)], "next_cursor": None}),
    )
    save_key(page, service.api_key)
    row = page.locator("#jobs-body tr", has_text="intervju.wav")
    bar = row.get_by_role("progressbar", name="Progress of intervju.wav")
    expect(bar).to_have_js_property("value", 40)
    expect(row.locator("td.progress")).to_have_text("40 % · about 1:20 left")
    expect(row.locator("td").nth(3)).to_have_text("3:42")
    job.update(progress=0.65, eta_seconds=None)
    expect(bar).to_have_js_property("value", 65)  # the page polls a running job
    expect(row.locator("td.progress")).to_have_text("65 %")


def test_a_row_that_did_not_change_is_the_same_row_after_a_poll(
    page: Page, service: RunningService
) -> None:
    """Each poll redrew every row, so text a user had selected in the list was lost every
    two seconds, and a row found just before a poll was gone from the page after it (a
    browser test read a detached name's layout as zero lines). Only a changed row is
    redrawn now."""
    running = dict(RUNNING_JOB)
    done = {
        "job_id": "fedcba9876543210",
        "status": "completed",
        "s3_key": "transcription_upload/fedcba9876543210/sammanfattning.wav",
        "created_at": "2026-12-01T09:00:00Z",
        "audio_duration": 61.0,
        "progress": 1.0,
    }
    page.route(
        "**/v1/jobs?limit=100",
        lambda route: route.fulfill(
            json={"jobs": [dict(running), dict(done)], "next_cursor": None}
        ),
    )
    save_key(page, service.api_key)
    running_row = page.locator("#jobs-body tr", has_text="intervju.wav")
    done_row = page.locator("#jobs-body tr", has_text="sammanfattning.wav")
    bar = running_row.get_by_role("progressbar")
    expect(bar).to_have_js_property("value", 40)
    expect(done_row).to_have_count(1)
    done_row.evaluate("row => { row.markedByTheTest = true; }")
    page.evaluate(
        """() => {
          const name = [...document.querySelectorAll('#jobs-body tr')]
            .find((row) => row.textContent.includes('sammanfattning.wav'))
            .querySelector('.name');
          const range = document.createRange();
          range.selectNodeContents(name);
          window.getSelection().removeAllRanges();
          window.getSelection().addRange(range);
        }"""
    )
    running.update(progress=0.65)
    expect(bar).to_have_js_property("value", 65)  # a poll has been rendered
    assert done_row.evaluate("row => row.markedByTheTest === true"), "the row was redrawn"
    assert page.evaluate("() => window.getSelection().toString()") == "sammanfattning.wav"
    expect(done_row.locator("td").nth(3)).to_have_text("1:01")
    running.update(status="completed", progress=1.0)
    expect(running_row).to_have_attribute("data-status", "completed")
    expect(
        running_row.get_by_role("button", name="Open the transcript of intervju.wav")
    ).to_be_visible()
    expect(page.locator("#jobs-body tr")).to_have_count(2)


LONG_NAME = "intervju_med_kommunstyrelsens_ordforande_2026-12-01_del_2_slutversion.wav"


def lines_of(page: Page, job_name: str, selector: str) -> int:
    """How many lines `selector` takes in the job's row, found and measured in one step:
    the row is redrawn when its job changes, and a redrawn row's old elements have none."""
    return int(
        page.locator("#jobs-body").evaluate(
            """(body, [name, selector]) => [...body.rows]
              .find((row) => row.textContent.includes(name))
              .querySelector(selector).getClientRects().length""",
            [job_name, selector],
        )
    )


def test_a_dropped_file_scrolls_into_view_with_its_long_name_shortened_whole_on_hover(
    page: Page, service: RunningService
) -> None:
    """Issue 27: after a drop the new job's row is on screen, its long name is shortened
    in the middle on one line (the whole name on hover and for screen readers), and the
    status column keeps its badge on one line."""
    page.set_viewport_size({"width": 1000, "height": 600})
    save_key(page, service.api_key)
    page.evaluate(DROP_A_FILE, [LONG_NAME, "this is not audio"])
    row = page.locator("#jobs-body tr", has_text=LONG_NAME)
    expect(row).to_have_count(1)
    expect(row).to_be_in_viewport()
    shown = row.locator("td.file .name")
    expect(shown).to_have_attribute("title", LONG_NAME)
    text = shown.inner_text()
    assert "…" in text, text
    assert text.endswith(".wav"), text
    assert len(text) < len(LONG_NAME), text
    assert lines_of(page, LONG_NAME, "td.file .name") == 1
    expect(row.get_by_role("button", name=f"Delete {LONG_NAME}")).to_be_visible()
    expect(row).to_have_attribute("data-status", "failed", timeout=TRANSCRIBED_WITHIN_MS)
    assert lines_of(page, LONG_NAME, ".badge") == 1
    status_width = row.locator("td").nth(1).evaluate("c => c.getBoundingClientRect().width")
    file_width = row.locator("td.file").evaluate("c => c.getBoundingClientRect().width")
    assert status_width >= 100, (status_width, file_width)


def test_the_language_follows_a_swedish_browser_and_is_remembered(
    browser_context: BrowserContext, service: RunningService
) -> None:
    page = browser_context.new_page()
    page.add_init_script("Object.defineProperty(navigator, 'language', {get: () => 'sv-SE'})")
    page.goto(f"{service.url}/")
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.get_by_role("heading", name="Transkribera en fil")).to_be_visible()
    page.get_by_label("Språk").select_option("en")
    page.reload()
    expect(page.get_by_role("heading", name="Transcribe a file")).to_be_visible()


CONTRASTS = """() => {
  const rgb = (text) => {
    const [r, g, b, a = 1] = text.match(/[\\d.]+/g).map(Number);
    return { r, g, b, a };
  };
  const luminance = ({ r, g, b }) => {
    const [x, y, z] = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * x + 0.7152 * y + 0.0722 * z;
  };
  const ratio = (one, two) => {
    const [light, dark] = [luminance(one), luminance(two)].sort((p, q) => q - p);
    return (light + 0.05) / (dark + 0.05);
  };
  const backdrop = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const colour = rgb(getComputedStyle(e).backgroundColor);
      if (colour.a > 0) return colour;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const main = document.getElementById("main");
  for (const status of ["registered", "launching", "processing", "completed", "failed"]) {
    const badge = document.createElement("span");
    badge.className = `badge status-${status}`;
    main.append(badge);
  }
  document.getElementById("error-box").hidden = false;
  const selectors = [
    "body", "h1", ".tagline", "h2", "label[for=api-key]", ".hint", "code", "button.primary",
    "#key-forget", "#error-text", ".drop-title", "th", ".badge.status-registered",
    ".badge.status-launching", ".badge.status-processing", ".badge.status-completed",
    ".badge.status-failed",
  ];
  const ratios = {};
  for (const selector of selectors) {
    const element = document.querySelector(selector);
    ratios[selector] = ratio(rgb(getComputedStyle(element).color), backdrop(element));
  }
  const focused = document.activeElement;
  const outline = getComputedStyle(focused);
  ratios["focus outline"] = outline.outlineStyle === "none"
    ? 0 : ratio(rgb(outline.outlineColor), backdrop(focused.parentElement));
  return ratios;
}"""


def test_text_and_the_focus_outline_meet_wcag_aa_contrast(page: Page) -> None:
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Language")).to_be_focused()
    ratios: dict[str, float] = page.evaluate(CONTRASTS)
    text = {name: value for name, value in ratios.items() if name != "focus outline"}
    assert min(text.values()) >= 4.5, ratios
    assert ratios["focus outline"] >= 3.0, ratios


def test_a_diarized_transcript_shows_a_colour_per_speaker_and_downloads_their_names(
    page: Page, service: RunningService, tmp_path: Path
) -> None:
    """Issue 18: tick "Label speakers", upload a three-voice conversation, see the turns
    coloured by speaker, rename two speakers and get their names in the SRT and JSON."""
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from conversations import HUMAN_TALK, build_conversation

    talk = tmp_path / "talk.wav"
    build_conversation(audio(CLIP).parent, HUMAN_TALK, talk)
    save_key(page, service.api_key)
    page.get_by_label("Label speakers").check()
    page.get_by_label("Audio file").set_input_files(talk)
    row = page.locator("#jobs-body tr", has_text="talk.wav")
    expect(row).to_have_attribute("data-status", "completed", timeout=TRANSCRIBED_WITHIN_MS)
    row.get_by_role("button", name="Open the transcript of talk.wav").click()

    segments = page.locator("#segments button.segment")
    expect(segments.first).to_be_visible()
    chips = segments.locator(".speaker-chip").all_inner_texts()
    assert chips[0] == "S1"
    assert set(chips) == {"S1", "S2", "S3"}, chips
    first_colour = segments.first.evaluate("b => getComputedStyle(b).borderLeftColor")
    other = segments.filter(has=page.locator(".speaker-chip", has_text="S2")).first
    assert other.evaluate("b => getComputedStyle(b).borderLeftColor") != first_colour

    # Issue 29: paragraphs. Each speaker change starts one, shown as space before the row;
    # the rows stay one list of segment buttons (keyboard and screen reader as before).
    rows = page.locator("#segments > li.segment-row")
    starts = rows.evaluate_all("rows => rows.map(r => r.classList.contains('paragraph-start'))")
    assert len(starts) == segments.count()
    for index in range(1, len(chips)):
        if chips[index] != chips[index - 1]:
            assert starts[index], f"a new speaker at row {index} starts a paragraph"
    gap = rows.nth(starts.index(True)).evaluate("r => parseFloat(getComputedStyle(r).marginTop)")
    assert gap > 0

    page.get_by_label("Name of S1").fill("Läsaren")
    page.get_by_label("Name of S1").press("Enter")
    page.get_by_label("Name of S2").fill("Anna")
    page.get_by_label("Name of S2").blur()
    expect(page.locator("#status-message")).to_have_text("S2 is now called Anna.")
    expect(segments.first.locator(".speaker-chip")).to_have_text("Läsaren")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download SRT").click()
    srt = tmp_path / "named.srt"
    download_info.value.save_as(srt)
    text = srt.read_text(encoding="utf-8")
    assert "\nLäsaren: " in text
    assert "\nAnna: " in text
    assert "\nS3: " in text
    assert "\nS1: " not in text
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download JSON").click()
    saved = tmp_path / "named.json"
    download_info.value.save_as(saved)
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["diarization"]["speakers"] == ["Läsaren", "Anna", "S3"]
    assert data["segments"][0]["speaker"] == "Läsaren"
    assert [p["segment_ids"][0] for p in data["paragraphs"][1:]] == [
        data["segments"][i]["id"] for i, start in enumerate(starts) if start
    ], "the page's paragraphs are the JSON's"
    assert data["paragraphs"][0]["speaker"] == "Läsaren", "renamed in paragraphs too"


RENAME_IN_FILES = """async () => {
  const { renameInFile } = await import("/web/speakers.js");
  const vtt = "WEBVTT\\n\\n00:00:00.000 --> 00:00:02.000\\n<v S1>Hej</v>\\n\\n"
    + "00:00:02.000 --> 00:00:03.000\\n<v S2>Tja</v>\\n";
  const srt = "1\\n00:00:00,000 --> 00:00:02,000\\nS1: Hej\\n\\n"
    + "2\\n00:00:02,000 --> 00:00:03,000\\nS2: Tja\\n";
  const txt = "S1: Hej\\nS2: Tja\\n";
  return {
    vttPattern: renameInFile("vtt", vtt, new Map([["S1", "Anna $& Co <b>"]])),
    srtPattern: renameInFile("srt", srt, new Map([["S1", "Ke$1ha"]])),
    vttSwap: renameInFile("vtt", vtt, new Map([["S1", "S2"], ["S2", "S1"]])),
    txtChain: renameInFile("txt", txt, new Map([["S1", "S2"], ["S2", "Bo"]])),
  };
}"""


def test_speaker_names_are_written_into_files_literally_and_once(page: Page) -> None:
    """A name is text, never a replacement pattern ($&, $1), and is escaped in WebVTT;
    swapping two names swaps them (one pass, not one rename after another)."""
    files: dict[str, str] = page.evaluate(RENAME_IN_FILES)
    assert "<v Anna $&amp; Co &lt;b&gt;>Hej</v>" in files["vttPattern"]
    assert "<v S1>" not in files["vttPattern"]
    assert "00:00:00,000 --> 00:00:02,000\nKe$1ha: Hej\n" in files["srtPattern"]
    assert files["srtPattern"].count("-->") == 2
    assert "<v S2>Hej</v>" in files["vttSwap"]
    assert "<v S1>Tja</v>" in files["vttSwap"]
    assert files["txtChain"] == "S2: Hej\nBo: Tja\n"
