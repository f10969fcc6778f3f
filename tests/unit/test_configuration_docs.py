"""docs/configuration.md and the settings model cannot drift apart: every setting is in the
page with its default, every variable the page names is read somewhere, and every variable
the code reads is in the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic.fields import FieldInfo

from swescribe.config import Settings, env_names

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "configuration.md").read_text()

READ_OUTSIDE_SETTINGS = {
    "SWESCRIBE_URL": "cli/submit.py",
    "SWESCRIBE_API_KEY": "cli/submit.py",
    "SWESCRIBE_JOB_ID": "ec2_worker.py",
    "SWESCRIBE_S3_INPUT": "adapters/aws/ec2_launcher.py (UserData)",
    "SWESCRIBE_S3_OUTPUT": "adapters/aws/ec2_launcher.py (UserData)",
    "SWESCRIBE_PARENT_PID": "cli/serve.py",
}
"""Variables that are not settings of the service: the CLI client's, those a process
sets for the one it starts."""

CONTAINER_VARIABLES = {
    "SWESCRIBE_HEALTHCHECK_URL": "docker/Dockerfile",
    "SWESCRIBE_IMAGE_TARGET": "docker/compose.yaml",
    "SWESCRIBE_PUBLISH_PORT": "docker/compose.yaml",
}
"""Variables of the container files (the image's HEALTHCHECK, compose), not of the code."""

DEFAULT_IN_PROSE = {
    "data_dir",
    "speaker_model_dir",
    "dev_mode",
    "model_dirs",
    "aws_region",
    "allowed_models",
}
"""Settings whose default depends on something else; the page says on what."""


def rows() -> dict[str, tuple[str, str]]:
    """Each table row's variables -> (meaning, default) of that row."""
    found: dict[str, tuple[str, str]] = {}
    for line in DOC.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not line.startswith("| `"):
            continue
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]):
            found[name] = (cells[1], cells[2])
    return found


def as_written(value: object) -> str:
    """A default as the page writes it (and as the variable would be set)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


@pytest.mark.parametrize(("name", "info"), Settings.model_fields.items())
def test_every_setting_is_documented_with_its_default(name: str, info: FieldInfo) -> None:
    variable = env_names(name, info)[0]
    documented = rows()
    assert variable in documented, f"{variable} is not in a table of docs/configuration.md"
    meaning, default = documented[variable]
    assert meaning
    assert default
    written = as_written(info.get_default(call_default_factory=False))
    if name not in DEFAULT_IN_PROSE and written:
        assert f"`{written}`" in default, f"{variable}: the page says {default}, not `{written}`"


def test_every_variable_the_page_names_is_read_somewhere() -> None:
    settings = {v for name, info in Settings.model_fields.items() for v in env_names(name, info)}
    named = set(re.findall(r"SWESCRIBE_[A-Z0-9_]*[A-Z0-9]", DOC))
    outside = set(READ_OUTSIDE_SETTINGS) | set(CONTAINER_VARIABLES)
    assert sorted(named - settings - outside) == []


@pytest.mark.parametrize(("variable", "path"), CONTAINER_VARIABLES.items())
def test_container_variables_the_page_names_are_read_by_the_container_files(
    variable: str, path: str
) -> None:
    assert variable in (ROOT / path).read_text()


def test_every_swescribe_variable_in_the_code_is_documented() -> None:
    code = "\n".join(p.read_text() for p in (ROOT / "src" / "swescribe").rglob("*.py"))
    used = set(re.findall(r'"(SWESCRIBE_[A-Z0-9_]+)"', code))
    documented = set(re.findall(r"SWESCRIBE_[A-Z0-9_]+", DOC))
    assert used, "the pattern finds the variables"
    assert sorted(used - documented) == []
    assert set(READ_OUTSIDE_SETTINGS) <= used
