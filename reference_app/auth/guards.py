"""The guards: every caller is authenticated and authorized before a view runs.

``@requires(Permission.X)`` admits a person, signed in with a session cookie
(the dashboard) or holding a personal API token (``obsyk_pat_...``), whose
role in their current org has the permission (:mod:`reference_app.auth.policy`);
``@requires(Permission.INGEST)`` admits an operator holding an access token
from ``POST /oauth/token``.  Both answer 401 (with ``WWW-Authenticate``) when the
credential is missing or invalid; ``requires`` answers 403 when the role lacks
the permission, and, under session auth, 403 ``csrf_failed`` for an unsafe
method without the CSRF header.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, cast

from flask import g, request

from obsyk_core.storage import Role
from reference_app.auth.access_tokens import AgentPrincipal, InvalidAccessToken
from reference_app.auth.api_tokens import hash_token, looks_like_api_token
from reference_app.auth.policy import (
    OPERATOR_PERMISSIONS,
    Permission,
    allows,
    weakest_role_with,
)
from reference_app.auth.sessions import authenticate_session
from reference_app.errors import ApiError
from reference_app.state import get_state

__all__ = [
    "AgentPrincipal",
    "Permission",
    "UserPrincipal",
    "current_agent",
    "current_user",
    "requires",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class UserPrincipal:
    """A person acting in one org with one role."""

    org_id: str
    user_id: str
    role: Role
    #: The personal API token used (its id), for audit trails.
    token_id: str | None = None
    #: The hashed id of the browser session used, when signed in with a cookie.
    session_id: str | None = None

    @property
    def auth(self) -> Literal["session", "token"]:
        return "session" if self.session_id is not None else "token"


def _unauthorized(message: str) -> ApiError:
    return ApiError(
        401, message, code="unauthorized", headers={"WWW-Authenticate": 'Bearer realm="obsyk"'}
    )


def bearer_token() -> str:
    """The token of ``Authorization: Bearer <token>``; 401 when absent or malformed."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized("Authentication is required: send 'Authorization: Bearer <token>'.")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("The Authorization header must be 'Bearer <token>'.")
    return token.strip()


def authenticate_agent() -> AgentPrincipal:
    token = bearer_token()
    if looks_like_api_token(token):
        raise _unauthorized(
            "This endpoint is for operators: use an access token from /oauth/token."
        )
    state = get_state()
    tokens = state.access_tokens
    try:
        principal: AgentPrincipal = tokens.verify(token)
    except InvalidAccessToken as error:
        raise _unauthorized(str(error)) from None
    return principal


def api_token_hash() -> str:
    """The hash of the request's personal API token; 401 when it is missing or not one."""
    token = bearer_token()
    if not looks_like_api_token(token):
        raise _unauthorized("This endpoint needs a personal API token (obsyk_pat_...).")
    return hash_token(token)


def authenticate_token() -> UserPrincipal:
    """The holder of the request's personal API token, with their current role; 401 if none.

    One storage call (one query on SQL) per request, never cached: a revoked
    token, a removed member or a changed role takes effect on the next request.
    """
    token_hash = api_token_hash()
    found = get_state().storage.authenticate_api_token(token_hash)
    if found is None:
        raise _unauthorized("The API token is unknown or was revoked.")
    record, membership = found
    if record.expires_at is not None and record.expires_at <= datetime.now(UTC):
        raise _unauthorized("The API token has expired.")
    return UserPrincipal(record.org_id, record.user_id, membership.role, token_id=record.id)


def authenticate_person() -> UserPrincipal:
    """The person calling: by bearer token when one is sent, else by session cookie."""
    if "Authorization" not in request.headers:
        principal = authenticate_session()
        if principal is not None:
            return principal
    return authenticate_token()


def authorize(user: UserPrincipal, permission: Permission) -> None:
    """403 unless the policy lets ``user``'s role do ``permission``."""
    if not allows(user.role, permission):
        needed = weakest_role_with(permission)
        raise ApiError(
            403, f"This needs the {needed} role or higher; you are {user.role}.", code="forbidden"
        )


def requires(permission: Permission) -> Callable[[F], F]:
    """The one guard of every ``/api/v1`` route: the caller is authenticated and authorized first.

    Before the view (and its argument parsing) runs, on every request: a caller
    who is not signed in gets 401, one whose role lacks ``permission`` 403, and
    the view never runs for either.  :data:`Permission.INGEST` admits operators
    (an access token from ``/oauth/token``; the view finds its caller with
    :func:`current_agent`), every other permission people (a session or a
    personal token; :func:`current_user`).  The permission is kept on the view
    (``obsyk_permission``) so tests can check that every route declares one.
    """
    if not isinstance(permission, Permission):
        raise TypeError(f"requires() takes a Permission, not {permission!r}")

    def decorate(view: F) -> F:
        if permission in OPERATOR_PERMISSIONS:

            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                g.agent = authenticate_agent()
                return view(*args, **kwargs)

        else:

            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                user = authenticate_person()
                authorize(user, permission)
                g.user = user
                return view(*args, **kwargs)

        wrapper.obsyk_permission = permission  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate


def current_agent() -> AgentPrincipal:
    """The operator of this request (inside a ``@requires(Permission.INGEST)`` view)."""
    agent: AgentPrincipal | None = g.get("agent")
    if agent is None:
        raise RuntimeError("current_agent() outside a @requires(Permission.INGEST) view")
    return agent


def current_user() -> UserPrincipal:
    """The person of this request (inside a ``@requires(...)`` view)."""
    user: UserPrincipal | None = g.get("user")
    if user is None:
        raise RuntimeError("current_user() outside a @requires(...) view")
    return user
