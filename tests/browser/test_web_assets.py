"""The web page's files as `swescribe serve` serves them (no browser, no model): content
types, no caching, no key needed, and UI text complete in both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from swescribe.api import create_app
from swescribe.api.routes_web import SCRIPTS, WORKLETS
from swescribe.bootstrap import build_local_api, build_local_services
from swescribe.config import Settings

WEB = resources.files("swescribe.api").joinpath("web")


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data_dir: Path = tmp_path_factory.mktemp("web")
    settings = Settings.from_env({}, data_dir=data_dir, public_url="http://127.0.0.1:8000")
    app = create_app(build_local_api(settings, build_local_services(settings)))
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html; charset=utf-8"),
        *((f"/web/{name}", "text/javascript; charset=utf-8") for name in (*SCRIPTS, *WORKLETS)),
        ("/web/app.css", "text/css; charset=utf-8"),
    ],
)
def test_the_page_and_its_assets_load_without_a_key_uncached_with_their_types(
    http: httpx.Client, path: str, content_type: str
) -> None:
    response = http.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_every_file_the_page_links_is_served_and_nothing_else_is(http: httpx.Client) -> None:
    page = http.get("/").text
    linked = re.findall(r'(?:href|src)="([^"#]+)"', page)
    assert sorted(linked) == ["web/app.css", "web/app.js", "web/favicon.svg"]
    for path in linked:
        assert http.get(f"/{path}").status_code == 200
    imported = set()
    for script in SCRIPTS:
        text = http.get(f"/web/{script}").text
        imported |= set(re.findall(r'from "\./([\w.]+)"', text))
    assert imported == set(SCRIPTS) - {"app.js"}, "every module is imported, none is missing"
    worklets = set()
    for script in SCRIPTS:
        text = http.get(f"/web/{script}").text
        worklets |= set(re.findall(r'addModule\("web/([\w.-]+)"\)', text))
    assert worklets == set(WORKLETS), "every AudioWorklet is loaded from this origin's /web/"
    for worklet in WORKLETS:
        assert http.get(f"/web/{worklet}").status_code == 200
    unknown = http.get("/web/secrets.txt")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert http.get("/web/..%2Fapp.py").status_code == 404


def test_the_page_links_a_favicon_that_ships_with_the_package(http: httpx.Client) -> None:
    """Issue 27: a small SVG icon, linked from the page, served by the app, and inside
    the package data (pyproject's api/web/* glob) so a wheel carries it."""
    import tomllib

    page = http.get("/").text
    assert '<link rel="icon" href="web/favicon.svg" type="image/svg+xml">' in page
    icon = http.get("/web/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.text.lstrip().startswith("<svg")
    assert len(icon.content) < 2048
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    globs = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]
    assert any(Path("api/web/favicon.svg").match(glob) for glob in globs["swescribe"])


def test_the_page_names_its_language_and_loads_nothing_from_other_hosts(
    http: httpx.Client,
) -> None:
    page = http.get("/").text
    assert '<html lang="en">' in page
    for asset in ("index.html", "app.css", *SCRIPTS, *WORKLETS):
        text = WEB.joinpath(asset).read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f"{asset} reaches outside this server"


def _dictionary_keys(strings: str, lang: str) -> set[str]:
    block = re.search(rf"\n  {lang}: \{{\n(.*?)\n  \}},\n", strings, re.S)
    assert block is not None, f"no {lang} dictionary in strings.js"
    return set(re.findall(r"^    (\w+):", block.group(1), re.M))


def test_every_ui_string_exists_in_english_and_swedish() -> None:
    script = "\n".join(WEB.joinpath(name).read_text(encoding="utf-8") for name in SCRIPTS)
    strings = WEB.joinpath("strings.js").read_text(encoding="utf-8")
    page = WEB.joinpath("index.html").read_text(encoding="utf-8")
    english, swedish = _dictionary_keys(strings, "en"), _dictionary_keys(strings, "sv")
    used = set(re.findall(r'data-i18n(?:-html)?="(\w+)"', page))
    used |= set(re.findall(r'\bt\("(\w+)"', script))
    assert english == swedish
    assert used <= english, sorted(used - english)
    assert len(used) > 40
