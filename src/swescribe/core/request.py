"""What a client asks of one transcription: JobRequest, every option declared once.

The HTTP schemas, the OpenAI form fields and the CLI take their bounds from the
constants here; the worker turns a request into engine options in one function
(worker.options.transcribe_options). A new option is a field here, its mapping there,
and the surfaces that must name it (API schema, CLI flag, client).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from swescribe.core.errors import InvalidRequest
from swescribe.core.formats import FORMATS
from swescribe.core.layout import DEFAULT_LINE_WIDTH, DEFAULT_LINES, layout_problem
from swescribe.core.redaction import parse_kinds

TASKS = ("transcribe", "translate")
"""What Whisper does with the speech: write it down, or translate it into English."""
LANGUAGE_PATTERN = r"^[a-z]{2,3}$|^auto$"
"""An ISO 639-1 (or -3) code, or "auto" to detect the language."""
MODEL_NAME_PATTERN = r"^[a-z0-9.-]+$"
MAX_MODEL_NAME_CHARS = 64
MAX_PROMPT_CHARS = 2000
"""Whisper reads about the last 220 tokens of a prompt; more is refused, not cut silently."""
MAX_HOTWORDS_CHARS = 500
MAX_SPEAKERS = 32
MAX_KNOWN_SPEAKERS = 100
MAX_SPEAKER_NAME_CHARS = 64
MIN_TEMPERATURE = 0.0
MAX_TEMPERATURE = 1.0


@dataclass(frozen=True)
class JobRequest:
    """Every transcription option of a job, validated and normalised when made."""

    language: str = "sv"
    model: str | None = None
    """Model asked for (None: the deployment's default); the one used is Job.model_used."""
    formats: tuple[str, ...] = FORMATS
    word_timestamps: bool = False
    diarize: bool = False
    """Label speakers S1, S2, … (a speaker count implies it)."""
    speakers: int | None = None
    """The number of speakers when the client knows it."""
    task: str = "transcribe"
    """"transcribe", or "translate" (Swedish speech to English text)."""
    prompt: str | None = None
    """Custom vocabulary as an initial prompt: text the model reads before the audio."""
    hotwords: str | None = None
    """Custom vocabulary as faster-whisper hotwords: words to listen for."""
    temperature: float | None = None
    """A sampling temperature (OpenAI's parameter); None: the engine's decoding."""
    known_speakers: tuple[str, ...] | None = None
    """Enrolled voices (names or ids) to label speakers with when diarizing: None, all
    of the key's; (): none. Naming some implies diarize."""
    multichannel: bool = False
    """Transcribe each channel on its own (one party per channel, as calls are recorded),
    segments labelled with their `channel` and merged in time order; a mono file is
    transcribed as without it."""
    max_line_width: int = DEFAULT_LINE_WIDTH
    """Subtitles (srt, vtt): the most characters on a line (a longer word stands alone)."""
    max_lines: int = DEFAULT_LINES
    """Subtitles: the most lines in a cue."""
    max_cue_seconds: float | None = None
    """Subtitles: the longest a cue lasts where word timings allow; None: a segment's length."""
    redact: tuple[str, ...] = ()
    """The kinds of personal data (core.redaction.REDACTION_KINDS) replaced by tags in
    every result before it is stored; (): none."""

    def __post_init__(self) -> None:
        normalised = {
            "formats": tuple(dict.fromkeys(self.formats)),
            "diarize": self.diarize or self.speakers is not None or bool(self.known_speakers),
            "known_speakers": None
            if self.known_speakers is None
            else tuple(dict.fromkeys(n.strip() for n in self.known_speakers if n.strip())),
            "prompt": (self.prompt or "").strip() or None,
            "hotwords": (self.hotwords or "").strip() or None,
            "redact": parse_kinds(self.redact) if self.redact else (),
        }
        for name, value in normalised.items():
            object.__setattr__(self, name, value)
        _check(self)


def _check(request: JobRequest) -> None:
    """Refuse, with a reason, a request that cannot work (a too-long prompt would be cut
    by the model without a word)."""
    if not re.match(LANGUAGE_PATTERN, request.language):
        raise InvalidRequest(f"language {request.language!r} is not an ISO 639-1 code or auto")
    if request.model is not None and not (
        len(request.model) <= MAX_MODEL_NAME_CHARS and re.match(MODEL_NAME_PATTERN, request.model)
    ):
        raise InvalidRequest(f"model {request.model!r} is not a model name")
    unknown = [f for f in request.formats if f not in FORMATS]
    if unknown or not request.formats:
        raise InvalidRequest(f"formats must be a non-empty subset of {', '.join(FORMATS)}")
    if request.task not in TASKS:
        raise InvalidRequest(f"task must be one of {', '.join(TASKS)}, not {request.task!r}")
    if request.prompt and len(request.prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequest(f"prompt is longer than {MAX_PROMPT_CHARS} characters")
    if request.hotwords and len(request.hotwords) > MAX_HOTWORDS_CHARS:
        raise InvalidRequest(f"hotwords is longer than {MAX_HOTWORDS_CHARS} characters")
    if request.speakers is not None and not 1 <= request.speakers <= MAX_SPEAKERS:
        raise InvalidRequest(f"speakers must be between 1 and {MAX_SPEAKERS}")
    known = request.known_speakers or ()
    if len(known) > MAX_KNOWN_SPEAKERS or any(len(n) > MAX_SPEAKER_NAME_CHARS for n in known):
        raise InvalidRequest(
            f"known_speakers takes at most {MAX_KNOWN_SPEAKERS} names or ids of at most "
            f"{MAX_SPEAKER_NAME_CHARS} characters"
        )
    if problem := layout_problem(
        request.max_line_width, request.max_lines, request.max_cue_seconds
    ):
        raise InvalidRequest(problem)
    if request.temperature is not None and not (
        MIN_TEMPERATURE <= request.temperature <= MAX_TEMPERATURE
    ):
        raise InvalidRequest(
            f"temperature must be between {MIN_TEMPERATURE:g} and {MAX_TEMPERATURE:g}"
        )


def parse_known_speakers(text: str | None) -> tuple[str, ...] | None:
    """known_speakers written as text (the CLI flag, the OpenAI form field): a comma
    list of names or ids, "none" for none; None or blank: every enrolled voice."""
    if text is None or not text.strip():
        return None
    if text.strip().casefold() == "none":
        return ()
    return tuple(name.strip() for name in text.split(",") if name.strip())


def parse_redact(text: str | None) -> tuple[str, ...]:
    """redact written as text (the CLI flag, the OpenAI form field): "true" or "all":
    every kind; "false", blank or None: none; else a comma list of kinds."""
    value = (text or "").strip().casefold()
    if value in ("", "false", "none", "0", "no"):
        return ()
    return parse_kinds(True if value in ("true", "1", "yes") else value)


REQUEST_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(JobRequest))
"""The option names, as stored flat beside the job's own fields (job_to_record)."""


def request_to_record(request: JobRequest) -> dict[str, Any]:
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name in REQUEST_FIELDS
        for value in (getattr(request, name),)
    }


def request_from_record(record: dict[str, Any]) -> JobRequest:
    """The request stored in record; options a record lacks (an older writer) keep their
    defaults, and keys that are not options are ignored."""
    values = {name: record[name] for name in REQUEST_FIELDS if name in record}
    for name in ("formats", "known_speakers", "redact"):
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    return JobRequest(**values)
