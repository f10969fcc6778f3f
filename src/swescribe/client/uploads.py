"""Streaming an upload: progress as bytes go out, sizes, names, presigned URLs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO

import httpx

from swescribe.client.models import UploadProgress

CHUNK_BYTES = 1 << 20


class ProgressReader:
    """A binary file object that reports how much of it has been read."""

    def __init__(
        self, source: IO[bytes], total: int | None, progress: UploadProgress | None
    ) -> None:
        self._source = source
        self._start = source.tell() if total is not None else 0
        self._total = total
        self._progress = progress
        self.sent = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        if chunk:
            self.sent += len(chunk)
            if self._progress:
                self._progress(self.sent, self._total)
        return chunk

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        while chunk := self.read(chunk_size):
            yield chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """httpx rewinds a form's file to its start before sending it."""
        if offset == 0 and whence == os.SEEK_SET:
            self.sent = 0
            return self._source.seek(self._start) - self._start
        return self._source.seek(offset, whence) - self._start

    def tell(self) -> int:
        return self._source.tell() - self._start


def readable_name(name: str) -> str:
    """A file name as text that can travel: a name that is not UTF-8 on disk (Python holds
    its bytes as lone surrogates) gets U+FFFD for each undecodable byte."""
    return os.fsencode(name).decode("utf-8", "replace")


def remaining_size(source: IO[bytes]) -> int | None:
    """Bytes from the current position to the end, or None for a stream that cannot seek."""
    try:
        if not source.seekable():
            return None
        here = source.tell()
        end = source.seek(0, os.SEEK_END)
        source.seek(here)
    except (OSError, ValueError):
        return None
    return end - here


def is_presigned(url: httpx.URL) -> bool:
    """A presigned S3 URL names its key and signs its query: nothing may be added to it."""
    return any(name.lower().endswith("signature") for name in url.params)
