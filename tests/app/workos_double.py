"""A WorkOS-compatible HTTP server on loopback, for ``OBSYK_WORKOS_BASE_URL``.

It speaks the part of the WorkOS API the platform uses, with answers complete
enough for the official SDK's strict models:

* ``GET /user_management/authorize``: AuthKit's sign-in, done at once for
  :attr:`WorkOSDouble.person` (302 back to ``redirect_uri`` with a code and the
  ``state``); it records the query so tests see what was passed through;
* ``POST /user_management/authenticate``: the ``authorization_code`` and
  ``refresh_token`` grants, RS256 access tokens carrying ``sid``, ``org_id``,
  ``role`` and ``exp``; a revoked session's refresh is refused (400);
* ``GET /sso/jwks/<client_id>``: the signing key;
* ``POST /user_management/sessions/revoke``, ``POST /user_management/invitations``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

API_KEY = "sk_test_double"
CLIENT_ID = "client_double"
NOW = "2026-12-05T00:00:00.000Z"


@dataclass
class Person:
    """Who AuthKit signs in next, in which WorkOS organization, with which role there."""

    email: str
    first_name: str | None = "Ada"
    last_name: str | None = "Lovelace"
    user_id: str = field(default_factory=lambda: "user_" + secrets.token_hex(6))
    org_id: str | None = None
    role: str = "member"


@dataclass
class WorkOSDouble:
    url: str = ""
    person: Person | None = None
    #: Seconds an access token lives (tests set 0 to force a refresh on the next request).
    access_seconds: int = 300
    authorize_queries: list[dict[str, str]] = field(default_factory=list)
    revoked_sessions: set[str] = field(default_factory=set)
    invitations: list[dict[str, Any]] = field(default_factory=list)
    refreshes: int = 0
    #: When set, invitations are answered with this status (Retry-After: 0 on 5xx).
    invite_status: int | None = None
    _codes: dict[str, Person] = field(default_factory=dict)
    #: refresh token -> (person, session id)
    _refresh_tokens: dict[str, tuple[Person, str]] = field(default_factory=dict)
    _key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, private=True))

    # -- the API

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._route(request)
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        path = request.path
        if path == "/user_management/authorize":
            return self._authorize(request)
        if path == "/user_management/authenticate" and request.method == "POST":
            return self._authenticate(request.get_json(force=True))
        if path == f"/sso/jwks/{CLIENT_ID}":
            return _json({"keys": [self._jwk()]})
        if path == "/user_management/sessions/revoke" and request.method == "POST":
            self.revoked_sessions.add(request.get_json(force=True)["session_id"])
            return _json({})
        if path == "/user_management/invitations" and request.method == "POST":
            return self._invite(request.get_json(force=True))
        return _json({"message": "Not found"}, 404)

    def _authorize(self, request: Request) -> Response:
        query = dict(request.args)
        self.authorize_queries.append(query)
        if self.person is None or query.get("client_id") != CLIENT_ID:
            return _json({"message": "no one to sign in"}, 400)
        code = secrets.token_urlsafe(16)
        self._codes[code] = self.person
        target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
        return Response(status=302, headers={"Location": target})

    def _authenticate(self, body: dict[str, Any]) -> Response:
        if body.get("client_id") != CLIENT_ID or body.get("client_secret") != API_KEY:
            return _json({"message": "Invalid client"}, 401)
        if body.get("grant_type") == "authorization_code":
            person = self._codes.pop(body.get("code", ""), None)
            if person is None:
                return _error("invalid_grant", "The code is invalid or was used already.")
            session_id = "session_" + secrets.token_hex(6)
        elif body.get("grant_type") == "refresh_token":
            found = self._refresh_tokens.pop(body.get("refresh_token", ""), None)
            if found is None or found[1] in self.revoked_sessions:
                return _error("invalid_grant", "Session has already ended.")
            person, session_id = found
            self.refreshes += 1
        else:
            return _error("unsupported_grant_type", "Unsupported grant type.")
        refresh_token = secrets.token_urlsafe(24)
        self._refresh_tokens[refresh_token] = (person, session_id)
        return _json(
            {
                "user": _user(person),
                "organization_id": person.org_id,
                "access_token": self._access_token(person, session_id),
                "refresh_token": refresh_token,
                "authentication_method": "MagicAuth",
            }
        )

    def _invite(self, body: dict[str, Any]) -> Response:
        if self.invite_status is not None:
            answer = _json({"message": "Invitation refused", "code": "refused"}, self.invite_status)
            answer.headers["Retry-After"] = "0"
            return answer
        invitation = {
            "object": "invitation",
            "id": "invitation_" + secrets.token_hex(6),
            "email": body["email"],
            "state": "pending",
            "accepted_at": None,
            "revoked_at": None,
            "expires_at": NOW,
            "organization_id": body.get("organization_id"),
            "inviter_user_id": None,
            "accepted_user_id": None,
            "role_slug": body.get("role_slug"),
            "created_at": NOW,
            "updated_at": NOW,
            "token": secrets.token_urlsafe(12),
            "accept_invitation_url": "https://auth.example/invite",
        }
        self.invitations.append(invitation)
        return _json(invitation, 201)

    # -- tokens and keys

    def _access_token(self, person: Person, session_id: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": person.user_id,
            "sid": session_id,
            "org_id": person.org_id,
            "role": person.role,
            "iat": now,
            "exp": now + self.access_seconds,
        }
        header = {"alg": "RS256", "kid": self._kid(), "typ": "JWT"}
        return jwt.encode(header, claims, self._key)

    def _kid(self) -> str:
        return "key_" + hashlib.sha256(self._key.as_pem(private=False)).hexdigest()[:12]

    def _jwk(self) -> dict[str, Any]:
        public = self._key.as_dict(private=False)
        der = base64.b64encode(self._key.as_der(private=False)).decode()
        thumbprint = base64.urlsafe_b64encode(hashlib.sha256(der.encode()).digest()).decode()
        return {
            "alg": "RS256",
            "kty": "RSA",
            "use": "sig",
            "x5c": [der],
            "n": public["n"],
            "e": public["e"],
            "kid": self._kid(),
            "x5t#S256": thumbprint.rstrip("="),
        }


def _user(person: Person) -> dict[str, Any]:
    return {
        "object": "user",
        "id": person.user_id,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "profile_picture_url": None,
        "email": person.email,
        "email_verified": True,
        "external_id": None,
        "last_sign_in_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _error(code: str, description: str) -> Response:
    return _json({"error": code, "error_description": description}, 400)


@contextmanager
def running_double() -> Iterator[WorkOSDouble]:
    """The double, serving on a free loopback port until the block ends."""
    double = WorkOSDouble()
    server = make_server("127.0.0.1", 0, double, threaded=True)
    double.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        thread.join(timeout=5)
