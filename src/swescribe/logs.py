"""Logs: one JSON object a line (CloudWatch and log collectors filter on its fields), or,
on a terminal, one readable line.

Fields passed with ``extra=`` (job_id, attempt, ...) become keys (or ``name=value`` on a
readable line). Names that could carry a secret are dropped whatever their value, so a
careless ``extra`` cannot leak one.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["auto", "text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("auto", "text", "json")

_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}
_SECRET_NAMES = ("secret", "password", "token", "api_key", "authorization", "signature")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's ``extra`` fields, without any whose name could carry a secret."""
    fields: dict[str, Any] = {}
    for name, value in vars(record).items():
        if name in _STANDARD_ATTRIBUTES or name.startswith("_"):
            continue
        if any(word in name.lower() for word in _SECRET_NAMES):
            continue
        fields[name] = (
            value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        )
    return fields


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event.update(_fields(record))
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``14:03:07 serve  job finished  job_id=3f2a… seconds=4.2``: for a person."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        clock = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        fields = " ".join(f"{name}={value}" for name, value in _fields(record).items())
        line = f"{clock} {self.service:<6} {level}{record.getMessage()}"
        line = f"{line}  {fields}" if fields else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(
    service: str,
    log_format: LogFormat = "auto",
    level: int = logging.INFO,
    stream: TextIO | None = None,
) -> None:
    """Replace the root handlers with one handler on stderr: readable lines on a terminal
    (auto) or when asked (text), JSON otherwise."""
    out = stream or sys.stderr
    readable = log_format == "text" or (log_format == "auto" and out.isatty())
    handler = logging.StreamHandler(out)
    handler.setFormatter(TextFormatter(service) if readable else JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "faster_whisper", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def configure_json_logging(service: str, level: int = logging.INFO) -> None:
    """One JSON handler on stderr, terminal or not (Lambda, the EC2 worker)."""
    configure_logging(service, "json", level)
