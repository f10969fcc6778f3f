"""A job's request as the engine's options: the one place where they are mapped."""

from __future__ import annotations

from collections.abc import Sequence

from swescribe.core.layout import SubtitleLayout
from swescribe.core.request import JobRequest
from swescribe.core.voices import Voiceprint
from swescribe.engine import TranscribeOptions


def transcribe_options(
    request: JobRequest,
    *,
    max_seconds: float = 0.0,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    voices: Sequence[Voiceprint] = (),
) -> TranscribeOptions:
    """What the engine is asked to do for request. max_seconds: the deployment's audio
    limit (0: none); min/max_speakers: bounds on a found speaker count (the CLI's);
    voices: the enrolled voices request.known_speakers chose (VoiceRegistry.chosen)."""
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
        known_voices=tuple(voices) if request.diarize else (),
        multichannel=request.multichannel,
    )


def subtitle_layout(request: JobRequest) -> SubtitleLayout:
    """How request's subtitles (srt, vtt) are laid out: the writers' one option."""
    return SubtitleLayout(request.max_line_width, request.max_lines, request.max_cue_seconds)
