"""Issue 24: the local data directory is this user's alone. The database and its WAL and
shared-memory files held callback secrets at 0644 in a 0755 directory; now the directory
is 0700 and every file in it 0600, and an older installation is tightened on start."""

from __future__ import annotations

import io
import os
import sqlite3
from pathlib import Path

import pytest

from swescribe.bootstrap import LocalPaths, build_local_services
from swescribe.config import Settings
from swescribe.core.intake import NewJob, create_job
from swescribe.core.synchronous import submit_file


def modes(root: Path) -> dict[str, int]:
    return {
        str(path.relative_to(root)): path.stat().st_mode & 0o777
        for path in root.rglob("*")
        if path.is_file()
    }


@pytest.fixture
def shared_umask() -> object:
    previous = os.umask(0o022)  # what a default login shell gives: files 0644
    yield
    os.umask(previous)


def test_a_new_data_directory_is_private_to_its_user(tmp_path: Path, shared_umask: object) -> None:
    root = tmp_path / "data"
    svc = build_local_services(Settings.from_env({}, data_dir=root))
    job = create_job(svc, "k", NewJob(callback_url="https://client.example/h", callback_secret="s"))
    submit_file(svc, "k", NewJob(), io.BytesIO(b"RIFF" + bytes(64)), "a.wav")
    found = modes(root)
    assert {"swescribe.db", "swescribe.db-wal", "swescribe.db-shm"} <= set(found)
    assert job.callback_secret == "s"
    assert root.stat().st_mode & 0o777 == 0o700
    assert {name: mode for name, mode in found.items() if mode != 0o600} == {}


def test_an_older_installations_database_is_tightened(tmp_path: Path, shared_umask: object) -> None:
    root = tmp_path / "data"
    root.mkdir(mode=0o755)
    database = LocalPaths(root).database
    with sqlite3.connect(database) as old:  # as an older swescribe left it: 0644, WAL
        old.execute("PRAGMA journal_mode=WAL")
        old.execute("CREATE TABLE leftover (x)")
        assert database.stat().st_mode & 0o777 == 0o644
        build_local_services(Settings.from_env({}, data_dir=root))
        assert root.stat().st_mode & 0o777 == 0o700
        found = modes(root)
    assert found["swescribe.db"] == 0o600
    assert {name: mode for name, mode in found.items() if mode != 0o600} == {}
