"""The wheel as people install it (issue 30, item 1): built from the tracked sources only,
installed with its dependencies into a fresh venv outside the checkout, and run from
elsewhere with no PYTHONPATH, so a file the package forgot (a new asset directory, a data
file) fails here rather than for a user. Also `twine check` on the wheel and the sdist.

The first run on a machine downloads the dependencies; after .ci/run's install pip's
cache has them, and the whole module takes a few minutes (most of it pip)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from tests.conftest import REPO_ROOT, audio, reference
from tests.support import free_port
from tests.wer import word_error_rate

pytestmark = [pytest.mark.wheel, pytest.mark.model]

CLIP = "lattlast_stts"
CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
"""What a browser needs each kind of asset to be served as (module scripts refuse others)."""


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _pyproject_version() -> str:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wheel")
    assert not path.resolve().is_relative_to(REPO_ROOT), "the install must be outside the checkout"
    return path


@pytest.fixture(scope="module")
def tracked_sources(workspace: Path) -> Path:
    """The files git tracks, and nothing else: an untracked file in the checkout (a
    forgotten `git add`) cannot make the wheel look complete."""
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    listed = _run("git", "ls-files", "-z", cwd=REPO_ROOT).split("\0")
    copy = workspace / "source"
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


@pytest.fixture(scope="module")
def wheel(tracked_sources: Path, workspace: Path) -> Path:
    dist = workspace / "dist"
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "-w",
        dist,
        ".",
        cwd=tracked_sources,
    )
    (built,) = dist.glob("swescribe-*.whl")
    return built


@pytest.fixture(scope="module")
def clean_env() -> dict[str, str]:
    """This environment without what would let the checkout leak in: no PYTHONPATH, no
    active venv, no SWESCRIBE_ settings of whoever runs the tests."""
    hidden = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    return {
        key: value
        for key, value in os.environ.items()
        if key not in hidden and not key.startswith("SWESCRIBE_")
    }


@dataclass(frozen=True)
class Installed:
    bin: Path
    env: dict[str, str]
    cwd: Path

    def run(self, program: str, *args: str) -> str:
        return _run(self.bin / program, *args, cwd=self.cwd, env=self.env)


@pytest.fixture(scope="module")
def installed(wheel: Path, workspace: Path, clean_env: dict[str, str]) -> Installed:
    """The wheel and its dependencies (from the package index) in a fresh venv."""
    venv = workspace / "venv"
    elsewhere = workspace / "elsewhere"
    elsewhere.mkdir()
    _run(sys.executable, "-m", "venv", venv, cwd=elsewhere, env=clean_env)
    env = {**clean_env, "PATH": f"{venv / 'bin'}{os.pathsep}{clean_env.get('PATH', '')}"}
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel, cwd=elsewhere, env=env)
    return Installed(venv / "bin", env, elsewhere)


@dataclass
class Serve:
    url: str
    api_key: str
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def serve(installed: Installed, workspace: Path) -> Iterator[Serve]:
    data_dir = workspace / "data"
    data_dir.mkdir()
    log = workspace / "serve.log"
    port = free_port()
    env = {
        **installed.env,
        "SWESCRIBE_DATA_DIR": str(data_dir),
        "SWESCRIBE_MODEL": "whisper-base",
        "HF_HUB_OFFLINE": "1",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [installed.bin / "swescribe", "serve", "--port", str(port), "--workers", "1"],
            cwd=installed.cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, f"serve exited: {log.read_text(errors='replace')}"
        assert time.monotonic() < deadline, f"serve never answered: {log.read_text()}"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    api_key = (data_dir / "local-api-key").read_text().strip()
    yield Serve(url, api_key, process, log)
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_the_wheel_carries_every_tracked_file_of_the_package(
    wheel: Path, tracked_sources: Path
) -> None:
    package = tracked_sources / "src"
    tracked = {
        path.relative_to(package).as_posix()
        for path in (package / "swescribe").rglob("*")
        if path.is_file()
    }
    with zipfile.ZipFile(wheel) as archive:
        carried = set(archive.namelist())
    assert sorted(tracked - carried) == []


def test_the_wheel_and_the_sdist_pass_twine_check(
    wheel: Path, tracked_sources: Path, workspace: Path
) -> None:
    sdists = workspace / "sdist"
    _run(sys.executable, "-m", "build", "--sdist", "--outdir", sdists, ".", cwd=tracked_sources)
    (sdist,) = sdists.glob("swescribe-*.tar.gz")
    checked = _run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist, cwd=workspace)
    assert checked.count("PASSED") == 2, checked


def test_version_of_the_installed_command_is_its_metadata_and_pyproject(
    installed: Installed,
) -> None:
    metadata = installed.run(
        "python", "-c", "import importlib.metadata as m; print(m.version('swescribe'))"
    ).strip()
    assert metadata == _pyproject_version()
    assert installed.run("swescribe", "--version").strip() == f"swescribe, version {metadata}"
    where = installed.run("python", "-c", "import swescribe; print(swescribe.__file__)")
    assert not Path(where.strip()).resolve().is_relative_to(REPO_ROOT), "the checkout leaked in"


def test_healthz_of_the_installed_serve_reports_its_version(serve: Serve) -> None:
    health = httpx.get(f"{serve.url}/healthz").json()
    assert health["status"] == "ok"
    assert health["version"] == _pyproject_version()


def _linked(html: str) -> set[str]:
    return set(re.findall(r'(?:href|src)="([^"#]+)"', html))


def _imported(script: str) -> set[str]:
    """What a module script loads: its imports and its AudioWorklet modules."""
    return set(re.findall(r'(?:from|import)\s*"([^"]+)"', script)) | set(
        re.findall(r'addModule\("([^"]+)"\)', script)
    )


def _assert_served(http: httpx.Client, url: str) -> httpx.Response:
    response = http.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    suffix = Path(httpx.URL(url).path).suffix or ".html"
    expected = CONTENT_TYPES.get(suffix)
    assert expected is not None, f"{url}: an asset of a kind this test does not know"
    assert response.headers["content-type"].split(";")[0] == expected, url
    return response


def test_serve_answers_the_page_and_every_asset_it_names(serve: Serve) -> None:
    """The web page, /docs and /redoc, and everything they load, transitively: each
    module's imports and worklets too, as a browser would fetch them."""
    seen: set[str] = set()
    with httpx.Client(timeout=30) as http:
        for page in ("/", "/docs", "/redoc"):
            page_url = f"{serve.url}{page}"
            pending = [
                urljoin(page_url, link) for link in _linked(_assert_served(http, page_url).text)
            ]
            while pending:
                url = pending.pop()
                if url in seen:
                    continue
                seen.add(url)
                assert url.startswith(serve.url), f"{page} loads {url} from elsewhere"
                response = _assert_served(http, url)
                if url.endswith(".js") and "/docs/assets/" not in url:
                    # Module specifiers are relative to the script; a worklet's to the page.
                    for name in _imported(response.text):
                        base = page_url if name.startswith("web/") else url
                        pending.append(urljoin(base, name))
    names = {httpx.URL(url).path for url in seen}
    assert {"/web/app.js", "/web/app.css", "/web/favicon.svg"} <= names
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/redoc.standalone.js"} <= names
    assert len([name for name in names if name.endswith(".js")]) >= 10, sorted(names)


def test_serve_from_the_wheel_transcribes_swedish(serve: Serve) -> None:
    clip = audio(f"{CLIP}.wav")
    with clip.open("rb") as file:
        response = httpx.post(
            f"{serve.url}/v1/audio/transcriptions",
            headers={"Authorization": f"Bearer {serve.api_key}"},
            files={"file": (clip.name, file, "audio/wav")},
            data={"model": "whisper-1", "response_format": "json"},
            timeout=300,
        )
    assert response.status_code == 200, f"{response.text}\n{serve.log.read_text()[-3000:]}"
    text = response.json()["text"]
    assert word_error_rate(reference(CLIP), text) <= 0.5, text
