"""Enrolled voices (issue 28): a name and a voiceprint, kept per API key.

A voiceprint is biometric personal data: it is stored only under its owner's prefix
(``speakers/<owner>/<id>.json`` in the ObjectStore, beside but apart from the job
prefixes that retention sweeps), listed by name, id and creation time (never the
vector), never logged, and deleted when asked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from swescribe.core.errors import InvalidRequest, SpeakerExists, SpeakerNotFound
from swescribe.core.jobs import from_iso, to_iso
from swescribe.core.ports import ObjectStore

SPEAKERS_ROOT = "speakers"
MAX_NAME_CHARS = 64
MAX_VOICES_PER_OWNER = 100
NAME_PATTERN = re.compile(r"^[^\x00-\x1f/\\]+$")
NUMBERED_LABEL = re.compile(r"^S\d+$")
"""The labels given to unknown speakers (S1, S2, …): not a name one can enrol."""
ID_PATTERN = re.compile(r"^spk_[0-9a-f]{16,32}$")
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

    def add(self, owner: str, voice: Voiceprint) -> Voiceprint:
        """Stores voice; a name the owner already uses is refused (remove it first)."""
        existing = self.voices(owner)
        if any(v.name.casefold() == voice.name.casefold() for v in existing):
            raise SpeakerExists(
                f"a voice named {voice.name!r} is enrolled already; remove it first"
            )
        if len(existing) >= MAX_VOICES_PER_OWNER:
            raise InvalidRequest(f"at most {MAX_VOICES_PER_OWNER} voices can be enrolled")
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
