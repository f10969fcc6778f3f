"""Fetch a job's audio from an audio_url: streamed, size-capped, no redirects."""

from __future__ import annotations

from pathlib import Path

import httpx

from swescribe.core.errors import AudioNotFound, InvalidAudio, PayloadTooLarge
from swescribe.core.ports import ObjectStore
from swescribe.core.urls import check_url
from swescribe.outbound import guarded_client

AUDIO_FETCH_SECONDS = 3600.0
"""Longest an audio_url download may take in all (each read also has its own timeout)."""


def check_upload(objects: ObjectStore, key: str, max_bytes: int) -> int:
    """The stored upload's size, before anything is downloaded; refuses oversize uploads
    (S3 enforces a presigned POST's limit, but `aws s3 cp` to the path has none). One
    HeadObject: the worker may read uploads, never list them."""
    size = objects.size(key)
    if size is None:
        raise AudioNotFound(f"the upload {key} is gone (deleted before processing)")
    if size > max_bytes:
        raise PayloadTooLarge(f"the upload is {size} bytes; the limit is {max_bytes}")
    return size


def fetch_audio(
    url: str,
    target: Path,
    *,
    max_bytes: int,
    allow_http: bool,
    timeout: float = 30.0,
    total_timeout: float = AUDIO_FETCH_SECONDS,
) -> int:
    """Download url into target; returns the size. Refuses redirects and oversize bodies.

    The host's addresses are checked when connecting (swescribe.outbound): one that is
    not public raises UnsafeURL. The size is capped on the bytes as sent and again as
    decoded, should a server compress although asked not to.
    """
    check_url(url, allow_http=allow_http, what="audio_url")
    size = 0
    try:
        with (
            guarded_client(
                allow_loopback=allow_http,
                timeout=timeout,
                total_timeout=total_timeout,
                max_response_bytes=max_bytes,
                what="audio_url",
            ) as client,
            client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response,
            target.open("wb") as out,
        ):
            if response.status_code != 200:
                raise InvalidAudio(f"audio_url answered HTTP {response.status_code}")
            for chunk in response.iter_bytes(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(
                        f"the audio_url response is larger than {max_bytes} bytes"
                    )
                out.write(chunk)
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        raise InvalidAudio(f"audio_url could not be fetched ({type(error).__name__})") from None
    return size
