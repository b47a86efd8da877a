"""View decorators that say who may call an endpoint.

``@agent_required`` admits an operator holding an access token from
``POST /oauth/token``; ``@user_required(min_role=...)`` admits a person holding a
personal API token (``obsyk_pat_...``) whose org role is at least ``min_role``.
Both answer 401 (with ``WWW-Authenticate``) when the token is missing or
invalid; ``user_required`` answers 403 when the role is too weak.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast, overload

from flask import g, request

from obsyk_core.storage import ROLES, Role
from reference_app.auth.access_tokens import AgentPrincipal, InvalidAccessToken
from reference_app.auth.api_tokens import hash_token, looks_like_api_token
from reference_app.errors import ApiError
from reference_app.state import get_state

__all__ = [
    "AgentPrincipal",
    "UserPrincipal",
    "agent_required",
    "current_agent",
    "current_user",
    "role_at_least",
    "user_required",
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


def role_at_least(role: Role, minimum: Role) -> bool:
    return ROLES.index(role) >= ROLES.index(minimum)


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
    tokens = state.extra["access_tokens"]
    try:
        principal: AgentPrincipal = tokens.verify(token)
    except InvalidAccessToken as error:
        raise _unauthorized(str(error)) from None
    return principal


def authenticate_user(min_role: Role = "viewer") -> UserPrincipal:
    token = bearer_token()
    if not looks_like_api_token(token):
        raise _unauthorized("This endpoint needs a personal API token (obsyk_pat_...).")
    # One storage call (one query on SQL) per request, never cached: a revoked
    # token or a changed role takes effect on the next request.
    storage = get_state().storage
    token_hash = hash_token(token)
    found = storage.authenticate_api_token(token_hash)
    if found is None:
        # Refused: one more look (on this rare path only) tells which answer to give.
        if storage.find_api_token(token_hash) is None:
            raise _unauthorized("The API token is unknown or was revoked.")
        raise ApiError(403, "You are no longer a member of this organization.", code="forbidden")
    record, membership = found
    if not role_at_least(membership.role, min_role):
        raise ApiError(
            403,
            f"This needs the {min_role} role or higher; you are {membership.role}.",
            code="forbidden",
        )
    return UserPrincipal(record.org_id, record.user_id, membership.role, record.id)


def agent_required(view: F) -> F:
    """Admit only operators; the view finds its caller with :func:`current_agent`."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.agent = authenticate_agent()
        return view(*args, **kwargs)

    return cast(F, wrapper)


@overload
def user_required(view: F, /) -> F: ...
@overload
def user_required(*, min_role: Role = "viewer") -> Callable[[F], F]: ...


def user_required(view: F | None = None, /, *, min_role: Role = "viewer") -> Any:
    """Admit people with a personal API token and at least ``min_role`` in its org.

    Usable bare (``@user_required``) or with a role (``@user_required(min_role="admin")``);
    the view finds its caller with :func:`current_user`.
    """
    if min_role not in ROLES:
        raise ValueError(f"min_role must be one of {ROLES}, not {min_role!r}")

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.user = authenticate_user(min_role)
            return func(*args, **kwargs)

        return cast(F, wrapper)

    return decorate(view) if view is not None else decorate


def current_agent() -> AgentPrincipal:
    """The operator of this request (inside an ``@agent_required`` view)."""
    agent: AgentPrincipal | None = g.get("agent")
    if agent is None:
        raise RuntimeError("current_agent() outside an @agent_required view")
    return agent


def current_user() -> UserPrincipal:
    """The person of this request (inside a ``@user_required`` view)."""
    user: UserPrincipal | None = g.get("user")
    if user is None:
        raise RuntimeError("current_user() outside a @user_required view")
    return user
