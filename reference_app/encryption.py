"""Values encrypted at rest, under the key ring ``OBSYK_SECRET_KEYS`` (Fernet, rotatable).

One :class:`KeyRing` per app (``get_state().keys``); anything the platform
keeps that would hurt if the database leaked (a sign-in session's WorkOS
refresh token...) goes through it.  ``cryptography``'s :class:`MultiFernet`
does the work: the first key encrypts, every key decrypts, so a key is
rotated by putting a new one first, re-encrypting (:meth:`KeyRing.rotate`),
then dropping the old one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class UndecryptableValue(ValueError):
    """No key of the ring opens this value (its key was dropped, or it was tampered with)."""


class KeyRing:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("the key ring needs at least one key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_settings(cls, secret_keys: str, secret_key: str) -> KeyRing:
        """The ring of ``OBSYK_SECRET_KEYS``, or one key derived from the secret key."""
        keys = [key.strip().encode() for key in secret_keys.split(",") if key.strip()]
        if not keys:
            derived = hmac.new(secret_key.encode(), b"obsyk at-rest v1", hashlib.sha256).digest()
            keys = [base64.urlsafe_b64encode(derived)]
        try:
            return cls(keys)
        except ValueError as error:
            raise ValueError(
                "OBSYK_SECRET_KEYS must be comma-separated Fernet keys (32 url-safe base64 bytes)"
            ) from error

    def encrypt(self, value: str) -> bytes:
        return self._fernet.encrypt(value.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise UndecryptableValue("no key of OBSYK_SECRET_KEYS opens this value") from None

    def rotate(self, token: bytes) -> bytes:
        """The same value encrypted under the first key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise UndecryptableValue("no key of OBSYK_SECRET_KEYS opens this value") from None
