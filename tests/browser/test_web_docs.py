"""/docs and /redoc in chromium with every other host unreachable (issue 27): both render
the API from the assets the package ships, under their CSP, with no request elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from swescribe.api import create_app
from swescribe.bootstrap import build_local_api, build_local_services
from swescribe.config import Settings
from tests.support import free_port, serving

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Route


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("docs")
    port = free_port()
    settings = Settings.from_env({}, data_dir=data_dir, public_url=f"http://127.0.0.1:{port}")
    with serving(
        create_app(build_local_api(settings, build_local_services(settings))), port
    ) as url:
        yield url


@pytest.mark.parametrize(
    ("page", "title"),
    [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")],
)
def test_the_docs_page_renders_with_no_host_but_this_one(
    browser_context: BrowserContext, api_url: str, page: str, title: str
) -> None:
    elsewhere: list[str] = []
    refused: list[str] = []

    def offline(route: Route) -> None:
        if route.request.url.startswith(api_url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    browser_context.route("**/*", offline)
    tab = browser_context.new_page()
    tab.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    tab.goto(f"{api_url}{page}")
    heading = tab.locator(title).first
    heading.wait_for(timeout=30_000)
    assert "swescribe" in heading.inner_text()
    assert elsewhere == []
    # ReDoc's "powered by" logo names its CDN; the CSP (img-src 'self') stops it before
    # any request. Every script and style the page runs on is allowed.
    assert [text for text in refused if "Loading the image" not in text] == []
