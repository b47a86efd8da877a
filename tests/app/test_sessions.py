"""Browser sessions through the development sign-in: cookies, CSRF, timeouts, sign-out, pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from app_support import embedded_config, runtime_config
from flask import Flask
from flask.testing import FlaskClient

from obsyk_core.storage import Organization
from reference_app import create_app
from reference_app.app import close_app
from reference_app.auth.membership import add_member
from reference_app.state import get_state


@pytest.fixture(
    params=["embedded", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.redis])]
)
def dev_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app with the development sign-in on (as `obsyk serve` on a loopback address)."""
    app = create_app(runtime_config(request, tmp_path, DEV_SIGN_IN=True))
    yield app
    close_app(app)


@pytest.fixture
def client(dev_app: Flask) -> FlaskClient:
    return dev_app.test_client()


@pytest.fixture
def org(dev_app: Flask) -> Organization:
    import uuid

    return get_state(dev_app).storage.create_org(f"org-{uuid.uuid4().hex[:8]}")


def _member(app: Flask, org: Organization, role: str = "admin") -> str:
    import uuid

    email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
    add_member(get_state(app).storage, org.id, email, role)  # type: ignore[arg-type]
    return email


def sign_in(client: FlaskClient, email: str) -> Any:
    return client.post("/auth/dev-login", data={"email": email, "next": "/#/clusters"})


def csrf(client: FlaskClient) -> dict[str, str]:
    cookie = client.get_cookie("obsyk_csrf")
    assert cookie is not None
    return {"X-CSRF-Token": cookie.value}


def test_signing_in_sets_an_opaque_session_and_a_csrf_cookie(
    dev_app: Flask, client: FlaskClient, org: Organization
) -> None:
    email = _member(dev_app, org, "admin")

    response = sign_in(client, email)

    assert response.status_code == 302 and response.headers["Location"] == "/#/clusters"
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    session_cookie = cookies["obsyk_session"]
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Secure" in session_cookie  # the test apps' public URL is https
    assert "HttpOnly" not in cookies["obsyk_csrf"]
    session_id = client.get_cookie("obsyk_session").value  # type: ignore[union-attr]
    stored = get_state(dev_app).storage
    assert stored.get_session(session_id) is None  # only its hash is kept

    me = client.get("/api/v1/me").get_json()
    assert me["user"]["email"] == email and me["auth"] == "session"
    assert me["organization"] == {"id": org.id, "name": org.name, "role": "admin"}


def test_unsafe_methods_need_the_csrf_header_under_session_auth(
    dev_app: Flask, client: FlaskClient, org: Organization
) -> None:
    sign_in(client, _member(dev_app, org, "admin"))

    refused = client.post("/api/v1/clusters", json={"name": "no-csrf"})
    wrong = client.post(
        "/api/v1/clusters", json={"name": "wrong"}, headers={"X-CSRF-Token": "forged"}
    )
    accepted = client.post("/api/v1/clusters", json={"name": "with-csrf"}, headers=csrf(client))

    assert refused.status_code == 403 and refused.get_json()["code"] == "csrf_failed"
    assert wrong.status_code == 403 and wrong.get_json()["code"] == "csrf_failed"
    assert accepted.status_code == 201
    names = [c.name for c in get_state(dev_app).storage.list_clusters(org.id)]
    assert names == ["with-csrf"]


def test_logout_ends_the_session_server_side_and_a_copied_cookie_stops_working(
    dev_app: Flask, client: FlaskClient, org: Organization
) -> None:
    sign_in(client, _member(dev_app, org, "viewer"))
    copied = client.get_cookie("obsyk_session").value  # type: ignore[union-attr]
    headers = csrf(client)

    assert client.post("/auth/logout").status_code == 403  # no CSRF token: not signed out
    assert client.get("/api/v1/me").status_code == 200
    response = client.post("/auth/logout", headers=headers)

    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get_cookie("obsyk_session") is None
    replay = dev_app.test_client()
    replay.set_cookie("obsyk_session", copied)
    answer = replay.get("/api/v1/me")
    assert answer.status_code == 401
    assert any("obsyk_session=;" in c for c in answer.headers.getlist("Set-Cookie"))


def test_idle_and_absolute_timeouts_end_a_session(
    dev_app: Flask, client: FlaskClient, org: Organization
) -> None:
    storage = get_state(dev_app).storage
    sign_in(client, _member(dev_app, org, "viewer"))
    session_id = client.get_cookie("obsyk_session").value  # type: ignore[union-attr]
    import hashlib

    id_hash = hashlib.sha256(session_id.encode()).hexdigest()
    idle = get_state(dev_app).settings.session_idle_minutes
    storage.update_session(id_hash, last_seen_at=datetime.now(UTC) - timedelta(minutes=idle + 1))
    assert client.get("/api/v1/me").status_code == 401

    sign_in(client, _member(dev_app, org, "viewer"))
    session_id = client.get_cookie("obsyk_session").value  # type: ignore[union-attr]
    id_hash = hashlib.sha256(session_id.encode()).hexdigest()
    storage.update_session(id_hash, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert client.get("/api/v1/me").status_code == 401


def test_a_removed_member_is_signed_out_on_the_next_request(
    dev_app: Flask, client: FlaskClient, org: Organization
) -> None:
    storage = get_state(dev_app).storage
    _member(dev_app, org, "owner")
    email = _member(dev_app, org, "admin")
    sign_in(client, email)
    user = storage.find_user(email=email)
    assert user is not None
    assert client.get("/api/v1/audit").status_code == 200

    storage.change_membership(org.id, user.id, "viewer")
    assert client.get("/api/v1/audit").status_code == 403
    storage.change_membership(org.id, user.id, None)
    assert client.get("/api/v1/me").status_code == 401


def test_a_member_of_two_orgs_switches_between_them(
    dev_app: Flask, client: FlaskClient, org: Organization
) -> None:
    storage = get_state(dev_app).storage
    other = storage.create_org(f"{org.name}-b")
    email = _member(dev_app, org, "viewer")
    user = storage.find_user(email=email)
    assert user is not None
    storage.set_membership(other.id, user.id, "admin")
    sign_in(client, email)

    me = client.get("/api/v1/me").get_json()
    assert {o["id"] for o in me["organizations"]} == {org.id, other.id}
    switched = client.put("/api/v1/me/organization", json={"id": other.id}, headers=csrf(client))
    assert switched.status_code == 200
    assert switched.get_json()["organization"] == {
        "id": other.id,
        "name": other.name,
        "role": "admin",
    }
    assert client.get("/api/v1/me").get_json()["organization"]["id"] == other.id
    stranger = storage.create_org(f"{org.name}-c")
    refused = client.put("/api/v1/me/organization", json={"id": stranger.id}, headers=csrf(client))
    assert refused.status_code == 404


def test_sign_in_and_out_are_audited(
    dev_app: Flask, client: FlaskClient, org: Organization
) -> None:
    email = _member(dev_app, org, "admin")
    sign_in(client, email)
    headers = csrf(client)
    actions = [item["action"] for item in client.get("/api/v1/audit").get_json()["items"]]
    assert actions[0] == "auth.sign_in"
    client.post("/auth/logout", headers=headers)
    sign_in(client, email)
    entries = client.get("/api/v1/audit", query_string={"action": "auth.sign_out"}).get_json()
    assert [e["actor"]["email"] for e in entries["items"]] == [email]
    assert entries["items"][0]["ip"] == "127.0.0.1"


def test_an_unknown_email_gets_a_403_page_and_nothing_is_created(
    dev_app: Flask, client: FlaskClient
) -> None:
    response = sign_in(client, "nobody@example.com")

    assert response.status_code == 403 and response.mimetype == "text/html"
    assert client.get_cookie("obsyk_session") is None
    assert get_state(dev_app).storage.find_user(email="nobody@example.com") is None


def test_dev_sign_in_is_a_404_off_loopback_and_with_workos(
    dev_app: Flask, client: FlaskClient, org: Organization, tmp_path: Path
) -> None:
    email = _member(dev_app, org, "admin")
    remote = client.post(
        "/auth/dev-login", data={"email": email}, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert remote.status_code == 404 and client.get_cookie("obsyk_session") is None
    page = client.get("/auth/login", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert page.status_code == 200 and "dev-login" not in page.get_data(as_text=True)

    off = create_app(embedded_config(tmp_path / "off"))
    try:
        assert off.test_client().post("/auth/dev-login", data={"email": email}).status_code == 404
    finally:
        close_app(off)
    workos = create_app(
        embedded_config(
            tmp_path / "workos",
            DEV_SIGN_IN=True,
            WORKOS_API_KEY="sk_test",
            WORKOS_CLIENT_ID="client_test",
            WORKOS_BASE_URL="http://127.0.0.1:9",
        )
    )
    try:
        assert (
            workos.test_client().post("/auth/dev-login", data={"email": email}).status_code == 404
        )
    finally:
        close_app(workos)


def test_a_cross_site_sign_in_form_is_refused(
    dev_app: Flask, client: FlaskClient, org: Organization
) -> None:
    email = _member(dev_app, org)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = client.post("/auth/dev-login", data={"email": email}, headers=headers)
        assert response.status_code == 403 and client.get_cookie("obsyk_session") is None
    same_site = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}
    assert (
        client.post("/auth/dev-login", data={"email": email}, headers=same_site).status_code == 302
    )


def test_next_goes_only_to_paths_of_this_site(
    dev_app: Flask, client: FlaskClient, org: Organization
) -> None:
    email = _member(dev_app, org)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post("/auth/dev-login", data={"email": email, "next": target})
        assert response.headers["Location"] == "/", target


def test_html_pages_carry_the_security_headers(client: FlaskClient) -> None:
    for path in ("/auth/login", "/"):
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"]
        assert headers["Strict-Transport-Security"].startswith("max-age=")  # public URL is https
    assert "Content-Security-Policy" not in client.get("/api/v1/kinds").headers


def test_the_sign_in_page_lists_the_demo_members(tmp_path: Path) -> None:
    app = create_app(embedded_config(tmp_path, DEV_SIGN_IN=True, DEMO_MEMBERS=["demo@obsyk.local"]))
    try:
        page = app.test_client().get("/auth/login").get_data(as_text=True)
    finally:
        close_app(app)
    assert "demo@obsyk.local" in page and 'action="/auth/dev-login"' in page
    assert "<script" not in page


def test_the_periodic_job_prunes_ended_sessions(
    dev_app: Flask, client: FlaskClient, org: Organization
) -> None:
    import hashlib

    from reference_app.jobs import tasks
    from reference_app.jobs.periodic import periodic_jobs

    assert tasks.prune_sessions in [job.func for job in periodic_jobs(get_state(dev_app).settings)]
    storage = get_state(dev_app).storage
    sign_in(client, _member(dev_app, org, "viewer"))
    ended = hashlib.sha256(client.get_cookie("obsyk_session").value.encode()).hexdigest()  # type: ignore[union-attr]
    storage.update_session(ended, last_seen_at=datetime.now(UTC) - timedelta(days=30))
    live_client = dev_app.test_client()
    sign_in(live_client, _member(dev_app, org, "viewer"))

    with dev_app.app_context():
        tasks.prune_sessions()

    assert storage.get_session(ended) is None
    assert live_client.get("/api/v1/me").status_code == 200


def test_an_accept_link_signs_the_invited_person_into_the_inviting_org(
    dev_app: Flask, client: FlaskClient, org: Organization
) -> None:
    from reference_app.auth.membership import invite

    storage = get_state(dev_app).storage
    email = _member(dev_app, org, "viewer")
    inviting = storage.create_org(f"{org.name}-inviting")
    issued = invite(
        storage,
        inviting.id,
        email,
        "admin",
        caller_role="owner",
        invited_by=None,
        public_url="https://obsyk.test",
    )
    assert issued.accept_url is not None
    secret = issued.accept_url.split("invitation=", 1)[1]
    page = client.get(f"/auth/login?invitation={secret}").get_data(as_text=True)
    assert f'name="invitation" value="{secret}"' in page

    client.post("/auth/dev-login", data={"email": email, "invitation": secret})

    me = client.get("/api/v1/me").get_json()
    assert me["organization"] == {"id": inviting.id, "name": inviting.name, "role": "admin"}
    assert {o["id"] for o in me["organizations"]} == {org.id, inviting.id}
    assert storage.get_invitation(issued.invitation.id).state == "accepted"  # type: ignore[union-attr]


def test_a_plugins_identity_provider_is_chosen_before_the_built_ins(tmp_path: Path) -> None:
    from obsyk_core.identity import Identity, ProviderSettings
    from obsyk_core.plugins import build_plugin_manager, hookimpl

    class KioskSignIn:
        """A third-party form provider, configured whatever the settings."""

        def identity(self, email: str) -> Identity:
            return Identity(email=email, name="Kiosk user")

    class KioskPlugin:
        @hookimpl
        def obsyk_register_identity_providers(self, registry: Any) -> None:
            registry.register("kiosk", lambda settings: KioskSignIn())

    app = create_app(
        embedded_config(tmp_path, PLUGINS=build_plugin_manager(plugins=[KioskPlugin()]))
    )
    try:
        assert isinstance(get_state(app).people.identity_provider, KioskSignIn)  # type: ignore[union-attr]
        org = get_state(app).storage.create_org("kiosk")
        add_member(get_state(app).storage, org.id, "k@x.io", "viewer")
        client = app.test_client()
        assert sign_in(client, "k@x.io").status_code == 302
        assert client.get("/api/v1/me").get_json()["user"]["name"] == "Kiosk user"
    finally:
        close_app(app)
    assert ProviderSettings().dev_sign_in is False  # the built-in dev form stays off by default
