"""/docs and /redoc work with no network (issue 27): each page names no other host, and
every script, style and icon it names is served by the app itself, from files that ship
in the wheel."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from swescribe.api import create_app
from swescribe.api.routes_docs import ASSETS
from swescribe.bootstrap import build_local_api, build_local_services
from swescribe.config import Settings
from tests.conftest import REPO_ROOT
from tests.support import free_port, serving

_LINKED = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""")


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("docs")
    port = free_port()
    settings = Settings.from_env({}, data_dir=data_dir, public_url=f"http://127.0.0.1:{port}")
    app = create_app(build_local_api(settings, build_local_services(settings)))
    with serving(app, port) as url:
        yield url


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_page_names_no_other_host_and_each_asset_it_names_is_served(
    api_url: str, page: str
) -> None:
    with httpx.Client(base_url=api_url, timeout=10) as http:
        html = http.get(page)
        assert html.status_code == 200
        named = [a or b for a, b in _LINKED.findall(html.text)]
        assert named, html.text
        assert not re.search(r"https?://|//[a-z]", html.text), html.text
        policy = html.headers["content-security-policy"]
        assert "http" not in policy, policy
        assets = [link for link in named if not link.startswith("/openapi.json")]
        assert len(assets) >= 2, named  # the script and the icon at least
        for link in assets:
            served = http.get(urljoin(api_url + page, link))
            assert served.status_code == 200, link
            assert len(served.content) > 500, link
            assert urlsplit(str(served.url)).netloc == urlsplit(api_url).netloc
        assert http.get("/openapi.json").status_code == 200


def test_an_unknown_docs_asset_is_404(api_url: str) -> None:
    with httpx.Client(base_url=api_url, timeout=10) as http:
        assert http.get("/docs/assets/../../pyproject.toml").status_code == 404
        assert http.get("/docs/assets/LICENSE-redoc").status_code == 404


def test_the_package_data_ships_every_docs_asset_and_its_licences() -> None:
    """The wheel takes package data by pyproject.toml's globs (a wheel built with
    `pip wheel .` lists them all under swescribe/api/docs_assets/; building one here
    would need a newer setuptools from the network)."""
    globs = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["swescribe"]
    folder = REPO_ROOT / "src" / "swescribe" / "api" / "docs_assets"
    shipped = {name for name in ASSETS} | {
        "LICENSE-swagger-ui",
        "NOTICE-swagger-ui",
        "swagger-ui-bundle.js.LICENSE.txt",
        "LICENSE-redoc",
        "redoc.standalone.js.LICENSE.txt",
    }
    for name in sorted(shipped):
        assert (folder / name).is_file(), name
        path = f"api/docs_assets/{name}"
        assert any(fnmatch.fnmatch(path, glob) for glob in globs), (path, globs)
