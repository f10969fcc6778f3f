"""The scheduled janitor Lambda (EventBridge, every few minutes): swescribe.cleanup."""

from __future__ import annotations

import logging
from typing import Any

from swescribe.cleanup import run_cleanup
from swescribe.config import Settings
from swescribe.logs import configure_json_logging

log = logging.getLogger(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_json_logging("janitor")
    dry_run = bool((event or {}).get("dry_run", False))
    report = run_cleanup(Settings.from_env(backend="aws"), dry_run=dry_run)
    log.info("janitor report", extra={"report": str(report)})
    return report
