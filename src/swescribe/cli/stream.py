"""`swescribe stream FILE|-`: live captions from a running service (/v1/realtime)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import IO, TextIO

import click

from swescribe.cli.submit import (
    DEFAULT_URL,
    client_errors_as_ours,
    find_api_key,
    named_service,
)
from swescribe.client import (
    Client,
    Final,
    LiveStream,
    Partial,
    StreamEvent,
    event_json,
)
from swescribe.config import Settings

ERASE_LINE = "\r\x1b[K"


class Captions:
    """Prints events as they come. On a terminal the turn in progress is one line,
    rewritten in place (its tentative tail dimmed); elsewhere only completed turns, one a
    line, so the output pipes. --json: every event as a JSON line."""

    def __init__(self, out: TextIO, as_json: bool, terminal: bool) -> None:
        self.out = out
        self.as_json = as_json
        self.terminal = terminal and not as_json
        self.showing = False

    def show(self, event: StreamEvent) -> None:
        if self.as_json:
            self._write(json.dumps(event_json(event), ensure_ascii=False) + "\n")
        elif isinstance(event, Final):
            if event.text.strip():
                self._write((ERASE_LINE if self.showing else "") + event.text.strip() + "\n")
            elif self.showing:
                self._write(ERASE_LINE)
            self.showing = False
        elif isinstance(event, Partial) and self.terminal:
            self._write(ERASE_LINE + self._fitting(event))
            self.showing = True

    def end(self) -> None:
        """Keep a turn that never completed (the stream failed) on a line of its own."""
        if self.showing:
            self._write("\n")
            self.showing = False

    def _fitting(self, event: Partial) -> str:
        """The line's end that fits the terminal: a wrapped line cannot be rewritten."""
        width = max(10, shutil.get_terminal_size().columns - 1)
        confirmed, tentative = event.confirmed.lstrip(), event.tentative
        if len(confirmed) + len(tentative) > width:
            keep = max(0, width - len(tentative) - 1)
            confirmed = "…" + confirmed[len(confirmed) - keep :] if keep else ""
            tentative = tentative[-(width - len(confirmed)) :]
        return confirmed + (f"\x1b[2m{tentative}\x1b[0m" if tentative else "")

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


@click.command()
@click.argument("source", metavar="FILE|-")
@click.option("--fast", is_flag=True, help="Send a file as fast as the service takes it.")
@click.option("--raw", is_flag=True, help="The input is raw PCM16 mono little-endian (see --rate).")
@click.option("--rate", type=click.Choice(["16000", "24000"]), default="16000", show_default=True,
              help="Sample rate of --raw input.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print every event as a JSON line.")
@click.option("--url", default=None, help="Service URL. [env SWESCRIBE_URL; http://127.0.0.1:8000]")
@click.option("--api-key", default=None, help="API key. [env SWESCRIBE_API_KEY]")
@click.option("--language", default="sv", show_default=True, help="'auto' detects it per turn.")
@click.option("--model", default=None, help="Model (the service's default if unset).")
@click.option("--prompt", default=None, help="Custom vocabulary: names and terms as spelled.")
def stream(
    source: str,
    fast: bool,
    raw: bool,
    rate: str,
    as_json: bool,
    url: str | None,
    api_key: str | None,
    language: str,
    model: str | None,
    prompt: str | None,
) -> None:
    """Live captions of FILE (at real-time pace) or of stdin (-): any audio ffmpeg reads,
    or raw PCM16 with --raw. Ctrl-C ends the audio; the turn in progress still prints."""
    settings = Settings.from_env()
    base_url = named_service(url) or DEFAULT_URL
    audio: Path | IO[bytes]
    if source == "-":
        audio = sys.stdin.buffer
    else:
        audio = Path(source)
        if not audio.is_file():
            raise click.BadParameter(f"no such file: {source}", param_hint="FILE")
    captions = Captions(sys.stdout, as_json, sys.stdout.isatty())
    with (
        client_errors_as_ours(),
        Client(base_url, find_api_key(api_key, settings)) as client,
        client.stream(
            audio,
            language=None if language == "auto" else language,
            prompt=prompt,
            model=model,
            realtime=not fast,
            rate=int(rate) if raw else None,
        ) as live,
    ):
        _caption(live, captions)


def _caption(live: LiveStream, captions: Captions) -> None:
    """Events until the audio is done; on Ctrl-C, the turn in progress is committed and
    its final text shown before the command ends (a second Ctrl-C aborts)."""
    try:
        try:
            for event in live:
                captions.show(event)
        except KeyboardInterrupt:
            live.stop()
            for event in live:
                captions.show(event)
    finally:
        captions.end()
