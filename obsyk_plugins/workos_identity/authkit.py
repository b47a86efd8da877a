"""The AuthKit provider: authorization URL, code and refresh-token exchanges, sign-out, invitations.

Who the person is and in which WorkOS organization, with which role, comes
from the access token WorkOS returns (a JWT: ``sid``, ``org_id``, ``role``,
``exp``), verified here against the client's JWKS (``sso/jwks/<client_id>``),
fetched through the SDK and kept for an hour.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import workos
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from obsyk_core.identity import Identity, InvitationRefused, Renewal, SignInRefused

JWKS_SECONDS = 3600
CLOCK_SKEW_SECONDS = 60


class WorkOSAuthKit:
    redirects = True

    def __init__(self, *, api_key: str, client_id: str, base_url: str | None) -> None:
        self.client_id = client_id
        self._client = workos.WorkOSClient(api_key=api_key, client_id=client_id, base_url=base_url)
        self._keys: tuple[float, KeySet] | None = None
        self._lock = threading.Lock()

    def authorization_url(
        self,
        *,
        redirect_uri: str,
        state: str,
        organization_id: str | None = None,
        connection_id: str | None = None,
        login_hint: str | None = None,
    ) -> str:
        # With neither an organization nor a connection, AuthKit's own screens decide.
        provider = None if organization_id or connection_id else "authkit"
        return self._client.user_management.get_authorization_url(
            redirect_uri=redirect_uri,
            state=state,
            provider=provider,
            organization_id=organization_id,
            connection_id=connection_id,
            login_hint=login_hint,
        )

    def authenticate(self, code: str) -> Identity:
        try:
            answer = self._client.user_management.authenticate_with_code(code=code)
        except workos.WorkOSError as error:
            raise SignInRefused(f"WorkOS refused the sign-in: {_reason(error)}") from None
        claims = self._claims(answer.access_token)
        user = answer.user
        name = " ".join(part for part in (user.first_name, user.last_name) if part) or None
        return Identity(
            email=user.email,
            name=name,
            provider_user_id=user.id,
            provider_org_id=answer.organization_id or claims.get("org_id"),
            provider_role=claims.get("role"),
            refresh_token=answer.refresh_token,
            access_expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            provider_session_id=claims.get("sid"),
        )

    def renew(self, refresh_token: str, organization_id: str | None) -> Renewal:
        try:
            answer = self._client.user_management.authenticate_with_refresh_token(
                refresh_token=refresh_token, organization_id=organization_id
            )
        except (workos.BadRequestError, workos.AuthenticationError, workos.AuthorizationError):
            raise SignInRefused("WorkOS no longer honours this session.") from None
        claims = self._claims(answer.access_token)
        return Renewal(
            refresh_token=answer.refresh_token,
            access_expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )

    def sign_out(self, provider_session_id: str) -> None:
        self._client.user_management.revoke_session(session_id=provider_session_id)

    def invite(self, email: str, organization_id: str | None, role: str) -> str:
        try:
            invitation = self._client.user_management.send_invitation(
                email=email, organization_id=organization_id, role_slug=role
            )
        except (workos.BadRequestError, workos.UnprocessableEntityError, workos.ConflictError) as e:
            raise InvitationRefused(_reason(e)) from None
        return str(invitation.id)

    def _claims(self, access_token: str) -> dict[str, Any]:
        """The access token's claims, its signature checked against the client's JWKS."""
        try:
            decoded = jwt.decode(access_token, self._key_set(), algorithms=["RS256"])
            # The leeway allows for clock skew with WorkOS; when the token runs out
            # here is what the session tracks (and then renews).
            registry = jwt.JWTClaimsRegistry(leeway=CLOCK_SKEW_SECONDS, exp={"essential": True})
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as error:
            raise SignInRefused(
                f"WorkOS sent an access token that does not verify ({error})."
            ) from None
        return dict(decoded.claims)

    def _key_set(self) -> KeySet:
        with self._lock:
            if self._keys is None or time.monotonic() - self._keys[0] > JWKS_SECONDS:
                jwks = self._client.user_management.get_jwks(self.client_id)
                self._keys = (time.monotonic(), KeySet.import_key_set(jwks.to_dict()))  # type: ignore[arg-type]
            return self._keys[1]


def _reason(error: Exception) -> str:
    return getattr(error, "message", None) or str(error).splitlines()[0]
