"""Fetch a job's audio from an audio_url: streamed, size-capped, no redirects."""

from __future__ import annotations

from pathlib import Path

import httpx

from swescribe.core.errors import InvalidAudio, PayloadTooLarge
from swescribe.outbound import check_outbound_url


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
