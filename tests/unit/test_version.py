"""One version: pyproject's, as the package metadata carries it (issue 30, item 1)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _pyproject_version() -> str:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def _installed_as(version: str, site: Path) -> dict[str, str]:
    """An environment in which the metadata found first says swescribe is `version`: a
    dist-info ahead of everything else on the path, as an installed wheel's would be."""
    dist_info = site / f"swescribe-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: swescribe\nVersion: {version}\n", encoding="utf-8"
    )
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO_ROOT / "src")])}


def test_version_flag_and_dunder_version_report_the_package_metadata(tmp_path: Path) -> None:
    env = _installed_as("9.8.7", tmp_path / "site")
    flag = subprocess.run(
        [sys.executable, "-m", "swescribe", "--version"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    dunder = subprocess.run(
        [sys.executable, "-c", "import swescribe; print(swescribe.__version__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert flag.stdout.strip() == "swescribe, version 9.8.7"
    assert dunder.stdout.strip() == "9.8.7"


def test_pyproject_version_is_the_newest_release_in_the_changelog() -> None:
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.M)
    assert released, "CHANGELOG.md has no release heading `## [X.Y.Z] - YYYY-MM-DD`"
    assert released[0] == _pyproject_version()
    assert changelog.index("## [Unreleased]") < changelog.index(f"## [{released[0]}]")


def test_a_source_tree_never_installed_says_its_version_is_unknown(tmp_path: Path) -> None:
    """No metadata, no guess: `0+unknown` sorts below every release (PEP 440). The
    package alone is copied: an editable install leaves `src/swescribe.egg-info`, whose
    metadata Python would find beside it."""
    source = tmp_path / "src"
    shutil.copytree(REPO_ROOT / "src" / "swescribe", source / "swescribe")
    without_site_packages = subprocess.run(
        [sys.executable, "-S", "-c", "import swescribe; print(swescribe.__version__)"],
        env={**os.environ, "PYTHONPATH": str(source)},
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert without_site_packages.stdout.strip() == "0+unknown"
