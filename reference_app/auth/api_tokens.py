"""Personal API tokens: ``obsyk_pat_<random>``, shown once, stored as a SHA-256 hash.

A hash (not a slow password hash) is right here: the secret is 256 random bits,
so there is nothing to brute-force, and lookups must be a single indexed query.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from obsyk_core.storage import ApiToken, Role, Storage

PREFIX = "obsyk_pat_"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    #: The secret, to show the user exactly once.
    token: str
    record: ApiToken


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_api_token(token: str) -> bool:
    return token.startswith(PREFIX)


def issue_api_token(
    storage: Storage,
    org_id: str,
    user_id: str,
    *,
    name: str = "api",
    expires_at: datetime | None = None,
) -> IssuedToken:
    """A new token for a member of the org; its role is the membership's, read on each use."""
    token = PREFIX + secrets.token_urlsafe(32)
    record = storage.create_api_token(
        org_id, user_id, hash_token(token), name, expires_at=expires_at
    )
    return IssuedToken(token=token, record=record)


def grant_api_token(
    storage: Storage, org_id: str, email: str, role: Role, *, name: str = "api"
) -> IssuedToken:
    """Bootstrap: make the user (created if new) a member with ``role`` and issue a token."""
    user = storage.ensure_user(email)
    storage.set_membership(org_id, user.id, role)
    return issue_api_token(storage, org_id, user.id, name=name)
