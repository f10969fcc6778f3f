"""Entry point: subcommands, and the one place where errors become messages."""

from __future__ import annotations

import importlib
import logging
import sys

import click

from swescribe import __version__
from swescribe.core.errors import SwescribeError

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1


COMMANDS = {
    "transcribe": "swescribe.cli.transcribe",
    "serve": "swescribe.cli.serve",
    "worker": "swescribe.cli.serve",
    "submit": "swescribe.cli.submit",
    "stream": "swescribe.cli.stream",
    "keys": "swescribe.cli.admin",
    "jobs": "swescribe.cli.jobs",
    "cleanup": "swescribe.cli.admin",
    "speakers": "swescribe.cli.speakers",
    "redact": "swescribe.cli.redact",
    "models": "swescribe.cli.models",
}
"""Each subcommand and the module that defines it, imported only when the command runs:
`transcribe` need not load the web service (about a second of imports)."""


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        command = getattr(importlib.import_module(COMMANDS[cmd_name]), cmd_name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="swescribe")
@click.option("--debug", is_flag=True, help="Show debug logs and full tracebacks.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Swedish speech-to-text: transcribe files, or run the transcription service."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="swescribe: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    # The client says which call it retries and why; stamina's own line says less.
    logging.getLogger("stamina").setLevel(logging.DEBUG if debug else logging.ERROR)


def main() -> None:
    debug = "--debug" in sys.argv[1:]
    try:
        exit_code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("swescribe: aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except SwescribeError as error:
        click.echo(f"swescribe: error: {error}", err=True)
        sys.exit(EXIT_USER_ERROR)
    except Exception as error:
        if debug:
            raise
        click.echo(
            f"swescribe: internal error: {type(error).__name__}: {error} (rerun with --debug)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL_ERROR)
    sys.exit(exit_code if isinstance(exit_code, int) else 0)
