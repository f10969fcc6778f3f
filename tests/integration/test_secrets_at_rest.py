"""Issue 24: callback secrets are sealed at rest. Someone who reads the database files (a
backup, a copied disk, a file left 0644 by an older swescribe) learns no callback secret:
each one is encrypted with the data directory's 0600 key file, and a database written by
an older swescribe is sealed on start. A value that will not open fails only its job's
webhook, with a reason, never the service."""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from swescribe.adapters.local.sqlite_jobs import SCHEMA
from swescribe.api import create_app
from swescribe.bootstrap import (
    LocalPaths,
    build_local_api,
    build_local_keys,
    build_local_services,
    webhook_sender,
)
from swescribe.config import Settings
from swescribe.core.intake import NewJob, create_job
from swescribe.core.jobs import Job, JobStatus, job_to_record
from swescribe.core.processing import fail_job
from swescribe.core.services import Services
from swescribe.webhooks.sender import deliver_for
from tests.receiver import Receiver
from tests.support import free_port, serving

SEALED_PREFIX = "enc:v1:"


@dataclass
class Api:
    url: str
    key: str
    settings: Settings
    svc: Services

    @property
    def paths(self) -> LocalPaths:
        return LocalPaths(self.settings.data_dir)

    def register(self, callback_url: str, secret: str) -> str:
        with httpx.Client(base_url=self.url, headers={"X-API-Key": self.key}) as http:
            response = http.post(
                "/api", json={"callback_url": callback_url, "callback_secret": secret}
            )
        assert response.status_code == 200, response.text
        return str(response.json()["callback_id"])

    def job_view(self, job_id: str) -> dict[str, object]:
        with httpx.Client(base_url=self.url, headers={"X-API-Key": self.key}) as http:
            response = http.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    port = free_port()
    settings = Settings.from_env(
        {},
        data_dir=tmp_path / "data",
        public_url=f"http://127.0.0.1:{port}",
        rate_limit_per_minute=0,
        auth_failures_per_minute=0,
        webhook_base_delay=0.05,
    )
    svc = build_local_services(settings)
    _, key = build_local_keys(settings).create("tests")
    with serving(create_app(build_local_api(settings, svc)), port) as url:
        yield Api(url, key, settings, svc)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver("secret-for-the-receiver-only").start()
    yield running
    running.stop()


def database_bytes(paths: LocalPaths) -> bytes:
    """Every byte SQLite keeps for the database: the file, its WAL and shared memory."""
    files = (
        paths.database.with_name(paths.database.name + suffix) for suffix in ("", "-wal", "-shm")
    )
    return b"".join(path.read_bytes() for path in files if path.exists())


def stored_secret(paths: LocalPaths, job_id: str) -> str:
    with sqlite3.connect(paths.database) as db:
        row = db.execute(
            "SELECT json_extract(record, '$.callback_secret') FROM jobs WHERE job_id = ?",
            (job_id,),
        ).fetchone()
    assert row is not None
    assert isinstance(row[0], str)
    return row[0]


def store_secret_value(paths: LocalPaths, job_id: str, value: str) -> None:
    with sqlite3.connect(paths.database) as db:
        db.execute(
            "UPDATE jobs SET record = json_set(record, '$.callback_secret', ?) WHERE job_id = ?",
            (value, job_id),
        )


def test_a_callback_secret_sent_to_the_api_is_not_in_the_database_files(api: Api) -> None:
    secret = "whsec_" + secrets.token_hex(16)
    job_id = api.register("https://client.example/hook", secret)
    assert secret.encode() not in database_bytes(api.paths)
    stored = stored_secret(api.paths, job_id)
    assert stored.startswith(SEALED_PREFIX)
    assert secret not in stored
    assert api.svc.jobs.get(job_id).callback_secret == secret  # type: ignore[union-attr]


def test_a_sealed_secret_still_signs_the_webhook_a_real_receiver_checks(
    api: Api, receiver: Receiver
) -> None:
    receiver.secret = "sealed-yet-signing-" + secrets.token_hex(8)
    job_id = api.register(receiver.url, receiver.secret)
    fail_job(api.svc, job_id, "invalid_audio", "not a readable audio file")
    deliver_for(api.svc, job_id, webhook_sender(api.settings))
    delivery = receiver.wait_for(1, timeout=10)[0]
    assert delivery.payload["job_id"] == job_id
    assert delivery.seed_signature_ok
    assert delivery.standard_signature_ok
    assert receiver.secret.encode() not in database_bytes(api.paths)


def test_the_secrets_key_file_is_created_private(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # a default login shell's: files 0644
    try:
        settings = Settings.from_env({}, data_dir=tmp_path / "data")
        build_local_services(settings)
    finally:
        os.umask(previous)
    key_file = LocalPaths(settings.data_dir).secrets_key
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(key_file.read_bytes()) == 32


def test_a_database_written_by_the_old_code_is_sealed_on_start(tmp_path: Path) -> None:
    """An older swescribe stored the secret in the record as it came; on start it is sealed
    in place and the plain text is gone from the files, not only from the live rows."""
    paths = LocalPaths(tmp_path / "data")
    paths.root.mkdir()
    secret = "legacy-plain-secret-" + secrets.token_hex(8)
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    old = Job("oldjob", "k", JobStatus.REGISTERED, now, now, "https://client.example/h", secret)
    with sqlite3.connect(paths.database) as db:  # as the old SqliteJobStore wrote it
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        record = job_to_record(old)
        db.execute(
            "INSERT INTO jobs (job_id, owner, status, created_at, record) VALUES (?, ?, ?, ?, ?)",
            ("oldjob", "k", "registered", record["created_at"], json.dumps(record)),
        )
    db.close()
    assert secret.encode() in database_bytes(paths)

    svc = build_local_services(Settings.from_env({}, data_dir=paths.root))

    assert svc.jobs.get("oldjob").callback_secret == secret  # type: ignore[union-attr]
    stored = stored_secret(paths, "oldjob")
    assert stored.startswith(SEALED_PREFIX)
    assert secret.encode() not in database_bytes(paths)
    again = build_local_services(Settings.from_env({}, data_dir=paths.root))
    assert again.jobs.get("oldjob").callback_secret == secret  # type: ignore[union-attr]
    assert stored_secret(paths, "oldjob") == stored, "a sealed value is not sealed twice"


@pytest.mark.parametrize("damage", ["tampered value", "another key file"])
def test_a_secret_that_will_not_open_fails_only_its_webhook_with_a_reason(
    api: Api, receiver: Receiver, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "will-not-open-" + secrets.token_hex(8)
    job_id = api.register(receiver.url, secret)
    stored = stored_secret(api.paths, job_id)
    assert stored.startswith(SEALED_PREFIX)
    svc = api.svc
    if damage == "tampered value":
        body = stored.removeprefix(SEALED_PREFIX)
        flipped = ("A" if body[-5] != "A" else "B").join((body[:-5], body[-4:]))
        store_secret_value(api.paths, job_id, SEALED_PREFIX + flipped)
    else:  # the key file lost and made anew: every sealed secret is another key's
        api.paths.secrets_key.unlink()
        svc = build_local_services(api.settings)

    caplog.set_level(logging.DEBUG)
    fail_job(svc, job_id, "invalid_audio", "not a readable audio file")
    deliver_for(svc, job_id, webhook_sender(api.settings))

    assert receiver.deliveries == [], "nothing is sent unsigned or signed with a wrong key"
    view = api.job_view(job_id)  # the job itself stays readable
    webhook = view["webhook"]
    assert isinstance(webhook, dict)
    assert webhook["state"] == "failed"
    assert "callback secret cannot be decrypted" in webhook["last_error"]
    logged = "\n".join(str(vars(record)) for record in caplog.records)
    assert "callback secret is unreadable" in logged
    assert "callback secret cannot be decrypted" in logged
    assert secret not in logged
    assert stored.removeprefix(SEALED_PREFIX)[:24] not in logged

    other = create_job(  # the store's other jobs are unaffected
        svc, "k", NewJob(callback_url=receiver.url, callback_secret=receiver.secret)
    ).job_id
    fail_job(svc, other, "invalid_audio", "not a readable audio file")
    deliver_for(svc, other, webhook_sender(api.settings))
    assert receiver.wait_for(1, timeout=10)[0].seed_signature_ok
