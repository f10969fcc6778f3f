"""Operator commands on the local store: `swescribe keys ...` and `swescribe cleanup`."""

from __future__ import annotations

import json

import click

from swescribe.bootstrap import build_local_keys
from swescribe.config import Settings
from swescribe.core.jobs import to_iso


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (stored hashed; shown once)."""


@keys.command("create")
@click.option("--name", default="default", show_default=True, help="A label for the key.")
def keys_create(name: str) -> None:
    """Create a key; the key itself is printed alone on the last line, once."""
    key, plaintext = build_local_keys(Settings.from_env()).create(name)
    click.echo(f"created key {key.key_id} ({key.name}); store it now, it is not shown again:")
    click.echo(plaintext)


@keys.command("list")
def keys_list() -> None:
    """Key ids, names, prefixes and state (never the keys)."""
    rows = build_local_keys(Settings.from_env()).list_keys()
    if not rows:
        click.echo("no keys yet: swescribe keys create")
    for key in rows:
        state = f"revoked {to_iso(key.revoked_at)}" if key.revoked_at else "active"
        click.echo(f"{key.key_id}  {key.prefix}…  {key.name}  {to_iso(key.created_at)}  {state}")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by id (or prefix); its requests get 401 from now on."""
    key = build_local_keys(Settings.from_env()).revoke(key_id)
    click.echo(f"revoked {key.key_id} ({key.name})")


@click.command()
@click.option("--dry-run", is_flag=True, help="Report what would be done; change nothing.")
@click.option(
    "--backend",
    type=click.Choice(["local", "aws"]),
    default=None,
    help="Which deployment to sweep. [env SWESCRIBE_BACKEND; local]",
)
def cleanup(dry_run: bool, backend: str | None) -> None:
    """Requeue or fail stuck jobs; on AWS also terminate orphaned worker instances."""
    from swescribe.bootstrap_janitor import run_cleanup

    report = run_cleanup(Settings.from_env(backend=backend), dry_run=dry_run)
    click.echo(json.dumps(report, indent=2))
