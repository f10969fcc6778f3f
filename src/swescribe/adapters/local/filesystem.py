"""ObjectStore on a directory: keys are relative paths under root, writes are atomic.

Layout is the seed's bucket layout: ``transcription_upload/<job_id>/<file>`` and
``results/<job_id>/transcription_<stamp>_<stem>.<fmt>``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from swescribe.adapters.local.upload_tokens import GET, UploadGrant, create_upload_token
from swescribe.core.errors import InvalidRequest, JobNotFound, PayloadTooLarge
from swescribe.core.filenames import safe_filename
from swescribe.core.ports import ObjectInfo, UploadTarget

CHUNK = 1 << 20


class FilesystemObjectStore:
    def __init__(self, root: Path, public_url: str, signing_key: bytes) -> None:
        self.root = root
        self.public_url = public_url.rstrip("/")
        self.signing_key = signing_key
        root.mkdir(parents=True, exist_ok=True)

    def path_of(self, key: str) -> Path:
        """The file for key; keys that would leave root are refused."""
        pure = PurePosixPath(key)
        if (
            not key
            or pure.is_absolute()
            or "\\" in key
            or "\0" in key
            or any(part in ("", ".", "..") for part in key.rstrip("/").split("/"))
        ):
            raise InvalidRequest(f"invalid object key {key!r}")
        return self.root.joinpath(*pure.parts)

    def put_bytes(self, key: str, data: bytes, content_type: str = "") -> None:
        with self._atomic_writer(key) as out:
            out.write(data)

    def put_file(self, key: str, path: Path, content_type: str = "") -> None:
        with self._atomic_writer(key) as out, path.open("rb") as source:
            shutil.copyfileobj(source, out, CHUNK)

    def put_stream(self, key: str, stream: BinaryIO, max_bytes: int) -> int:
        size = 0
        with self._atomic_writer(key) as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"upload is larger than the limit of {max_bytes} bytes")
                out.write(chunk)
        return size

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.path_of(key).read_bytes()
        except FileNotFoundError:
            raise JobNotFound(f"no object {key!r}") from None

    def download(self, key: str, target: Path) -> int:
        try:
            shutil.copyfile(self.path_of(key), target)
        except FileNotFoundError:
            raise JobNotFound(f"no object {key!r}") from None
        return target.stat().st_size

    def open_read(self, key: str) -> Iterator[bytes]:
        path = self.path_of(key)
        if not path.is_file():
            raise JobNotFound(f"no object {key!r}")

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    yield chunk

        return chunks()

    def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    def size(self, key: str) -> int | None:
        path = self.path_of(key)
        return path.stat().st_size if path.is_file() else None

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        base = self.path_of(prefix) if prefix else self.root
        if base.is_file():
            return [ObjectInfo(prefix, base.stat().st_size)]
        if not base.is_dir():
            return []
        return [
            ObjectInfo(path.relative_to(self.root).as_posix(), path.stat().st_size)
            for path in sorted(base.rglob("*"))
            if path.is_file() and not path.name.startswith(".tmp-")
        ]

    def delete(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        """Delete the object named prefix, or everything under a prefix ending in '/'."""
        objects = self.list_objects(prefix)
        for info in objects:
            self.path_of(info.key).unlink(missing_ok=True)
        base = self.path_of(prefix)
        if base.is_dir():
            shutil.rmtree(base, ignore_errors=True)
        return len(objects)

    def upload_target(
        self, key_prefix: str, filename: str, expires_in: int, max_bytes: int
    ) -> UploadTarget:
        """A PUT link to /v1/uploads/<token>; without a filename the client names the file
        with ?filename= (as `aws s3 cp` names the key in the seed)."""
        key = key_prefix + safe_filename(filename) if filename else key_prefix
        self.path_of(key)  # refuse bad keys now, not at upload time
        expires = time.time() + expires_in
        token = create_upload_token(UploadGrant(key, max_bytes, expires), self.signing_key)
        return UploadTarget(
            url=f"{self.public_url}/v1/uploads/{token}",
            method="PUT",
            expires_at=datetime.fromtimestamp(int(expires), UTC),
            headers={"Content-Type": "application/octet-stream"},
            max_bytes=max_bytes,
        )

    def download_link(self, key: str, expires_in: int) -> str:
        self.path_of(key)
        grant = UploadGrant(key, 0, time.time() + expires_in, purpose=GET)
        return f"{self.public_url}/v1/objects/{create_upload_token(grant, self.signing_key)}"

    def _atomic_writer(self, key: str) -> _AtomicFile:
        return _AtomicFile(self.path_of(key))


class _AtomicFile:
    """Write to a temporary file beside the target, rename into place on success only."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __enter__(self) -> BinaryIO:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=self.target.parent, prefix=".tmp-")
        self.temporary = Path(name)
        self.out: BinaryIO = os.fdopen(handle, "wb")
        return self.out

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self.out.close()
        if kind is None:
            os.replace(self.temporary, self.target)
        else:
            self.temporary.unlink(missing_ok=True)
