"""Lexical URL checks for callback and audio URLs (resolution is checked at connect time)."""

from __future__ import annotations

import ipaddress
import unicodedata
from urllib.parse import urlsplit

from swescribe.core.errors import UnsafeURL

MAX_URL_LENGTH = 2048
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback_host(host: str) -> bool:
    if host.lower() in _LOCAL_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_http: bool, what: str = "url") -> str:
    """https to a public host; in local dev mode (allow_http) also http to loopback.

    Returns the URL unchanged. Names are resolved and checked again when connecting.
    """
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"{what} is longer than {MAX_URL_LENGTH} characters")
    if any(_is_control_or_space(character) for character in url):
        raise UnsafeURL(
            f"{what} must not contain spaces or control characters (percent-encode them)"
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError as error:
        raise UnsafeURL(f"{what} is not a valid URL ({error})") from None
    if parts.scheme not in ("https", "http"):
        raise UnsafeURL(f"{what} must be an https URL")
    if not host:
        raise UnsafeURL(f"{what} has no host")
    if parts.username or parts.password:
        raise UnsafeURL(f"{what} must not carry credentials")
    local_ok = allow_http and is_loopback_host(host)
    if parts.scheme == "http" and not local_ok:
        raise UnsafeURL(f"{what} must use https (plain http only to loopback in local dev mode)")
    if _is_internal_literal(host) and not local_ok:
        raise UnsafeURL(f"{what} points at a private or internal address")
    return url


def _is_control_or_space(character: str) -> bool:
    """Control, format and separator characters (\\x00-\\x1f, DEL, CR LF, U+2028, spaces):
    no URL carries them unencoded, and a stored one would only fail at delivery."""
    return unicodedata.category(character)[0] in "CZ"


def _is_internal_literal(host: str) -> bool:
    if is_loopback_host(host):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global
