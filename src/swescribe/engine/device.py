"""Choose the device, compute type and CPU threads for CTranslate2."""

from __future__ import annotations

import os
from dataclasses import dataclass

import ctranslate2

from swescribe.core.errors import InvalidOption

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class DevicePlan:
    device: str
    compute_type: str
    cpu_threads: int


def usable_cores() -> int:
    """Cores this process may run on (respects taskset/cgroup affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def cuda_available() -> bool:
    try:
        return bool(ctranslate2.get_cuda_device_count() > 0)
    except Exception:  # a CPU-only build or a broken driver both mean: no GPU
        return False


def plan_device(
    device: str = "auto", compute_type: str = "auto", cpu_threads: int = 0
) -> DevicePlan:
    """cuda -> float16 (int8_float16 where float16 is missing); cpu -> int8, threads = cores."""
    device = device.lower()
    if device not in DEVICES:
        raise InvalidOption(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")
    if device == "auto":
        device = "cuda" if cuda_available() else "cpu"
    elif device == "cuda" and not cuda_available():
        raise InvalidOption("device 'cuda' asked for, but CTranslate2 sees no CUDA GPU here")
    if compute_type == "auto":
        supported = ctranslate2.get_supported_compute_types(device)
        preferred = ("float16", "int8_float16") if device == "cuda" else ("int8", "int8_float32")
        compute_type = next((c for c in preferred if c in supported), "default")
    threads = cpu_threads if cpu_threads > 0 else usable_cores()
    return DevicePlan(device=device, compute_type=compute_type, cpu_threads=threads)


def default_batch_size(device: str, model_name: str) -> int:
    """Speech segments decoded together: more on a GPU, fewer for the big models.

    Measured on 2 CPU cores (docs/performance.md): 8 and 16 run alike with whisper-base,
    and 8 keeps memory low; a T4's 16 GB hold a batch of 16 for small and 8 for large.
    """
    large = any(size in model_name for size in ("medium", "large"))
    if device == "cuda":
        return 8 if large else 16
    return 4 if large else 8
