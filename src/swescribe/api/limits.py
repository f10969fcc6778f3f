"""Request limits of the API: body size of JSON requests, and a rate limit per API key."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI


@dataclass(frozen=True)
class ApiLimits:
    rate_per_minute: int = 120
    """Requests per API key and minute (0: no limit; API Gateway throttles on AWS)."""
    burst: int = 30
    max_json_bytes: int = 64 * 1024


def install_limits(app: FastAPI, limits: ApiLimits) -> None:
    """Add the middleware that enforces limits (written in issue 8)."""
