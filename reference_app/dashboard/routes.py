"""Serve the dashboard page and its assets, with headers that confine what they may do.

The page holds no data: the browser script reads the inventory from the REST
API as the signed-in user, with the browser session (``/auth/login``; unsafe
requests echo the ``obsyk_csrf`` cookie in ``X-CSRF-Token``) or with a personal
API token the user pastes (kept in ``sessionStorage``, sent as
``Authorization: Bearer``).
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from reference_app.state import get_state

blp = Blueprint(
    "dashboard",
    __name__,
    static_folder="static",
    static_url_path="/dashboard/static",
    template_folder="templates",
)

#: Only this origin's own files may run, style, load or be fetched; nothing may frame the page.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Cluster and resource ids live in the URL fragment; never leak the page URL.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@blp.route("/")
def index() -> str:
    """The single page; the script routes between views with the URL fragment.

    ``platform_url`` is the URL operators must use (their tokens' audience):
    the onboarding wizard writes it into the install commands.
    """
    return render_template("dashboard/index.html", platform_url=get_state().settings.public_urls[0])


@blp.route("/favicon.ico")
def favicon() -> tuple[str, int]:
    """No icon: answer browsers' automatic request without an error."""
    return "", 204


@blp.after_request
def _confine(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
