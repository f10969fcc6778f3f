"""The real engine on audio opened ahead (the worker's prefetch): the same transcript as
from the file's path."""

from __future__ import annotations

import pytest

from swescribe.engine import Engine, TranscribeOptions, open_audio
from tests.conftest import audio

pytestmark = pytest.mark.model


def test_audio_opened_ahead_transcribes_as_the_file_does(base_engine: Engine) -> None:
    path = audio("cv_18711295.wav")
    options = TranscribeOptions(language="sv")
    from_path = base_engine.transcribe(path, options)
    opened = open_audio(path, options.window_seconds)
    from_opened = base_engine.transcribe(opened, options)
    opened.close()
    assert from_opened.text == from_path.text
    assert from_opened.duration == from_path.duration
    assert [(s.start, s.end) for s in from_opened.segments] == [
        (s.start, s.end) for s in from_path.segments
    ]


def test_audio_opened_with_other_windows_is_decoded_again_from_its_path(
    base_engine: Engine,
) -> None:
    path = audio("cv_18742722.wav")
    options = TranscribeOptions(language="sv")
    opened = open_audio(path, window_seconds=60)
    assert base_engine.transcribe(opened, options).text == base_engine.transcribe(path).text
