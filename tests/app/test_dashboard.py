"""The dashboard page and its assets: served at ``/``, under headers that confine them."""

from __future__ import annotations

import fnmatch
import tomllib
from html.parser import HTMLParser
from pathlib import Path

from flask import Flask

import reference_app.dashboard

DASHBOARD = Path(reference_app.dashboard.__file__).parent
ROOT = Path(__file__).resolve().parents[2]
#: What a browser accepts for each asset (Python's mimetypes may say either for JavaScript).
ASSET_TYPES = {".js": {"text/javascript", "application/javascript"}, ".css": {"text/css"}}


class _PageParts(HTMLParser):
    """What a CSP would have to allow: scripts, styles, inline handlers, asset URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.assets: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
        if tag == "style":
            self.inline.append("<style>")
        self.inline += [name for name in attributes if name == "style" or name.startswith("on")]
        if tag in ("script", "link") and (attributes.get("src") or attributes.get("href")):
            self.assets.append(str(attributes.get("src") or attributes.get("href")))

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"script text {data.strip()[:40]!r}")


def test_root_serves_the_dashboard_under_a_strict_policy(embedded_app: Flask) -> None:
    response = embedded_app.test_client().get("/")

    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"] and directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"] and directives["object-src"] == ["'none'"]
    assert "unsafe" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    # The token travels in a header, never a cookie: nothing for a CSRF to ride on.
    assert "Set-Cookie" not in response.headers


def test_the_page_needs_nothing_the_policy_refuses(embedded_app: Flask) -> None:
    client = embedded_app.test_client()
    page = _PageParts()
    page.feed(client.get("/").get_data(as_text=True))

    assert page.inline == []
    assert [script.get("type") for script in page.scripts] == ["module"]
    assert all(asset.startswith("/") and "//" not in asset for asset in page.assets)
    for asset in page.assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        response.close()


def test_every_asset_is_served_with_its_type_and_the_same_headers(embedded_app: Flask) -> None:
    client = embedded_app.test_client()
    assets = sorted((DASHBOARD / "static").iterdir())
    assert {asset.suffix for asset in assets} == set(ASSET_TYPES)

    for asset in assets:
        response = client.get(f"/dashboard/static/{asset.name}")
        # With nosniff a browser runs a module only if it is labelled as JavaScript.
        assert response.status_code == 200 and response.mimetype in ASSET_TYPES[asset.suffix]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        response.close()


def test_the_api_browser_runs_under_the_pages_policy(embedded_app: Flask) -> None:
    # Swagger UI is served from the package, started by a script file: no CDN, no inline script.
    response = embedded_app.test_client().get("/api/docs")

    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "http" not in response.get_data(as_text=True)  # every file from this host


def test_the_package_ships_every_dashboard_file() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["*"]
    files = [path for path in DASHBOARD.rglob("*") if path.is_file() and path.suffix != ".pyc"]
    unshipped = [
        path.relative_to(DASHBOARD)
        for path in files
        if path.suffix != ".py" and not any(fnmatch.fnmatch(path.name, p) for p in patterns)
    ]

    assert len(files) > 5 and unshipped == []
