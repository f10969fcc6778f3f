"""Shared test fixtures: where the Swedish test audio lives, a model cache per session, and
the offline speaker model, fetched once per machine when it is missing."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
AUDIO_DIR = REPO_ROOT.parent / "shared" / "audio" / "sv"


COMMON_VOICE_CLIPS = (
    "cv_18711295",
    "cv_18716987",
    "cv_18733516",
    "cv_18742722",
    "cv_18746434",
    "cv_18746511",
    "cv_18748646",
)
"""The Common Voice clips of ../shared/audio/sv (SOURCES.md), human speech with references."""


def audio(name: str) -> Path:
    """A clip from ../shared/audio/sv (never copied into the repo)."""
    path = AUDIO_DIR / name
    if not path.exists():
        message = f"test audio {path} is not present (../shared must sit beside the repo)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must not go green by skipping the real transcriptions
        pytest.skip(message)
    return path


def require_tool(name: str, install: str) -> str:
    """A program the test needs (its path): a failure in CI, which installs it (.ci/run),
    a clear skip elsewhere."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed ({install})"
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def reference(name: str) -> str:
    return (AUDIO_DIR / f"{name}.txt").read_text(encoding="utf-8").strip()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def speaker_model_dirs() -> tuple[Path, ...]:
    """Where the tests' processes find the offline speaker model's fetched weights: the
    user's speaker model directory (SWESCRIBE_SPEAKER_MODEL_DIR or ~/.cache/swescribe/models),
    as `swescribe` itself looks, filled by pytest_sessionstart."""
    from swescribe.config import Settings

    return Settings.from_env().speaker_model_dirs


def pytest_sessionstart(session: pytest.Session) -> None:
    """`swescribe models fetch speakers`, once per machine: `pip install -e '.[dev]'` is
    all the tests need. Offline and without it, the tests that diarize say why they fail."""
    from swescribe.config import Settings
    from swescribe.core.errors import ModelUnavailable
    from swescribe.engine.diarization.weights import fetch_speaker_model, resemblyzer_weights

    try:
        resemblyzer_weights(speaker_model_dirs())
    except ModelUnavailable:
        try:
            fetch_speaker_model(Settings.from_env().speaker_model_dir)
        except ModelUnavailable as error:
            print(f"tests: the offline speaker model is missing: {error}", file=sys.stderr)
