"""API Gateway REST (v1) proxy events, as API Gateway sends them to the API Lambda."""

from __future__ import annotations

import json
import uuid
from typing import Any

API_KEY = "client-key"


def gateway_event(
    method: str, path: str, body: dict[str, Any] | None = None, *, api_key_id: str
) -> dict[str, Any]:
    """The event after API Gateway checked the key; `path` may carry a query string."""
    path, _, query = path.partition("?")
    parameters = dict(pair.split("=", 1) for pair in query.split("&")) if query else None
    headers = {"Content-Type": "application/json", "X-API-Key": API_KEY}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": parameters,
        "multiValueQueryStringParameters": (
            {k: [v] for k, v in parameters.items()} if parameters else None
        ),
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": str(uuid.uuid4()),
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "identity": {
                "apiKey": API_KEY,
                "apiKeyId": api_key_id,
                "sourceIp": "203.0.113.10",
                "userAgent": "pytest",
            },
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }
