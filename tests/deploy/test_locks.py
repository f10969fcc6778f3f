"""The locked environments agree with pyproject.toml: the GPU worker's
(run_transcription/worker-requirements.txt, installed by the AMI's provisioning) and the
Lambdas' (setup/lambda/requirements.txt). A bound moved in pyproject.toml without a new
lock fails here, offline; regenerate the worker's with the command in its header."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from swescribe.engine.diarization import weights
from tests.conftest import REPO_ROOT

WORKER_LOCK = REPO_ROOT / "run_transcription" / "worker-requirements.txt"
WORKER_INPUT = REPO_ROOT / "run_transcription" / "worker-requirements.in"
LAMBDA_LOCK = REPO_ROOT / "setup" / "lambda" / "requirements.txt"
LAMBDA_IMPORTS = {
    "fastapi",
    "httpx",
    "httpcore",
    "mangum",
    "boto3",
    "pydantic",
    "pydantic-settings",
}
"""What the Lambda package needs of pyproject's dependencies (no model stack)."""
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", re.MULTILINE)


def pins(lock: Path) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in _PIN.findall(lock.read_text())}


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return [
        Requirement(text)
        for text in (*project["dependencies"], *project["optional-dependencies"]["aws"])
    ]


def input_requirements() -> list[Requirement]:
    lines = [line.split("#", 1)[0].strip() for line in WORKER_INPUT.read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("swescribe")]


def test_every_worker_dependency_is_locked_within_its_bounds() -> None:
    locked = pins(WORKER_LOCK)
    stale = [
        f"{requirement} (locked: {locked.get(canonicalize_name(requirement.name))})"
        for requirement in (*project_requirements(), *input_requirements())
        if locked.get(canonicalize_name(requirement.name)) is None
        or not requirement.specifier.contains(
            locked[canonicalize_name(requirement.name)], prereleases=True
        )
    ]
    assert stale == [], f"run_transcription/worker-requirements.txt is stale: {stale}"


def test_worker_lock_pins_every_package_with_hashes() -> None:
    text = WORKER_LOCK.read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text.split("\n", 2)[2])
    assert len(blocks) == len(pins(WORKER_LOCK)) > 20
    assert all("--hash=sha256:" in block for block in blocks)
    assert "uv pip compile run_transcription/worker-requirements.in" in text.splitlines()[1]


def test_lambda_lock_keeps_pyprojects_bounds() -> None:
    locked = pins(LAMBDA_LOCK)
    stale = [
        f"{requirement} (locked: {locked.get(canonicalize_name(requirement.name))})"
        for requirement in project_requirements()
        if requirement.name in LAMBDA_IMPORTS
        and (
            requirement.name not in locked
            or not requirement.specifier.contains(locked[requirement.name], prereleases=True)
        )
    ]
    assert stale == [], f"setup/lambda/requirements.txt is stale: {stale}"


def test_the_outbound_guard_is_pinned_to_the_httpx_and_httpcore_it_was_written_for() -> None:
    bounds = {r.name: r.specifier for r in project_requirements()}
    assert not bounds["httpx"].contains("0.29.0"), "outbound.py uses httpx transport internals"
    assert not bounds["httpcore"].contains("2.0.0")
    assert not bounds["ctranslate2"].contains("5.0.0"), "the AMI carries CUDA 12 / cuDNN 9"


def test_worker_lock_names_no_machine_paths() -> None:
    text = WORKER_LOCK.read_text()
    assert "file:" not in text
    local = re.search(r"(?m)\s/(tmp|home|work|root)/", text)
    assert local is None, local


# --- the pyannote AMI's lock (build_ami.sh --diarization pyannote) ----------------------------

DIARIZE_LOCK = REPO_ROOT / "run_transcription" / "diarize-requirements.txt"
DIARIZE_INPUT = REPO_ROOT / "run_transcription" / "diarize-requirements.in"


def diarize_extra() -> dict[str, Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return {
        canonicalize_name(requirement.name): requirement
        for requirement in map(Requirement, project["optional-dependencies"]["diarize"])
    }


def diarize_input_requirements() -> dict[str, Requirement]:
    lines = [line.split("#", 1)[0].strip() for line in DIARIZE_INPUT.read_text().splitlines()]
    return {
        canonicalize_name(requirement.name): requirement
        for requirement in map(Requirement, (line for line in lines if line and line[0] != "-"))
    }


def test_diarize_lock_pins_every_package_with_hashes_from_its_input() -> None:
    text = DIARIZE_LOCK.read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text.split("\n", 2)[2])
    assert len(blocks) == len(pins(DIARIZE_LOCK)) > len(pins(WORKER_LOCK))
    assert all("--hash=sha256:" in block for block in blocks)
    header = text.splitlines()[1]
    assert "uv pip compile run_transcription/diarize-requirements.in" in header
    assert "--generate-hashes" in header
    assert "--python-platform x86_64-manylinux_2_28" in header
    assert "-r worker-requirements.in" in DIARIZE_INPUT.read_text().splitlines()
    assert "file:" not in text
    assert re.search(r"(?m)\s/(tmp|home|work|root)/", text) is None


def test_diarize_lock_is_the_worker_lock_plus_pyannote() -> None:
    """Every package of the worker's lock, at the same version, except the CUDA libraries
    torch 2.10 pins exactly (it was built on 12.8), which stay within the worker's bounds
    (worker-requirements.in): CTranslate2 runs on them on a pyannote AMI."""
    worker, diarize = pins(WORKER_LOCK), pins(DIARIZE_LOCK)
    assert set(worker) <= set(diarize), set(worker) - set(diarize)
    moved = {name for name in worker if worker[name] != diarize[name]}
    assert moved <= {name for name in worker if name.startswith("nvidia-")}, moved
    bounds = {canonicalize_name(r.name): r.specifier for r in input_requirements()}
    for name in ("nvidia-cublas-cu12", "nvidia-cudnn-cu12"):
        assert bounds[name].contains(diarize[name]), (name, diarize[name])


def test_diarize_lock_keeps_pyprojects_diarize_extra() -> None:
    locked, extra, wanted = pins(DIARIZE_LOCK), diarize_extra(), diarize_input_requirements()
    assert wanted["pyannote-audio"].specifier == extra["pyannote-audio"].specifier
    assert extra["pyannote-audio"].specifier.contains(locked["pyannote-audio"])
    # Resemblyzer is on every AMI without its dependencies (its weights only), by hash.
    provision = (REPO_ROOT / "run_transcription" / "provision_worker_ami.sh").read_text()
    assert str(extra["resemblyzer"].specifier) == "==0.1.4"
    assert "resemblyzer==0.1.4 --hash=sha256:" in provision
    # ... the same wheel that `swescribe models fetch speakers` pins.
    assert weights.RESEMBLYZER_VERSION == "0.1.4"
    assert f"\n  {weights.RESEMBLYZER_WHEEL_SHA256} >" in provision
    for requirement in (*project_requirements(), *wanted.values()):
        version = locked.get(canonicalize_name(requirement.name))
        assert version is not None, requirement
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)


def test_diarize_lock_brings_a_cuda_12_torch_with_its_matching_audio_libraries() -> None:
    """CUDA 12 (shared with CTranslate2, runs on the base AMI's driver), not CUDA 13; and
    torchaudio and torchcodec from torch's own release (their wheels are built for it)."""
    locked = pins(DIARIZE_LOCK)
    torch = locked["torch"].split(".")
    assert torch[:2] == ["2", "10"], locked["torch"]
    assert locked["torchaudio"].split(".")[:2] == torch[:2]
    assert locked["torchcodec"].split(".")[:2] == ["0", torch[1]]
    assert "nvidia-cublas-cu12" in locked
    assert "nvidia-cudnn-cu12" in locked
    cuda_13 = [name for name in locked if name.endswith("-cu13") or name == "nvidia-cublas"]
    assert cuda_13 == []
