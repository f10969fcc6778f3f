"""The HTTP API: the seed's POST /api, the /v1 REST API, uploads, health and metrics."""

from swescribe.api.app import create_app
from swescribe.api.deps import ApiContext, LocalUploads

__all__ = ["ApiContext", "LocalUploads", "create_app"]
