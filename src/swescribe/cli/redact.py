"""`swescribe redact TRANSCRIPT.json...`: personal data taken out of transcripts already
written (swescribe's JSON), and the formats written again from the redacted one."""

from __future__ import annotations

import json
from pathlib import Path

import click

from swescribe.core.errors import InvalidRequest
from swescribe.core.formats import FORMATS
from swescribe.core.redaction import REDACTION_KINDS
from swescribe.core.redaction_transcript import redact_transcript, silent_spans
from swescribe.core.request import parse_redact
from swescribe.core.transcript import Transcript
from swescribe.engine import parse_formats, render
from swescribe.engine.redacted_audio import write_silenced


@click.command()
@click.argument(
    "transcripts", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--kinds",
    default="all",
    show_default=True,
    help=f"What to redact: all, or a comma list of {', '.join(REDACTION_KINDS)}.",
)
@click.option(
    "--format",
    "formats",
    default="all",
    show_default=True,
    help=f"{', '.join(FORMATS)}, all, or a comma list such as json,srt.",
)
@click.option(
    "--output-dir",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("redacted"),
    show_default=True,
    help="Where the redacted files are written (created if missing).",
)
@click.option(
    "--audio",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The transcript's audio: also write <stem>.redacted.wav, each redacted span silent "
    "(from the word timings; one transcript only).",
)
@click.option("--quiet", "-q", is_flag=True, help="No 'wrote' lines.")
def redact(
    transcripts: tuple[Path, ...],
    kinds: str,
    formats: str,
    output_dir: Path,
    audio: Path | None,
    quiet: bool,
) -> None:
    """Redact personal data from swescribe JSON TRANSCRIPTS (docs/redaction.md)."""
    if audio is not None and len(transcripts) != 1:
        raise click.UsageError("--audio goes with one transcript")
    wanted_kinds = parse_redact(kinds)
    wanted = parse_formats(formats)
    output_dir.mkdir(parents=True, exist_ok=True)
    for path in transcripts:
        transcript = redact_transcript(_read(path), wanted_kinds)
        for fmt in wanted:
            target = output_dir / f"{path.stem}.{fmt}"
            if target.resolve() == path.resolve():
                raise InvalidRequest(f"{target} is the transcript itself; choose another -o")
            target.write_text(render(transcript, fmt), encoding="utf-8")
            if not quiet:
                click.echo(f"wrote {target}")
        if audio is not None:
            write_redacted_audio(audio, transcript, output_dir / f"{path.stem}.redacted.wav", quiet)


def write_redacted_audio(audio: Path, transcript: Transcript, target: Path, quiet: bool) -> None:
    """The audio, each redacted span silent (`transcribe --redact-audio` writes it too)."""
    write_silenced(audio, silent_spans(transcript), target)
    if not quiet:
        click.echo(f"wrote {target}")


def _read(path: Path) -> Transcript:
    try:
        return Transcript.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvalidRequest(f"{path} is not a swescribe JSON transcript ({error})") from error
