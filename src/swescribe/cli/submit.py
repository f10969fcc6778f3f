"""`swescribe submit FILE`: send a file to a running service and (optionally) wait."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import click
from tqdm import tqdm

from swescribe.bootstrap import LocalPaths
from swescribe.client import (
    Client,
    ClientError,
    Format,
    Job,
    RetryPolicy,
    Task,
    UploadProgress,
)
from swescribe.config import Settings
from swescribe.core.errors import SwescribeError
from swescribe.core.formats import FORMATS
from swescribe.core.request import MAX_SPEAKERS, parse_redact

DEFAULT_URL = "http://127.0.0.1:8000"


def named_service(explicit: str | None) -> str | None:
    """--url, else SWESCRIBE_URL; None when neither names a service."""
    return explicit or os.environ.get("SWESCRIBE_URL") or None


def find_api_key(explicit: str | None, settings: Settings) -> str:
    """--api-key, else SWESCRIBE_API_KEY, else the key `swescribe serve` saved locally."""
    if explicit:
        return explicit
    if os.environ.get("SWESCRIBE_API_KEY"):
        return os.environ["SWESCRIBE_API_KEY"]
    saved = LocalPaths(settings.data_dir).local_api_key
    if saved.is_file():
        return saved.read_text().strip()
    raise SwescribeError(
        "no API key: pass --api-key, set SWESCRIBE_API_KEY, or run `swescribe serve` once"
    )


@contextmanager
def client_errors_as_ours() -> Iterator[None]:
    """The client's errors end the command as the service's own do (cli/main.py): one
    line, exit code 2. The client is a package of its own, with its own error base."""
    try:
        yield
    except ClientError as error:
        raise SwescribeError(str(error)) from error


@contextmanager
def upload_bar(name: str, stream: TextIO | None) -> Iterator[UploadProgress | None]:
    """A progress bar of bytes sent, with rate and time left, on `stream` (none: no bar)."""
    if stream is None:
        yield None
        return
    bar = tqdm(desc=name, unit="B", unit_scale=True, unit_divisor=1024, file=stream, leave=False)

    def progress(sent: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.reset(total=total)
        bar.update(sent - bar.n)

    try:
        yield progress
    finally:
        bar.close()


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--wait/--no-wait", default=False, help="Wait for the transcript and print it.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="txt", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Save the transcript here instead of printing it.")  # fmt: skip
@click.option("--url", default=None, help="Service URL. [env SWESCRIBE_URL; http://127.0.0.1:8000]")
@click.option("--api-key", default=None, help="API key. [env SWESCRIBE_API_KEY]")
@click.option("--callback-url", default=None, help="Webhook URL for the result.")
@click.option("--callback-secret", default=None, help="Secret for the webhook signatures.")
@click.option("--language", default="sv", show_default=True)
@click.option("--model", default=None, help="Model for this job (the service's default if unset).")
@click.option(
    "--task",
    type=click.Choice(["transcribe", "translate"]),
    default="transcribe",
    show_default=True,
    help="translate: Swedish speech as English text.",
)
@click.option("--prompt", default=None, help="Custom vocabulary: names and terms as spelled.")
@click.option("--hotwords", default=None, help="Custom vocabulary: words to listen for.")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait at most.")
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=None,
    help="Retries of a call that is safe to repeat, on a lost connection, 429 or 503 "
    "(0: none; an upload is never retried). [env SWESCRIBE_CLIENT_RETRIES; 4]",
)
@click.option("--diarize", is_flag=True, help="Label speakers (S1, S2, …).")
@click.option(
    "--speakers", type=click.IntRange(1, MAX_SPEAKERS), default=None, help="Number of speakers."
)
@click.option(
    "--multichannel", is_flag=True, help="Each channel on its own (CH1, CH2, …), e.g. a call."
)
@click.option(
    "--redact",
    is_flag=False,
    flag_value="all",
    default=None,
    metavar="[KINDS]",
    help="Replace personal data by tags in every result: all kinds, or a comma list "
    "(docs/redaction.md).",
)
def submit(
    file: Path,
    wait: bool,
    fmt: Format,
    output: Path | None,
    url: str | None,
    api_key: str | None,
    callback_url: str | None,
    callback_secret: str | None,
    language: str,
    model: str | None,
    task: Task,
    prompt: str | None,
    hotwords: str | None,
    timeout: float,
    retries: int | None,
    diarize: bool,
    speakers: int | None,
    multichannel: bool,
    redact: str | None,
) -> None:
    """Upload FILE as a new job; with --wait, print (or save) its transcript."""
    settings = Settings.from_env(client_retries=retries)
    base_url = named_service(url) or DEFAULT_URL
    interactive = sys.stderr.isatty()
    retry = RetryPolicy(retries=settings.client_retries)
    with (
        client_errors_as_ours(),
        Client(base_url, find_api_key(api_key, settings), retry=retry) as client,
    ):
        job = client.create_job(
            callback_url=callback_url,
            callback_secret=callback_secret,
            language=language,
            model=model,
            filename=file.name,
            task=task,
            prompt=prompt,
            hotwords=hotwords,
            diarize=diarize or None,
            speakers=speakers,
            multichannel=multichannel or None,
            redact=list(parse_redact(redact)) or None,
        )
        job_id = job.job_id
        click.echo(f"job {job_id}: uploading {file.name}", err=True)

        with upload_bar(file.name, sys.stderr if interactive else None) as uploaded:
            client.upload(job, file, progress=uploaded)
        if not wait:
            click.echo(job_id)
            return

        last_status: list[str] = []

        def show(update: Job) -> None:
            """A live line on a terminal; one line per status otherwise."""
            status, share = update.status, update.progress
            if interactive:
                label = (
                    f"{status} {100 * share:.0f}%" if status == "processing" and share else status
                )
                click.echo(f"\rjob {job_id}: {label:<16}", nl=False, err=True)
            elif status not in last_status:
                click.echo(f"job {job_id}: {status}", err=True)
                last_status[:] = [status]

        try:
            final = client.wait(job_id, timeout=timeout, on_update=show)
        except KeyboardInterrupt:
            fetch = f"swescribe jobs transcript {job_id} --url {shlex.quote(base_url)}"
            fetch += f" --format {fmt}" if fmt != "txt" else ""
            fetch += f" -o {shlex.quote(str(output))}" if output else ""
            click.echo("", err=True)
            click.echo(f"job {job_id} goes on in the service; when it is done: {fetch}", err=True)
            sys.exit(130)
        if interactive:
            click.echo("", err=True)
        if final.status != "completed":
            reason = final.error.message if final.error else "unknown error"
            raise SwescribeError(f"job {job_id} failed: {reason}")
        seconds = final.processing_seconds or 0.0
        click.echo(
            f"job {job_id}: {final.audio_duration or 0:.1f} s of audio in {seconds:.1f} s "
            f"({final.model_used})",
            err=True,
        )
        text = client.transcript(job_id, fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=not text.endswith("\n"))
