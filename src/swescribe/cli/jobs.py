"""`swescribe jobs ...`: the jobs of this machine's store (an operator's view: every key's
jobs), or, with --url, of a service through its API and a key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from swescribe.bootstrap import build_local_services
from swescribe.client import Format
from swescribe.config import Settings
from swescribe.core.formats import FORMATS
from swescribe.core.intake import get_job
from swescribe.core.jobs import Job, JobStatus, to_iso

URL_HELP = "Ask a service at this URL (with a key), not this machine's store. [env SWESCRIBE_URL]"
KEY_HELP = "API key, with --url. [env SWESCRIBE_API_KEY; this machine's saved key]"


@click.group()
def jobs() -> None:
    """List jobs, show one, and fetch a finished job's transcript."""


@jobs.command("list")
@click.option("--status", type=click.Choice([s.value for s in JobStatus]), default=None)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
def jobs_list(status: str | None, limit: int) -> None:
    """Newest jobs first, every key's, from this machine's store."""
    svc = build_local_services(Settings.from_env())
    page = svc.jobs.list_jobs(None, JobStatus(status) if status else None, limit)
    if not page.jobs:
        click.echo("no jobs")
        return
    rows = [("JOB", "STATUS", "CREATED", "AUDIO", "FILE")] + [_row(job) for job in page.jobs]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for *columns, name in rows:
        padded = (cell.ljust(width) for cell, width in zip(columns, widths, strict=True))
        click.echo("  ".join([*padded, name]))


def _row(job: Job) -> tuple[str, str, str, str, str]:
    created = (to_iso(job.created_at) or "").replace("T", " ").removesuffix("Z")[:16]
    audio = f"{job.audio_duration:.1f} s" if job.audio_duration is not None else "-"
    name = job.file_name or "(no file yet)"
    if job.status is JobStatus.FAILED and job.error_message:
        name = f"{name}: {job.error_message}"
    return job.job_id, job.status.description, created, audio, name


@jobs.command("show")
@click.argument("job_id")
@click.option("--url", default=None, help=URL_HELP)
@click.option("--api-key", default=None, help=KEY_HELP)
def jobs_show(job_id: str, url: str | None, api_key: str | None) -> None:
    """One job as JSON, as the API shows it (the callback secret is never shown)."""
    view: Any
    from swescribe.cli.submit import client_errors_as_ours, named_service

    service = named_service(url)
    if service:
        with client_errors_as_ours(), _client(service, api_key) as client:
            view = dict(client.get_job(job_id).raw)
    else:
        from swescribe.api.schemas import JobView

        job = get_job(build_local_services(Settings.from_env()), None, job_id)
        view = JobView.from_job(job).model_dump(mode="json")
    click.echo(json.dumps(view, indent=2, ensure_ascii=False))


@jobs.command("transcript")
@click.argument("job_id")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="txt", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Save it here instead of printing it.")  # fmt: skip
@click.option("--url", default=None, help=URL_HELP)
@click.option("--api-key", default=None, help=KEY_HELP)
def jobs_transcript(
    job_id: str, fmt: Format, output: Path | None, url: str | None, api_key: str | None
) -> None:
    """A finished job's transcript in txt, json, srt or vtt."""
    from swescribe.cli.submit import client_errors_as_ours, named_service

    service = named_service(url)
    if service:
        with client_errors_as_ours(), _client(service, api_key) as client:
            text = client.transcript(job_id, fmt)
    else:
        svc = build_local_services(Settings.from_env())
        key = get_job(svc, None, job_id).result_key(fmt)
        text = svc.objects.get_bytes(key).decode("utf-8")
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=not text.endswith("\n"))


def _client(url: str, api_key: str | None) -> Any:
    from swescribe.cli.submit import find_api_key
    from swescribe.client import Client

    return Client(url, find_api_key(api_key, Settings.from_env()))
