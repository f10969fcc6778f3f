"""API keys on real SQLite: shown once, stored only as a hash, revocable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from swescribe.adapters.local.sqlite_keys import SqliteApiKeyStore
from swescribe.core.apikeys import (
    KEY_PREFIX,
    ApiKey,
    generate_key,
    hash_secret,
    secret_matches,
    split_key,
)
from swescribe.core.errors import KeyNotFound


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "swescribe.db"


@pytest.fixture
def store(db_path: Path) -> SqliteApiKeyStore:
    return SqliteApiKeyStore(db_path)


def database_bytes(db_path: Path) -> bytes:
    """Everything SQLite has written: the main file, the WAL and any journal."""
    files = [db_path, *db_path.parent.glob(db_path.name + "-*")]
    return b"".join(path.read_bytes() for path in files if path.exists())


# the key format


def test_generated_key_reads_prefix_id_and_secret() -> None:
    new = generate_key()
    assert new.plaintext.startswith(f"{KEY_PREFIX}{new.key_id}_")
    assert split_key(new.plaintext) == (new.key_id, new.plaintext.split("_", 2)[2])


def test_generated_keys_differ_each_time() -> None:
    keys = {generate_key().plaintext for _ in range(50)}
    assert len(keys) == 50


def test_stored_hash_is_sha256_of_the_secret_only() -> None:
    new = generate_key()
    _, secret = split_key(new.plaintext) or ("", "")
    assert new.secret_hash == hash_secret(secret)
    assert len(new.secret_hash) == 64
    assert secret not in new.secret_hash
    assert secret_matches(secret, new.secret_hash)
    assert not secret_matches(secret + "x", new.secret_hash)


@pytest.mark.parametrize(
    "malformed", ["", "sws_", "sws__secret", "sws_id_", "sws_idonly", "key_abc_def", "x" * 300]
)
def test_malformed_keys_do_not_split(malformed: str) -> None:
    assert split_key(malformed) is None


def test_listed_prefix_names_the_key_without_its_secret() -> None:
    key = ApiKey("abc123", "ci", datetime(2024, 12, 1, tzinfo=UTC))
    assert key.prefix == "sws_abc123"
    assert key.active


# the SQLite store


def test_create_returns_a_plaintext_key_once(store: SqliteApiKeyStore) -> None:
    key, plaintext = store.create("laptop")
    assert plaintext.startswith("sws_")
    assert plaintext.startswith(key.prefix + "_")
    assert key.name == "laptop"
    assert key.active
    assert abs(key.created_at - datetime.now(UTC)) < timedelta(seconds=5)


def test_database_files_never_contain_the_key_or_its_secret(
    store: SqliteApiKeyStore, db_path: Path
) -> None:
    created = [store.create(f"key-{n}") for n in range(3)]
    store.revoke(created[0][0].key_id)
    raw = database_bytes(db_path)
    assert db_path.with_name(db_path.name + "-wal").exists()
    for key, plaintext in created:
        _, secret = split_key(plaintext) or ("", "")
        assert key.key_id.encode() in raw  # the check can see what was written
        assert plaintext.encode() not in raw
        assert secret.encode() not in raw
        assert hash_secret(secret).encode() in raw


def test_the_created_key_authenticates(store: SqliteApiKeyStore) -> None:
    key, plaintext = store.create("laptop")
    authenticated = store.authenticate(plaintext)
    assert authenticated is not None
    assert authenticated.key_id == key.key_id
    assert authenticated.name == "laptop"
    assert authenticated.active


def test_a_second_store_on_the_same_file_authenticates_the_key(
    store: SqliteApiKeyStore, db_path: Path
) -> None:
    _, plaintext = store.create("shared")
    assert SqliteApiKeyStore(db_path).authenticate(plaintext) is not None


def test_wrong_secret_does_not_authenticate(store: SqliteApiKeyStore) -> None:
    key, plaintext = store.create("laptop")
    assert store.authenticate(plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")) is None
    assert store.authenticate(f"{key.prefix}_wrong-secret") is None


def test_another_keys_secret_does_not_authenticate(store: SqliteApiKeyStore) -> None:
    first, _ = store.create("first")
    _, second_plaintext = store.create("second")
    _, second_secret = split_key(second_plaintext) or ("", "")
    assert store.authenticate(f"{first.prefix}_{second_secret}") is None


def test_unknown_key_id_does_not_authenticate(store: SqliteApiKeyStore) -> None:
    _, plaintext = store.create("laptop")
    _, secret = split_key(plaintext) or ("", "")
    assert store.authenticate(f"sws_000000000000_{secret}") is None


@pytest.mark.parametrize(
    "garbage",
    ["", "sws_", "Bearer sws_x_y", "sws_' OR '1'='1_x", "sws_%_%", "åäö", "sws_" + "a" * 300],
)
def test_garbage_does_not_authenticate(store: SqliteApiKeyStore, garbage: str) -> None:
    store.create("laptop")
    assert store.authenticate(garbage) is None


def test_revoke_by_id_stops_authentication(store: SqliteApiKeyStore) -> None:
    key, plaintext = store.create("laptop")
    revoked = store.revoke(key.key_id)
    assert revoked.key_id == key.key_id
    assert not revoked.active
    assert store.authenticate(plaintext) is None


def test_revoke_by_listed_prefix_stops_authentication(store: SqliteApiKeyStore) -> None:
    key, plaintext = store.create("laptop")
    store.revoke(key.prefix)
    assert store.authenticate(plaintext) is None


def test_revoke_by_full_key_stops_authentication(store: SqliteApiKeyStore) -> None:
    _, plaintext = store.create("leaked")
    revoked = store.revoke(plaintext)
    assert not revoked.active
    assert store.authenticate(plaintext) is None


def test_revoking_one_key_leaves_the_others_working(store: SqliteApiKeyStore) -> None:
    first, first_plaintext = store.create("first")
    _, second_plaintext = store.create("second")
    store.revoke(first.key_id)
    assert store.authenticate(first_plaintext) is None
    assert store.authenticate(second_plaintext) is not None


def test_revoking_twice_keeps_the_first_revocation_time(store: SqliteApiKeyStore) -> None:
    key, _ = store.create("laptop")
    first = store.revoke(key.key_id)
    second = store.revoke(key.key_id)
    assert first.revoked_at is not None
    assert second.revoked_at == first.revoked_at


@pytest.mark.parametrize("unknown", ["000000000000", "sws_000000000000", "", "sws_"])
def test_revoking_an_unknown_key_raises_key_not_found(
    store: SqliteApiKeyStore, unknown: str
) -> None:
    store.create("laptop")
    with pytest.raises(KeyNotFound):
        store.revoke(unknown)


def test_list_shows_every_key_and_which_are_revoked(store: SqliteApiKeyStore) -> None:
    kept, _ = store.create("kept")
    gone, _ = store.create("gone")
    store.revoke(gone.key_id)
    listed = {key.key_id: key for key in store.list_keys()}
    assert set(listed) == {kept.key_id, gone.key_id}
    assert listed[kept.key_id].active
    assert listed[kept.key_id].name == "kept"
    assert not listed[gone.key_id].active
    assert listed[gone.key_id].revoked_at is not None
    assert listed[gone.key_id].name == "gone"


def test_list_is_empty_for_a_new_database(store: SqliteApiKeyStore) -> None:
    assert store.list_keys() == []
