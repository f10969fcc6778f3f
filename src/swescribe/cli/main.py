"""Entry point: subcommands, and the one place where errors become messages."""

from __future__ import annotations

import logging
import sys

import click

from swescribe import __version__
from swescribe.cli.admin import cleanup, jobs, keys
from swescribe.cli.serve import serve, worker
from swescribe.cli.submit import submit
from swescribe.cli.transcribe import transcribe
from swescribe.core.errors import SwescribeError

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


for command in (transcribe, serve, worker, submit, keys, jobs, cleanup):
    cli.add_command(command)


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
