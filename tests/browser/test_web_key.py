"""The web page's key and the API origin in headless chromium (no model, no workers): the
key stays in the tab unless the user asks to remember it, the page runs under its CSP, and
an uploaded page opened from its audio link cannot run script on the API's origin."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.service import RunningService, start_service

pytestmark = pytest.mark.browser

READ_STORAGE = """() => ({
  session: sessionStorage.getItem("swescribe.apiKey"),
  local: localStorage.getItem("swescribe.apiKey"),
})"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(tmp_path_factory.mktemp("serve-web-key"), workers=0)
    yield running
    running.stop()


@pytest.fixture
def problems() -> list[str]:
    return []


def open_page(context: BrowserContext, service: RunningService, problems: list[str]) -> Page:
    page = context.new_page()
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
    page.goto(f"{service.url}/")
    return page


def save_key(page: Page, key: str, remember: bool = False) -> None:
    page.get_by_label("Your API key").fill(key)
    page.get_by_label("Remember the key on this device").set_checked(remember)
    page.get_by_role("button", name="Save key").click()


def test_a_saved_key_lives_in_its_tab_only_and_the_page_runs_under_its_csp(
    browser_context: BrowserContext, service: RunningService, problems: list[str]
) -> None:
    page = open_page(browser_context, service, problems)
    save_key(page, service.api_key)
    expect(page.locator("#key-state")).to_have_text("A key is saved for this tab.")
    expect(page.locator("#jobs-empty")).to_be_visible()  # the API answered the page
    assert page.evaluate(READ_STORAGE) == {"session": service.api_key, "local": None}
    page.reload()
    expect(page.get_by_label("Your API key")).to_have_value(service.api_key)
    other_tab = open_page(browser_context, service, problems)
    expect(other_tab.get_by_label("Your API key")).to_have_value("")
    expect(other_tab.locator("#key-state")).to_have_text("No key saved yet.")
    assert problems == [], "no script error and no CSP violation"


def test_remember_on_this_device_keeps_the_key_for_new_tabs_until_it_is_forgotten(
    browser_context: BrowserContext, service: RunningService, problems: list[str]
) -> None:
    page = open_page(browser_context, service, problems)
    save_key(page, service.api_key, remember=True)
    expect(page.locator("#key-state")).to_have_text("A key is remembered on this device.")
    other_tab = open_page(browser_context, service, problems)
    expect(other_tab.get_by_label("Your API key")).to_have_value(service.api_key)
    expect(other_tab.get_by_label("Remember the key on this device")).to_be_checked()
    other_tab.get_by_label("Remember the key on this device").uncheck()
    assert other_tab.evaluate(READ_STORAGE) == {"session": service.api_key, "local": None}
    other_tab.get_by_role("button", name="Forget key").click()
    assert other_tab.evaluate(READ_STORAGE) == {"session": None, "local": None}
    assert problems == []


def test_an_uploaded_page_opened_from_its_audio_link_runs_no_script_on_the_api_origin(
    browser_context: BrowserContext, service: RunningService, problems: list[str]
) -> None:
    evil = b"<!doctype html><script>localStorage.setItem('pwned', document.domain)</script>"
    with service.client() as http:
        job = http.post("/v1/jobs", json={"filename": "evil.html"}).json()
        assert httpx.put(job["upload"]["url"], content=evil, timeout=10).status_code == 200
        link = http.get(f"/v1/jobs/{job['job_id']}/audio-link").json()["url"]
    page = open_page(browser_context, service, problems)
    with page.expect_download() as download:  # a download, never a page of this origin
        page.evaluate("url => { window.location.href = url; }", link)
    assert download.value.suggested_filename == "evil.html"
    svg = page.context.new_page()
    with pytest.raises(Exception, match="Download is starting"):
        svg.goto(link)
    assert page.evaluate("() => localStorage.getItem('pwned')") is None
