"""One settings object, read from SWESCRIBE_* environment variables at the edge."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from swescribe.engine.models import BAKED_MODEL_DIR


def default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "swescribe"


def _split_paths(value: str) -> tuple[Path, ...]:
    return tuple(Path(p).expanduser() for p in value.split(os.pathsep) if p)


@dataclass(frozen=True)
class Settings:
    backend: str = "local"
    data_dir: Path = field(default_factory=lambda: default_data_dir(os.environ))
    model: str = "auto"
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
            in ("1", "true", "yes"),
        }
        settings = cls(**values)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
