"""How stored uploads are served back: as audio or as opaque bytes, never as a page.

An upload is whatever a key holder sent, under a name they chose. Served with a type
guessed from that name, an `evil.html` or `.svg` would run as script wherever it is
served; so only a fixed table of audio and video types is ever named, and everything
else is `application/octet-stream`.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote

OPAQUE = "application/octet-stream"
MEDIA_TYPES_BY_SUFFIX = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
    ".weba": "audio/webm",
    ".webm": "video/webm",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
}
"""Types a browser plays and never runs; none of them is script, HTML, SVG or XML."""


def stored_media_type(key: str) -> str:
    """The type a stored object is served with: audio/video by its suffix, else opaque."""
    return MEDIA_TYPES_BY_SUFFIX.get(PurePosixPath(key).suffix.lower(), OPAQUE)


def attachment(key: str) -> str:
    """A Content-Disposition that saves the object (under its own name) rather than opening
    it; an <audio> element still plays it, as media elements ignore the disposition."""
    name = PurePosixPath(key).name or "audio"
    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
