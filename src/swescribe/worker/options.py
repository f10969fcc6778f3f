"""A job's request as the engine's options: the one place where they are mapped."""

from __future__ import annotations

from swescribe.core.request import JobRequest
from swescribe.engine import TranscribeOptions


def transcribe_options(
    request: JobRequest,
    *,
    max_seconds: float = 0.0,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
) -> TranscribeOptions:
    """What the engine is asked to do for request. max_seconds: the deployment's audio
    limit (0: none); min/max_speakers: bounds on a found speaker count (the CLI's)."""
    return TranscribeOptions(
        language=request.language,
        word_timestamps=request.word_timestamps,
        diarize=request.diarize,
        speakers=request.speakers if request.diarize else None,
        min_speakers=min_speakers,
        max_speakers=max_speakers,
        max_seconds=max_seconds,
        task=request.task,
        initial_prompt=request.prompt,
        hotwords=request.hotwords,
        temperature=request.temperature,
        multichannel=request.multichannel,
    )
