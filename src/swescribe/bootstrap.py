"""Wiring: build each shape's adapters from Settings, in one place per entry point."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from swescribe.adapters.local.filesystem import FilesystemObjectStore
from swescribe.adapters.local.key_files import read_or_create_secret
from swescribe.adapters.local.secret_box import KEY_FILE_NAME, AesGcmSecretBox
from swescribe.adapters.local.sqlite_counters import SqliteCounters
from swescribe.adapters.local.sqlite_jobs import SqliteJobStore
from swescribe.adapters.local.sqlite_keys import SqliteApiKeyStore
from swescribe.adapters.local.sqlite_queue import SqliteWorkQueue
from swescribe.adapters.local.upload_tokens import GET, verify_upload_token
from swescribe.api.deps import ApiContext, LocalUploads
from swescribe.api.limits import ApiLimits
from swescribe.api.live_limits import LiveLimits
from swescribe.config import Settings
from swescribe.core.apikeys import ApiKeyStore
from swescribe.core.intake import check_model
from swescribe.core.jobs import Job
from swescribe.core.ports import WorkerLauncher
from swescribe.core.services import Policy, Services
from swescribe.core.voices import VoiceEnroller
from swescribe.webhooks.delivery import DeliveryOptions
from swescribe.webhooks.sender import HttpWebhookSender

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from swescribe.engine import Engine
    from swescribe.engine.live_ports import LiveTranscriber
    from swescribe.worker.runner import EngineFactory, Worker


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    def new_job_id(self) -> str:
        return uuid.uuid4().hex[:16]


class NoLauncher:
    """For processes that never start workers (a standalone worker, the CLI)."""

    def ensure_capacity(self, queued: int, job: Job | None = None) -> list[str]:
        return []


@dataclass(frozen=True)
class LocalPaths:
    root: Path

    @property
    def database(self) -> Path:
        return self.root / "swescribe.db"

    @property
    def objects(self) -> Path:
        return self.root / "objects"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def signing_key(self) -> Path:
        return self.root / "upload-signing.key"

    @property
    def secrets_key(self) -> Path:
        """The key that seals the jobs' callback secrets in the database (mode 0600)."""
        return self.root / KEY_FILE_NAME

    @property
    def local_api_key(self) -> Path:
        """The key `swescribe serve` created first, for this machine's own CLI (mode 0600)."""
        return self.root / "local-api-key"


def policy_from(settings: Settings) -> Policy:
    return Policy(
        lease_seconds=settings.lease_seconds,
        max_upload_bytes=settings.max_upload_bytes,
        allow_http_callbacks=settings.dev_mode,
        webhook_max_attempts=settings.webhook_max_attempts,
        max_audio_seconds=settings.max_audio_seconds,
        max_wait_seconds=settings.max_wait_seconds,
        offered_models=settings.offered_models,
        sync_max_bytes=settings.sync_max_bytes,
        sync_timeout_seconds=settings.sync_timeout_seconds,
        max_waiting_jobs_per_key=settings.max_waiting_jobs_per_key,
        max_queued_jobs_per_key=settings.max_queued_jobs_per_key,
    )


def webhook_sender(settings: Settings) -> HttpWebhookSender:
    """The webhook sender of both shapes (the local dispatcher, the process-upload Lambda)."""
    return HttpWebhookSender(
        DeliveryOptions(base_delay=settings.webhook_base_delay, allow_http=settings.dev_mode)
    )


def build_local_services(settings: Settings, launcher: WorkerLauncher | None = None) -> Services:
    paths = LocalPaths(settings.data_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    try:
        paths.root.chmod(0o700)  # the jobs' callback secrets and audio: this user's alone
    except PermissionError:  # a directory another user owns: say so, and go on
        log.warning("cannot make the data directory private", extra={"path": str(paths.root)})
    public_url = settings.public_url.rstrip("/") or "http://127.0.0.1:8000"
    busy = settings.sqlite_busy_timeout
    return Services(
        jobs=SqliteJobStore(
            paths.database, busy, AesGcmSecretBox(read_or_create_secret(paths.secrets_key))
        ),
        objects=FilesystemObjectStore(
            paths.objects, public_url, read_or_create_secret(paths.signing_key)
        ),
        queue=SqliteWorkQueue(paths.database, "transcribe", busy_timeout=busy),
        webhooks=SqliteWorkQueue(paths.database, "webhooks", max_receives=1000, busy_timeout=busy),
        launcher=launcher or NoLauncher(),
        clock=SystemClock(),
        ids=RandomIds(),
        policy=policy_from(settings),
        counters=SqliteCounters(paths.database, busy),
    )


def build_local_keys(settings: Settings) -> ApiKeyStore:
    return SqliteApiKeyStore(LocalPaths(settings.data_dir).database, settings.sqlite_busy_timeout)


def build_local_api(
    settings: Settings, svc: Services, live: LiveTranscriber | None = None
) -> ApiContext:
    """The local shape's API; it serves /v1/realtime, over `live` when there is one."""
    paths = LocalPaths(settings.data_dir)
    signing_key = read_or_create_secret(paths.signing_key)

    def verify(token: str) -> tuple[str, int]:
        grant = verify_upload_token(token, signing_key, time.time())
        return grant.key, grant.max_bytes

    def readable_file(token: str) -> Path:
        grant = verify_upload_token(token, signing_key, time.time(), purpose=GET)
        assert isinstance(svc.objects, FilesystemObjectStore)
        return svc.objects.path_of(grant.key)

    files = isinstance(svc.objects, FilesystemObjectStore)
    return ApiContext(
        svc=svc,
        keys=build_local_keys(settings),
        uploads=LocalUploads(
            verify_token=verify,
            staging_dir=paths.staging,
            readable_file=readable_file if files else None,
        ),
        limits=api_limits(settings),
        metrics_token=settings.metrics_token,
        realtime=True,
        live=live,
        live_limits=live_limits(settings),
        enroller=_file_enroller(settings),
    )


def _file_enroller(settings: Settings) -> VoiceEnroller:
    """The speaker encoder for POST /v1/speakers, loaded on the first enrolment."""
    from swescribe.engine.diarization.known import FileEnroller

    return FileEnroller(weights_dirs=settings.speaker_model_dirs)


def live_limits(settings: Settings) -> LiveLimits:
    return LiveLimits(
        sessions_per_key=settings.live_sessions_per_key,
        max_sessions=settings.max_live_sessions,
        idle_seconds=settings.live_idle_seconds,
        max_seconds=settings.live_max_seconds,
        max_message_bytes=settings.live_max_message_bytes,
    )


def api_limits(settings: Settings) -> ApiLimits:
    return ApiLimits(
        rate_per_minute=settings.rate_limit_per_minute,
        burst=settings.rate_limit_burst,
        max_json_bytes=settings.max_json_bytes,
        auth_failures_per_minute=settings.auth_failures_per_minute,
        auth_failure_burst=settings.auth_failure_burst,
        body_timeout_seconds=settings.body_timeout_seconds,
    )


def engine_factory(settings: Settings) -> EngineFactory:
    """Engines by model name, each loaded on first use and kept for the process's life."""
    from swescribe.bootstrap_engine import diarizer_spec
    from swescribe.engine import Engine, ModelLocator

    locator = ModelLocator(settings.model_cache_dir, settings.model_dirs)
    diarization = diarizer_spec(settings)
    engines: dict[str, Engine] = {}
    lock = threading.Lock()

    def get(model: str | None) -> Engine:
        if model is not None and model != settings.model:
            check_model(policy_from(settings), model)  # a job stored before the check
        name = model or settings.model
        with lock:
            if name not in engines:
                engines[name] = Engine.load(
                    name,
                    locator,
                    settings.device,
                    settings.compute_type,
                    settings.cpu_threads,
                    diarization,
                )
            return engines[name]

    return get


def local_worker_id(pid: int) -> str:
    """How a local worker process names itself on the jobs it holds."""
    return f"local-{socket.gethostname()}-{pid}"


def build_worker(settings: Settings, svc: Services, worker_id: str = "") -> Worker:
    """The transcription worker; imports the model stack (the API and Lambdas never do)."""
    from swescribe.worker.runner import Worker, WorkerConfig

    config = WorkerConfig(
        worker_id=worker_id or local_worker_id(os.getpid()),
        visibility_seconds=settings.lease_seconds,
        heartbeat_seconds=settings.heartbeat_seconds,
        poll_seconds=2.0,
        scratch_dir=LocalPaths(settings.data_dir).staging,
    )
    return Worker(svc, engine_factory(settings), config)
