"""Schemathesis against the API's own OpenAPI schema, on a real uvicorn: whatever it
sends, valid or not, the API never answers with a 5xx. Bounded: a fixed number of
examples per operation, and a deadline."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from swescribe.api import create_app
from swescribe.bootstrap import build_local_api, build_local_keys, build_local_services
from swescribe.config import Settings
from tests.support import free_port, serving

pytestmark = pytest.mark.fuzz

PORT = free_port()
DATA_DIR = Path(tempfile.mkdtemp(prefix="swescribe-fuzz-"))
SETTINGS = Settings.from_env(
    {},
    data_dir=DATA_DIR,
    public_url=f"http://127.0.0.1:{PORT}",
    rate_limit_per_minute=0,
    auth_failures_per_minute=0,
)
SERVICES = build_local_services(SETTINGS)
APP = create_app(build_local_api(SETTINGS, SERVICES))
# The synchronous audio endpoints wait for a worker, and this app runs none: an accepted
# fuzzed file would wait out its timeout (and a 504 is a 5xx). tests/unit/test_openai_compat.py
# and tests/e2e/test_openai_sdk.py cover their bad input instead.
schema = schemathesis.openapi.from_dict(APP.openapi()).exclude(path_regex="^/v1/audio/")


@pytest.fixture(scope="module")
def api_key() -> Iterator[str]:
    _, key = build_local_keys(SETTINGS).create("fuzz")
    with serving(APP, PORT, log_level="error"):
        yield key


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_gets_a_server_error(case: Any, api_key: str) -> None:
    case.call_and_validate(
        base_url=f"http://127.0.0.1:{PORT}",
        headers={"X-API-Key": api_key},
        checks=[not_a_server_error],
        timeout=30,
    )
