"""The Lambda package (setup/lambda/build_lambda_package.py): reproducible, the three
handlers at its root, none of the engine's heavy dependencies, and importable by a bare
Python 3.12 with nothing but the package on sys.path, as the Lambda runtime imports it.

The build tests download the pinned wheels from PyPI (marker `package`: deselect them
with -m "not package"); the tests of the zip writer alone run offline."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO_ROOT

BUILDER = REPO_ROOT / "setup" / "lambda" / "build_lambda_package.py"
REQUIREMENTS = REPO_ROOT / "setup" / "lambda" / "requirements.txt"
HANDLERS = ("lambda_api", "lambda_process_upload", "lambda_janitor")
FORBIDDEN = ("faster_whisper", "ctranslate2", "av", "numpy")


def load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_lambda_package", BUILDER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_into(output_dir: Path) -> tuple[Path, str]:
    env = {name: value for name, value in os.environ.items() if name != "SOURCE_DATE_EPOCH"}
    result = subprocess.run(
        [sys.executable, str(BUILDER), "--output-dir", str(output_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    sha, path = result.stdout.strip().splitlines()[-1].split("  ", 1)
    return Path(path), sha


# --- offline: the pieces of the builder -----------------------------------------------------


def test_requirements_pin_every_package_with_a_hash() -> None:
    text = REQUIREMENTS.read_text()
    requirements = re.findall(
        r"^([A-Za-z0-9._-]+)(\S*) \\\n\s+--hash=sha256:([0-9a-f]{64})$", text, re.M
    )
    names = {name.lower() for name, _, _ in requirements}
    assert {
        "fastapi",
        "starlette",
        "pydantic",
        "pydantic-core",
        "pydantic-settings",
        "mangum",
        "httpx",
        "boto3",
    } <= names
    assert all(pin.startswith("==") for _, pin, _ in requirements)
    lines = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    assert len(lines) == len(requirements)
    assert not names & {"numpy", "av", "ctranslate2", "faster-whisper"}


def test_zip_timestamp_is_source_date_epoch_clamped_to_1980() -> None:
    builder = load_builder()
    assert builder.zip_timestamp({}) == (1980, 1, 1, 0, 0, 0)
    assert builder.zip_timestamp({"SOURCE_DATE_EPOCH": "0"}) == (1980, 1, 1, 0, 0, 0)
    assert builder.zip_timestamp({"SOURCE_DATE_EPOCH": "1700000000"}) == (2023, 11, 14, 22, 13, 20)


def test_zip_writer_gives_the_same_bytes_whatever_the_order_and_file_times(tmp_path: Path) -> None:
    builder = load_builder()
    files = []
    for index, name in enumerate(("b.py", "a/x.py", "a/y.txt")):
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content {index}\n")
        path.chmod(0o755 if index else 0o600)
        os.utime(path, (1_000_000_000 + index, 1_000_000_000 + index))
        files.append((name, path))
    date = (1980, 1, 1, 0, 0, 0)
    builder.write_zip(files, tmp_path / "one.zip", date)
    builder.write_zip(list(reversed(files)), tmp_path / "two.zip", date)
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        assert archive.namelist() == ["a/x.py", "a/y.txt", "b.py"]
        assert {info.external_attr >> 16 for info in archive.infolist()} == {0o100644}


def test_builder_leaves_out_caches_scripts_and_install_records() -> None:
    builder = load_builder()
    packaged = [
        "swescribe/config.py",
        "botocore/data/s3/2006-03-01/service-2.json.gz",
        "swescribe-0.1.0.dist-info/METADATA",
    ]
    left_out = [
        "swescribe/__pycache__/config.cpython-312.pyc",
        "bin/httpx",
        "swescribe-0.1.0.dist-info/RECORD",
        "swescribe-0.1.0.dist-info/direct_url.json",
        "swescribe-0.1.0.dist-info/INSTALLER",
    ]
    assert all(builder._is_packaged(Path(name)) for name in packaged)
    assert not any(builder._is_packaged(Path(name)) for name in left_out)


def test_builder_refuses_the_engine_dependencies() -> None:
    builder = load_builder()
    names = [f"{module}.py" for module in HANDLERS] + ["numpy/__init__.py"]
    with pytest.raises(builder.BuildError, match="numpy"):
        builder.check_entries(names)


# --- the real build (PyPI) -------------------------------------------------------------------


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return build_into(tmp_path_factory.mktemp("lambda-first"))


@pytest.mark.package
def test_package_builds_byte_identical_twice(package: tuple[Path, str], tmp_path: Path) -> None:
    path, sha = package
    version = load_builder().project_version()
    assert path.name == f"swescribe-lambda-{version}.zip"
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    again, sha_again = build_into(tmp_path)
    assert again != path
    assert sha_again == sha


@pytest.mark.package
def test_package_has_the_handlers_at_its_root_and_no_engine(package: tuple[Path, str]) -> None:
    path, _ = package
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    for handler in HANDLERS:
        assert f"{handler}.py" in names
    top_level = {name.split("/", 1)[0] for name in names}
    for module in FORBIDDEN:
        assert module not in top_level
        assert f"{module}.py" not in top_level
        assert not any(part.startswith(f"{module}-") for part in top_level), module
    for module in ("swescribe", "fastapi", "starlette", "pydantic", "pydantic_core", "mangum"):
        assert module in top_level
    assert {"pydantic_settings", "dotenv"} <= top_level, "config.py's settings model"
    assert {"httpx", "boto3", "botocore"} <= top_level
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    assert not any(name.startswith("bin/") for name in names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert any(name.endswith("cpython-312-x86_64-linux-gnu.so") for name in names)


@pytest.mark.package
@pytest.mark.skipif(
    sys.version_info[:2] != (3, 12) or platform.machine() != "x86_64" or sys.platform != "linux",
    reason="the package holds CPython 3.12 x86_64 Linux binaries (pydantic-core)",
)
def test_package_imports_in_a_clean_python(package: tuple[Path, str], tmp_path: Path) -> None:
    """What the Lambda runtime does: a bare interpreter, the package as the only extra path."""
    path, _ = package
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    unpacked = tmp_path / "task"
    with zipfile.ZipFile(path) as archive:
        archive.extractall(unpacked)
    probe = (
        "import sys\n"
        f"sys.path.insert(0, {str(unpacked)!r})\n"
        "import lambda_api, lambda_process_upload, lambda_janitor\n"
        "assert callable(lambda_api.handler)\n"
        "assert callable(lambda_process_upload.handler)\n"
        "assert callable(lambda_janitor.handler)\n"
        f"heavy = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from swescribe.config import Settings\n"
        "assert Settings.from_env({'SWESCRIBE_MAX_INSTANCES': '2'}).max_instances == 2\n"
        "import swescribe\n"
        f"assert swescribe.__file__.startswith({str(unpacked)!r}), swescribe.__file__\n"
        "print('imported')\n"
    )
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-c", probe],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip() == "imported"
