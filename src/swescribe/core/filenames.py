"""Client-given file names made safe to use as the last part of an object key."""

from __future__ import annotations

import re
import unicodedata

from swescribe.core.errors import InvalidAudio

MAX_NAME_BYTES = 200
PLAYLIST_EXTENSIONS = frozenset(
    {"m3u", "m3u8", "pls", "xspf", "asx", "wpl", "mpd", "ffconcat", "concat", "sdp", "cue"}
)
"""Playlists and lists name other files or URLs; audio is the bytes uploaded, so these
are refused by name at upload (and never opened by the engine, whatever their name)."""
DEFAULT_NAME = "audio"
_UNSAFE = re.compile(r"[^\w.\-]+")


def safe_filename(name: str, default: str = DEFAULT_NAME) -> str:
    """A base name of letters (å, ä, ö included), digits, '.', '-' and '_' only.

    Path parts (``../``, absolute paths, backslashes) are dropped, control characters
    and NUL removed, other characters turned into '_', and the result capped at
    MAX_NAME_BYTES of UTF-8 with the extension kept. Never empty, never '.' or '..'.
    """
    name = unicodedata.normalize("NFC", name.replace("\\", "/")).rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip("._-")
    if not name:
        return default
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > 10:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    budget = MAX_NAME_BYTES - len(suffix.encode())
    stem = stem.encode()[:budget].decode(errors="ignore").rstrip("._-") or default
    return stem + suffix


def refuse_playlist(name: str | None) -> None:
    """InvalidAudio for a file name whose extension says playlist or list of files."""
    _, dot, extension = (name or "").rpartition(".")
    if dot and extension.lower() in PLAYLIST_EXTENSIONS:
        raise InvalidAudio(
            f"{safe_filename(name or '')}: a .{extension} file is a playlist or a list of "
            "other files, not audio; upload the audio file itself"
        )
