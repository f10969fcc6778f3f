"""`swescribe models fetch speakers`: the offline speaker model without installing
Resemblyzer. The weights come out of Resemblyzer's wheel, downloaded with the user's pip
(index settings honoured), both pinned by sha256, stored atomically in the speaker model
directory, and found there before an installed package."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from swescribe.core.errors import ModelUnavailable
from swescribe.engine.diarization import weights
from swescribe.engine.diarization.weights import (
    WEIGHTS_SHA256,
    fetch_speaker_model,
    fetched_weights,
    resemblyzer_weights,
)
from tests.conftest import audio, speaker_model_dirs
from tests.support import free_port


def swescribe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swescribe", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def env_for(model_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "SWESCRIBE_SPEAKER_MODEL_DIR": str(model_dir), **extra}


def offline_pip(**extra: str) -> dict[str, str]:
    """pip with no configuration files (no mirror, no find-links), no cache, no retries."""
    return {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_CACHE_DIR": "1", "PIP_RETRIES": "0", **extra}


def fake_wheel(folder: Path, weights_bytes: bytes) -> Path:
    """A wheel named like Resemblyzer 0.1.4's, holding other weights."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "Resemblyzer-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("resemblyzer/__init__.py", "")
        archive.writestr("resemblyzer/pretrained.pt", weights_bytes)
        info = "Resemblyzer-0.1.4.dist-info"
        archive.writestr(
            f"{info}/METADATA", "Metadata-Version: 2.1\nName: Resemblyzer\nVersion: 0.1.4\n"
        )
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return wheel


def assert_one_error_line(done: subprocess.CompletedProcess[str], *says: str) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("swescribe: error: "), lines
    for text in says:
        assert text in lines[0], lines[0]
    return lines[0]


def test_fetch_speakers_downloads_the_pinned_weights_once_and_replaces_a_tampered_file(
    tmp_path: Path,
) -> None:
    target = fetched_weights(tmp_path)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the weights")  # a tampered or torn earlier copy
    first = swescribe(env_for(tmp_path), "models", "fetch", "speakers")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"speaker model fetched: {target}"
    with target.open("rb") as handle:
        assert hashlib.file_digest(handle, "sha256").hexdigest() == WEIGHTS_SHA256
    assert sorted(p.name for p in target.parent.iterdir()) == ["pretrained.pt"], "no leftovers"
    stamp = target.stat().st_mtime_ns
    again = swescribe(env_for(tmp_path, **offline_pip(PIP_NO_INDEX="1")), "models", "fetch",
                      "speakers")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"speaker model already present: {target}"
    assert target.stat().st_mtime_ns == stamp, "a valid copy is left alone"
    listed = swescribe(env_for(tmp_path), "models", "list")
    assert listed.returncode == 0, listed.stderr
    assert f"speakers\tpresent: {target}" in listed.stdout.splitlines()


def test_fetch_with_an_unreachable_index_says_so_in_one_line(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/simple/"
    done = swescribe(env_for(tmp_path, **offline_pip(PIP_INDEX_URL=closed)), "models", "fetch",
                     "speakers")  # fmt: skip
    assert_one_error_line(done, "could not download Resemblyzer 0.1.4", "PIP_INDEX_URL")
    assert not fetched_weights(tmp_path).exists()


def test_fetch_refuses_a_wheel_that_is_not_the_pinned_one(tmp_path: Path) -> None:
    links = tmp_path / "links"
    fake_wheel(links, b"other weights")
    env = env_for(tmp_path / "models", **offline_pip(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(links)))
    done = swescribe(env, "models", "fetch", "speakers")
    assert_one_error_line(done, "could not download", "HASH")
    assert not fetched_weights(tmp_path / "models").exists()


def test_weights_that_are_not_the_pinned_ones_are_refused_even_from_a_pinned_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = fake_wheel(tmp_path / "links", b"other weights")
    with wheel.open("rb") as handle:
        monkeypatch.setattr(
            weights, "RESEMBLYZER_WHEEL_SHA256", hashlib.file_digest(handle, "sha256").hexdigest()
        )
    for name, value in offline_pip(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheel.parent)).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ModelUnavailable, match="does not match its pinned sha256; not used"):
        fetch_speaker_model(tmp_path / "models")
    assert not fetched_weights(tmp_path / "models").exists()
    assert list((tmp_path / "models").rglob("*.pt")) == [], "nothing half-written is left"


def pinned_copy(into: Path) -> Path:
    """The machine's verified weights (fetched by pytest_sessionstart) copied to into."""
    source = resemblyzer_weights(speaker_model_dirs())
    target = fetched_weights(into)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    return target


def test_the_loader_prefers_the_fetched_weights_and_refuses_tampered_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched = pinned_copy(tmp_path / "good")
    assert resemblyzer_weights((tmp_path / "empty", tmp_path / "good")) == fetched
    tampered = fetched_weights(tmp_path / "bad")
    tampered.parent.mkdir(parents=True)
    tampered.write_bytes(fetched.read_bytes()[:-1] + b"\0")
    assert resemblyzer_weights((tmp_path / "bad", tmp_path / "good")) == fetched
    monkeypatch.syspath_prepend(str(shadowed_resemblyzer(tmp_path)))
    with pytest.raises(ModelUnavailable) as refused:
        resemblyzer_weights((tmp_path / "bad",))
    assert f"{tampered} does not match its pinned sha256" in str(refused.value)
    assert "run: swescribe models fetch speakers" in str(refused.value)


def shadowed_resemblyzer(tmp_path: Path) -> Path:
    """A folder with an importable `resemblyzer` that has no weights: put first on the
    path, it hides any installed one."""
    shadow = tmp_path / "site"
    (shadow / "resemblyzer").mkdir(parents=True)
    (shadow / "resemblyzer" / "__init__.py").write_text("")
    return shadow


def without_resemblyzer(tmp_path: Path) -> dict[str, str]:
    """The environment of a `swescribe` that has no installed Resemblyzer weights."""
    shadow = shadowed_resemblyzer(tmp_path)
    path = os.pathsep.join(filter(None, [str(shadow), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "SWESCRIBE_DATA_DIR": str(tmp_path / "d")}


@pytest.mark.model
def test_a_diarization_runs_on_the_fetched_weights_without_resemblyzer(tmp_path: Path) -> None:
    models = tmp_path / "models"
    pinned_copy(models)
    env = env_for(
        models, **without_resemblyzer(tmp_path), SWESCRIBE_DIARIZATION_MODEL="resemblyzer"
    )
    done = swescribe(env, "transcribe", str(audio("cv_18742722.wav")), "--diarize", "--model",
                     "whisper-base", "--format", "json", "-o", str(tmp_path / "out"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "out" / "cv_18742722.json").read_text(encoding="utf-8"))
    assert data["diarization"]["model"] == "resemblyzer-ge2e"
    assert {s["speaker"] for s in data["segments"]} == {"S1"}


def test_without_any_speaker_model_the_error_says_to_fetch_it(tmp_path: Path) -> None:
    env = env_for(tmp_path / "empty", **without_resemblyzer(tmp_path))
    done = swescribe(env, "speakers", "add", "Anna", str(audio("cv_18742722.wav")))
    assert_one_error_line(done, "run: swescribe models fetch speakers")
