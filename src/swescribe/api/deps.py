"""What a route depends on: the app's context, and the caller its API key names.

Routes declare `context: Context` and `caller: Caller` (FastAPI dependencies) and import
them from here, never from api/app.py, which imports the routes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request

from swescribe.api.credentials import authenticated_key, presented_key
from swescribe.api.limits import ApiLimits
from swescribe.api.live_limits import LiveLimits
from swescribe.core.apikeys import ApiKey, ApiKeyStore
from swescribe.core.errors import Unauthorized
from swescribe.core.services import Services
from swescribe.core.voices import VoiceEnroller

if TYPE_CHECKING:  # the engine's port imports numpy, which the API Lambda never loads
    from swescribe.engine.live_ports import LiveTranscriber

GATEWAY_KEY_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LocalUploads:
    """The local shape's upload endpoint: how to check a link, and where to stage bytes."""

    verify_token: Callable[[str], tuple[str, int]]
    """token -> (key or key prefix, max_bytes); raises Unauthorized when invalid/expired."""
    staging_dir: Path
    readable_file: Callable[[str], Path] | None = None
    """download token -> the object's file; raises Unauthorized when invalid/expired."""


@dataclass(frozen=True)
class ApiContext:
    svc: Services
    keys: ApiKeyStore | None
    """Keys the app checks itself (local shape); None behind API Gateway."""
    uploads: LocalUploads | None = None
    limits: ApiLimits = field(default_factory=ApiLimits)
    trust_gateway_identity: bool = False
    """AWS shape: API Gateway has checked X-API-Key (and throttled it); the key's id in
    the request context is the caller. Only deploy this behind a gateway that requires
    the key on every method."""
    metrics_token: str = field(default="", repr=False)
    """Bearer token that reads /metrics without an API key; empty: none."""
    metrics_open: bool = False
    """/metrics needs nothing: serve listening on loopback only."""
    metrics_cache_seconds: float = 0.0
    """How long one rendering of /metrics is served again (AWS: its counts are queries)."""
    realtime: bool = False
    """Serve the /v1/realtime WebSocket (the local shape). The AWS API Lambda never does:
    API Gateway's REST API carries no WebSocket."""
    live: LiveTranscriber | None = None
    """The live engine behind /v1/realtime; None: a connection is told that live
    transcription is not available here, and closed."""
    live_limits: LiveLimits = field(default_factory=LiveLimits)
    result_redirects: bool = False
    """GET /v1/jobs/{id}/transcript answers a 303 to a signed link of the result instead
    of its bytes (AWS: a Lambda response is at most 6 MB; a long transcript is more)."""
    enroller: VoiceEnroller | None = None
    """Makes voiceprints for POST /v1/speakers (the local shape); None: a 501 that says
    this process cannot (the AWS API Lambda carries no numpy)."""


def get_context(request: Request) -> ApiContext:
    """The context create_app was given."""
    context: ApiContext = request.app.state.context
    return context


def require_key(
    request: Request,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> ApiKey:
    """Every job endpoint needs a valid, unrevoked key: X-API-Key (the seed's header) or
    Authorization: Bearer (OpenAI's)."""
    context = get_context(request)
    if context.trust_gateway_identity:
        return gateway_caller(request)
    presented = presented_key(x_api_key, authorization)
    if not presented:
        raise Unauthorized("missing API key: send X-API-Key or Authorization: Bearer")
    key = authenticated_key(request.scope)  # checked (and charged) by the rate limiter
    if key is None and context.keys is not None:
        key = context.keys.authenticate(presented)
    if key is None:
        raise Unauthorized("invalid or revoked API key")
    return key


def gateway_caller(request: Request) -> ApiKey:
    """The API key API Gateway authenticated, from the Lambda event Mangum passes on."""
    event = request.scope.get("aws.event") or {}
    identity = (event.get("requestContext") or {}).get("identity") or {}
    key_id = identity.get("apiKeyId")
    if not key_id:
        raise Unauthorized("missing X-API-Key header")
    return ApiKey(key_id=str(key_id), name="api-gateway", created_at=GATEWAY_KEY_EPOCH)


Context = Annotated[ApiContext, Depends(get_context)]
"""The app's context (services, key store, limits): `context: Context` in a route."""
Caller = Annotated[ApiKey, Depends(require_key)]
"""The authenticated API key (401 without one): `caller: Caller` in a route."""
