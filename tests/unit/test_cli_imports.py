"""`swescribe transcribe` starts without loading the web service."""

from __future__ import annotations

import subprocess
import sys

import click

from swescribe.cli.main import COMMANDS, cli


def test_every_command_resolves() -> None:
    context = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert command is not None
        assert command.name == name
    assert cli.get_command(context, "nope") is None


def test_transcribe_does_not_import_the_web_service() -> None:
    probe = (
        "import sys, click; from swescribe.cli.main import cli; "
        "cli.get_command(click.Context(cli), 'transcribe'); "
        "loaded = ('fastapi', 'starlette', 'swescribe.api.app'); "
        "print(sorted(m for m in loaded if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
