#!/usr/bin/env python3
"""Build the one deployment package of the three Lambdas, reproducibly.

dist/lambda/swescribe-lambda-<version>.zip holds lambda/*.py at its root (the handlers
lambda_api.handler, lambda_process_upload.handler, lambda_janitor.handler), the swescribe
package (installed without its dependencies: the Lambdas never import faster-whisper,
ctranslate2, av or numpy) and the pinned runtime dependencies of setup/lambda/
requirements.txt, as manylinux2014_x86_64 wheels for CPython 3.12 (the python3.12 x86_64
runtime), whatever machine builds it.

Reproducible: the same sources and pins give the same bytes, so the same SHA-256. Entries
are sorted, carry one timestamp (SOURCE_DATE_EPOCH, else 1980-01-01) and fixed
permissions; no __pycache__, .pyc, console scripts or install records (which name the
build machine's paths) go in.

Prints progress on stderr and one line on stdout: "<sha256>  <zip path>".
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).resolve().with_name("requirements.txt")
PLATFORM = "manylinux2014_x86_64"
PYTHON_VERSION = "3.12"
ABI = "cp312"
HANDLER_MODULES = ("lambda_api", "lambda_process_upload", "lambda_janitor")
FORBIDDEN_TOP_LEVEL = frozenset({"faster_whisper", "ctranslate2", "av", "numpy"})
"""The engine's heavy dependencies: the API and the Lambdas never import them."""
INSTALL_RECORDS = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
"""dist-info files that describe one installation (paths, tool), not the package."""
ZIP_EPOCH = 315532800
"""1980-01-01T00:00:00Z, the earliest time a zip entry can hold."""
FILE_MODE = 0o100644
SOURCE_FILES = ("pyproject.toml", "README.md")


class BuildError(Exception):
    """The package could not be built as specified."""


def log(message: str) -> None:
    print(f"build_lambda_package: {message}", file=sys.stderr, flush=True)


def project_version(repo_root: Path = REPO_ROOT) -> str:
    with (repo_root / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


DateTime = tuple[int, int, int, int, int, int]


def zip_timestamp(environ: Mapping[str, str] = os.environ) -> DateTime:
    """SOURCE_DATE_EPOCH (clamped to 1980, the zip format's start), else 1980-01-01."""
    raw = environ.get("SOURCE_DATE_EPOCH", "").strip()
    epoch = max(int(raw), ZIP_EPOCH) if raw else ZIP_EPOCH
    moment = time.gmtime(epoch)
    return (
        moment.tm_year,
        moment.tm_mon,
        moment.tm_mday,
        moment.tm_hour,
        moment.tm_min,
        moment.tm_sec,
    )


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", *args]
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    # pip's own output goes to stderr: stdout carries only the result line.
    result = subprocess.run(command, env=env, stdout=sys.stderr, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BuildError(f"pip {args[0]} failed with exit status {result.returncode}")


def install_dependencies(target: Path, requirements: Path = REQUIREMENTS) -> None:
    """The pinned closure, as wheels for the Lambda runtime (not for this machine)."""
    log(f"installing {requirements.name} for {PLATFORM} / CPython {PYTHON_VERSION}")
    _pip(
        "install",
        "--quiet",
        "--target",
        str(target),
        "--platform",
        PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--abi",
        ABI,
        "--only-binary=:all:",
        "--no-deps",
        "--no-compile",
        "--require-hashes",
        "--requirement",
        str(requirements),
    )


def install_swescribe(target: Path, work: Path, repo_root: Path = REPO_ROOT) -> None:
    """swescribe alone (--no-deps), built from a clean copy of the sources.

    The copy keeps build/ and *.egg-info out of the working tree and stray __pycache__
    out of the wheel.
    """
    source = work / "source"
    source.mkdir()
    for name in SOURCE_FILES:
        shutil.copy2(repo_root / name, source / name)
    shutil.copytree(
        repo_root / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    wheels = work / "wheels"
    log("building the swescribe wheel")
    _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(source))
    built = sorted(wheels.glob("swescribe-*.whl"))
    if len(built) != 1:
        raise BuildError(f"expected one swescribe wheel, found {[p.name for p in built]}")
    _pip(
        "install",
        "--quiet",
        "--no-index",
        "--no-deps",
        "--no-compile",
        "--target",
        str(target),
        str(built[0]),
    )


def _is_packaged(relative: Path) -> bool:
    parts = relative.parts
    if parts[0] == "bin":  # console scripts: shebangs naming the build machine's python
        return False
    if "__pycache__" in parts or relative.suffix in (".pyc", ".pyo"):
        return False
    return not (len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in INSTALL_RECORDS)


def package_entries(*roots: Path) -> Iterator[tuple[str, Path]]:
    """(name in the zip, file on disk) for every file to package, in no particular order."""
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and _is_packaged(path.relative_to(root)):
                yield path.relative_to(root).as_posix(), path


def check_entries(names: list[str]) -> None:
    top_level = {name.split("/", 1)[0].removesuffix(".py") for name in names}
    forbidden = sorted(
        name
        for name in top_level
        if name in FORBIDDEN_TOP_LEVEL or name.split("-", 1)[0] in FORBIDDEN_TOP_LEVEL
    )
    if forbidden:
        raise BuildError(f"the Lambda package must not carry {forbidden}")
    missing = [module for module in HANDLER_MODULES if f"{module}.py" not in names]
    if missing:
        raise BuildError(f"handler modules missing at the package root: {missing}")
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise BuildError(f"files installed twice: {duplicates[:5]}")


def write_zip(entries: list[tuple[str, Path]], output: Path, date_time: DateTime) -> None:
    """Sorted entries, one timestamp, 0644, deflate level 9: the same input, the same bytes."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.create_system = 3  # Unix, so external_attr holds the mode
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    partial.replace(output)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def build(
    output_dir: Path,
    repo_root: Path = REPO_ROOT,
    requirements: Path = REQUIREMENTS,
) -> Path:
    """Build the package into output_dir; its path."""
    output = output_dir / f"swescribe-lambda-{project_version(repo_root)}.zip"
    with tempfile.TemporaryDirectory(prefix="swescribe-lambda-") as scratch:
        work = Path(scratch)
        dependencies, application, handlers = work / "deps", work / "app", work / "handlers"
        handlers.mkdir()
        install_dependencies(dependencies, requirements)
        install_swescribe(application, work, repo_root)
        for handler in sorted((repo_root / "lambda").glob("*.py")):
            shutil.copy2(handler, handlers / handler.name)
        entries = list(package_entries(dependencies, application, handlers))
        check_entries([name for name, _ in entries])
        write_zip(entries, output, zip_timestamp())
    log(f"{len(entries)} files, {output.stat().st_size / 1e6:.1f} MB")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build the reproducible Lambda package (lambda/*.py, swescribe, pinned deps)."
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=REPO_ROOT / "dist" / "lambda",
        help="where the zip is written (default: dist/lambda)",
    )
    parser.add_argument(
        "--requirements",
        type=Path,
        default=REQUIREMENTS,
        help="pinned, hashed requirements (default: setup/lambda/requirements.txt)",
    )
    args = parser.parse_args(argv)
    try:
        output = build(args.output_dir.resolve(), REPO_ROOT, args.requirements.resolve())
    except BuildError as error:
        print(f"build_lambda_package: error: {error}", file=sys.stderr)
        return 1
    print(f"{sha256_of(output)}  {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
