"""Health and Prometheus metrics.

/metrics shows service-wide figures only (no label names a key, a job or a URL), from
counts the stores keep as jobs change: its cost does not grow with the stored jobs. It
needs an API key or the metrics token, unless serve listens on loopback only, and is rate
limited like any call.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from swescribe import __version__
from swescribe.api.deps import ApiContext, Context, require_key
from swescribe.api.schemas import ErrorResponse
from swescribe.core.services import Services

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness and store reachability")
async def healthz(context: Context) -> dict[str, object]:
    depth = await run_in_threadpool(context.svc.queue.depth)
    return {"status": "ok", "version": __version__, "queue_depth": depth}


COUNTERS = {
    "jobs_completed": "Jobs completed.",
    "jobs_failed": "Jobs failed.",
    "processing_seconds": "Seconds spent transcribing completed jobs.",
    "audio_seconds": "Seconds of audio transcribed.",
    "webhook_attempts": "Webhook delivery attempts.",
    "webhooks_delivered": "Webhooks delivered.",
}
"""Monotonic totals (they survive job deletion), where the service keeps them."""


def render_metrics(svc: Services) -> str:
    counts = svc.jobs.counts()
    lines = [
        "# HELP swescribe_jobs Stored jobs by status.",
        "# TYPE swescribe_jobs gauge",
        *(f'swescribe_jobs{{status="{s.value}"}} {n}' for s, n in counts.by_status.items()),
    ]
    if counts.by_webhook_state is not None:
        lines += [
            "# HELP swescribe_webhooks Stored jobs by webhook delivery state.",
            "# TYPE swescribe_webhooks gauge",
            *(
                f'swescribe_webhooks{{state="{state}"}} {n}'
                for state, n in sorted(counts.by_webhook_state.items())
            ),
        ]
    lines += [
        "# HELP swescribe_queue_depth Work items waiting.",
        "# TYPE swescribe_queue_depth gauge",
        f"swescribe_queue_depth {svc.queue.depth()}",
    ]
    if svc.counters is not None:
        totals = svc.counters.read()
        for name, help_text in COUNTERS.items():
            lines += [
                f"# HELP swescribe_{name}_total {help_text}",
                f"# TYPE swescribe_{name}_total counter",
                f"swescribe_{name}_total {float(totals.get(name, 0.0))!r}",
            ]
    return "\n".join(lines) + "\n"


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={401: {"model": ErrorResponse}, 429: {"model": ErrorResponse}},
    summary="Prometheus metrics (an API key, or Authorization: Bearer <metrics token>)",
)
async def metrics(
    request: Request,
    context: Context,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
) -> PlainTextResponse:
    if not (context.metrics_open or _is_metrics_token(context, authorization)):
        await run_in_threadpool(require_key, request, x_api_key, authorization)
    text = await run_in_threadpool(_rendered, request, context)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


def _is_metrics_token(context: ApiContext, authorization: str | None) -> bool:
    scheme, _, token = (authorization or "").partition(" ")
    expected = context.metrics_token.encode()
    return (
        bool(expected)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(token.strip().encode(), expected)
    )


def _rendered(request: Request, context: ApiContext) -> str:
    """render_metrics, or its last result while younger than metrics_cache_seconds."""
    cached: tuple[float, str] | None = getattr(request.app.state, "metrics_cache", None)
    now = time.monotonic()
    if cached is not None and now - cached[0] < context.metrics_cache_seconds:
        return cached[1]
    text = render_metrics(context.svc)
    request.app.state.metrics_cache = (now, text)
    return text
