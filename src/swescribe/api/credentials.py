"""Where a request carries its API key: `X-API-Key` (the seed's header), or
`Authorization: Bearer <key>` (what OpenAI's SDKs and most HTTP tools send); a WebSocket
handshake also as the `openai-insecure-api-key.<key>` subprotocol, the one place a
browser's WebSocket can put it."""

from __future__ import annotations

from starlette.types import Scope

from swescribe.core.apikeys import ApiKey

KEY_SUBPROTOCOL = "openai-insecure-api-key."
AUTHENTICATED_KEY = "swescribe.api_key"
"""Where the rate limiter leaves the key it checked, in the request's ASGI scope."""


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` value; empty for anything else."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def presented_key(x_api_key: str | None, authorization: str | None) -> str:
    """The key a request presents: X-API-Key when it has one, else its bearer token."""
    return (x_api_key or "").strip() or bearer_token(authorization)


def scope_key(scope: Scope) -> str:
    """presented_key, from the raw ASGI headers (for middleware); for a WebSocket with
    neither header, the key its subprotocols carry."""
    found: dict[bytes, str] = {}
    for name, value in scope.get("headers", ()):
        if name in (b"x-api-key", b"authorization") and name not in found:
            found[name] = bytes(value).decode("latin-1")
    key = presented_key(found.get(b"x-api-key"), found.get(b"authorization"))
    if key or scope.get("type") != "websocket":
        return key
    for protocol in scope.get("subprotocols") or ():
        if str(protocol).startswith(KEY_SUBPROTOCOL):
            return str(protocol)[len(KEY_SUBPROTOCOL) :].strip()
    return ""


def authenticated_key(scope: Scope) -> ApiKey | None:
    """The key the rate limiter has already checked for this request, if it has."""
    key = scope.get(AUTHENTICATED_KEY)
    return key if isinstance(key, ApiKey) else None
