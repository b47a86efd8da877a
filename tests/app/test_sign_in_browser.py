"""Signing in from a real browser (Debian's chromium via Playwright) through ``/auth/login``.

The platform runs on a free loopback port with WorkOS pointed at the
WorkOS-compatible double; the browser follows the real redirects (platform ->
AuthKit double -> callback) and then uses the session cookie like the
dashboard does: same-origin fetches, the CSRF header on unsafe ones.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from app_support import embedded_config, new_cluster
from playwright.sync_api import Browser, sync_playwright
from werkzeug.serving import make_server
from workos_double import API_KEY, CLIENT_ID, Person, running_double

from reference_app import create_app
from reference_app.app import close_app
from reference_app.auth.membership import add_member
from reference_app.state import get_state

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
#: As in test_dashboard_browser: docs/screenshots/ only with OBSYK_UPDATE_SCREENSHOTS=1.
UPDATE_SCREENSHOTS = os.environ.get("OBSYK_UPDATE_SCREENSHOTS") == "1"
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _serve(make_app: Callable[[str], Any]) -> Iterator[tuple[str, Any]]:
    """The app built for its own URL (the port is known first), served on a thread."""
    holder: dict[str, Any] = {}
    http = make_server("127.0.0.1", 0, lambda env, start: holder["app"](env, start), threaded=True)
    url = f"http://127.0.0.1:{http.server_port}"
    holder["app"] = app = make_app(url)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, app
    finally:
        http.shutdown()
        thread.join(timeout=10)
        http.server_close()
        close_app(app)


def test_a_browser_signs_in_through_authkit_and_sees_only_its_org(
    browser: Browser, tmp_path: Path
) -> None:
    with running_double() as double:
        servers = _serve(
            lambda url: create_app(
                embedded_config(
                    tmp_path,
                    PUBLIC_URLS=url,
                    WORKOS_API_KEY=API_KEY,
                    WORKOS_CLIENT_ID=CLIENT_ID,
                    WORKOS_BASE_URL=double.url,
                )
            )
        )
        url, app = next(servers)
        try:
            storage = get_state(app).storage
            mine, theirs = storage.create_org("mine"), storage.create_org("theirs")
            new_cluster(app, mine, "my-cluster")
            new_cluster(app, theirs, "their-cluster")
            email = f"ada-{uuid.uuid4().hex[:6]}@example.com"
            add_member(storage, mine.id, email, "admin")
            double.person = Person(email=email)
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(10_000)

            page.goto(f"{url}/auth/login?next=/")

            assert page.url == f"{url}/"
            cookies = {c["name"]: c for c in context.cookies()}
            assert (
                cookies["obsyk_session"]["httpOnly"]
                and cookies["obsyk_session"]["sameSite"] == "Lax"
            )
            me = page.evaluate("fetch('/api/v1/me').then((r) => r.json())")
            assert me["user"]["email"] == email and me["auth"] == "session"
            assert me["organization"]["name"] == "mine"
            clusters = page.evaluate("fetch('/api/v1/clusters').then((r) => r.json())")
            assert [c["name"] for c in clusters["items"]] == ["my-cluster"]
            assert "obsyk_session" not in page.evaluate("document.cookie")  # HttpOnly
            post = """async (csrf) => {
                const headers = {"Content-Type": "application/json"};
                if (csrf) headers["X-CSRF-Token"] = decodeURIComponent(
                    document.cookie.split("; ").find((c) => c.startsWith("obsyk_csrf=")).slice(11));
                const r = await fetch("/api/v1/clusters", {
                    method: "POST", headers, body: JSON.stringify({name: "from-browser"})});
                return [r.status, (await r.json()).code ?? null];
            }"""
            assert page.evaluate(post, False) == [403, "csrf_failed"]
            assert page.evaluate(post, True)[0] == 201
            context.close()
        finally:
            next(servers, None)


def test_the_development_sign_in_form(browser: Browser, tmp_path: Path) -> None:
    servers = _serve(
        lambda url: create_app(
            embedded_config(
                tmp_path, PUBLIC_URLS=url, DEV_SIGN_IN=True, DEMO_MEMBERS=["demo@obsyk.local"]
            )
        )
    )
    url, app = next(servers)
    try:
        storage = get_state(app).storage
        org = storage.create_org("demo")
        add_member(storage, org.id, "demo@obsyk.local", "owner")
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{url}/auth/login")
        folder = DOCS_SCREENSHOTS if UPDATE_SCREENSHOTS else tmp_path
        page.screenshot(path=str(folder / "sign-in-dev.png"))
        page.get_by_label("Email").fill("demo@obsyk.local")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{url}/")
        me = page.evaluate("fetch('/api/v1/me').then((r) => r.json())")
        assert me["organization"] == {"id": org.id, "name": "demo", "role": "owner"}
        context.close()
    finally:
        next(servers, None)
