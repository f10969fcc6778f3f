"""AWS errors that are not swescribe's (botocore's ClientError, BotoCoreError) become a
ServiceFailure at the edge of the AWS shape: logged once, with the job id when there is
one, and raised as the project's own type so handlers and the core can tell them apart
from a refusal they expect (no capacity, a lost race)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from swescribe.core.errors import ServiceFailure

log = logging.getLogger(__name__)

AWS_ERRORS = (ClientError, BotoCoreError)
"""What boto3 raises when AWS (or the way to it) refuses or fails a call."""


def error_code(error: BaseException) -> str:
    """AWS's error code ("AccessDenied", "ThrottlingException"), or the exception's name."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code:
            return code
    return type(error).__name__


def service_failure(error: BaseException, step: str, job_id: str | None = None) -> ServiceFailure:
    """Log the failed AWS call (job id, step, AWS's code and message) and return the
    ServiceFailure to raise in its place."""
    code = error_code(error)
    log.error(
        "aws call failed",
        extra={"job_id": job_id, "step": step, "error_code": code, "reason": str(error)[:500]},
    )
    where = f" for job {job_id}" if job_id else ""
    return ServiceFailure(f"{step}{where} failed: AWS answered {code}")


@contextmanager
def aws_step(step: str, job_id: str | None = None) -> Iterator[None]:
    """Run the block; an AWS error in it leaves as a ServiceFailure (cause attached)."""
    try:
        yield
    except AWS_ERRORS as error:
        raise service_failure(error, step, job_id) from error
