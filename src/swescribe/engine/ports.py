"""What the rest of the service needs from the engine: the Transcriber port.

The worker depends on this Protocol, not on the concrete Engine (which loads a model),
so tests pass a stand-in that transcribes without one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from swescribe.core.transcript import Transcript
from swescribe.engine.audio import OpenedAudio
from swescribe.engine.options import TranscribeOptions

ProgressCallback = Callable[[float, float], None]
"""Called as progress(seconds_done, seconds_total) while a file is transcribed."""


class Transcriber(Protocol):
    def transcribe(
        self,
        path: Path | OpenedAudio,
        options: TranscribeOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        """The audio file's transcript. progress may raise to stop the transcription
        (the exception comes out of this call).

        path may be the file opened ahead by engine.open_audio (the worker's prefetch:
        probed, its first window decoded); the transcription then starts on those
        samples. It is read, not closed: whoever opened it closes it."""
