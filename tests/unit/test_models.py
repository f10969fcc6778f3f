"""Model registry: names, the offline model's assembly and checksum, fallbacks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from swescribe.core.errors import ModelUnavailable, UnknownModel
from swescribe.engine import models
from swescribe.engine.models import (
    OFFLINE_MODEL,
    ModelLocator,
    is_model_dir,
)


@pytest.fixture
def offline_locator(model_cache: Path) -> ModelLocator:
    return ModelLocator(model_cache, search_dirs=(), allow_download=False)


def test_offline_model_is_assembled_once_verified_and_reused(
    offline_locator: ModelLocator,
) -> None:
    first = offline_locator.resolve(OFFLINE_MODEL)
    assert first.name == OFFLINE_MODEL
    assert is_model_dir(first.path)
    assert (first.path / "model.bin").stat().st_size == 145_217_532
    assert (first.path / "tokenizer.json").is_file()
    mtime = (first.path / "model.bin").stat().st_mtime_ns
    again = offline_locator.resolve(OFFLINE_MODEL)
    assert (again.path / "model.bin").stat().st_mtime_ns == mtime, "not assembled twice"


def test_offline_model_with_wrong_checksum_is_refused_and_nothing_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "OFFLINE_MODEL_SHA256", "0" * 64)
    locator = ModelLocator(tmp_path, search_dirs=(), allow_download=False)
    with pytest.raises(ModelUnavailable, match="checksum"):
        locator.resolve(OFFLINE_MODEL)
    assert not (tmp_path / OFFLINE_MODEL).exists()
    assert list(tmp_path.iterdir()) == [], "no half-written staging directory remains"


@pytest.mark.parametrize("side_file", ["config.json", "tokenizer.json", "vocabulary.txt"])
def test_offline_model_with_a_tampered_side_file_is_refused_and_nothing_left(
    side_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """part1's data with one file changed by a byte (model.bin's part linked, not copied)."""
    real = models._package_data_dir(models.OFFLINE_PACKAGES[0])
    tampered = tmp_path / "part1-data"
    tampered.mkdir()
    (tampered / "model.bin.part1").symlink_to(real / "model.bin.part1")
    for name in models.OFFLINE_SIDE_FILES:
        shutil.copyfile(real / name, tampered / name)
    with (tampered / side_file).open("ab") as edit:
        edit.write(b" ")
    part1, package_data_dir = models.OFFLINE_PACKAGES[0], models._package_data_dir
    monkeypatch.setattr(
        models,
        "_package_data_dir",
        lambda package: tampered if package == part1 else package_data_dir(package),
    )
    cache = tmp_path / "cache"
    with pytest.raises(ModelUnavailable, match=f"{side_file} does not match the pinned checksum"):
        ModelLocator(cache, search_dirs=(), allow_download=False).resolve(OFFLINE_MODEL)
    assert list(cache.iterdir()) == [], "no half-written model remains"


def test_auto_falls_back_to_the_offline_model_with_a_warning(
    offline_locator: ModelLocator,
) -> None:
    resolved = offline_locator.resolve("auto")
    assert resolved.name == OFFLINE_MODEL
    assert resolved.warning is not None
    assert "kb-whisper-small" in resolved.warning
    assert "weaker" in resolved.warning


def test_kb_whisper_offline_and_not_cached_says_what_to_do(
    offline_locator: ModelLocator,
) -> None:
    with pytest.raises(ModelUnavailable) as caught:
        offline_locator.resolve("kb-whisper-small")
    message = str(caught.value)
    assert "SWESCRIBE_MODEL_DIRS" in message
    assert "--model whisper-base" in message


def test_kb_whisper_is_found_in_a_baked_model_directory(
    tmp_path: Path, offline_locator: ModelLocator
) -> None:
    baked = tmp_path / "baked"
    (baked / "kb-whisper-small").mkdir(parents=True)
    for name in ("model.bin", "config.json"):
        (baked / "kb-whisper-small" / name).write_bytes(b"x")
    locator = ModelLocator(tmp_path / "cache", search_dirs=(baked,), allow_download=False)
    resolved = locator.resolve("kb-whisper-small")
    assert resolved.path == baked / "kb-whisper-small"
    assert resolved.name == "kb-whisper-small"
    assert resolved.warning is None
    auto = locator.resolve("auto")
    assert auto.name == "kb-whisper-small", "auto prefers kb-whisper-small when present"


def test_a_model_directory_path_is_accepted(offline_locator: ModelLocator) -> None:
    directory = offline_locator.resolve(OFFLINE_MODEL).path
    resolved = offline_locator.resolve(str(directory))
    assert resolved.path == directory.resolve()
    assert resolved.source == "path"


def test_a_directory_without_model_files_is_refused(
    tmp_path: Path, offline_locator: ModelLocator
) -> None:
    with pytest.raises(ModelUnavailable, match=r"model\.bin"):
        offline_locator.resolve(str(tmp_path))


@pytest.mark.parametrize("name", ["whisper-huge", "kb-whisper-xl", "./no/such/dir", ""])
def test_unknown_model_names_list_the_known_ones(name: str, offline_locator: ModelLocator) -> None:
    with pytest.raises(UnknownModel, match="kb-whisper-small"):
        offline_locator.resolve(name)


def test_hf_hub_offline_turns_downloads_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not ModelLocator(tmp_path).allow_download
