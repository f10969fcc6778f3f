"""boto3 clients, made in one place: region from settings, retries in standard mode.

boto3 honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) itself, which is how
tests point every client at moto and how LocalStack users point it elsewhere.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

_RETRIES = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30
)
_REGIONAL_S3 = Config(s3={"addressing_style": "virtual"}, signature_version="s3v4")
"""Presigned links name <bucket>.s3.<region>.amazonaws.com. botocore's default names the
global <bucket>.s3.amazonaws.com, which a new bucket outside us-east-1 answers with a 307
redirect for up to a day (curl without -L and httpx do not follow it)."""


def client(service: str, region: str = "") -> Any:
    """A boto3 client for service; region "" means boto3's default chain."""
    factory: Any = boto3.client  # typed per service by boto3-stubs; adapters take Any
    made = factory(service, region_name=region or None, config=_RETRIES)
    if service == "s3" and _is_aws_endpoint(made.meta.endpoint_url):
        made = factory(service, region_name=region or None, config=_RETRIES.merge(_REGIONAL_S3))
    return made


def _is_aws_endpoint(url: str) -> bool:
    """AWS's own S3 endpoint; a custom one (moto_server, LocalStack, MinIO) keeps botocore's
    addressing, as <bucket>.<its host> would not resolve."""
    host = urlsplit(url).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))
