"""swescribe: fast, trustworthy Swedish speech-to-text, locally or on AWS."""

from importlib.metadata import PackageNotFoundError, version


def _installed_version() -> str:
    """pyproject's version, as the installed package's metadata carries it: the one
    source of truth. A source tree that was never installed has no metadata, and says
    so rather than guess (`0+unknown` sorts below every release)."""
    try:
        return version("swescribe")
    except PackageNotFoundError:
        return "0+unknown"


__version__ = _installed_version()
