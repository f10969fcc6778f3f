"""The newer OpenAI form fields in swescribe's terms: keywords as hotwords, languages as
the language (or detection), chunking_strategy checked, stream checked against the
response format. Each refusal is an InvalidParameter naming OpenAI's field."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Form

from swescribe.api.openai_stream import STREAMABLE_FORMATS
from swescribe.core.errors import InvalidParameter
from swescribe.core.layout import (
    MAX_CUE_SECONDS,
    MAX_LINE_WIDTH,
    MAX_LINES,
    MIN_CUE_SECONDS,
    MIN_LINE_WIDTH,
    MIN_LINES,
)
from swescribe.core.request import MAX_HOTWORDS_CHARS

DEFAULT_LANGUAGE = "sv"
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
CHUNKING_STRATEGIES = ("auto", "server_vad")
"""OpenAI's chunking strategies. Both are accepted and mean the same here: the engine's
own voice activity detection always chooses where the audio is cut."""

# swescribe's extension fields for the subtitle layout (srt, vtt), with JobRequest's bounds.
MaxLineWidth = Annotated[
    int,
    Form(
        ge=MIN_LINE_WIDTH,
        le=MAX_LINE_WIDTH,
        description="swescribe's extension, srt and vtt: the most characters on a line",
    ),
]
MaxLines = Annotated[
    int,
    Form(ge=MIN_LINES, le=MAX_LINES, description="swescribe's extension, srt and vtt: lines a cue"),
]
MaxCueSeconds = Annotated[
    float | None,
    Form(
        ge=MIN_CUE_SECONDS,
        le=MAX_CUE_SECONDS,
        description="swescribe's extension, srt and vtt: the longest a cue lasts [a segment's]",
    ),
]


def hotwords_with_keywords(hotwords: str | None, keywords: list[str]) -> str | None:
    """swescribe's hotwords and OpenAI's keywords, as one hotwords string; refused past
    the hotwords limit rather than cut."""
    words = [w.strip() for w in (hotwords, *keywords) if w and w.strip()]
    joined = " ".join(words)
    if len(joined) > MAX_HOTWORDS_CHARS:
        raise InvalidParameter(
            f"keywords (with hotwords) come to {len(joined)} characters; at most "
            f"{MAX_HOTWORDS_CHARS} are listened for",
            "keywords",
        )
    return joined or None


def language_from(language: str | None, languages: list[str]) -> str:
    """The language a job runs with: `language` when given; else one of `languages`
    alone, or `sv` when it comes first (the engine cannot limit detection to a set, and
    Swedish is what this service is for), else detection; else Swedish."""
    for code in languages:
        if not LANGUAGE_CODE.fullmatch(code):
            raise InvalidParameter(
                f"languages must be ISO 639-1 codes such as sv or en, not {code!r}", "languages"
            )
    if language is not None:
        return language
    distinct = list(dict.fromkeys(languages))
    if not distinct:
        return DEFAULT_LANGUAGE
    if len(distinct) == 1 or distinct[0] == DEFAULT_LANGUAGE:
        return distinct[0]
    return "auto"


def check_chunking_strategy(strategy: str | None, strategy_type: str | None) -> None:
    """`auto`, or a server_vad object (the SDK sends its fields as chunking_strategy[…])."""
    for value in (strategy, strategy_type):
        if value is not None and value not in CHUNKING_STRATEGIES:
            raise InvalidParameter(
                f"chunking_strategy must be auto or a server_vad object, not {value!r}",
                "chunking_strategy",
            )


def check_stream(stream: bool, response_format: str) -> None:
    if stream and response_format not in STREAMABLE_FORMATS:
        raise InvalidParameter(
            f"response_format {response_format} cannot be streamed; with stream=true use "
            f"{', '.join(STREAMABLE_FORMATS)}",
            "stream",
        )
