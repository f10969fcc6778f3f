"""The data directory's private key files (the upload-link signing key, the key that seals
callback secrets): random bytes in a file only this user can read, made once."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_FILE_MODE = 0o600
KEY_BYTES = 32


def read_or_create_secret(path: Path) -> bytes:
    """A random key kept in a 0600 file, created once (atomically, so racing processes agree).

    The key is written to a private temporary file (O_EXCL: never through a link someone
    planted there) and linked into place, which fails if another process won the race; an
    older installation's key file that others could read is tightened."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        return _create(path)
    if path.stat().st_mode & 0o777 != KEY_FILE_MODE:
        path.chmod(KEY_FILE_MODE)
    return key


def _create(path: Path) -> bytes:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)  # left by a crashed process that had this pid
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_bytes(KEY_BYTES))
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_bytes()
