"""Guards for outbound HTTP to client-given URLs (callbacks, audio_url)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from swescribe.core.errors import UnsafeURL
from swescribe.core.urls import check_url


def check_resolved_host(url: str, *, allow_loopback: bool) -> None:
    """Refuse hosts that resolve to loopback, private, link-local or metadata addresses.

    allow_loopback is local dev mode, where a receiver on this machine is the point.
    """
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as error:
        raise UnsafeURL(f"cannot resolve {host!r} ({error.strerror})") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global and not (allow_loopback and address.is_loopback):
            raise UnsafeURL(f"{host!r} resolves to a non-public address")


def check_outbound_url(url: str, *, allow_http: bool, what: str) -> None:
    """The lexical check, then the resolved addresses: both before any connection."""
    check_url(url, allow_http=allow_http, what=what)
    check_resolved_host(url, allow_loopback=allow_http)
