"""TranscriptionAPI Lambda (the seed's lambda/lambda_api.py): POST /api and the /v1 API.

API Gateway (REST, X-API-Key required) -> this handler -> the swescribe FastAPI app.
Configuration comes from the environment: SWESCRIBE_BUCKET, SWESCRIBE_TABLE,
SWESCRIBE_QUEUE_URL, SWESCRIBE_WEBHOOK_QUEUE_URL, SWESCRIBE_LAUNCH_TEMPLATE, ...
"""

from swescribe.lambdas.api import handler

__all__ = ["handler"]
