"""FastAPI app factory: the same app serves `swescribe serve` and the API Lambda."""

from __future__ import annotations

from fastapi import FastAPI

from swescribe import __version__
from swescribe.api import (
    routes_docs,
    routes_jobs,
    routes_openai,
    routes_ops,
    routes_seed,
    routes_speakers,
    routes_uploads,
    routes_web,
)
from swescribe.api.audio_body_limit import AudioBodyLimit
from swescribe.api.deps import ApiContext
from swescribe.api.errors import install_error_handlers
from swescribe.api.headers import SecurityHeaders
from swescribe.api.limits import install_limits
from swescribe.api.live_limits import LiveSlots


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(
        title="swescribe",
        version=__version__,
        docs_url=None,  # routes_docs serves them, with a CSP of their own
        redoc_url=None,
        description=(
            "Swedish speech-to-text as a service. Register a job, upload audio to its "
            "upload URL, and receive an HMAC-signed webhook with the transcript."
        ),
    )
    app.state.context = context
    install_error_handlers(app)
    app.add_middleware(AudioBodyLimit)  # inside the rate limits: a refused body is not read
    install_limits(app, context.limits, context.keys.authenticate if context.keys else None)
    app.add_middleware(SecurityHeaders)  # outermost: 413s and 429s get the headers too
    app.include_router(routes_docs.router)
    app.include_router(routes_seed.router)
    app.include_router(routes_jobs.router)
    app.include_router(routes_ops.router)
    app.include_router(routes_openai.router)
    app.include_router(routes_speakers.router)
    if context.uploads is not None:
        app.include_router(routes_uploads.router)
        app.include_router(routes_web.router)
    app.state.live_slots = LiveSlots(context.live_limits)
    if context.realtime:
        from swescribe.api import routes_realtime  # the engine's port: numpy, never on AWS

        app.include_router(routes_realtime.router)
    return app
