"""Which models a job may name: SWESCRIBE_ALLOWED_MODELS, else the configured model; names
only. The API checks at job creation and the worker again before it loads a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from swescribe.bootstrap import engine_factory
from swescribe.config import Settings
from swescribe.core.errors import InvalidOption, UnknownModel


def test_by_default_only_the_configured_model_is_offered() -> None:
    assert Settings.from_env({}).offered_models == ("auto",)
    assert Settings.from_env({"SWESCRIBE_MODEL": "kb-whisper-small"}).offered_models == (
        "kb-whisper-small",
    )


def test_a_configured_model_directory_is_never_offered_to_clients() -> None:
    assert Settings.from_env({"SWESCRIBE_MODEL": "/opt/models/mine"}).offered_models == ()


def test_the_allowed_list_replaces_the_default() -> None:
    env = {"SWESCRIBE_ALLOWED_MODELS": "kb-whisper-small, whisper-base"}
    assert Settings.from_env(env).offered_models == ("kb-whisper-small", "whisper-base")


@pytest.mark.parametrize("value", ["..", "kb-whisper-small,../etc", "/tmp", "models/x", "A"])
def test_the_allowed_list_takes_names_not_paths(value: str) -> None:
    with pytest.raises(InvalidOption, match="names, not paths"):
        Settings.from_env({"SWESCRIBE_ALLOWED_MODELS": value})


@pytest.mark.parametrize("model", ["..", "../../etc", "kb-whisper-large"])
def test_the_worker_refuses_a_stored_job_whose_model_is_not_offered(
    model: str, tmp_path: Path
) -> None:
    engines = engine_factory(Settings.from_env({}, data_dir=tmp_path))
    with pytest.raises(UnknownModel, match="not offered here; offered: auto"):
        engines(model)
