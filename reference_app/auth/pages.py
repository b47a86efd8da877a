"""The ``/auth/*`` pages: sign in (WorkOS AuthKit or the development form), the callback, sign out.

Server-rendered and script-free; every answer here is HTML except the
redirects.  A refused sign-in creates nothing: no user, no session.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer

from obsyk_core.identity import FormProvider, Identity, RedirectProvider, SignInRefused
from reference_app.auth import audit
from reference_app.auth.sessions import csrf_ok, current_session_id, end_session, start_session
from reference_app.auth.setup import get_people
from reference_app.auth.sign_in import NotInvited, resolve_sign_in
from reference_app.state import get_state

blp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")

STATE_COOKIE = "obsyk_auth_state"
#: Seconds a browser has to come back from WorkOS.
STATE_MAX_AGE = 600


def redirect_provider() -> RedirectProvider | None:
    provider = get_people().identity_provider
    return provider if getattr(provider, "redirects", False) else None


def form_provider() -> FormProvider | None:
    """The development form, only for requests from this machine."""
    provider = get_people().identity_provider
    if provider is None or getattr(provider, "redirects", False):
        return None
    return provider if _from_loopback() else None


def _from_loopback() -> bool:
    return is_loopback(request.remote_addr or "")


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1: this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _page(template: str, status: int = 200, **context: Any) -> Response:
    return make_response(render_template(f"auth/{template}", **context), status)


def _refusal(status: int, title: str, message: str) -> Response:
    return _page("message.html", status, title=title, message=message)


def _safe_next(target: str | None) -> str:
    """Only paths of this site: never an absolute or protocol-relative URL."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_state().settings.secret_key, salt="obsyk auth state")


@blp.get("/login")
def login() -> Any:
    """Sign in: 302 to WorkOS AuthKit, or the development form, or how to use a token."""
    next_path = _safe_next(request.args.get("next"))
    invitation = request.args.get("invitation")
    provider = redirect_provider()
    if provider is not None:
        state = secrets.token_urlsafe(24)
        url = provider.authorization_url(
            redirect_uri=get_state().settings.public_urls[0] + "/auth/callback",
            state=state,
            organization_id=request.args.get("organization_id") or None,
            connection_id=request.args.get("connection_id") or None,
            login_hint=request.args.get("login_hint") or None,
        )
        response = redirect(url, 302)
        signed = _serializer().dumps({"state": state, "next": next_path, "inv": invitation})
        response.set_cookie(
            STATE_COOKIE,
            signed,
            max_age=STATE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=get_state().settings.public_urls[0].startswith("https://"),
            path="/auth/",
        )
        return response
    return _page(
        "login.html",
        dev=form_provider() is not None,
        next=next_path,
        invitation=invitation or "",
        demo_members=current_app.config.get("OBSYK_DEMO_MEMBERS", ()),
    )


@blp.get("/callback")
def callback() -> Any:
    """Where WorkOS sends the browser back: check ``state``, exchange the code, sign in."""
    provider = redirect_provider()
    if provider is None:
        return _refusal(404, "Not found", "WorkOS sign-in is not configured here.")
    saved = _saved_state()
    sent = request.args.get("state")
    if saved is None or not sent or not secrets.compare_digest(sent, saved["state"]):
        return _refusal(
            400,
            "Sign-in could not be completed",
            "This sign-in link is stale or was not started in this browser. Start again.",
        )
    try:
        identity = provider.authenticate(request.args.get("code", ""))
    except SignInRefused as error:
        return _refusal(401, "Sign-in failed", str(error))
    response = _complete(identity, saved["next"], saved.get("inv"))
    response.delete_cookie(STATE_COOKIE, path="/auth/")
    return response


def _saved_state() -> dict[str, Any] | None:
    cookie = request.cookies.get(STATE_COOKIE)
    if not cookie:
        return None
    try:
        saved: dict[str, Any] = _serializer().loads(cookie, max_age=STATE_MAX_AGE)
    except BadSignature:
        return None
    return saved


@blp.post("/dev-login")
def dev_login() -> Any:
    """The development form's answer: sign in as the existing member with this email."""
    provider = form_provider()
    if provider is None:
        return _refusal(404, "Not found", "There is no such page.")
    if _cross_site():
        # Another site's form must not sign this browser in (login CSRF).
        return _refusal(403, "Sign-in refused", "This sign-in did not come from this site.")
    email = (request.form.get("email") or "").strip()
    storage = get_state().storage
    user = storage.find_user(email=email) if email else None
    if user is None or not storage.list_user_orgs(user.id):
        return _refusal(
            403, "Not a member", f"{email or 'This email'} is not a member of any organization."
        )
    return _complete(
        provider.identity(user.email),
        _safe_next(request.form.get("next")),
        request.form.get("invitation"),
    )


def _cross_site() -> bool:
    """Whether the browser says the request comes from another site.

    ``Sec-Fetch-Site`` when sent (every current browser); else ``Origin``, which
    is ``null`` under this site's ``Referrer-Policy: no-referrer`` and then says
    nothing.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return bool(origin) and origin != "null" and origin != request.host_url.rstrip("/")


def _invited_org(secret: str | None, identity: Identity) -> str | None:
    """The org of the accept link's invitation, when it was made for this person's email."""
    if not secret:
        return None
    token_hash = hashlib.sha256(secret.encode()).hexdigest()
    invitation = get_state().storage.find_invitation_by_token(token_hash)
    if invitation is None or invitation.email.casefold() != identity.email.casefold():
        return None
    return invitation.org_id


def _complete(identity: Identity, next_path: str, invitation: str | None = None) -> Any:
    state = get_state()
    try:
        signed_in = resolve_sign_in(
            state.storage,
            identity,
            signup=state.settings.signup,
            preferred_org=_invited_org(invitation, identity),
        )
    except NotInvited:
        return _refusal(
            403,
            "No organization yet",
            "You are not a member of an organization here: ask an admin of your "
            "organization to invite you.",
        )
    response = redirect(next_path, 302)
    session = start_session(
        response,
        signed_in.user.id,
        signed_in.org_id,
        refresh_token=identity.refresh_token,
        access_expires_at=identity.access_expires_at,
        provider_session_id=identity.provider_session_id,
    )
    for org_id, role in signed_in.joined:
        audit.record(
            "member.joined",
            org_id=org_id,
            actor_id=signed_in.user.id,
            target=("user", signed_in.user.id),
            details={"role": role},
        )
    audit.record(
        "auth.sign_in",
        org_id=session.org_id,
        actor_id=signed_in.user.id,
        target=("user", signed_in.user.id),
        details={"provider": "workos" if identity.provider_user_id else "dev"},
    )
    return response


@blp.post("/logout")
def logout() -> Any:
    """End the session server-side (and at WorkOS), clear the cookies, go home."""
    session_id = current_session_id()
    if session_id is not None and not csrf_ok(session_id):
        return _refusal(403, "Sign-out refused", "This sign-out did not come from this site.")
    session = end_session()
    if session is not None:
        provider = redirect_provider()
        if provider is not None and session.provider_session_id:
            try:
                provider.sign_out(session.provider_session_id)
            except Exception as error:  # the local session is gone either way
                current_app.logger.warning("WorkOS sign-out failed: %s", error)
        audit.record(
            "auth.sign_out",
            org_id=session.org_id,
            actor_id=session.user_id,
            target=("user", session.user_id),
        )
    g.clear_session_cookies = True
    return redirect("/", 302)
