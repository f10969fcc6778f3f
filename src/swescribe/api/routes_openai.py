"""OpenAI-compatible endpoints: /v1/audio/transcriptions, /v1/audio/translations and
/v1/models, so OpenAI's SDKs and the tools built on them can use swescribe.

Each audio request is an ordinary job (core.synchronous): the same limits, queue and
workers; the request stays open until the job ends, then answers in OpenAI's shapes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from swescribe.api.deps import Caller, Context
from swescribe.api.openai_form import (
    MaxCueSeconds,
    MaxLines,
    MaxLineWidth,
    check_chunking_strategy,
    check_stream,
    hotwords_with_keywords,
    language_from,
)
from swescribe.api.openai_shapes import (
    TEXT_MEDIA_TYPES,
    Granularity,
    ResponseFormat,
    diarized_json_body,
    json_body,
    model_object,
    plain_text,
    verbose_json_body,
)
from swescribe.api.openai_stream import SSE_HEADERS, server_sent_event, transcript_events
from swescribe.core.errors import InvalidParameter, InvalidRequest, JobNotFound, SyncTimeout
from swescribe.core.intake import NewJob
from swescribe.core.jobs import Job
from swescribe.core.layout import DEFAULT_LINE_WIDTH, DEFAULT_LINES
from swescribe.core.request import (
    LANGUAGE_PATTERN,
    MAX_HOTWORDS_CHARS,
    MAX_KNOWN_SPEAKERS,
    MAX_MODEL_NAME_CHARS,
    MAX_PROMPT_CHARS,
    MAX_SPEAKER_NAME_CHARS,
    MAX_SPEAKERS,
    MAX_TEMPERATURE,
    MIN_TEMPERATURE,
    JobRequest,
    parse_known_speakers,
    parse_redact,
)
from swescribe.core.synchronous import (
    ASYNC_HINT,
    finished_job,
    model_for,
    model_ids,
    result_text,
    submit_file,
    transcript_of,
)
from swescribe.core.transcript import Transcript

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
MODELS_CREATED = 1_700_000_000
"""The `created` time /v1/models reports (OpenAI's field; these models have no date)."""
POLL_FIRST_SECONDS = 0.05
POLL_MAX_SECONDS = 0.5
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad parameter, or a file that is not audio (OpenAI's shape)"},
    401: {"description": "A missing or wrong API key"},
    413: {"description": "A file over SWESCRIBE_SYNC_MAX_BYTES: use POST /v1/jobs"},
    429: {"description": "too_many_jobs: the key is at its cap of queued jobs"},
    501: {"description": "Synchronous transcription is off here (the AWS shape)"},
    504: {"description": "No transcript within SWESCRIBE_SYNC_TIMEOUT_SECONDS; the job goes on"},
}

AudioFile = Annotated[UploadFile, File(description="The audio (anything FFmpeg decodes)")]
Model = Annotated[
    str, Form(max_length=MAX_MODEL_NAME_CHARS, description="whisper-1 means the service's model")
]
Prompt = Annotated[str | None, Form(max_length=MAX_PROMPT_CHARS)]
Hotwords = Annotated[
    str | None, Form(max_length=MAX_HOTWORDS_CHARS, description="swescribe's extension")
]
Format = Annotated[ResponseFormat, Form()]
Temperature = Annotated[float, Form(ge=MIN_TEMPERATURE, le=MAX_TEMPERATURE)]
Granularities = Annotated[list[Granularity] | None, Form(alias="timestamp_granularities[]")]
Language = Annotated[str, Form(pattern=LANGUAGE_PATTERN)]
Diarize = Annotated[bool, Form(description="swescribe's extension: label speakers S1, S2, …")]
Stream = Annotated[bool, Form(description="Server-Sent Events: text deltas, then the whole text")]
Keywords = Annotated[list[str] | None, Form(alias="keywords[]", description="Words to listen for")]
KeywordsPlain = Annotated[list[str] | None, Form(alias="keywords", include_in_schema=False)]
Languages = Annotated[
    list[str] | None, Form(alias="languages[]", description="Possible languages (ISO 639-1)")
]
LanguagesPlain = Annotated[list[str] | None, Form(alias="languages", include_in_schema=False)]
Chunking = Annotated[str | None, Form(description="auto (or server_vad): accepted")]
ChunkingType = Annotated[str | None, Form(alias="chunking_strategy[type]", include_in_schema=False)]
Speakers = Annotated[int | None, Form(ge=1, le=MAX_SPEAKERS, description="with diarize: how many")]
KnownSpeakers = Annotated[
    str | None,
    Form(
        max_length=MAX_KNOWN_SPEAKERS * (MAX_SPEAKER_NAME_CHARS + 1),
        description="swescribe's extension, with diarize: enrolled voices (/v1/speakers) to "
        "name speakers by, a comma list of names or ids, or none [all of the key's]",
    ),
]

Redact = Annotated[
    str | None,
    Form(
        max_length=200,
        description="swescribe's extension: personal data replaced by tags in the answer "
        "and the stored results: true (every kind) or a comma list of personnummer, "
        "samordningsnummer, phone, email, account, address, name [none]",
    ),
]


def redact_kinds(redact: str | None) -> tuple[str, ...]:
    """The form's redact field as kinds; an unknown kind is refused naming the field."""
    try:
        return parse_redact(redact)
    except InvalidRequest as error:
        raise InvalidParameter(str(error), "redact") from error


Multichannel = Annotated[
    bool, Form(description="swescribe's extension: each channel on its own, CH1, CH2, …")
]


@router.post(
    "/audio/transcriptions",
    responses=ERRORS,
    summary="Transcribe a file and wait for it (OpenAI-compatible)",
)
async def transcriptions(
    context: Context,
    caller: Caller,
    file: AudioFile,
    model: Model = "whisper-1",
    language: Annotated[str | None, Form(pattern=LANGUAGE_PATTERN)] = None,
    prompt: Prompt = None,
    response_format: Format = "json",
    temperature: Temperature = 0.0,
    timestamp_granularities: Granularities = None,
    hotwords: Hotwords = None,
    diarize: Diarize = False,
    speakers: Speakers = None,
    known_speakers: KnownSpeakers = None,
    multichannel: Multichannel = False,
    max_line_width: MaxLineWidth = DEFAULT_LINE_WIDTH,
    max_lines: MaxLines = DEFAULT_LINES,
    max_cue_seconds: MaxCueSeconds = None,
    redact: Redact = None,
    stream: Stream = False,
    keywords: Keywords = None,
    keywords_plain: KeywordsPlain = None,
    languages: Languages = None,
    languages_plain: LanguagesPlain = None,
    chunking_strategy: Chunking = None,
    chunking_strategy_type: ChunkingType = None,
) -> Response:
    """OpenAI's form; `language` (default sv) wins over `languages`, and
    response_format=diarized_json labels speakers."""
    granularities = tuple(timestamp_granularities or ())
    check_stream(stream, response_format)
    check_chunking_strategy(chunking_strategy, chunking_strategy_type)
    request = JobRequest(
        language=language_from(language, [*(languages or ()), *(languages_plain or ())]),
        model=model_for(context.svc, model),
        formats=formats_for(response_format),
        word_timestamps="word" in granularities,
        prompt=prompt,
        hotwords=hotwords_with_keywords(hotwords, [*(keywords or ()), *(keywords_plain or ())]),
        temperature=temperature or None,
        diarize=diarize or response_format == "diarized_json",
        speakers=speakers,
        known_speakers=parse_known_speakers(known_speakers),
        multichannel=multichannel,
        max_line_width=max_line_width,
        max_lines=max_lines,
        max_cue_seconds=max_cue_seconds,
        redact=redact_kinds(redact),
    )
    return await _answer(
        context, caller.key_id, file, request, response_format, granularities, stream
    )


@router.post(
    "/audio/translations",
    responses=ERRORS,
    summary="Translate Swedish speech into English text and wait (OpenAI-compatible)",
)
async def translations(
    context: Context,
    caller: Caller,
    file: AudioFile,
    model: Model = "whisper-1",
    language: Language = "sv",
    prompt: Prompt = None,
    response_format: Format = "json",
    temperature: Temperature = 0.0,
    hotwords: Hotwords = None,
    max_line_width: MaxLineWidth = DEFAULT_LINE_WIDTH,
    max_lines: MaxLines = DEFAULT_LINES,
    max_cue_seconds: MaxCueSeconds = None,
    redact: Redact = None,
) -> Response:
    request = JobRequest(
        language=language,
        model=model_for(context.svc, model),
        formats=formats_for(response_format),
        task="translate",
        prompt=prompt,
        hotwords=hotwords,
        temperature=temperature or None,
        max_line_width=max_line_width,
        max_lines=max_lines,
        max_cue_seconds=max_cue_seconds,
        redact=redact_kinds(redact),
    )
    return await _answer(context, caller.key_id, file, request, response_format, ())


@router.get("/models", summary="The models a client may name (OpenAI-compatible)")
async def list_models(context: Context, caller: Caller) -> dict[str, Any]:
    data = [model_object(name, MODELS_CREATED) for name in model_ids(context.svc)]
    return {"object": "list", "data": data}


@router.get("/models/{model_id}", summary="One model (OpenAI-compatible)")
async def read_model(model_id: str, context: Context, caller: Caller) -> dict[str, Any]:
    if model_id not in model_ids(context.svc):
        raise JobNotFound(f"no model {model_id!r}; GET /v1/models lists them")
    return model_object(model_id, MODELS_CREATED)


async def _answer(
    context: Context,
    owner: str,
    file: UploadFile,
    request: JobRequest,
    response_format: str,
    granularities: tuple[str, ...],
    stream: bool = False,
) -> Response:
    """Run the job, wait for it, and answer in response_format (as events: stream)."""
    if granularities and response_format != "verbose_json":
        raise InvalidParameter(
            "timestamp_granularities needs response_format=verbose_json",
            "timestamp_granularities",
        )
    svc = context.svc
    new_job = NewJob(request=request)
    job = await run_in_threadpool(submit_file, svc, owner, new_job, file.file, file.filename)
    done = await _wait(context, owner, job.job_id)
    transcript = await run_in_threadpool(transcript_of, svc, done)
    if stream:
        return _event_stream(transcript, response_format == "diarized_json")
    if response_format == "json":
        return JSONResponse(json_body(transcript))
    if response_format == "verbose_json":
        return JSONResponse(verbose_json_body(transcript, granularities))
    if response_format == "diarized_json":
        return JSONResponse(diarized_json_body(transcript))
    if response_format == "text":
        text = plain_text(transcript)
    else:
        text = await run_in_threadpool(result_text, svc, done, response_format)
    return PlainTextResponse(text, media_type=TEXT_MEDIA_TYPES[response_format])


def _event_stream(transcript: Transcript, diarized: bool) -> StreamingResponse:
    events = (server_sent_event(e) for e in transcript_events(transcript, diarized))
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


def formats_for(response_format: str) -> tuple[str, ...]:
    """The stored results an OpenAI response_format is answered from: always the JSON
    transcript, and the subtitles themselves for srt and vtt."""
    return ("json", response_format) if response_format in ("srt", "vtt") else ("json",)


async def _wait(context: Context, owner: str, job_id: str) -> Job:
    """Poll the job until it ends; SyncTimeout past the service's synchronous limit."""
    svc = context.svc
    deadline = time.monotonic() + svc.policy.sync_timeout_seconds
    pause = POLL_FIRST_SECONDS
    while True:
        job = await run_in_threadpool(finished_job, svc, owner, job_id)
        if job is not None:
            return job
        if time.monotonic() >= deadline:
            raise SyncTimeout(
                f"no transcript within {svc.policy.sync_timeout_seconds:g} s "
                "(SWESCRIBE_SYNC_TIMEOUT_SECONDS); the job goes on: GET /v1/jobs/"
                f"{job_id}/transcript when it completes, or {ASYNC_HINT}",
                job_id,
            )
        await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(POLL_MAX_SECONDS, pause * 2)
