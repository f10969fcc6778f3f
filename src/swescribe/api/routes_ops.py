"""Health and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from swescribe.api.app import Context
from swescribe.core.jobs import JobStatus
from swescribe.core.service import Services

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness and store reachability")
async def healthz(context: Context) -> dict[str, object]:
    depth = await run_in_threadpool(context.svc.queue.depth)
    return {"status": "ok", "queue_depth": depth}


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
    by_status = dict.fromkeys(JobStatus, 0)
    webhooks_by_state: dict[str, int] = {}
    cursor: str | None = None
    for _ in range(1000):  # bounded: 1000 pages of 500 jobs
        page = svc.jobs.list_jobs(None, limit=500, cursor=cursor)
        for job in page.jobs:
            by_status[job.status] += 1
            state = job.webhook_state.value
            webhooks_by_state[state] = webhooks_by_state.get(state, 0) + 1
        cursor = page.next_cursor
        if cursor is None:
            break
    lines = [
        "# HELP swescribe_jobs Stored jobs by status.",
        "# TYPE swescribe_jobs gauge",
        *(f'swescribe_jobs{{status="{s.value}"}} {n}' for s, n in by_status.items()),
        "# HELP swescribe_webhooks Stored jobs by webhook delivery state.",
        "# TYPE swescribe_webhooks gauge",
        *(f'swescribe_webhooks{{state="{s}"}} {n}' for s, n in sorted(webhooks_by_state.items())),
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


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def metrics(context: Context) -> PlainTextResponse:
    text = await run_in_threadpool(render_metrics, context.svc)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
