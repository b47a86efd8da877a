"""Server-side browser sessions: an opaque cookie, the session kept in the database.

``obsyk_session`` holds only a random id (HttpOnly, SameSite=Lax, Secure when the
public URL is https); the database keeps its SHA-256 with the user, the org they
act in, the timeouts and the identity provider's refresh token (encrypted with
the key ring).  Deleting the row ends the session everywhere at once: a copy of
the cookie stops working on its next request.

``obsyk_csrf`` (readable by the page's script) carries the CSRF token, an HMAC
of the session id: a cross-site form can send the session cookie but cannot
read this one, so unsafe methods under session auth must echo it in
``X-CSRF-Token`` (or a ``csrf_token`` form field on the ``/auth`` pages).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from flask import g, request
from werkzeug.wrappers import Response

from obsyk_core.people import SignInSession
from reference_app.errors import ApiError
from reference_app.state import get_state

if TYPE_CHECKING:
    from reference_app.auth.guards import UserPrincipal
    from reference_app.auth.setup import People

SESSION_COOKIE = "obsyk_session"
CSRF_COOKIE = "obsyk_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: ``last_seen_at`` is written at most this often (a write per request would be wasteful).
TOUCH_EVERY = timedelta(seconds=60)

#: How a session's identity-provider access token is renewed: the session and
#: the decrypted refresh token in, the new (encrypted refresh token, access
#: expiry) out; raises :class:`SessionRevoked` when the provider refuses.
Refresher = Callable[[SignInSession, str], tuple[str, datetime]]


class SessionRevoked(Exception):
    """The identity provider no longer honours this session (signed out there, user removed)."""


def get_people() -> People:
    from reference_app.auth.setup import get_people as people_of_app

    return people_of_app()


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_token_for(session_id: str) -> str:
    key = get_state().settings.secret_key.encode()
    return hmac.new(key, b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()


def _secure() -> bool:
    return get_state().settings.public_urls[0].startswith("https://")


def start_session(
    response: Response,
    user_id: str,
    org_id: str,
    *,
    refresh_token: str | None = None,
    access_expires_at: datetime | None = None,
    provider_session_id: str | None = None,
) -> SignInSession:
    """Store a new session and set its two cookies on ``response``."""
    state = get_state()
    now = datetime.now(UTC)
    session_id = secrets.token_urlsafe(32)
    keys = get_people().keys
    session = state.storage.create_session(
        SignInSession(
            id_hash=_hash(session_id),
            user_id=user_id,
            org_id=org_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=state.settings.session_max_hours),
            refresh_token=keys.encrypt(refresh_token) if refresh_token else None,
            access_expires_at=access_expires_at,
            provider_session_id=provider_session_id,
        )
    )
    secure = _secure()
    response.set_cookie(
        SESSION_COOKIE, session_id, httponly=True, samesite="Lax", secure=secure, path="/"
    )
    response.set_cookie(
        CSRF_COOKIE, csrf_token_for(session_id), httponly=False, samesite="Lax", secure=secure
    )
    return session


def clear_cookies(response: Response) -> None:
    secure = _secure()
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", samesite="Lax", secure=secure)


def current_session_id() -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def end_session() -> SignInSession | None:
    """Delete the request's session server-side (the cookies are cleared on the answer)."""
    session_id = current_session_id()
    g.clear_session_cookies = True
    if session_id is None:
        return None
    storage = get_state().storage
    session = storage.get_session(_hash(session_id))
    storage.delete_session(_hash(session_id))
    return session


def _signed_out(message: str) -> ApiError:
    g.clear_session_cookies = True
    return ApiError(401, message, code="unauthorized", headers={"WWW-Authenticate": "Session"})


def csrf_ok(session_id: str) -> bool:
    sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token") or ""
    return hmac.compare_digest(sent, csrf_token_for(session_id))


def authenticate_session() -> UserPrincipal | None:
    """The signed-in person of the request's session cookie; None without the cookie.

    401 (cookies cleared) for an unknown, idle, expired or revoked session or a
    member removed from the session's org; 403 ``csrf_failed`` for an unsafe
    method without the CSRF token.  The membership, hence the role, is read on
    every request.
    """
    from reference_app.auth.guards import UserPrincipal

    session_id = current_session_id()
    if session_id is None:
        return None
    state = get_state()
    storage = state.storage
    found = storage.authenticate_session(_hash(session_id))
    now = datetime.now(UTC)
    if found is None:
        raise _signed_out("Your session has ended: sign in again.")
    session, role = found
    idle_limit = timedelta(minutes=state.settings.session_idle_minutes)
    if now >= session.expires_at or now - session.last_seen_at >= idle_limit:
        storage.delete_session(session.id_hash)
        raise _signed_out("Your session has expired: sign in again.")
    if request.method not in SAFE_METHODS and not csrf_ok(session_id):
        raise ApiError(
            403,
            f"This request needs the {CSRF_HEADER} header (the {CSRF_COOKIE} cookie's value).",
            code="csrf_failed",
        )
    if role is None:
        storage.delete_session(session.id_hash)
        raise _signed_out("You are no longer a member of this organization.")
    session = _refreshed(session, now)
    if now - session.last_seen_at >= TOUCH_EVERY:
        storage.update_session(session.id_hash, last_seen_at=now)
    return UserPrincipal(session.org_id, session.user_id, role, session_id=session.id_hash)


def _refreshed(session: SignInSession, now: datetime) -> SignInSession:
    """Renew the provider's access token when it ran out; a refused renewal ends the session."""
    if session.refresh_token is None or session.access_expires_at is None:
        return session
    if now < session.access_expires_at:
        return session
    state, people = get_state(), get_people()
    refresher = people.session_refresher
    if refresher is None:
        return session
    try:
        refresh_token, access_expires_at = refresher(
            session, people.keys.decrypt(session.refresh_token)
        )
    except SessionRevoked as error:
        state.storage.delete_session(session.id_hash)
        from reference_app.auth import audit

        audit.record(
            "auth.sign_in_refused",
            org_id=session.org_id,
            actor_id=session.user_id,
            target=("user", session.user_id),
            details={"reason": str(error)},
        )
        raise _signed_out("Your sign-in was revoked: sign in again.") from None
    encrypted = people.keys.encrypt(refresh_token)
    state.storage.update_session(
        session.id_hash, refresh_token=encrypted, access_expires_at=access_expires_at
    )
    return session


def clear_cookies_when_asked(response: Response) -> Response:
    """``after_request``: a request that ended its session answers with the cookies cleared."""
    if g.get("clear_session_cookies"):
        clear_cookies(response)
    return response
