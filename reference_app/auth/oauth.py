"""``POST /oauth/token``: operators trade a signed JWT assertion for an access token.

Built on authlib's OAuth 2 server: :class:`JWTBearerGrant` (RFC 7523 §2.1, what
the upstream operator sends) and, as our extension, ``client_credentials``
authenticated by :class:`JWTBearerClientAssertion` (RFC 7523 §2.2,
``private_key_jwt``).  authlib verifies the ES256 signature through joserfc and
checks ``iss``/``aud``/``exp``/``iat`` with a 60 s leeway; the rules it leaves to
us (ES256 only, lifetime, ``sub == iss``, ``jti`` replay) live in
:mod:`reference_app.auth.assertion_rules`.  The OAuth client is an operator
credential; revoked credentials are unknown clients.

Errors keep RFC 6749 §5.2's ``error``/``error_description`` (what OAuth clients
read) and also carry the app's ``code``/``status``/``message``.
"""

from __future__ import annotations

import json
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion, JWTBearerGrant
from flask import Blueprint, Flask, Response, current_app, request
from joserfc import jwt
from joserfc.jwk import ECKey

from obsyk_core.limits import NUL
from obsyk_core.storage import Credential
from reference_app.auth import assertion_rules
from reference_app.auth.access_tokens import AGENT_SCOPE
from reference_app.errors import error_body
from reference_app.state import get_state

TOKEN_PATH = "/oauth/token"
#: A token request is a few hundred bytes; refuse big bodies before parsing them.
MAX_TOKEN_REQUEST_BYTES = 64 * 1024

blp = Blueprint("oauth", __name__)


class OperatorClient(ClientMixin):  # type: ignore[misc]
    """An operator credential seen as an OAuth client."""

    def __init__(self, credential: Credential) -> None:
        self.credential = credential
        self.client_id = credential.client_id

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        return AGENT_SCOPE

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method == JWTBearerClientAssertion.CLIENT_AUTH_METHOD

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (JWTBearerGrant.GRANT_TYPE, ClientCredentialsGrant.GRANT_TYPE)


def find_client(client_id: Any) -> OperatorClient | None:
    """The active credential with this id; revoked and unknown ones are both "no client"."""
    if not isinstance(client_id, str) or not client_id:
        return None
    if NUL in client_id:  # never a client id; PostgreSQL could not even look it up
        raise InvalidRequestError(
            description="The client id (the assertion's 'iss') must not contain a NUL byte."
        )
    credential = get_state().storage.get_credential(client_id)
    if credential is None or credential.revoked_at is not None:
        return None
    return OperatorClient(credential)


def _public_key(client: OperatorClient) -> ECKey:
    return ECKey.import_key(client.credential.public_key_pem)


def _audiences() -> list[str]:
    return list(get_state().settings.public_urls)


class OperatorJWTBearerGrant(JWTBearerGrant):  # type: ignore[misc]
    """RFC 7523 §2.1 with the contract's extra rules."""

    CLAIMS_OPTIONS = {
        "iss": {"essential": True},
        "sub": {"essential": True},
        "aud": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "jti": {"essential": True},
    }
    LEEWAY = assertion_rules.LEEWAY_SECONDS

    def extract_assertion(self, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        headers, claims = super().extract_assertion(assertion)
        try:
            assertion_rules.check_header(headers)
        except assertion_rules.AssertionRejected as error:
            raise InvalidGrantError(description=str(error)) from None
        return headers, claims

    def verify_claims(self, claims: jwt.Claims) -> None:
        super().verify_claims(claims)
        try:
            assertion_rules.check_claims(claims, get_state().cache)
        except assertion_rules.AssertionRejected as error:
            raise InvalidGrantError(description=str(error)) from None

    def resolve_issuer_client(self, issuer: str) -> OperatorClient:
        client = find_client(issuer)
        if client is None:  # answered as a bad signature is: no client-id enumeration
            raise InvalidGrantError(description=UNVERIFIED)
        return client

    def resolve_client_public_key(self, client: OperatorClient) -> ECKey:
        return _public_key(client)

    def get_audiences(self) -> list[str]:
        return _audiences()

    def authenticate_user(self, subject: str) -> OperatorClient | None:
        # The operator acts for itself (sub == iss, checked above): the "user" is the client.
        client: OperatorClient | None = self.request.client
        return client if client is not None and subject == client.client_id else None

    def has_granted_permission(self, client: OperatorClient, user: OperatorClient) -> bool:
        return client is user


class OperatorClientAssertion(JWTBearerClientAssertion):  # type: ignore[misc]
    """RFC 7523 §2.2 client authentication (``private_key_jwt``) with the same rules."""

    def __init__(self) -> None:
        super().__init__(validate_jti=True, leeway=assertion_rules.LEEWAY_SECONDS)

    def __call__(self, query_client: Any, request: Any) -> OperatorClient:
        def known_client(client_id: str) -> OperatorClient:
            client: OperatorClient | None = query_client(client_id)
            if client is None:  # answered as a bad signature is: no client-id enumeration
                raise InvalidClientError(description=UNVERIFIED)
            return client

        authenticated: OperatorClient = super().__call__(known_client, request)
        return authenticated

    def extract_assertion(self, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        headers, claims = super().extract_assertion(assertion)
        try:
            assertion_rules.check_header(headers)
        except assertion_rules.AssertionRejected as error:
            raise InvalidClientError(description=str(error)) from None
        return headers, claims

    def verify_claims(self, claims: jwt.Claims) -> None:
        if "iat" not in claims:
            raise InvalidClientError(description="Missing claim: 'iat'")
        super().verify_claims(claims)

    def validate_jti(self, claims: jwt.Claims, jti: str) -> bool:
        # Called by authlib after its own checks; our rules include the jti replay check.
        try:
            assertion_rules.check_claims(claims, get_state().cache)
        except assertion_rules.AssertionRejected as error:
            raise InvalidClientError(description=str(error)) from None
        return True

    def resolve_client_public_key(self, client: OperatorClient) -> ECKey:
        return _public_key(client)

    def get_audiences(self) -> list[str]:
        return _audiences()


class OperatorClientCredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = [JWTBearerClientAssertion.CLIENT_AUTH_METHOD]


#: One answer for an unknown (or revoked) client id and for a signature its key does not
#: verify, so the endpoint does not tell which client ids exist.
UNVERIFIED = (
    "The assertion does not verify: no active client has this id, "
    "or its registered key does not verify the signature."
)
_DEFAULT_DESCRIPTIONS = {"invalid_grant": UNVERIFIED, "invalid_client": UNVERIFIED}


class OperatorAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """authlib's Flask server issuing our JWT access tokens, errors in both shapes."""

    def handle_response(self, status_code: int, payload: Any, headers: Any) -> Response:
        if isinstance(payload, dict) and "error" in payload:
            # joserfc leaves some errors (a bad signature) without a description.
            description = payload.get("error_description") or _DEFAULT_DESCRIPTIONS.get(
                payload["error"], payload["error"].replace("_", " ")
            )
            payload = {
                **payload,
                "error_description": description,
                **error_body(status_code, description, payload["error"]),
            }
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        return Response(payload, status=status_code, headers=headers, mimetype="application/json")


def _issue_token(
    grant_type: str,
    client: OperatorClient,
    user: Any = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = False,
) -> dict[str, Any]:
    tokens = get_state().access_tokens
    return {
        "access_token": tokens.issue(client.credential),
        "token_type": "Bearer",
        "expires_in": tokens.lifetime_seconds,
    }


def init_oauth(app: Flask) -> OperatorAuthorizationServer:
    server = OperatorAuthorizationServer()
    server.init_app(app, query_client=find_client, save_token=lambda token, req: None)
    server.register_token_generator("default", _issue_token)
    server.register_grant(OperatorJWTBearerGrant)
    server.register_grant(OperatorClientCredentialsGrant)
    server.register_client_auth_method(
        JWTBearerClientAssertion.CLIENT_AUTH_METHOD, OperatorClientAssertion()
    )
    app.extensions["obsyk_oauth"] = server
    app.register_blueprint(blp)
    return server


@blp.post(TOKEN_PATH)
def token() -> Response:
    """Exchange an operator's JWT assertion for an access token (CONTRACT §1)."""
    server: OperatorAuthorizationServer = current_app.extensions["obsyk_oauth"]
    request.max_content_length = MAX_TOKEN_REQUEST_BYTES
    if not request.form.get("grant_type"):
        missing: Response = server.handle_error_response(
            request,
            InvalidRequestError("Missing 'grant_type': send an x-www-form-urlencoded body."),
        )
        return missing
    response: Response = server.create_token_response()
    return response
