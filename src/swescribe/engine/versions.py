"""The versions of the code that transcribes here, as a transcript records them."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from swescribe.core.transcription_settings import EngineVersions


@lru_cache(maxsize=1)
def installed_versions() -> EngineVersions:
    """The versions of the code that runs here."""
    from swescribe import __version__

    return EngineVersions(__version__, _version("faster-whisper"), _version("ctranslate2"))


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"
