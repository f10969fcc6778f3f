"""The offline model, loaded once per test session, and plain faster-whisper beside it.

Accuracy bounds compare the engine with plain faster-whisper (beam 5, temperature 0, the
same model files) run in the same process on the same machine: CTranslate2's int8
kernels differ between CPUs (AVX-512 or AVX2 only), so an absolute WER measured on one
machine fails on another, while both pipelines move together.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from swescribe.engine import Engine, ModelLocator
from swescribe.engine.diarization import DiarizerSpec
from swescribe.engine.models import load_whisper_model
from tests.conftest import speaker_model_dirs


class PlainFasterWhisper:
    """``WhisperModel.transcribe(path, language="sv", beam_size=5, temperature=0)`` on
    the engine's model files and device plan, each file's text computed once per session."""

    def __init__(self, engine: Engine) -> None:
        self._model = load_whisper_model(engine.model, engine.plan)
        self._texts: dict[Path, str] = {}

    def text(self, path: Path) -> str:
        if path not in self._texts:
            segments, _ = self._model.transcribe(
                str(path), language="sv", beam_size=5, temperature=0.0
            )
            self._texts[path] = " ".join(segment.text.strip() for segment in segments)
        return self._texts[path]


@pytest.fixture(scope="session")
def base_engine(model_cache: Path) -> Engine:
    locator = ModelLocator(model_cache, search_dirs=(), allow_download=False)
    diarization = DiarizerSpec(device="cpu", speaker_model_dirs=speaker_model_dirs())
    return Engine.load("whisper-base", locator, device="cpu", diarization=diarization)


@pytest.fixture(scope="session")
def plain_faster_whisper(base_engine: Engine) -> PlainFasterWhisper:
    return PlainFasterWhisper(base_engine)
