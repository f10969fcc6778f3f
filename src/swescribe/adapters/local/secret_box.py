"""Callback secrets sealed at rest: AES-256-GCM under the data directory's key file.

A sealed value reads ``enc:v1:<base64url(nonce || ciphertext || tag)>``; the prefix tells it
from a plain value an older swescribe stored, and names the scheme so it can change. The
job id is the associated data: a sealed value moved onto another job does not open.
"""

from __future__ import annotations

import base64
import binascii
import os

from swescribe.core.errors import SecretUnreadable

KEY_FILE_NAME = "callback-secrets.key"
SEALED_MARK = "enc:"
V1 = "enc:v1:"
_NONCE_BYTES = 12
_KEY_BYTES = 32
_UNREADABLE = "callback secret cannot be decrypted"


class AesGcmSecretBox:
    """SecretBox with a 256-bit key (the file `read_or_create_secret` makes)."""

    def __init__(self, key: bytes) -> None:
        # Imported here: the Lambdas import bootstrap (and so this module) but never seal,
        # and their package carries no cryptography.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(key) != _KEY_BYTES:
            raise ValueError(
                f"the callback secrets' key file must hold {_KEY_BYTES} bytes, not {len(key)}"
            )
        self._aead = AESGCM(key)

    def seal(self, secret: str, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), _associated(context))
        return V1 + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, stored: str, context: str) -> str:
        from cryptography.exceptions import InvalidTag

        if not self.is_sealed(stored):
            return stored
        if not stored.startswith(V1):
            scheme = stored[: stored.find(":", len(SEALED_MARK)) + 1][:16]
            raise SecretUnreadable(f"{_UNREADABLE}: sealed with an unknown scheme {scheme!r}")
        try:
            raw = base64.urlsafe_b64decode(stored.removeprefix(V1).encode())
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated(context))
            return plain.decode()
        except (binascii.Error, ValueError, InvalidTag) as error:
            raise SecretUnreadable(
                f"{_UNREADABLE}: sealed under another key file, or altered in the database"
            ) from error

    def is_sealed(self, stored: str) -> bool:
        return stored.startswith(SEALED_MARK)


def _associated(context: str) -> bytes:
    return b"swescribe callback_secret\0" + context.encode()
