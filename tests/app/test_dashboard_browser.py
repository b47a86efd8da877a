"""The dashboard in a real browser (Debian's chromium, driven by Playwright) over a real server.

The server is the embedded app with ``obsyk serve --demo``'s data (two
clusters, a shop with trouble in it), a second organization and a viewer, on a
free port; what the page shows is checked against what the REST API answers.
One browser and one server for the module; each test gets a fresh page.  Every
screen is photographed at desktop and phone width into docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from app_support import embedded_config, new_cluster, new_org, new_user_token
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from werkzeug.serving import make_server

from obsyk_core.ingest import IncomingResource, ResourceEvent, apply_events
from obsyk_core.storage import ChangeType
from obsyk_operator.testing.kube_server import KubeServer
from obsyk_operator.testing.local_cluster import seed as seed_kube
from reference_app import create_app
from reference_app.app import close_app
from reference_app.auth.membership import add_member
from reference_app.demo import DEMO_EDGE_CLUSTER, seed_demo
from reference_app.demo_shop import CRASHING_POD, SHARED_IMAGE
from reference_app.kind_states import remember_kind_states
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
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: OBSYK_UPDATE_SCREENSHOTS=1 refreshes docs/screenshots/ (after a UI change);
#: otherwise the pictures go to a temporary folder, so a test run leaves the tree clean.
UPDATE_SCREENSHOTS = os.environ.get("OBSYK_UPDATE_SCREENSHOTS") == "1"
Shoot = Callable[[str], None]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
BIN = Path(sys.executable).parent
#: A name that would run script if the page ever parsed data as HTML.
MARKUP_NAME = '<img src=x onerror="window.__obsykInjected=1">'
OTHER_ORG_POD = "other-org-secret-pod"


@dataclass(frozen=True)
class DemoServer:
    url: str
    token: str
    viewer_token: str
    cluster_id: str
    edge_id: str
    other_cluster_id: str

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


def _add_pod(app: Any, cluster_id: str, name: str, namespace: str = "default") -> None:
    uid = str(uuid.uuid4())
    record = {"uid": uid, "name": name, "namespace": namespace, "phase": "Running"}
    event = ResourceEvent(
        ChangeType.ADDED, "Pod", uid, name, namespace, IncomingResource.from_record("Pod", record)
    )
    apply_events(get_state(app).storage, cluster_id, [event], received_at=datetime.now(UTC))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    app = create_app(embedded_config(tmp_path_factory.mktemp("dashboard")))
    state = get_state(app)
    seed = seed_demo(state.storage, state.plugins.kinds)
    _add_pod(app, seed.cluster.id, MARKUP_NAME)
    edge = next(c for c in state.storage.list_clusters(seed.org.id) if c.name == DEMO_EDGE_CLUSTER)
    other = new_org(app, "someone-else")
    other_cluster = new_cluster(app, other, "their-cluster").cluster
    _add_pod(app, other_cluster.id, OTHER_ORG_POD)
    viewer = new_user_token(app, seed.org, "viewer")
    # The edge cluster's operator reported a kind plugin whose CRD the cluster lacks.
    skipped = {"Pod": "watched", "Certificate": "not_served"}
    remember_kind_states(state.cache, edge.id, skipped, ttl_seconds=3600)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{http.server_port}"
    # Operators started by the wizard's commands use this URL: it is the audience they sign for.
    state.settings.public_urls = (url,)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield DemoServer(url, seed.token, viewer, seed.cluster.id, edge.id, other_cluster.id)
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
    context = browser.new_context(base_url=server.url, viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        # A refused API call logs the browser's own "Failed to load resource" line:
        # tests that provoke one say so by checking the message the page shows.
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(message.text)

    page.on("console", watch)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    # No console errors, and nothing of the page's own refused by its strict CSP.
    assert problems == []


def sign_in(page: Page, token: str) -> None:
    page.goto("/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return DOCS_SCREENSHOTS if UPDATE_SCREENSHOTS else tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def shoot(page: Page, screenshots: Path) -> Shoot:
    return lambda name: _shoot(page, screenshots, name)


def _shoot(page: Page, folder: Path, name: str) -> None:
    """<name>-desktop.jpg and -phone.jpg of what the page shows now (see UPDATE_SCREENSHOTS)."""
    page.screenshot(path=str(folder / f"{name}-desktop.jpg"), full_page=True, quality=70)
    page.set_viewport_size(PHONE)
    # Nothing may stick out sideways at phone width but the tables built to scroll.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{name}: {overflow}px wider than the phone screen"
    page.screenshot(path=str(folder / f"{name}-phone.jpg"), full_page=True, quality=70)
    assert (folder / f"{name}-phone.jpg").stat().st_size > 0
    assert (DOCS_SCREENSHOTS / f"{name}-desktop.jpg").exists(), f"docs/screenshots lacks {name}"
    page.set_viewport_size(DESKTOP)


def row_names(page: Page) -> list[str]:
    return page.locator("table.resources a.resource-name").all_text_contents()


def expect_rows(page: Page, names: list[str]) -> None:
    """Waits for the table to show exactly these names (a view renders after its fetch)."""
    expect(page.locator("table.resources a.resource-name")).to_have_text(names)


def test_overview_shows_totals_clusters_and_the_attention_items(
    page: Page, server: DemoServer, shoot: Shoot
) -> None:
    clusters = {c["name"]: c for c in server.api("/clusters")["items"]}
    attention = server.api("/attention")
    assert clusters["demo-cluster"]["status"] == "connected"
    assert clusters[DEMO_EDGE_CLUSTER]["status"] == "disconnected"
    reasons = {item["reason"] for item in attention["items"]}
    assert {"CrashLoopBackOff", "ImagePullBackOff", "BelowDesired", "Warning"} <= reasons

    sign_in(page, server.token)

    row = page.locator(f"tr[data-cluster-id='{server.cluster_id}']")
    cluster = clusters["demo-cluster"]
    expect(row.locator(".cluster-name")).to_have_text("demo-cluster")
    expect(row.locator(".cluster-status")).to_have_text("connected")
    total = sum(cluster["resource_counts"].values())
    expect(row.locator(".cluster-total")).to_have_text(f"{total:,} resources")
    expect(row.locator(".cluster-agent")).to_have_text("0.3.2")
    heartbeat = row.locator(".cluster-heartbeat time")
    expect(heartbeat).to_have_attribute("datetime", cluster["last_heartbeat_at"])
    expect(heartbeat).to_have_text(re.compile(r"^(now|\d+ \w+ ago)$"))
    expect(page.locator("[data-tile='clusters'] .tile-value")).to_have_text("2")
    # The attention list: the silent cluster, and each item of the API, linked to its object.
    items = page.locator(".attention-item")
    expect(items).to_have_count(len(attention["items"]) + 1)
    expect(page.locator(".attention-item[data-reason='disconnected']")).to_contain_text(
        DEMO_EDGE_CLUSTER
    )
    crash = page.locator(".attention-item[data-reason='CrashLoopBackOff']")
    expect(crash).to_contain_text(CRASHING_POD)
    shoot("overview")
    crash.get_by_role("link").click()
    expect(page.locator("h1.resource-title")).to_contain_text(CRASHING_POD)


def test_filter_to_a_pod_then_its_deployment_and_events(
    page: Page, server: DemoServer, shoot: Shoot
) -> None:
    sign_in(page, server.token)
    page.get_by_role("link", name="demo-cluster").click()
    expect(page.get_by_role("heading", name="Nodes")).to_be_visible()
    expect(page.locator("table.namespaces tr[data-namespace='shop']")).to_be_visible()
    shoot("cluster")

    page.get_by_label("Name contains").fill(CRASHING_POD)
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"q=storefront"))
    expect_rows(page, [CRASHING_POD])
    shoot("explorer")
    page.get_by_role("link", name=CRASHING_POD, exact=True).click()

    expect(page.locator("h1.resource-title")).to_contain_text(CRASHING_POD)
    owners = page.locator("[data-relation='owners'] li")
    expect(owners).to_have_text(
        [
            "ReplicaSet shop/storefront-5d8f9c7b6 (not in the inventory)",
            "Deployment shop/storefront",
        ]
    )
    expect(page.locator("[data-relation='routes'] li")).to_have_text(
        ["Service shop/storefront", "Ingress shop/storefront"]
    )
    expect(page.locator("table.containers")).to_contain_text("CrashLoopBackOff")
    events = page.locator("table.events tbody tr")
    expect(events).to_have_count(2)
    expect(events.first).to_contain_text("Back-off restarting failed container web")
    shoot("resource")

    page.locator("[data-relation='owners']").get_by_role("link", name="Deployment").click()
    expect(page.locator("h1.resource-title")).to_contain_text("storefront")
    expect(page.locator("[data-relation='owned'] li")).to_have_count(3)
    # Back: the pod again, then the filtered explorer, as the user left them.
    page.go_back()
    expect(page.locator("h1.resource-title")).to_contain_text(CRASHING_POD)
    page.go_back()
    expect(page.get_by_label("Name contains")).to_have_value(CRASHING_POD)


def test_history_reads_as_value_changes(page: Page, server: DemoServer, shoot: Shoot) -> None:
    pod = server.resources(kind="Pod", label_selector="demo.obsyk.dev/revision=3")[0]
    history = server.api(f"/clusters/{server.cluster_id}/resources/{pod['uid']}/history")
    newest = history["items"][-1]
    change = next(
        v for v in newest["diff"]["values"] if v["path"] == "labels.demo.obsyk.dev/revision"
    )
    assert (change["old"], change["new"]) == ("2", "3")

    sign_in(page, server.token)
    page.goto(f"/#/clusters/{server.cluster_id}/resources/{pod['uid']}")

    versions = page.locator("ul.history > li.version")
    expect(versions).to_have_count(len(history["items"]))
    expect(versions.first.locator(".version-head")).to_contain_text(f"v{newest['version']}")
    expect(versions.first.locator(".diff-changed", has_text="revision")).to_have_text(
        "labels.demo.obsyk.dev/revision: 2 → 3"
    )
    versions.first.get_by_text("The record as of this version").click()
    shown = json.loads(versions.first.locator("pre.json").text_content() or "")
    assert shown == newest["object"]
    page.locator("#history").scroll_into_view_if_needed()
    shoot("history")


def test_as_of_shows_a_deleted_pod_as_the_past(
    page: Page, server: DemoServer, shoot: Shoot
) -> None:
    deleted = [p for p in server.resources(kind="Pod", include_deleted="true") if p["deleted_at"]]
    assert deleted
    gone = deleted[0]
    before = datetime.fromisoformat(gone["deleted_at"]) - timedelta(hours=1)

    sign_in(page, server.token)
    page.goto(f"/#/clusters/{server.cluster_id}?kind=Pod&q={gone['name']}")
    expect(page.locator(".empty")).to_contain_text("Nothing matches these filters")
    page.get_by_label("As of (the past)").fill(before.astimezone().strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Apply").click()

    expect(page.locator(".past-banner")).to_contain_text("Viewing the past")
    expect_rows(page, [gone["name"]])
    shoot("time-travel")
    page.get_by_role("link", name="Back to now").click()
    expect(page.locator(".past-banner")).to_have_count(0)
    expect(page.locator(".empty")).to_contain_text("Nothing matches these filters")


def test_fleet_search_finds_an_image_in_two_clusters(
    page: Page, server: DemoServer, shoot: Shoot
) -> None:
    sign_in(page, server.token)
    page.get_by_role("link", name="Fleet search").click()
    page.get_by_label("Image name contains").fill("storefront")
    page.get_by_role("button", name="Find image").click()
    expect(page.get_by_role("heading", name="Where does “storefront” run")).to_be_visible()

    row = page.locator(f"table.images tr[data-image='{SHARED_IMAGE}']")
    expect(row).to_contain_text("demo-cluster, demo-edge")
    expect(row.locator("ul.placements li")).to_have_count(5)
    # The same name across clusters, in the resource search.
    page.get_by_label("Name contains", exact=True).fill("storefront")
    page.get_by_label("Kind").select_option("Pod")
    expect(page.locator("table.resources tbody tr")).to_have_count(5)
    clusters = set(page.locator("table.resources tbody tr td:first-child").all_text_contents())
    assert clusters == {"demo-cluster", DEMO_EDGE_CLUSTER}
    shoot("fleet-search")


def test_a_cluster_says_which_kinds_its_operator_skips_and_why(
    page: Page, server: DemoServer
) -> None:
    sign_in(page, server.token)
    page.goto(f"/#/clusters/{server.edge_id}")

    skipped = page.locator(".cluster-facts .skipped-kinds")
    expect(skipped).to_have_text(" · skipped: Certificate (not served)")
    expect(skipped.locator("[data-state=not_served]")).to_have_attribute(
        "title", "the cluster does not serve its API (CRD not installed)"
    )


def test_a_second_orgs_data_never_appears(page: Page, server: DemoServer) -> None:
    sign_in(page, server.token)
    page.goto("/#/search?q=other-org")
    expect(page.locator(".empty")).to_contain_text("Nothing matches")
    page.goto(f"/#/clusters/{server.other_cluster_id}")
    refusal = server.api(f"/clusters/{server.other_cluster_id}")
    assert refusal["status"] == 404
    expect(page.get_by_role("alert")).to_have_text(refusal["message"])
    assert OTHER_ORG_POD not in page.content()


def test_onboarding_wizard_turns_connected_when_the_operator_starts(
    page: Page, server: DemoServer, shoot: Shoot, tmp_path: Path
) -> None:
    sign_in(page, server.token)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Add a cluster").click()
    page.get_by_label("Cluster name").fill("laptop")
    page.get_by_role("button", name="Register").click()
    status = page.locator(".wizard-status")
    expect(status).to_contain_text("Waiting for the first heartbeat")
    secret = page.locator("#command-secret").text_content() or ""
    local = page.locator("#command-local").text_content() or ""
    assert server.url in local and "kubectl apply -k deploy/operator" in (
        page.locator("#command-apply").text_content() or ""
    )
    shoot("onboarding")

    # The key, as the shown heredoc writes it; then the shown local command, against a test cluster.
    pem = secret.split("<<'EOF'\n", 1)[1].split("\nEOF", 1)[0]
    (tmp_path / "operator-key.pem").write_text(pem + "\n")
    kube = KubeServer(bookmark_interval=0.3).start()
    seed_kube(kube, "demo")
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    args = shlex.split(local)
    args[0] = str(BIN / args[0])
    args += ["--kubeconfig", str(kubeconfig), "--health-port", "0", "--metrics-port", "0"]
    operator = subprocess.Popen(
        args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        expect(status).to_contain_text("Connected", timeout=30_000)
        expect(status.locator(".pill")).to_have_text("connected")
    finally:
        operator.terminate()
        operator.wait(timeout=10)
        kube.stop()


def test_a_viewer_sees_no_admin_controls(page: Page, server: DemoServer) -> None:
    me = server.api("/me", token=server.viewer_token)
    assert me["organization"]["role"] == "viewer"

    sign_in(page, server.viewer_token)

    expect(page.locator("#who")).to_contain_text("demo (viewer)")
    expect(page.locator(f"tr[data-cluster-id='{server.cluster_id}']")).to_be_visible()
    expect(page.get_by_role("link", name="Add a cluster")).to_have_count(0)
    page.goto("/#/onboard")
    expect(page.locator(".needs-admin")).to_contain_text("needs an admin or owner")
    expect(page.get_by_role("button", name="Register")).to_have_count(0)
    # The owner sees them.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server.token)
    expect(page.locator("#who")).to_contain_text("demo (owner)")
    expect(page.get_by_role("link", name="Add a cluster").first).to_be_visible()


def test_settings_tokens_members_credentials_and_audit(
    page: Page, server: DemoServer, shoot: Shoot
) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, server.token)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()

    # A token: shown once, works against the API, then revoked from the list.
    page.get_by_label("New token name").fill("browser-made")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator(".shown-once pre").text_content() or ""
    assert secret.startswith("obsyk_pat_")
    assert server.api("/clusters", token=secret)["items"]
    page.reload()
    row = page.locator("table.tokens tr[data-token='browser-made']")
    expect(row).to_have_count(1)
    expect(page.locator(".shown-once")).to_have_count(0)
    row.get_by_role("button", name="Revoke token browser-made").click()
    expect(page.locator("table.tokens tr[data-token='browser-made']")).to_have_count(0)
    assert server.api("/clusters", token=secret)["status"] == 401

    # Members with their roles, an invitation, each cluster's credential, the audit log.
    expect(page.locator("table.members")).to_contain_text("demo@obsyk.local")
    page.get_by_label("Email").fill("new-person@example.com")
    page.get_by_role("button", name="Invite").click()
    expect(page.locator(".shown-once, .card p.muted", has_text="new-person")).to_have_count(1)
    credential = page.locator("table.credentials tbody tr").first
    expect(credential).to_contain_text("active")
    expect(page.locator("table.audit")).to_contain_text("token.revoked")
    page.get_by_label("Action").select_option("token.created")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"action=token.created"))
    actions = page.locator("table.audit tbody tr td:nth-child(3)")
    expect(actions.first).to_have_text("token.created")
    assert set(actions.all_text_contents()) == {"token.created"}
    shoot("settings")


def test_a_viewer_sees_no_settings_they_may_not_use(page: Page, server: DemoServer) -> None:
    sign_in(page, server.viewer_token)
    page.goto("/#/settings")
    expect(page.locator(".role-note")).to_contain_text("you are viewer")
    for heading in ("Your API tokens", "Members", "Cluster credentials", "Audit log"):
        expect(page.get_by_role("heading", name=heading)).to_have_count(0)


def test_keyboard_skip_link_and_sortable_columns(page: Page, server: DemoServer) -> None:
    sign_in(page, server.token)
    page.goto(f"/#/clusters/{server.cluster_id}?kind=Deployment")
    page.reload()  # a fresh load: focus starts at the top of the page
    expect(page.locator("table.resources tbody tr").first).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main#view")).to_be_focused()

    header = page.locator("table.resources th", has=page.locator("button[data-field='name']"))
    header.locator("button").focus()
    page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "ascending")
    ascending = row_names(page)
    # In the page's own collation (numbers inside names compare as numbers).
    collated = page.evaluate(
        "names => [...names].sort((a, b) => a.localeCompare(b, 'en', {numeric: true}))",
        ascending,
    )
    assert (
        ascending == collated
        and ascending != [d["name"] for d in server.resources(kind="Deployment")][::-1]
    )
    page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "descending")
    expect_rows(page, list(reversed(ascending)))


def test_explorer_pages_with_next_and_previous(page: Page, server: DemoServer) -> None:
    pods = server.resources(kind="Pod")
    assert len(pods) > 50

    sign_in(page, server.token)
    page.goto(f"/#/clusters/{server.cluster_id}?kind=Pod")
    expect(page.locator("table.resources tbody tr")).to_have_count(50)
    expect(page.locator(".result-count")).to_contain_text(f"1\N{EN DASH}50 of {len(pods)} Pods")
    first_page = [p["name"] for p in pods[:50]]
    expect_rows(page, first_page)
    page.get_by_role("link", name="Next →").click()
    expect(page.locator(".result-count")).to_contain_text("51\N{EN DASH}")
    expect_rows(page, [p["name"] for p in pods[50:100]])
    page.get_by_role("button", name="← Previous").click()
    expect(page.locator(".result-count")).to_contain_text("1\N{EN DASH}50")
    expect_rows(page, first_page)


def test_a_wrong_token_shows_the_apis_message(page: Page, server: DemoServer, shoot: Shoot) -> None:
    wrong = "obsyk_pat_not-a-real-token"
    refusal = server.api("/clusters", token=wrong)
    assert refusal["status"] == 401

    sign_in(page, wrong)

    expect(page.get_by_role("alert")).to_have_text(refusal["message"])
    expect(page.get_by_label("API token")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    shoot("sign-in")


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


def test_a_dot_dot_uid_is_never_fetched_as_a_path(page: Page, server: DemoServer) -> None:
    # The browser resolves "..", encoded or not: /resources/.. would fetch the cluster.
    sign_in(page, server.token)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"/#/clusters/{server.cluster_id}/resources/..")

    expect(page.get_by_role("alert")).to_contain_text("cannot be used in a URL")
    # Only the cluster itself (the breadcrumb) and its resources: a resolved ".." would
    # have asked for /clusters/<id>/, /clusters/<id>/history or /clusters/<id>/related.
    cluster = f"/api/v1/clusters/{server.cluster_id}"
    stray = [
        url
        for url in requested
        if cluster in url and not url.endswith(cluster) and f"{cluster}/resources" not in url
    ]
    assert stray == []


def test_markup_in_a_name_is_shown_as_text(page: Page, server: DemoServer) -> None:
    sign_in(page, server.token)
    page.goto(f"/#/clusters/{server.cluster_id}?kind=Pod&q=onerror")

    link = page.locator("table.resources a.resource-name")
    expect(link).to_have_text(MARKUP_NAME)
    assert page.locator("img").count() == 0

    link.click()
    expect(page.locator("h1.resource-title")).to_contain_text(MARKUP_NAME)
    page.goto("/#/search?q=onerror")
    expect(page.locator("table.resources a.resource-name")).to_have_text(MARKUP_NAME)
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__obsykInjected") is None


def test_a_session_shows_who_switches_orgs_and_signs_out(browser: Browser, tmp_path: Path) -> None:
    app = create_app(embedded_config(tmp_path, DEV_SIGN_IN=True))
    http = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{http.server_port}"
    get_state(app).settings.public_urls = (url,)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        storage = get_state(app).storage
        first, second = new_org(app, "first-org"), new_org(app, "second-org")
        new_cluster(app, first, "first-cluster")
        new_cluster(app, second, "second-cluster")
        email = "two-orgs@example.com"
        add_member(storage, first.id, email, "owner")
        add_member(storage, second.id, email, "viewer")
        context = browser.new_context(base_url=url, viewport=DESKTOP)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto("/")
        page.get_by_role("link", name="Sign in with your organization").click()
        page.get_by_label("Email").fill(email)
        page.get_by_role("button", name="Sign in").click()

        who = page.locator("#who")
        expect(who).to_contain_text(email)
        org_name = who.text_content() or ""
        acting, other = ("first", "second") if "first-org" in org_name else ("second", "first")
        expect(page.locator(".cluster-name")).to_have_text([f"{acting}-cluster"])
        page.get_by_label("Organization").select_option((first if other == "first" else second).id)
        expect(who).to_contain_text(f"{other}-org")
        expect(page.locator(".cluster-name")).to_have_text([f"{other}-cluster"])

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("link", name="Sign in with your organization")).to_be_visible()
        assert "obsyk_session" not in {c["name"] for c in context.cookies()}
        assert page.evaluate("fetch('/api/v1/me').then((r) => r.status)") == 401
        context.close()
    finally:
        http.shutdown()
        thread.join(timeout=10)
        http.server_close()
        close_app(app)
