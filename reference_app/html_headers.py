"""Headers on every HTML answer: no inline script, no framing, no sniffing, HSTS behind https.

``X-Content-Type-Options: nosniff`` goes on every answer, JSON included: a
browser must never read an API answer (inventory values) as anything but
what its type says.

The dashboard's policy (``dashboard.routes.SECURITY_HEADERS``) applies to
every page the platform renders (the ``/auth`` pages and the API browser at
``/api/docs`` too: Swagger UI served from this host, started by a script
file); JSON answers are data, not documents, and keep their own headers.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.wrappers import Response

from reference_app.dashboard.routes import SECURITY_HEADERS

#: One year; browsers then refuse plain http for the platform's host.
HSTS = "max-age=31536000; includeSubDomains"


def init_html_headers(app: Flask, *, https: bool) -> None:
    @app.after_request
    def _html_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html":
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            if https:
                response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
