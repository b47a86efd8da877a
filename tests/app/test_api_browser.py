"""``/api/docs`` in a real browser: Swagger UI from this host, under the strict CSP.

Before, Swagger UI came from a CDN with an inline start-up script and no CSP,
so a script from elsewhere could have read what the dashboard keeps in the
browser.  Now every file is the platform's own and the page's policy refuses
anything else; the page must still render the API.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_support import embedded_config
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from reference_app import create_app
from reference_app.app import close_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    app = create_app(embedded_config(tmp_path))
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(timeout=10)
        http.server_close()
        close_app(app)


def test_swagger_ui_renders_from_this_host_under_the_strict_policy(served: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    requested: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.on(
                "console",
                lambda message: problems.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda error: problems.append(str(error)))
            response = page.goto(f"{served}/api/docs")
            assert response is not None
            policy = response.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy
            # The operations of the OpenAPI document, rendered by Swagger UI.
            page.get_by_text("/api/v1/clusters/{cluster_id}/resources", exact=True).first.wait_for(
                timeout=20_000
            )
            page.screenshot(path=str(Path(__file__).parents[2] / "docs/screenshots/api-docs.png"))
        finally:
            browser.close()
    assert all(url.startswith(served) or url.startswith("data:") for url in requested), requested
    assert problems == []


def test_only_the_swagger_ui_files_are_served(served: str) -> None:
    import urllib.error
    import urllib.request

    with urllib.request.urlopen(f"{served}/api/docs/swagger-ui/swagger-ui-bundle.js") as answer:
        assert answer.headers["Content-Type"].startswith("text/javascript")
    for name in ("index.html", "..%2F__init__.py", "swagger-initializer.js"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{served}/api/docs/swagger-ui/{name}")
        assert refused.value.code == 404, name
