"""The dashboard in a real browser (Debian's chromium, driven by Playwright) over a real server.

The server is the embedded app with ``obsyk serve --demo``'s data, on a free
port; what the page shows is checked against what the REST API answers.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from app_support import embedded_config
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from werkzeug.serving import make_server

from obsyk_core.ingest import IncomingResource, ResourceEvent, apply_events
from obsyk_core.storage import ChangeType
from reference_app import create_app
from reference_app.app import close_app
from reference_app.demo import seed_demo
from reference_app.state import get_state

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--no-first-run",
]
#: A name that would run script if the page ever parsed data as HTML.
MARKUP_NAME = '<img src=x onerror="window.__obsykInjected=1">'


@dataclass(frozen=True)
class DemoServer:
    url: str
    token: str
    cluster_id: str

    def api(self, path: str, token: str | None = None, **params: str) -> Any:
        """What the REST API answers (the JSON error body too), as the page would see it."""
        query = f"?{urlencode(params)}" if params else ""
        request = urllib.request.Request(
            f"{self.url}/api/v1{path}{query}",
            headers={"Authorization": f"Bearer {token or self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            with error:
                return json.load(error)

    def resources(self, **params: str) -> list[dict[str, Any]]:
        page = self.api(f"/clusters/{self.cluster_id}/resources", limit="1000", **params)
        assert page["next_cursor"] is None
        items: list[dict[str, Any]] = page["items"]
        return items


def _ingest_pod_named_with_markup(app: Any, cluster_id: str) -> None:
    uid = str(uuid.uuid4())
    record = {"uid": uid, "name": MARKUP_NAME, "namespace": "default", "phase": "Running"}
    event = ResourceEvent(
        ChangeType.ADDED,
        "Pod",
        uid,
        MARKUP_NAME,
        "default",
        IncomingResource.from_record("Pod", record),
    )
    apply_events(get_state(app).storage, cluster_id, [event], received_at=datetime.now(UTC))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    app = create_app(embedded_config(tmp_path_factory.mktemp("dashboard")))
    state = get_state(app)
    seed = seed_demo(state.storage, state.plugins.kinds)
    _ingest_pod_named_with_markup(app, seed.cluster.id)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield DemoServer(f"http://127.0.0.1:{http.server_port}", seed.token, seed.cluster.id)
    finally:
        http.shutdown()
        thread.join(timeout=10)
        http.server_close()
        close_app(app)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install chromium); these tests never download a browser."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, server: DemoServer) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    blocked: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            blocked.append(message.text)

    page.on("console", watch)
    yield page
    context.close()
    # The page runs under a strict CSP: nothing of its own may be refused by it.
    assert blocked == []


def sign_in(page: Page, token: str) -> None:
    page.goto("/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def row_names(page: Page) -> list[str]:
    return page.locator("table.resources a.resource-name").all_text_contents()


def test_the_demo_cluster_is_listed_with_its_status_and_counts(
    page: Page, server: DemoServer
) -> None:
    [cluster] = server.api("/clusters")["items"]

    sign_in(page, server.token)

    row = page.locator(f"tr[data-cluster-id='{server.cluster_id}']")
    expect(row.locator(".cluster-name")).to_have_text("demo-cluster")
    expect(row.locator(".cluster-status")).to_have_text(cluster["status"])
    assert cluster["status"] == "connected"
    total = sum(cluster["resource_counts"].values())
    expect(row.locator(".cluster-total")).to_have_text(f"{total:,} resources")
    expect(row.locator(".cluster-agent")).to_have_text("0.3.2")
    # Relative to the page's clock: "now" within a second of the seed, "N seconds ago" after.
    heartbeat = row.locator(".cluster-heartbeat time")
    expect(heartbeat).to_have_attribute("datetime", cluster["last_heartbeat_at"])
    expect(heartbeat).to_have_text(re.compile(r"^(now|\d+ \w+ ago)$"))
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_pods_are_paged_and_filtered_by_namespace_and_labels(
    page: Page, server: DemoServer
) -> None:
    selector = "demo.obsyk.dev/revision=3"
    namespace = server.resources(kind="Pod", label_selector=selector)[0]["namespace"]
    all_pods = server.resources(kind="Pod")
    in_namespace = server.resources(kind="Pod", namespace=namespace)
    expected = server.resources(kind="Pod", namespace=namespace, label_selector=selector)
    assert len(all_pods) > 100 and len(in_namespace) > len(expected) > 0
    deployments = server.resources(kind="Deployment")
    [deployment_kind] = [k for k in server.api("/kinds")["items"] if k["kind"] == "Deployment"]
    # The hints' columns, each under its declared label.
    deployment_headings = [column["label"] for column in deployment_kind["display"]["columns"]]

    sign_in(page, server.token)
    page.get_by_role("link", name="demo-cluster").click()
    # Pods are the kind shown first; the picker switches kinds, each with its own columns.
    expect(page.get_by_label("Kind")).to_have_value("Pod")
    page.get_by_label("Kind").select_option("Deployment")
    expect(page.locator("table.resources tbody tr")).to_have_count(len(deployments))
    expect(page.locator("table.resources th")).to_have_text(deployment_headings)
    page.get_by_label("Kind").select_option("Pod")
    # The first page holds 100 pods; "Load more" fetches the rest.
    expect(page.locator("table.resources tbody tr")).to_have_count(100)
    page.get_by_role("button", name="Load more").click()
    expect(page.locator("table.resources tbody tr")).to_have_count(len(all_pods))
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    # The Pod kind's display hints: its columns, and its status field (phase) as a pill.
    headings = page.locator("table.resources th").all_text_contents()
    assert headings[:3] == ["name", "namespace", "phase"]
    first_phase = all_pods[0]["object"]["phase"]
    first_pill = page.locator("table.resources td.status .pill").first
    expect(first_pill).to_have_text(first_phase)
    # Coloured by the words the Pod kind declares for its phase column, not guessed.
    [pod_kind] = [k for k in server.api("/kinds")["items"] if k["kind"] == "Pod"]
    [phase] = [c for c in pod_kind["display"]["columns"] if c["field"] == "phase"]
    tone = next((t for t in ("good", "warn", "bad") if first_phase in phase[t]), "neutral")
    expect(first_pill).to_have_class(f"pill pill-{tone}")

    page.get_by_label("Namespace").fill(namespace)
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.resources tbody tr")).to_have_count(len(in_namespace))

    page.get_by_label("Label selector").fill(selector)
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.resources tbody tr")).to_have_count(len(expected))
    assert row_names(page) == [pod["name"] for pod in expected]


def test_a_pod_shows_its_record_and_history(page: Page, server: DemoServer) -> None:
    pod = server.resources(kind="Pod", label_selector="demo.obsyk.dev/revision=3")[0]
    history = server.api(f"/clusters/{server.cluster_id}/resources/{pod['uid']}/history")
    assert len(history["items"]) > 1

    sign_in(page, server.token)
    page.goto(f"/#/clusters/{server.cluster_id}?kind=Pod&q={pod['name']}")
    page.get_by_role("link", name=pod["name"]).click()

    expect(page.locator("h1.resource-title")).to_have_text(pod["name"])
    record = json.loads(page.locator("section.resource > pre.json").text_content() or "")
    assert record == pod["object"]
    versions = page.locator("ul.history > li.version")
    expect(versions).to_have_count(len(history["items"]))
    newest = history["items"][-1]
    expect(versions.first.locator(".version-head")).to_contain_text(f"v{newest['version']}")
    expect(versions.first.locator(".version-head")).to_contain_text(newest["change"])
    for field in newest["diff"]["changed"]:
        expect(versions.first.locator(".diff-changed", has_text=field)).to_have_count(1)


def test_a_wrong_token_shows_the_apis_message(page: Page, server: DemoServer) -> None:
    wrong = "obsyk_pat_not-a-real-token"
    refusal = server.api("/clusters", token=wrong)
    assert refusal["status"] == 401

    sign_in(page, wrong)

    expect(page.get_by_role("alert")).to_have_text(refusal["message"])
    expect(page.get_by_label("API token")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_an_api_error_on_bad_filter_input_is_shown(page: Page, server: DemoServer) -> None:
    refusal = server.api(
        f"/clusters/{server.cluster_id}/resources", kind="Pod", label_selector="app in (web"
    )
    assert refusal["status"] == 422

    sign_in(page, server.token)
    page.goto(f"/#/clusters/{server.cluster_id}?kind=Pod")
    page.get_by_label("Label selector").fill("app in (web")
    page.get_by_role("button", name="Apply").click()

    expect(page.get_by_role("alert")).to_have_text(refusal["message"])


def test_markup_in_a_name_is_shown_as_text(page: Page, server: DemoServer) -> None:
    sign_in(page, server.token)
    page.goto(f"/#/clusters/{server.cluster_id}?kind=Pod&q=onerror")

    link = page.locator("table.resources a.resource-name")
    expect(link).to_have_text(MARKUP_NAME)
    assert page.locator("img").count() == 0

    link.click()
    expect(page.locator("h1.resource-title")).to_have_text(MARKUP_NAME)
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__obsykInjected") is None
