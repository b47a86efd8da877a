"""The rules an operator's JWT assertion must pass beyond what authlib checks.

authlib (over joserfc) verifies the signature and the ``iss``/``aud``/``exp``/
``iat`` claims with a clock-skew leeway; CONTRACT section 1 adds: ES256 only,
``sub`` equal to ``iss``, a lifetime of at most ten minutes, and a ``jti`` that
was never seen before.  The replay cache is the app's :class:`~obsyk_core.cache.Cache`
(Redis in production, so every API pod sees every ``jti``; memory when embedded).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from obsyk_core.cache import Cache

ALLOWED_ALGORITHM = "ES256"
#: Clock skew tolerated on ``iat`` and ``exp``.
LEEWAY_SECONDS = 60
#: The longest an assertion may live (``exp - iat``); upstream uses five minutes.
MAX_LIFETIME_SECONDS = 600


class AssertionRejected(ValueError):
    """The assertion breaks one of the rules; the message says which, for the operator's log."""


def check_header(header: Mapping[str, Any]) -> None:
    """Only ES256: refuses ``none`` and HS256 signed with the public key PEM as the secret."""
    alg = header.get("alg")
    if alg != ALLOWED_ALGORITHM:
        raise AssertionRejected(f"The assertion must be signed with ES256, not {alg!r}.")


def check_claims(claims: Mapping[str, Any], cache: Cache, *, now: float | None = None) -> None:
    """Lifetime, ``sub == iss`` and ``jti`` replay; run after the signature was verified.

    The ``jti`` is remembered (atomically, first writer wins) until the assertion
    could no longer pass the ``exp`` check, so the cache stays small.
    """
    now = time.time() if now is None else now
    if claims.get("sub") != claims.get("iss"):
        raise AssertionRejected("The assertion's 'sub' must equal its 'iss' (the client id).")
    exp = claims["exp"]
    iat = claims.get("iat")
    if iat is not None and exp - iat > MAX_LIFETIME_SECONDS:
        raise AssertionRejected(
            f"The assertion lives {int(exp - iat)} s; at most {MAX_LIFETIME_SECONDS} s is allowed."
        )
    if exp - now > MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
        raise AssertionRejected("The assertion expires too far in the future.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise AssertionRejected("The assertion has no 'jti'.")
    ttl = max(1, int(exp - now) + LEEWAY_SECONDS)
    if not cache.add(f"jti:{claims['iss']}:{jti}", b"1", ttl):
        raise AssertionRejected("This assertion was already used (replayed 'jti').")
