"""The sealing of callback secrets (adapters/local/secret_box.py) on its own."""

from __future__ import annotations

import secrets

import pytest

from swescribe.adapters.local.secret_box import AesGcmSecretBox
from swescribe.core.errors import SecretUnreadable


@pytest.fixture
def box() -> AesGcmSecretBox:
    return AesGcmSecretBox(secrets.token_bytes(32))


def test_a_sealed_secret_opens_to_itself_and_shows_nothing_of_it(box: AesGcmSecretBox) -> None:
    sealed = box.seal("whsec_dGhlIHNlY3JldA==", "job1")
    assert sealed.startswith("enc:v1:")
    assert "dGhlIHNlY3JldA" not in sealed
    assert box.seal("whsec_dGhlIHNlY3JldA==", "job1") != sealed, "a fresh nonce each time"
    assert box.open(sealed, "job1") == "whsec_dGhlIHNlY3JldA=="


def test_a_value_moved_onto_another_job_does_not_open(box: AesGcmSecretBox) -> None:
    with pytest.raises(SecretUnreadable, match="another key file, or altered"):
        box.open(box.seal("s", "job1"), "job2")


def test_another_keys_value_and_garbage_do_not_open(box: AesGcmSecretBox) -> None:
    other = AesGcmSecretBox(secrets.token_bytes(32)).seal("s", "job1")
    for stored in (other, "enc:v1:", "enc:v1:not base64!", "enc:v1:AAAA"):
        with pytest.raises(SecretUnreadable, match="cannot be decrypted"):
            box.open(stored, "job1")


def test_an_unknown_scheme_is_named_without_its_value(box: AesGcmSecretBox) -> None:
    with pytest.raises(SecretUnreadable, match="unknown scheme 'enc:v9:'") as raised:
        box.open("enc:v9:c2VjcmV0LXZhbHVl", "job1")
    assert "c2VjcmV0" not in str(raised.value)


def test_a_plain_value_from_an_older_swescribe_reads_as_it_is(box: AesGcmSecretBox) -> None:
    assert not box.is_sealed("plain-secret")
    assert box.open("plain-secret", "job1") == "plain-secret"


def test_a_key_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="must hold 32 bytes, not 5"):
        AesGcmSecretBox(b"short")
