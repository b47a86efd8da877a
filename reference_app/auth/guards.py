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

from obsyk_core.storage import ROLES, ApiToken, Membership, Role
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
    "read_as_user",
    "role_at_least",
    "user_required",
]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


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


def api_token_hash() -> str:
    """The hash of the request's personal API token; 401 when it is missing or not one."""
    token = bearer_token()
    if not looks_like_api_token(token):
        raise _unauthorized("This endpoint needs a personal API token (obsyk_pat_...).")
    return hash_token(token)


def user_of_token(
    found: tuple[ApiToken, Membership] | None, token_hash: str, min_role: Role
) -> UserPrincipal:
    """The caller, from ``authenticate_api_token``'s answer; 401 or 403 when refused."""
    if found is None:
        # Refused: one more look (on this rare path only) tells which answer to give.
        if get_state().storage.find_api_token(token_hash) is None:
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


def authenticate_user(min_role: Role = "viewer") -> UserPrincipal:
    # One storage call (one query on SQL) per request, never cached: a revoked
    # token or a changed role takes effect on the next request.
    token_hash = api_token_hash()
    found = get_state().storage.authenticate_api_token(token_hash)
    return user_of_token(found, token_hash, min_role)


def read_as_user(read: Callable[[str], tuple[tuple[ApiToken, Membership] | None, T]]) -> T:
    """Run ``read(token_hash)``, which checks the token along with its read, as the caller.

    For views guarded by ``user_required(with_read=True)``: ``read`` answers
    ``(authenticate_api_token's answer, its value)``, e.g. in one statement;
    the value is returned only once the token, membership and role pass.
    """
    token_hash, min_role = g.pending_user
    found, value = read(token_hash)
    g.pending_user = None  # checked, whatever the answer: never twice
    g.user = user_of_token(found, token_hash, min_role)
    return value


def _confirm_pending_user() -> None:
    """Check the token now unless :func:`read_as_user` did (refusals raise)."""
    pending: tuple[str, Role] | None = g.get("pending_user")
    if pending is not None and g.get("user") is None:
        g.pending_user = None
        token_hash, min_role = pending
        found = get_state().storage.authenticate_api_token(token_hash)
        g.user = user_of_token(found, token_hash, min_role)


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
def user_required(*, min_role: Role = "viewer", with_read: bool = False) -> Callable[[F], F]: ...


def user_required(
    view: F | None = None, /, *, min_role: Role = "viewer", with_read: bool = False
) -> Any:
    """Admit people with a personal API token and at least ``min_role`` in its org.

    Usable bare (``@user_required``) or with a role (``@user_required(min_role="admin")``);
    the view finds its caller with :func:`current_user`.  ``with_read=True``
    leaves the token check to the view, to send it with its first read
    (:func:`read_as_user`: one round trip instead of two); a missing or
    malformed token is still refused first, the check still happens before
    any other refusal (a 422 for bad arguments) and before any answer, and
    :func:`current_user` makes it if the view asks first.
    """
    if min_role not in ROLES:
        raise ValueError(f"min_role must be one of {ROLES}, not {min_role!r}")

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.user = authenticate_user(min_role)
            return func(*args, **kwargs)

        @functools.wraps(func)
        def reading_wrapper(*args: Any, **kwargs: Any) -> Any:
            g.pending_user = (api_token_hash(), min_role)
            try:
                response = func(*args, **kwargs)
            except Exception:
                _confirm_pending_user()  # a bad token answers 401/403, not the view's refusal
                raise
            _confirm_pending_user()  # a view that read nothing answers only a good token too
            return response

        return cast(F, reading_wrapper if with_read else wrapper)

    return decorate(view) if view is not None else decorate


def current_agent() -> AgentPrincipal:
    """The operator of this request (inside an ``@agent_required`` view)."""
    agent: AgentPrincipal | None = g.get("agent")
    if agent is None:
        raise RuntimeError("current_agent() outside an @agent_required view")
    return agent


def current_user() -> UserPrincipal:
    """The person of this request (inside a ``@user_required`` view)."""
    _confirm_pending_user()  # under user_required(with_read=True), before its read
    user: UserPrincipal | None = g.get("user")
    if user is None:
        raise RuntimeError("current_user() outside a @user_required view")
    return user
