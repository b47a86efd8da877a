"""Headers on every HTML answer: no inline script, no framing, no sniffing, HSTS behind https.

``X-Content-Type-Options: nosniff`` goes on every answer, JSON included: a
browser must never read an API answer (inventory values) as anything but
what its type says.

The dashboard's policy (``dashboard.routes.SECURITY_HEADERS``) applies to
every page the platform renders (the ``/auth`` pages too); JSON answers are
data, not documents, and keep their own headers.  The one exception is the
API browser (``/api/docs``, flask-smorest's Swagger UI page): it runs an
inline script and loads Swagger UI from a CDN, so it gets every header but
the Content-Security-Policy.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.wrappers import Response

from reference_app.dashboard.routes import SECURITY_HEADERS

API_BROWSER = "api-docs"
#: One year; browsers then refuse plain http for the platform's host.
HSTS = "max-age=31536000; includeSubDomains"


def init_html_headers(app: Flask, *, https: bool) -> None:
    @app.after_request
    def _html_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html":
            api_browser = request.blueprint == API_BROWSER
            for name, value in SECURITY_HEADERS.items():
                if not (api_browser and name == "Content-Security-Policy"):
                    response.headers.setdefault(name, value)
            if https:
                response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
