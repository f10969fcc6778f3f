"""Shared test fixtures: where the Swedish test audio lives, and a model cache per session."""

from __future__ import annotations

import os
import shutil
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
