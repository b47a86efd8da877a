"""The key ring: encrypt under the first key, decrypt under any, rotate."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from reference_app.encryption import KeyRing, UndecryptableValue


def test_values_round_trip_and_are_not_stored_plainly() -> None:
    ring = KeyRing.from_settings("", "the-secret-key")
    token = ring.encrypt("refresh-123")
    assert b"refresh-123" not in token
    assert ring.decrypt(token) == "refresh-123"
    # The derived key depends on the secret key only: other processes open it too.
    assert KeyRing.from_settings("", "the-secret-key").decrypt(token) == "refresh-123"
    with pytest.raises(UndecryptableValue):
        KeyRing.from_settings("", "another-secret").decrypt(token)


def test_a_key_is_rotated_by_putting_a_new_one_first() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = KeyRing.from_settings(old, "unused")
    token = before.encrypt("refresh-123")
    during = KeyRing.from_settings(f"{new}, {old}", "unused")
    assert during.decrypt(token) == "refresh-123"
    rotated = during.rotate(token)
    after = KeyRing.from_settings(new, "unused")
    assert after.decrypt(rotated) == "refresh-123"
    with pytest.raises(UndecryptableValue):
        after.decrypt(token)


def test_a_malformed_key_is_a_clear_start_up_error() -> None:
    with pytest.raises(ValueError, match="OBSYK_SECRET_KEYS"):
        KeyRing.from_settings("not-a-fernet-key", "unused")
