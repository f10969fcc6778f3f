"""`swescribe transcribe FILE...`: the engine on local files, no service needed."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from swescribe.bootstrap_engine import diarizer_spec, local_voices
from swescribe.cli.redact import write_redacted_audio
from swescribe.config import Settings
from swescribe.core.errors import SwescribeError
from swescribe.core.formats import FORMATS
from swescribe.core.layout import (
    DEFAULT_LINE_WIDTH,
    DEFAULT_LINES,
    MAX_CUE_SECONDS,
    MAX_LINE_WIDTH,
    MAX_LINES,
    MIN_CUE_SECONDS,
    MIN_LINE_WIDTH,
    MIN_LINES,
)
from swescribe.core.redaction import REDACTION_KINDS
from swescribe.core.redaction_transcript import redact_transcript
from swescribe.core.request import (
    MAX_SPEAKERS,
    TASKS,
    JobRequest,
    parse_known_speakers,
    parse_redact,
)
from swescribe.core.transcript import Transcript
from swescribe.core.voices import LOCAL_OWNER
from swescribe.engine import (
    Engine,
    ModelLocator,
    TranscribeOptions,
    check_readable,
    parse_formats,
    render,
)
from swescribe.engine.device import DEVICES
from swescribe.engine.models import MODEL_NAMES
from swescribe.worker.options import subtitle_layout, transcribe_options

PROGRESS_MIN_SECONDS = 30.0
"""Shorter files finish before a progress bar would tell anybody anything."""


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--model",
    default=None,
    help=f"{', '.join(MODEL_NAMES)}, or a CT2 model directory. [env SWESCRIBE_MODEL; auto]",
)
@click.option(
    "--format",
    "formats",
    default="txt",
    show_default=True,
    help=f"{', '.join(FORMATS)}, all, or a comma list such as txt,srt.",
)
@click.option(
    "--output-dir",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where the transcript files are written (created if missing).",
)
@click.option("--language", default=None, help="Spoken language, or auto. [sv]")
@click.option("--word-timestamps", is_flag=True, help="Add per-word timings (JSON, subtitles).")
@click.option(
    "--task",
    type=click.Choice(TASKS),
    default="transcribe",
    show_default=True,
    help="translate: Swedish speech as English text (not with KB-Whisper models).",
)
@click.option(
    "--prompt",
    default=None,
    help="Custom vocabulary: text with the names and terms as they are spelled.",
)
@click.option("--hotwords", default=None, help="Custom vocabulary: words to listen for.")
@click.option("--diarize", is_flag=True, help="Label speakers (S1, S2, …) in every format.")
@click.option(
    "--speakers",
    type=click.IntRange(1, MAX_SPEAKERS),
    default=None,
    help="The number of speakers, when known (with --diarize). [found from the audio]",
)
@click.option(
    "--known-speakers",
    default=None,
    help="Enrolled voices to name speakers by (swescribe speakers add): a comma list of "
    "names or ids, or none. [every enrolled voice, with --diarize]",
)
@click.option(
    "--multichannel",
    is_flag=True,
    help="Transcribe each channel on its own (one party per channel, e.g. a call): "
    "segments labelled CH1, CH2, … and merged in time order.",
)
@click.option(
    "--max-line-width",
    type=click.IntRange(MIN_LINE_WIDTH, MAX_LINE_WIDTH),
    default=DEFAULT_LINE_WIDTH,
    show_default=True,
    help="Subtitles (srt, vtt): the most characters on a line; a longer word stands alone.",
)
@click.option(
    "--max-lines",
    type=click.IntRange(MIN_LINES, MAX_LINES),
    default=DEFAULT_LINES,
    show_default=True,
    help="Subtitles: the most lines in a cue.",
)
@click.option(
    "--max-cue-seconds",
    type=click.FloatRange(MIN_CUE_SECONDS, MAX_CUE_SECONDS),
    default=None,
    help="Subtitles: the longest a cue lasts, cut at words (on word timings when there are "
    "any). [a segment's length]",
)
@click.option(
    "--redact",
    is_flag=False,
    flag_value="all",
    default=None,
    metavar="[KINDS]",
    help="Replace personal data by tags in every format: all kinds, or a comma list of "
    f"{', '.join(REDACTION_KINDS)} (docs/redaction.md).",
)
@click.option(
    "--redact-audio",
    is_flag=True,
    help="With --redact: also write <stem>.redacted.wav, each redacted span silent "
    "(word timings are turned on for it).",
)
@click.option("--min-speakers", type=click.IntRange(1, MAX_SPEAKERS), default=None, hidden=True)
@click.option("--max-speakers", type=click.IntRange(1, MAX_SPEAKERS), default=None, hidden=True)
@click.option("--device", type=click.Choice(DEVICES), default=None, help="[auto]")
@click.option("--compute-type", default=None, help="CTranslate2 compute type. [auto]")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no 'wrote' lines.")
@click.pass_context
def transcribe(
    ctx: click.Context,
    files: tuple[Path, ...],
    model: str | None,
    formats: str,
    output_dir: Path,
    language: str | None,
    word_timestamps: bool,
    task: str,
    prompt: str | None,
    hotwords: str | None,
    diarize: bool,
    speakers: int | None,
    known_speakers: str | None,
    max_line_width: int,
    max_lines: int,
    max_cue_seconds: float | None,
    redact: str | None,
    redact_audio: bool,
    min_speakers: int | None,
    max_speakers: int | None,
    multichannel: bool,
    device: str | None,
    compute_type: str | None,
    quiet: bool,
) -> None:
    """Transcribe audio or video FILES (wav, mp3, m4a, ogg, flac, webm, mp4, ...)."""
    settings = Settings.from_env(
        model=model, device=device, compute_type=compute_type, language=language
    )
    wanted = parse_formats(formats)
    if (speakers or min_speakers or max_speakers or known_speakers) and not diarize:
        raise click.UsageError(
            "--speakers, --known-speakers, --min-speakers and --max-speakers need --diarize"
        )
    if redact_audio and not redact:
        raise click.UsageError("--redact-audio needs --redact")
    request = JobRequest(
        language=settings.language,
        word_timestamps=word_timestamps or redact_audio,
        diarize=diarize,
        speakers=speakers,
        task=task,
        prompt=prompt,
        hotwords=hotwords,
        known_speakers=parse_known_speakers(known_speakers),
        multichannel=multichannel,
        max_line_width=max_line_width,
        max_lines=max_lines,
        max_cue_seconds=max_cue_seconds,
        redact=parse_redact(redact),
    )
    voices = local_voices(settings).chosen(LOCAL_OWNER, request.known_speakers) if diarize else []
    options = transcribe_options(
        request, min_speakers=min_speakers, max_speakers=max_speakers, voices=voices
    )
    layout = subtitle_layout(request)
    failures = 0
    readable = []
    for path in files:  # refused before the model loads (seconds), each in its line
        try:
            check_readable(path)
        except SwescribeError as error:
            click.echo(f"swescribe: error: {error}", err=True)
            failures += 1
        else:
            readable.append(path)
    if not readable:
        ctx.exit(2)
    locator = ModelLocator(settings.model_cache_dir, settings.model_dirs)
    engine = Engine.load(
        settings.model,
        locator,
        settings.device,
        settings.compute_type,
        settings.cpu_threads,
        diarizer_spec(settings),
    )
    if diarize:
        engine.diarizer()  # load it (and say which one) before the first file

    for path in readable:
        try:
            transcript = _transcribe_one(engine, path, options, show_progress=not quiet)
        except SwescribeError as error:
            click.echo(f"swescribe: error: {error}", err=True)
            failures += 1
            continue
        if request.redact:
            transcript = redact_transcript(transcript, request.redact)
        output_dir.mkdir(parents=True, exist_ok=True)
        if redact_audio:
            target = output_dir / f"{path.stem}.redacted.wav"
            write_redacted_audio(path, transcript, target, quiet)
        for fmt in wanted:
            target = output_dir / f"{path.stem}.{fmt}"
            target.write_text(render(transcript, fmt, layout), encoding="utf-8")
            if not quiet:
                click.echo(f"wrote {target}")
    if failures:
        ctx.exit(2)


def _transcribe_one(
    engine: Engine, path: Path, options: TranscribeOptions, show_progress: bool
) -> Transcript:
    bar: tqdm | None = None

    def progress(done: float, total: float) -> None:
        nonlocal bar
        if bar is None:
            if not show_progress or total < PROGRESS_MIN_SECONDS or not sys.stderr.isatty():
                return
            bar = tqdm(total=round(total, 1), unit="s", desc=path.name, leave=False)
        if round(total, 1) != bar.total:  # the decode passed the length the file claimed
            bar.total = round(total, 1)
        bar.update(round(done, 1) - bar.n)

    try:
        return engine.transcribe(path, options, progress)
    finally:
        if bar is not None:
            bar.close()
