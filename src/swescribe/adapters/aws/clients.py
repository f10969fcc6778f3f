"""boto3 clients, made in one place: region from settings, retries in standard mode.

boto3 honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) itself, which is how
tests point every client at moto and how LocalStack users point it elsewhere.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

_RETRIES = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30
)


def client(service: str, region: str = "") -> Any:
    """A boto3 client for service; region "" means boto3's default chain."""
    factory: Any = boto3.client  # typed per service by boto3-stubs; adapters take Any
    return factory(service, region_name=region or None, config=_RETRIES)
