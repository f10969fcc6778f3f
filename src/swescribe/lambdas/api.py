"""TranscriptionAPI: the FastAPI app (POST /api, /v1) behind API Gateway, through Mangum."""

from __future__ import annotations

from functools import cache
from typing import Any

from swescribe.bootstrap_aws import (
    aws_settings,
    build_aws_api,
    build_aws_services,
    build_ec2_launcher,
)
from swescribe.logs import configure_json_logging


@cache
def _asgi_handler() -> Any:
    from mangum import Mangum

    configure_json_logging("api")
    settings = aws_settings()
    svc = build_aws_services(settings, build_ec2_launcher(settings))
    return Mangum(build_aws_api(svc, settings), lifespan="off")


def handler(event: dict[str, Any], context: Any) -> Any:
    return _asgi_handler()(event, context)
