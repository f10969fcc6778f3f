"""One settings object, read from SWESCRIBE_* environment variables at the edge."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from swescribe.core.errors import InvalidOption

BAKED_MODEL_DIR = Path("/opt/swescribe/models")
"""Where the GPU AMI bakes its models (see run_transcription/build_ami.sh)."""


def default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "swescribe"


_TRUE = ("1", "true", "yes", "on")


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)*$")
"""A model name a client may ask for: lower-case letters, digits, `-` and inner dots;
never a path, `.` or `..`."""


def is_model_name(name: str) -> bool:
    return len(name) <= 64 and MODEL_NAME.fullmatch(name) is not None


def _split_paths(value: str) -> tuple[Path, ...]:
    return tuple(Path(p).expanduser() for p in value.split(os.pathsep) if p)


def _model_names(value: str) -> tuple[str, ...]:
    names = _split_list(value)
    bad = [name for name in names if not is_model_name(name)]
    if bad:
        raise InvalidOption(
            f"SWESCRIBE_ALLOWED_MODELS takes model names, not paths: {', '.join(map(repr, bad))}"
        )
    return names


@dataclass(frozen=True)
class Settings:
    backend: str = "local"
    data_dir: Path = field(default_factory=lambda: default_data_dir(os.environ))
    model: str = "auto"
    allowed_models: tuple[str, ...] = ()
    """Models a client may name on a job; empty: the configured model, when it is a name."""
    device: str = "auto"
    compute_type: str = "auto"
    cpu_threads: int = 0
    language: str = "sv"
    model_dirs: tuple[Path, ...] = (BAKED_MODEL_DIR,)
    bucket: str = "transcription-curevo"
    table: str = "transcription-jobs"
    queue_url: str = ""
    public_url: str = ""
    workers: int = 1
    max_upload_bytes: int = 2 * 1024**3
    lease_seconds: float = 120.0
    heartbeat_seconds: float = 20.0
    webhook_max_attempts: int = 6
    webhook_base_delay: float = 2.0
    dev_mode: bool = True
    """Local dev mode: http callbacks/audio URLs allowed, but only to loopback hosts."""
    # The AWS shape.
    aws_region: str = ""
    """Empty: boto3's own default (AWS_REGION, AWS_DEFAULT_REGION, the profile)."""
    webhook_queue_url: str = ""
    launch_template: str = "swescribe-worker"
    service_tag: str = "swescribe"
    """The swescribe:service tag value of this deployment's workers (the stack's name)."""
    instance_types: tuple[str, ...] = ("g4dn.xlarge", "g5.xlarge", "g6.xlarge")
    """Tried in order when spot capacity is refused; then on-demand, if allowed."""
    on_demand_fallback: bool = True
    max_instances: int = 4
    instance_per_job: bool = False
    """The seed's behaviour: one instance per job, which exits when its job is done."""
    subnet_ids: tuple[str, ...] = ()
    worker_idle_seconds: float = 300.0
    instance_grace_seconds: float = 900.0
    """The janitor leaves younger instances alone (boot and model load take minutes)."""
    imds_url: str = "http://169.254.169.254"
    spot_poll_seconds: float = 5.0
    terminate_on_exit: bool = True
    """A GPU worker terminates its own instance when it leaves (off for tests, debugging)."""
    max_audio_seconds: float = 4 * 3600.0
    """Longer audio fails its job with a clear reason (0: no limit)."""
    max_wait_seconds: float = 24 * 3600.0
    """A job that no worker has taken this long after its creation fails (janitor)."""
    sweep_seconds: float = 60.0
    """How often `serve` runs the janitor's job sweep (0: never)."""
    rate_limit_per_minute: int = 120
    """Requests per API key and minute the local API takes before it answers 429 (0: off;
    on AWS the API Gateway usage plan throttles instead)."""
    rate_limit_burst: int = 30
    auth_failures_per_minute: int = 10
    """401s a client address may earn a minute before it gets 429 for anything but a key that
    is known to work (0: off); loopback counts like any address."""
    auth_failure_burst: int = 20
    max_json_bytes: int = 64 * 1024
    """Largest JSON request body the API reads."""
    metrics_token: str = ""
    """A bearer token that reads /metrics without an API key (for a Prometheus scraper)."""
    sqlite_busy_timeout: float = 30.0
    """Seconds a local store operation waits for another process's lock before 503."""
    # Speaker diarization (issue 18).
    diarization_model: str = "auto"
    """auto (pyannote where it loads, else the offline resemblyzer), pyannote, resemblyzer."""
    hf_token: str = field(default="", repr=False)
    """Hugging Face access token for the gated pyannote pipeline (never logged)."""
    worker_wheel: str = ""
    """s3:// URI of the swescribe wheel a new worker installs at boot (a code change needs
    no new AMI); empty: the AMI's own copy."""
    """How often a worker asks the metadata service for a spot interruption notice."""

    @property
    def offered_models(self) -> tuple[str, ...]:
        """The model names a job may ask for: SWESCRIBE_ALLOWED_MODELS, else the configured
        model (none when that is a path: a client never names a directory)."""
        names = self.allowed_models or (self.model,)
        return tuple(name for name in names if is_model_name(name))

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from the environment; keyword overrides (CLI flags) win when not None."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "backend": env.get("SWESCRIBE_BACKEND", "local"),
            "data_dir": Path(env["SWESCRIBE_DATA_DIR"]).expanduser()
            if env.get("SWESCRIBE_DATA_DIR")
            else default_data_dir(env),
            "model": env.get("SWESCRIBE_MODEL", "auto"),
            "allowed_models": _model_names(env.get("SWESCRIBE_ALLOWED_MODELS", "")),
            "device": env.get("SWESCRIBE_DEVICE", "auto"),
            "compute_type": env.get("SWESCRIBE_COMPUTE_TYPE", "auto"),
            "cpu_threads": int(env.get("SWESCRIBE_CPU_THREADS", "0") or 0),
            "language": env.get("SWESCRIBE_LANGUAGE", "sv"),
            "model_dirs": (*_split_paths(env.get("SWESCRIBE_MODEL_DIRS", "")), BAKED_MODEL_DIR),
            "bucket": env.get("SWESCRIBE_BUCKET", "transcription-curevo"),
            "table": env.get("SWESCRIBE_TABLE", "transcription-jobs"),
            "queue_url": env.get("SWESCRIBE_QUEUE_URL", ""),
            "public_url": env.get("SWESCRIBE_PUBLIC_URL", ""),
            "workers": int(env.get("SWESCRIBE_WORKERS", "1") or 1),
            "max_upload_bytes": int(env.get("SWESCRIBE_MAX_UPLOAD_BYTES", str(2 * 1024**3))),
            "lease_seconds": float(env.get("SWESCRIBE_LEASE_SECONDS", "120")),
            "heartbeat_seconds": float(env.get("SWESCRIBE_HEARTBEAT_SECONDS", "20")),
            "webhook_max_attempts": int(env.get("SWESCRIBE_WEBHOOK_MAX_ATTEMPTS", "6")),
            "webhook_base_delay": float(env.get("SWESCRIBE_WEBHOOK_BASE_DELAY", "2")),
            "dev_mode": env.get(
                "SWESCRIBE_DEV_MODE",
                "1" if env.get("SWESCRIBE_BACKEND", "local") == "local" else "0",
            ).lower()
            in _TRUE,
            "aws_region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "",
            "webhook_queue_url": env.get("SWESCRIBE_WEBHOOK_QUEUE_URL", ""),
            "launch_template": env.get("SWESCRIBE_LAUNCH_TEMPLATE", "swescribe-worker"),
            "service_tag": env.get("SWESCRIBE_SERVICE_TAG", "swescribe"),
            "instance_types": _split_list(
                env.get("SWESCRIBE_INSTANCE_TYPES", "g4dn.xlarge,g5.xlarge,g6.xlarge")
            ),
            "on_demand_fallback": env.get("SWESCRIBE_ON_DEMAND_FALLBACK", "1").lower() in _TRUE,
            "max_instances": int(env.get("SWESCRIBE_MAX_INSTANCES", "4")),
            "instance_per_job": env.get("SWESCRIBE_INSTANCE_PER_JOB", "0").lower() in _TRUE,
            "subnet_ids": _split_list(env.get("SWESCRIBE_SUBNET_IDS", "")),
            "worker_idle_seconds": float(env.get("SWESCRIBE_WORKER_IDLE_SECONDS", "300")),
            "instance_grace_seconds": float(env.get("SWESCRIBE_INSTANCE_GRACE_SECONDS", "900")),
            "imds_url": env.get("SWESCRIBE_IMDS_URL", "http://169.254.169.254"),
            "spot_poll_seconds": float(env.get("SWESCRIBE_SPOT_POLL_SECONDS", "5")),
            "terminate_on_exit": env.get("SWESCRIBE_TERMINATE_ON_EXIT", "1").lower() in _TRUE,
            "worker_wheel": env.get("SWESCRIBE_WORKER_WHEEL", ""),
            "diarization_model": env.get("SWESCRIBE_DIARIZATION_MODEL", "auto"),
            "hf_token": env.get("SWESCRIBE_HF_TOKEN") or env.get("HF_TOKEN") or "",
            "max_audio_seconds": float(env.get("SWESCRIBE_MAX_AUDIO_SECONDS", str(4 * 3600))),
            "max_wait_seconds": float(env.get("SWESCRIBE_MAX_WAIT_SECONDS", str(24 * 3600))),
            "sweep_seconds": float(env.get("SWESCRIBE_SWEEP_SECONDS", "60")),
            "rate_limit_per_minute": int(env.get("SWESCRIBE_RATE_LIMIT_PER_MINUTE", "120")),
            "rate_limit_burst": int(env.get("SWESCRIBE_RATE_LIMIT_BURST", "30")),
            "auth_failures_per_minute": int(env.get("SWESCRIBE_AUTH_FAILURES_PER_MINUTE", "10")),
            "auth_failure_burst": int(env.get("SWESCRIBE_AUTH_FAILURE_BURST", "20")),
            "max_json_bytes": int(env.get("SWESCRIBE_MAX_JSON_BYTES", str(64 * 1024))),
            "metrics_token": env.get("SWESCRIBE_METRICS_TOKEN", ""),
            "sqlite_busy_timeout": float(env.get("SWESCRIBE_SQLITE_BUSY_TIMEOUT", "30")),
        }
        settings = cls(**values)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
