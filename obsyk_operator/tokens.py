"""Access tokens from the platform: the OAuth2 JWT bearer grant (CONTRACT.md section 1)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC
from email.utils import parsedate_to_datetime

import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 300
#: Refresh when less than this is left, like upstream (and never use a token about to expire).
REFRESH_MARGIN = 300.0


class CredentialError(Exception):
    """The private key is missing or malformed, or the platform rejects the credential."""


class PlatformUnavailable(Exception):
    """The platform could not be reached or failed (5xx, 429): retry later."""

    def __init__(self, message: str, *, status: int = 0, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def load_private_key(pem: str) -> ECKey:
    """The ECDSA P-256 key from PEM (SEC1 or PKCS#8), else a :class:`CredentialError` saying why."""
    if not pem.strip():
        raise CredentialError("the private key is empty")
    try:
        key = ECKey.import_key(pem)
    except (JoseError, ValueError, TypeError) as exc:
        raise CredentialError(f"the private key is not a valid EC PEM key: {exc}") from None
    if key.curve_name != "P-256" or not key.is_private:
        raise CredentialError("the private key must be a private ECDSA P-256 (prime256v1) key")
    return key


def retry_after_seconds(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` in seconds from now, given as delta-seconds or as an HTTP date (RFC 9110).

    A date in the past means "now" (0); a value that is neither form is ignored (``None``).
    """
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; RFC 9110 dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


class TokenManager:
    """Holds the current access token; fetches a new one ahead of expiry or when told it failed."""

    def __init__(
        self,
        *,
        platform_url: str,
        client_id: str,
        private_key: ECKey,
        session: requests.Session | None = None,
        timeout: float = 15.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.platform_url = platform_url
        self.client_id = client_id
        self.private_key = private_key
        self.session = session or requests.Session()
        self.timeout = timeout
        self.clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()
        self.fetched = 0

    def assertion(self) -> str:
        now = int(self.clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            # Upstream sends the audience as a one-element array of the configured URL.
            "aud": [self.platform_url],
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode({"alg": "ES256", "typ": "JWT"}, claims, self.private_key)

    def token(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._refresh_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (the platform answered 401 to it); the next call fetches another."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> None:
        url = self.platform_url.rstrip("/") + "/oauth/token"
        try:
            response = self.session.post(
                url,
                data={"grant_type": JWT_BEARER_GRANT, "assertion": self.assertion()},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise PlatformUnavailable(f"cannot reach the platform at {url}: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise PlatformUnavailable(
                f"the platform's token endpoint answered {response.status_code}",
                status=response.status_code,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if response.status_code != 200:
            raise CredentialError(
                f"the platform rejected client {self.client_id!r} "
                f"({response.status_code}: {_oauth_error(response)})"
            )
        try:
            body = response.json()
            token = str(body["access_token"])
            expires_in = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise PlatformUnavailable(f"the token endpoint sent an unusable answer: {exc}") from exc
        self._token = token
        # A token shorter-lived than the margin is refreshed at half its life instead.
        margin = min(REFRESH_MARGIN, expires_in / 2)
        self._refresh_at = self.clock() + expires_in - margin
        self.fetched += 1


def _oauth_error(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return " ".join(str(body.get(k, "")) for k in ("error", "error_description")).strip()
    return str(body)[:200]
