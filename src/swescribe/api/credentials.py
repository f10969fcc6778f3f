"""Where a request carries its API key: `X-API-Key` (the seed's header), or
`Authorization: Bearer <key>` (what OpenAI's SDKs and most HTTP tools send)."""

from __future__ import annotations

from starlette.types import Scope

from swescribe.core.apikeys import ApiKey

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
    """presented_key, from the raw ASGI headers (for middleware)."""
    found: dict[bytes, str] = {}
    for name, value in scope.get("headers", ()):
        if name in (b"x-api-key", b"authorization") and name not in found:
            found[name] = bytes(value).decode("latin-1")
    return presented_key(found.get(b"x-api-key"), found.get(b"authorization"))


def authenticated_key(scope: Scope) -> ApiKey | None:
    """The key the rate limiter has already checked for this request, if it has."""
    key = scope.get(AUTHENTICATED_KEY)
    return key if isinstance(key, ApiKey) else None
