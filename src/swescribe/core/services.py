"""What every service function is given: the adapters of one shape (Services) and the
operator's limits (Policy). The local API, the Lambdas, the workers and the janitor differ
only in the adapters they put here."""

from __future__ import annotations

from dataclasses import dataclass, field

from swescribe.core.ports import (
    Clock,
    Counters,
    IdGenerator,
    JobStore,
    ObjectStore,
    WorkerLauncher,
    WorkQueue,
)


@dataclass(frozen=True)
class Policy:
    """Operational limits; the defaults suit one machine and a small AWS deployment."""

    lease_seconds: float = 300.0
    max_attempts: int = 3
    job_ttl_days: int = 30
    upload_expires_seconds: int = 3600
    max_upload_bytes: int = 2 * 1024**3
    webhook_max_attempts: int = 6
    max_audio_seconds: float = 0.0
    """Longer audio fails its job (0: no limit)."""
    max_wait_seconds: float = 24 * 3600.0
    """A job no worker has taken this long after its creation fails (janitor)."""
    allow_http_callbacks: bool = False
    """Local dev mode: plain http (and loopback hosts) allowed for callbacks and audio URLs."""
    offered_models: tuple[str, ...] = ()
    """Model names a job may ask for (Settings.offered_models); any other is refused."""
    sync_max_bytes: int = 25 * 1024**2
    """Largest file the synchronous (OpenAI-compatible) endpoints take (OpenAI's 25 MB)."""
    sync_timeout_seconds: float = 600.0
    """How long a synchronous request waits for its job (0: the endpoints are off)."""
    max_waiting_jobs_per_key: int = 0
    """Jobs one key may have waiting for their audio, links still valid (0: no cap)."""
    max_queued_jobs_per_key: int = 0
    """Jobs one key may have queued for a worker, not yet running (0: no cap)."""


@dataclass
class Services:
    jobs: JobStore
    objects: ObjectStore
    queue: WorkQueue
    webhooks: WorkQueue
    launcher: WorkerLauncher
    clock: Clock
    ids: IdGenerator
    policy: Policy = field(default_factory=Policy)
    counters: Counters | None = None
    """Totals for /metrics; None where the platform keeps them (CloudWatch on AWS)."""
