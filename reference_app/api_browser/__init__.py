"""``/api/docs``: Swagger UI over the OpenAPI document, served from this host alone.

Swagger UI's files come from the ``swagger-ui-bundle`` package (no CDN), and the
page starts it with a script file of ours, not an inline one, so it runs under
the Content-Security-Policy of every page (``reference_app.html_headers``; images
may also be ``data:`` URLs):
nothing but this origin's own files can run on it, and nothing it loads could
read what the dashboard keeps in the browser.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

from reference_app.dashboard.routes import CONTENT_SECURITY_POLICY

blp = Blueprint(
    "api_browser",
    __name__,
    url_prefix="/api/docs",
    static_folder="static",
    static_url_path="/start",
    template_folder="templates",
)

#: The Swagger UI files the page loads; nothing else of the package is served.
SWAGGER_UI_FILES = frozenset(
    ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js")
)


#: The pages' policy, but Swagger UI's stylesheet draws its icons as ``data:`` SVG
#: images (an image cannot run script).
POLICY = CONTENT_SECURITY_POLICY.replace("img-src 'self'", "img-src 'self' data:")


@blp.get("")
def page() -> Response:
    html = render_template("api_browser/index.html", spec_url=url_for("api-docs.openapi_json"))
    return Response(html, mimetype="text/html", headers={"Content-Security-Policy": POLICY})


@blp.get("/swagger-ui/<name>")
def swagger_ui_file(name: str) -> Response:
    if name not in SWAGGER_UI_FILES:
        abort(404)
    return send_from_directory(swagger_ui_path, name, max_age=3600)
