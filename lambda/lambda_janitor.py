"""Janitor Lambda (the seed's cleanup utilities, on a schedule): requeues or fails jobs
stuck past their lease, retries refused launches, terminates orphaned worker instances.
The same sweep runs by hand as `swescribe cleanup [--dry-run]`."""

from swescribe.lambdas.janitor import handler

__all__ = ["handler"]
