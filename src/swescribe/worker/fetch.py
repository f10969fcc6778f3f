"""Fetch a job's audio from an audio_url: streamed, size-capped, no redirects."""

from __future__ import annotations

from pathlib import Path

import httpx

from swescribe.core.errors import AudioNotFound, InvalidAudio, PayloadTooLarge
from swescribe.core.ports import ObjectStore
from swescribe.outbound import check_outbound_url


def check_upload(objects: ObjectStore, key: str, max_bytes: int) -> int:
    """The stored upload's size, before anything is downloaded; refuses oversize uploads
    (S3 enforces a presigned POST's limit, but `aws s3 cp` to the path has none)."""
    stored = [o for o in objects.list_objects(key) if o.key == key]
    if not stored:
        raise AudioNotFound(f"the upload {key} is gone (deleted before processing)")
    if stored[0].size > max_bytes:
        raise PayloadTooLarge(f"the upload is {stored[0].size} bytes; the limit is {max_bytes}")
    return stored[0].size


def fetch_audio(
    url: str, target: Path, *, max_bytes: int, allow_http: bool, timeout: float = 30.0
) -> int:
    """Download url into target; returns the size. Refuses redirects and oversize bodies."""
    check_outbound_url(url, allow_http=allow_http, what="audio_url")
    size = 0
    try:
        with (
            httpx.stream("GET", url, timeout=timeout, follow_redirects=False) as response,
            target.open("wb") as out,
        ):
            if response.status_code != 200:
                raise InvalidAudio(f"audio_url answered HTTP {response.status_code}")
            for chunk in response.iter_bytes(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"audio_url is larger than {max_bytes} bytes")
                out.write(chunk)
    except httpx.HTTPError as error:
        raise InvalidAudio(f"audio_url could not be fetched ({type(error).__name__})") from None
    return size
