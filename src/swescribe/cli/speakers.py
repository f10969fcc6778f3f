"""`swescribe speakers add NAME FILE | list | remove NAME|ID`: the voices that
`swescribe transcribe --diarize` names speakers by, kept under the data directory.

A voiceprint is biometric personal data: it stays on this machine, is never printed,
and `remove` deletes it.
"""

from __future__ import annotations

from pathlib import Path

import click

from swescribe.bootstrap_engine import local_voices
from swescribe.config import Settings
from swescribe.core.jobs import to_iso
from swescribe.core.voices import LOCAL_OWNER, Voiceprint, enrol


@click.group()
def speakers() -> None:
    """Enrolled voices: speakers that diarized transcripts name."""


@speakers.command()
@click.argument("name")
@click.argument("file", type=click.Path(path_type=Path))
def add(name: str, file: Path) -> None:
    """Enrol NAME from FILE, a recording of that person alone saying anything (a few
    seconds or more)."""
    from swescribe.engine.audio import check_readable
    from swescribe.engine.diarization.known import FileEnroller

    check_readable(file)
    settings = Settings.from_env()
    registry = local_voices(settings)
    enroller = FileEnroller(weights_dirs=settings.speaker_model_dirs)
    voice = enrol(registry, enroller, LOCAL_OWNER, name, file)
    click.echo(f"enrolled {voice.name} ({voice.voice_id}) from {voice.seconds:.1f} s of speech")


@speakers.command(name="list")
def list_voices() -> None:
    """The enrolled voices: name, id, when enrolled."""
    for voice in local_voices(Settings.from_env()).voices(LOCAL_OWNER):
        click.echo(_line(voice))


@speakers.command()
@click.argument("name_or_id")
def remove(name_or_id: str) -> None:
    """Delete an enrolled voice (its voiceprint is removed from the disk)."""
    voice = local_voices(Settings.from_env()).remove(LOCAL_OWNER, name_or_id)
    click.echo(f"removed {voice.name} ({voice.voice_id})")


def _line(voice: Voiceprint) -> str:
    return f"{voice.name}\t{voice.voice_id}\t{to_iso(voice.created_at)}"
