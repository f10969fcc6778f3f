"""`swescribe serve` (API + workers + webhook dispatcher) and `swescribe worker`."""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from swescribe.bootstrap import (
    LocalPaths,
    build_local_api,
    build_local_keys,
    build_local_services,
    build_worker,
    local_worker_id,
    webhook_sender,
)
from swescribe.config import Settings
from swescribe.core.services import Services
from swescribe.logs import LOG_FORMATS, LogFormat, configure_logging

if TYPE_CHECKING:
    from swescribe.adapters.local.launcher import LocalProcessLauncher
    from swescribe.engine.live_ports import LiveTranscriber
    from swescribe.worker.runner import Worker

log = logging.getLogger(__name__)

PARENT_PID_VARIABLE = "SWESCRIBE_PARENT_PID"


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0: every interface; then callback and audio URLs "
    "must be https to public hosts).",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on; clients reach the service at http://HOST:PORT "
    "(`--url` or SWESCRIBE_URL for the CLI).",
)
@click.option(
    "--workers",
    type=click.IntRange(0, 64),
    default=None,
    help="Worker processes (each loads the model once). [env SWESCRIBE_WORKERS; 1]",
)
@click.option("--model", default=None, help="Default model for jobs. [env SWESCRIBE_MODEL]")
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default=None,
    help="auto: readable on a terminal, JSON lines otherwise. [env SWESCRIBE_LOG_FORMAT; auto]",
)
def serve(
    host: str, port: int, workers: int | None, model: str | None, log_format: LogFormat | None
) -> None:
    """Run the transcription service on this machine: API, workers and webhooks.

    Ctrl-C or SIGTERM stops it: running jobs go back on the queue (not counted as an
    attempt) and the next start takes them up."""
    import uvicorn

    from swescribe.adapters.local.launcher import LocalProcessLauncher
    from swescribe.api import create_app
    from swescribe.api.server import listening_socket, uvicorn_options
    from swescribe.worker.dispatcher import dispatcher_threads

    # Before anything starts: a port in use must not cost another service its jobs.
    listener = listening_socket(host, port)
    settings = Settings.from_env(workers=workers, model=model, log_format=log_format)
    configure_logging("serve", settings.log_format)
    link_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    if dev_mode_off_for(host, settings, os.environ):
        settings = settings.replace(dev_mode=False)
        click.echo(
            f"{_reachable_how(host, settings)}: callback and audio URLs must be https to "
            "public hosts (SWESCRIBE_DEV_MODE=1 allows http and loopback)",
            err=True,
        )
    if not settings.public_url:
        settings = settings.replace(public_url=f"http://{link_host}:{port}")
    worker_env = {
        **os.environ,
        "SWESCRIBE_DATA_DIR": str(settings.data_dir),
        "SWESCRIBE_PUBLIC_URL": settings.public_url,
        "SWESCRIBE_LOG_FORMAT": settings.log_format,
        "SWESCRIBE_MODEL": settings.model,
        "SWESCRIBE_DEV_MODE": "1" if settings.dev_mode else "0",
        PARENT_PID_VARIABLE: str(os.getpid()),
    }
    launcher = LocalProcessLauncher(settings.workers, worker_env)
    svc = build_local_services(settings, launcher)
    context = replace(
        build_local_api(settings, svc, _live_transcriber(settings)),
        metrics_open=metrics_open_for(host, settings),
    )
    _ensure_a_key(settings)
    _clear_staging(LocalPaths(settings.data_dir).staging)

    sender = webhook_sender(settings)
    stop = threading.Event()
    threads = [
        threading.Thread(target=_supervise, args=(launcher, stop), daemon=True),
        threading.Thread(target=_sweep_regularly, args=(svc, settings, stop), daemon=True),
        *dispatcher_threads(svc, sender, stop),
    ]
    launcher.ensure_capacity(0)
    for thread in threads:
        thread.start()
    click.echo(
        f"swescribe is serving on {settings.public_url}  (API docs: {settings.public_url}/docs)"
    )
    click.echo(f"data: {settings.data_dir}   workers: {settings.workers}   model: {settings.model}")
    # uvicorn re-raises the SIGTERM or SIGINT it caught once it has shut down; without
    # handlers of ours that would end the process before the workers are stopped below.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda signum, frame: sys.exit(0))
    config = uvicorn.Config(
        create_app(context),
        host=host,
        port=port,
        log_level="warning",
        **uvicorn_options(
            settings.trusted_proxies,
            settings.header_timeout_seconds,
            settings.live_max_message_bytes,
        ),
    )
    try:
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        stop.set()
        _stop_workers(launcher, svc)


def _stop_workers(launcher: LocalProcessLauncher, svc: Services) -> None:
    """Workers give their running jobs back (worker/stop_signals.py) and exit; a job that
    one of them still held when it had to be killed is given back here. serve exits
    only after that, so the next start takes every job up at once."""
    from swescribe.core.processing import release_jobs_held_by

    click.echo("swescribe: stopping workers (their jobs go back on the queue)", err=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
    worker_ids = {local_worker_id(pid) for pid in launcher.started_pids}
    launcher.stop()
    left = release_jobs_held_by(svc, worker_ids)
    if left:
        log.warning("jobs of stopped workers given back", extra={"jobs": len(left)})


def _live_transcriber(settings: Settings) -> LiveTranscriber:
    """The engine behind /v1/realtime, in this process: it loads its model on the first
    live session (not at start, so a service that never streams pays nothing)."""
    from swescribe.bootstrap_engine import live_transcriber

    return live_transcriber(settings)


def dev_mode_off_for(host: str, settings: Settings, env: Mapping[str, str]) -> bool:
    """Local dev mode (http and loopback URLs) is turned off when others can reach serve,
    unless SWESCRIBE_DEV_MODE asks for it: a stranger must not make the service call its
    own loopback."""
    return (
        settings.dev_mode
        and reachable_beyond_loopback(host, settings)
        and "SWESCRIBE_DEV_MODE" not in env
    )


def metrics_open_for(host: str, settings: Settings) -> bool:
    """/metrics needs no key only where no one else can reach it, with no metrics token
    set (a token means the operator wants it checked)."""
    return not reachable_beyond_loopback(host, settings) and not settings.metrics_token


def reachable_beyond_loopback(host: str, settings: Settings) -> bool:
    """Whether clients other than this machine's reach serve: it listens beyond loopback,
    a reverse proxy forwards to it (SWESCRIBE_TRUSTED_PROXIES), or the links it hands out
    (SWESCRIBE_PUBLIC_URL) name another host. A proxy's requests come from loopback, so
    the bind alone cannot tell."""
    return bool(_reachable_how(host, settings))


def _reachable_how(host: str, settings: Settings) -> str:
    if not _is_loopback(host):
        return f"listening on {host}"
    if settings.trusted_proxies:
        return "behind a reverse proxy (SWESCRIBE_TRUSTED_PROXIES)"
    public_host = urlsplit(settings.public_url).hostname
    if settings.public_url and not (public_host and _is_loopback(public_host)):
        return f"public URL {settings.public_url}"
    return ""


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _clear_staging(staging: Path) -> None:
    """Half-written uploads and scratch files of a serve that died: never objects yet, so
    nothing a job refers to. No worker runs at this point."""
    if not staging.is_dir():
        return
    for leftover in staging.iterdir():
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        log.info("removed leftover staging file", extra={"file": leftover.name})


def _supervise(launcher: object, stop: threading.Event) -> None:
    """Restart worker processes that died, so a crash costs one job's lease, no more."""
    from swescribe.adapters.local.launcher import LocalProcessLauncher

    assert isinstance(launcher, LocalProcessLauncher)
    while not stop.wait(2.0):
        launcher.ensure_capacity(0)


def _sweep_regularly(svc: Services, settings: Settings, stop: threading.Event) -> None:
    """The janitor's job sweep, inside serve: lost work requeued, webhooks never sent
    queued again, jobs that waited too long failed."""
    from swescribe.bootstrap_janitor import stale_after_seconds
    from swescribe.core.job_sweep import sweep_jobs
    from swescribe.worker.scratch import sweep_scratch

    if settings.sweep_seconds <= 0:
        return
    while not stop.wait(settings.sweep_seconds):
        try:
            sweep_jobs(svc, stale_after_seconds(settings))
            sweep_scratch(LocalPaths(settings.data_dir).staging, svc.jobs)
        except Exception:  # a busy store: the next sweep tries again
            log.exception("job sweep failed")


def _ensure_a_key(settings: Settings) -> None:
    keys = build_local_keys(settings)
    if any(key.revoked_at is None for key in keys.list_keys()):
        return
    key, plaintext = keys.create("default")
    path = LocalPaths(settings.data_dir).local_api_key
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(plaintext + "\n")
    click.echo(f"created API key {key.key_id} (saved for this machine's CLI in {path}):")
    click.echo(plaintext)


def _stop_when_orphaned(parent_pid: int, runner: Worker) -> None:
    """A worker of `serve` leaves (giving its job back) if serve dies without stopping it."""
    while not runner.stopping.wait(2.0):
        if os.getppid() != parent_pid:
            log.warning("serve is gone: giving the current job back and leaving")
            runner.hand_back()


@click.command()
@click.option("--model", default=None, help="Default model. [env SWESCRIBE_MODEL]")
@click.option("--max-jobs", type=int, default=None, help="Exit after this many jobs.")
@click.option("--idle-exit", type=float, default=None, help="Exit after this many idle seconds.")
def worker(model: str | None, max_jobs: int | None, idle_exit: float | None) -> None:
    """Run one transcription worker against the local queue (serve starts these itself)."""
    settings = Settings.from_env(model=model)
    configure_logging("worker", settings.log_format)
    svc = build_local_services(settings)
    from swescribe.worker.stop_signals import hand_back_on_stop_signals

    runner = build_worker(settings, svc)
    hand_back_on_stop_signals(runner)
    parent = os.environ.get(PARENT_PID_VARIABLE)
    if parent:
        threading.Thread(
            target=_stop_when_orphaned, args=(int(parent), runner), daemon=True
        ).start()
    runner.engines(None)  # load the model before taking work
    runner.run(max_jobs=max_jobs, idle_exit_seconds=idle_exit)
