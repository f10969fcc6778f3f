"""Enrolled voices (issue 28): a name and a voiceprint, kept per API key.

A voiceprint is biometric personal data: it is stored only under its owner's prefix
(``speakers/<owner>/<id>.json`` in the ObjectStore, beside but apart from the job
prefixes that retention sweeps), listed by name, id and creation time (never the
vector), never logged, and deleted when asked.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from swescribe.core.errors import (
    InvalidParameter,
    InvalidRequest,
    SpeakerExists,
    SpeakerNotFound,
)
from swescribe.core.jobs import from_iso, to_iso
from swescribe.core.ports import ObjectStore
from swescribe.core.request import MAX_KNOWN_SPEAKERS, MAX_SPEAKER_NAME_CHARS

SPEAKERS_ROOT = "speakers"
MAX_NAME_CHARS = MAX_SPEAKER_NAME_CHARS
MAX_VOICES_PER_OWNER = MAX_KNOWN_SPEAKERS
NAME_PATTERN = re.compile(r"^[^\x00-\x1f/\\]+$")
NUMBERED_LABEL = re.compile(r"^S\d+$")
"""The labels given to unknown speakers (S1, S2, …): not a name one can enrol."""
LOCAL_OWNER = "local"
"""The owner of the CLI's voices (`swescribe speakers add`, `transcribe --diarize`)."""


@dataclass(frozen=True)
class Voiceprint:
    """One enrolled voice: the mean GE2E embedding (unit length) of its speech."""

    voice_id: str
    name: str
    created_at: datetime
    vector: tuple[float, ...] = field(repr=False)
    seconds: float = 0.0
    """Seconds of speech it was made from."""

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "id": self.voice_id,
                "name": self.name,
                "created_at": to_iso(self.created_at),
                "seconds": round(self.seconds, 2),
                "vector": [round(v, 6) for v in self.vector],
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Voiceprint:
        record = json.loads(data)
        created = from_iso(record["created_at"])
        assert created is not None
        return cls(
            voice_id=record["id"],
            name=record["name"],
            created_at=created,
            vector=tuple(float(v) for v in record["vector"]),
            seconds=float(record.get("seconds", 0.0)),
        )


class VoiceEnroller(Protocol):
    """Makes the voiceprint of [start, end] seconds of a recording (end None: to its
    end), name and id left empty; InvalidAudio when it holds too little speech."""

    def __call__(self, path: Path, start: float = 0.0, end: float | None = None) -> Voiceprint: ...


def new_voice_id() -> str:
    return f"spk_{secrets.token_hex(8)}"


def check_name(name: str) -> str:
    """The name, trimmed; refused when empty, too long, a path, or a label like S1."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or not NAME_PATTERN.match(name):
        raise InvalidRequest(
            f"a speaker's name is 1 to {MAX_NAME_CHARS} characters, without / or \\"
        )
    if NUMBERED_LABEL.match(name):
        raise InvalidRequest(f"{name!r} is how unknown speakers are labelled; choose a name")
    return name


def _prefix(owner: str) -> str:
    if not owner or "/" in owner or owner in (".", ".."):
        raise InvalidRequest("invalid owner for enrolled voices")
    return f"{SPEAKERS_ROOT}/{owner}/"


def enrol(
    registry: VoiceRegistry,
    enroller: VoiceEnroller,
    owner: str,
    name: str,
    audio: Path,
    start: float = 0.0,
    end: float | None = None,
) -> Voiceprint:
    """Enrols name for owner from [start, end] of audio: the one service function that
    the CLI and the API call."""
    name = check_name(name)
    if start < 0 or (end is not None and end <= start):
        raise InvalidRequest("start must be 0 or more, and end after start")
    registry.refuse_taken(owner, name)
    made = enroller(audio, start, end)
    voice = Voiceprint(new_voice_id(), name, made.created_at, made.vector, made.seconds)
    return registry.add(owner, voice)


class VoiceRegistry:
    """The enrolled voices of every owner, in an ObjectStore."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def voices(self, owner: str) -> list[Voiceprint]:
        """The owner's voices, oldest first."""
        found = [
            Voiceprint.from_json(self.objects.get_bytes(info.key))
            for info in self.objects.list_objects(_prefix(owner))
            if info.key.endswith(".json")
        ]
        return sorted(found, key=lambda v: (v.created_at, v.name))

    def refuse_taken(self, owner: str, name: str) -> None:
        """SpeakerExists when the owner has a voice of that name; InvalidRequest when the
        owner has as many voices as one may (checked before a voiceprint is made)."""
        existing = self.voices(owner)
        if any(v.name.casefold() == name.casefold() for v in existing):
            raise SpeakerExists(f"a voice named {name!r} is enrolled already; remove it first")
        if len(existing) >= MAX_VOICES_PER_OWNER:
            raise InvalidRequest(f"at most {MAX_VOICES_PER_OWNER} voices can be enrolled")

    def add(self, owner: str, voice: Voiceprint) -> Voiceprint:
        """Stores voice; a name the owner already uses is refused (remove it first)."""
        self.refuse_taken(owner, voice.name)
        self.objects.put_bytes(
            f"{_prefix(owner)}{voice.voice_id}.json", voice.to_json(), "application/json"
        )
        return voice

    def find(self, owner: str, name_or_id: str) -> Voiceprint:
        for voice in self.voices(owner):
            if name_or_id in (voice.voice_id, voice.name) or (
                voice.name.casefold() == name_or_id.strip().casefold()
            ):
                return voice
        raise SpeakerNotFound(f"no enrolled speaker {name_or_id!r}")

    def remove(self, owner: str, name_or_id: str) -> Voiceprint:
        """Deletes the voiceprint from storage; SpeakerNotFound when the owner has none."""
        voice = self.find(owner, name_or_id)
        self.objects.delete_prefix(f"{_prefix(owner)}{voice.voice_id}.json")
        return voice

    def chosen(self, owner: str, wanted: Sequence[str] | None) -> list[Voiceprint]:
        """The voices a job looks for: all the owner's (None), none ([]), or those named
        (by name or id; a name not enrolled is refused)."""
        if wanted is None:
            return self.voices(owner)
        return [self.find(owner, name_or_id) for name_or_id in dict.fromkeys(wanted)]


def refuse_unknown_voices(objects: ObjectStore, owner: str, wanted: Sequence[str]) -> None:
    """A job's known_speakers must name enrolled voices of its key (checked when made)."""
    try:
        VoiceRegistry(objects).chosen(owner, wanted)
    except SpeakerNotFound as error:
        raise InvalidParameter(f"known_speakers: {error}", "known_speakers") from None
