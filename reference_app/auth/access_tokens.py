"""Access tokens the token endpoint issues to operators, and their verification.

They are JWTs signed with HS256 under a key derived from ``OBSYK_SECRET_KEY``.
Only the platform itself ever verifies them, so a symmetric key is enough: every
API pod already shares the secret key, and no key file has to be distributed or
rotated separately (rotating the secret key logs every operator out once, and
operators simply fetch a new token).  Verification is a signature and expiry
check: no database round trip on the hot path.  An operator sends the same
token with every request for its whole lifetime, so each process remembers the
tokens it has verified, by their exact text (bounded, ``max_remembered``): a
remembered token skips the signature and claims checks, but never its
expiry (refused from its ``exp`` on, as a fresh verification would) nor the
revocation check below.

Revocation still has to bite within a minute, so each process remembers a
credential's revocation status for at most :data:`REVOCATION_CHECK_SECONDS`
and re-reads it from storage after that (one small query per credential per
minute, not per request).  Sooner where it can: the process that revokes a
credential (or deletes its cluster) forgets it at once and bumps a
revocation version in the shared cache; every process reads that version at
most once every :data:`REVOCATION_POLL_SECONDS` and, when it moved, forgets
every remembered status, so on Redis a revocation reaches all processes
within about a second (the minute stays the bound while the cache is down).
That memory is bounded (``max_remembered`` credentials): one forgotten early
is simply read again.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from obsyk_core.cache import Cache, CacheError
from obsyk_core.storage import Credential, Storage
from reference_app.remembered import MAX_REMEMBERED, Remembered

log = logging.getLogger(__name__)

ALGORITHM = "HS256"
#: Claim value of ``scope`` in agent tokens: the agent endpoints accept nothing else.
AGENT_SCOPE = "agent"
#: JWT ``typ`` header of access tokens (RFC 9068), so an assertion can never pass as one.
TOKEN_TYPE = "at+jwt"
ISSUER = "obsyk"
REVOCATION_CHECK_SECONDS = 60
#: How often a process reads the shared revocation version (one cache GET).
REVOCATION_POLL_SECONDS = 1.0
#: The shared cache key counting revocations, and how long it is kept unchanged.
REVOCATIONS_KEY = "access-tokens:revocations"
REVOCATIONS_TTL_SECONDS = 7 * 24 * 3600


class InvalidAccessToken(ValueError):
    """The token is malformed, forged, expired, or its credential was revoked."""


@dataclass(frozen=True, slots=True)
class AgentPrincipal:
    """The operator a request comes from: one org, one cluster, one credential."""

    org_id: str
    cluster_id: str
    client_id: str


def signing_key(secret_key: str) -> OctKey:
    """A 256-bit key for access tokens only, so the Flask session key is never reused as-is."""
    derived = hmac.new(secret_key.encode(), b"obsyk access tokens v1", hashlib.sha256).digest()
    return OctKey.import_key(derived)


class AccessTokens:
    """Issues and verifies agent access tokens for one app."""

    def __init__(
        self,
        storage: Storage,
        secret_key: str,
        *,
        lifetime_seconds: int = 3600,
        revocation_check_seconds: int = REVOCATION_CHECK_SECONDS,
        max_remembered: int = MAX_REMEMBERED,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        cache: Cache | None = None,
    ) -> None:
        self._storage = storage
        #: Where processes tell each other of revocations (None: only the window bounds it).
        self._cache = cache
        self._revocations_seen: bytes | None = None
        self._revocations_read_at = -math.inf
        self._key = signing_key(secret_key)
        self.lifetime_seconds = lifetime_seconds
        #: Seconds since the epoch, for ``iat``/``exp``; replaceable so tests can reach an ``exp``.
        self.wall_clock = wall_clock
        #: Whether each credential is revoked, by client id.
        self._revoked: Remembered[str, bool] = Remembered(
            max_entries=max_remembered, ttl_seconds=revocation_check_seconds, clock=clock
        )
        #: Tokens verified here, by their text: who they name and their ``exp``.  Kept
        #: no longer than this platform issues tokens for; the ``exp`` is what counts.
        self._verified: Remembered[str, tuple[AgentPrincipal, float]] = Remembered(
            max_entries=max_remembered, ttl_seconds=max(lifetime_seconds, 1), clock=clock
        )

    @property
    def clock(self) -> Callable[[], float]:
        """Monotonic seconds; replaceable so tests can let a minute pass."""
        return self._revoked.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._revoked.clock = clock
        self._verified.clock = clock

    def issue(self, credential: Credential) -> str:
        now = int(self.wall_clock())
        claims = {
            "iss": ISSUER,
            "sub": credential.client_id,
            "org": credential.org_id,
            "cluster": credential.cluster_id,
            "scope": AGENT_SCOPE,
            "iat": now,
            "exp": now + self.lifetime_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode({"alg": ALGORITHM, "typ": TOKEN_TYPE}, claims, self._key)

    def verify(self, token: str) -> AgentPrincipal:
        """The operator ``token`` names; :class:`InvalidAccessToken` when it may not be used."""
        remembered = self._verified.get(token)
        # joserfc's expiry rule: refused once the whole seconds reach ``exp``.
        if remembered is not None and int(self.wall_clock()) < remembered[1]:
            principal = remembered[0]
        else:
            principal, expires_at = self._decode(token)
            self._verified.put(token, (principal, expires_at))
        if self._is_revoked(principal):
            raise InvalidAccessToken("The credential of this access token was revoked.")
        return principal

    def _decode(self, token: str) -> tuple[AgentPrincipal, float]:
        """Signature, type and claims checked in full: the principal and the ``exp``."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=[ALGORITHM])
            registry = jwt.JWTClaimsRegistry(
                now=lambda: int(self.wall_clock()),
                iss={"essential": True, "value": ISSUER},
                sub={"essential": True},
                exp={"essential": True},
                org={"essential": True},
                cluster={"essential": True},
                scope={"essential": True, "value": AGENT_SCOPE},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as error:
            raise InvalidAccessToken(f"The access token is not valid ({error}).") from None
        if decoded.header.get("typ") != TOKEN_TYPE:
            raise InvalidAccessToken("This is not an access token.")
        claims = decoded.claims
        principal = AgentPrincipal(
            org_id=str(claims["org"]),
            cluster_id=str(claims["cluster"]),
            client_id=str(claims["sub"]),
        )
        return principal, claims["exp"]

    def forget(self, client_id: str) -> None:
        """Drop the remembered status: this process learns of a revocation at once, others soon.

        The others learn of it through the shared revocation version, within
        :data:`REVOCATION_POLL_SECONDS`; if the cache cannot take it, within the window.
        """
        self._revoked.forget(client_id)
        if self._cache is not None:
            try:
                self._cache.incr(REVOCATIONS_KEY, REVOCATIONS_TTL_SECONDS)
            except CacheError as error:
                log.warning("revocation not announced to other processes: %s", error)

    def _follow_revocations(self) -> None:
        """Forget every remembered status when another process revoked something since."""
        now = self.clock()
        if self._cache is None or now - self._revocations_read_at < REVOCATION_POLL_SECONDS:
            return
        self._revocations_read_at = now
        try:
            version = self._cache.get(REVOCATIONS_KEY)
        except CacheError:
            # Not again for a window: a hung cache must not stall a request a second.
            # The revocation window still bounds what is remembered meanwhile.
            self._revocations_read_at = now + REVOCATION_CHECK_SECONDS
            return
        if version != self._revocations_seen:
            self._revocations_seen = version
            self._revoked.clear()

    def _is_revoked(self, principal: AgentPrincipal) -> bool:
        self._follow_revocations()
        known = self._revoked.get(principal.client_id)
        if known is not None:
            return known
        credential = self._storage.get_credential(principal.client_id)
        revoked = (
            credential is None
            or credential.revoked_at is not None
            or credential.cluster_id != principal.cluster_id
            or credential.org_id != principal.org_id
        )
        self._revoked.put(principal.client_id, revoked)
        return revoked
