"""The HTTP API: the seed's POST /api, the /v1 REST API, uploads, health and metrics."""

from swescribe.api.app import ApiContext, create_app

__all__ = ["ApiContext", "create_app"]
