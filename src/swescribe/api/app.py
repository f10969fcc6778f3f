"""FastAPI app factory: the same app serves `swescribe serve` and the API Lambda."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request

from swescribe import __version__
from swescribe.api.errors import install_error_handlers
from swescribe.core.apikeys import ApiKey, ApiKeyStore
from swescribe.core.errors import Unauthorized
from swescribe.core.service import Services


@dataclass(frozen=True)
class LocalUploads:
    """The local shape's upload endpoint: how to check a link, and where to stage bytes."""

    verify_token: Callable[[str], tuple[str, int]]
    """token -> (key or key prefix, max_bytes); raises Unauthorized when invalid/expired."""
    staging_dir: Path


@dataclass(frozen=True)
class ApiContext:
    svc: Services
    keys: ApiKeyStore
    uploads: LocalUploads | None = None


def create_app(context: ApiContext) -> FastAPI:
    from swescribe.api import routes_jobs, routes_ops, routes_seed, routes_uploads

    app = FastAPI(
        title="swescribe",
        version=__version__,
        description=(
            "Swedish speech-to-text as a service. Register a job, upload audio to its "
            "upload URL, and receive an HMAC-signed webhook with the transcript."
        ),
    )
    app.state.context = context
    install_error_handlers(app)
    app.include_router(routes_seed.router)
    app.include_router(routes_jobs.router)
    app.include_router(routes_ops.router)
    if context.uploads is not None:
        app.include_router(routes_uploads.router)
    return app


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


def require_key(
    request: Request,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
) -> ApiKey:
    """Every job endpoint needs a valid, unrevoked key (seed: X-API-Key)."""
    if not x_api_key:
        raise Unauthorized("missing X-API-Key header")
    key = get_context(request).keys.authenticate(x_api_key)
    if key is None:
        raise Unauthorized("invalid or revoked API key")
    return key


Context = Annotated[ApiContext, Depends(get_context)]
Caller = Annotated[ApiKey, Depends(require_key)]
