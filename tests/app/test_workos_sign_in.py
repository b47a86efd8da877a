"""Sign-in with WorkOS AuthKit, the SDK talking HTTP to a WorkOS-compatible double on loopback."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from app_support import PUBLIC_URL, embedded_config, runtime_config
from flask import Flask
from flask.testing import FlaskClient
from workos_double import API_KEY, CLIENT_ID, Person, WorkOSDouble, running_double

from obsyk_core.people import AuditQuery
from obsyk_core.storage import Organization
from reference_app import create_app
from reference_app.app import close_app
from reference_app.auth.membership import add_member
from reference_app.state import get_state


@pytest.fixture(scope="module")
def double() -> Iterator[WorkOSDouble]:
    with running_double() as double:
        yield double


@pytest.fixture(autouse=True)
def _fresh_double(double: WorkOSDouble) -> None:
    double.person = None
    double.access_seconds = 300
    double.authorize_queries.clear()
    double.invitations.clear()
    double.refreshes = 0
    double.invite_status = None


def _config(tmp_path: Path, double: WorkOSDouble, **overrides: Any) -> dict[str, Any]:
    return {
        "WORKOS_API_KEY": API_KEY,
        "WORKOS_CLIENT_ID": CLIENT_ID,
        "WORKOS_BASE_URL": double.url,
        **overrides,
    }


@pytest.fixture(
    params=["embedded", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.redis])]
)
def workos_app(
    request: pytest.FixtureRequest, tmp_path: Path, double: WorkOSDouble
) -> Iterator[Flask]:
    app = create_app(runtime_config(request, tmp_path, **_config(tmp_path, double)))
    yield app
    close_app(app)


@pytest.fixture
def client(workos_app: Flask) -> FlaskClient:
    return workos_app.test_client()


@pytest.fixture
def org(workos_app: Flask) -> Organization:
    return get_state(workos_app).storage.create_org(f"org-{uuid.uuid4().hex[:8]}")


def _email() -> str:
    return f"ada-{uuid.uuid4().hex[:6]}@example.com"


def start(client: FlaskClient, **query: str) -> Any:
    """``/auth/login``: the answer (a 302 to the double's authorize URL)."""
    return client.get("/auth/login", query_string=query)


def sign_in(client: FlaskClient, **query: str) -> Any:
    """The whole round trip: our login, AuthKit (the double), our callback."""
    login = start(client, **query)
    assert login.status_code == 302, login.get_data(as_text=True)
    at_workos = requests.get(login.headers["Location"], allow_redirects=False, timeout=10)
    assert at_workos.status_code == 302, at_workos.text
    back = urlsplit(at_workos.headers["Location"])
    assert f"{back.scheme}://{back.netloc}" == PUBLIC_URL and back.path == "/auth/callback"
    return client.get(f"/auth/callback?{back.query}")


def csrf(client: FlaskClient) -> dict[str, str]:
    cookie = client.get_cookie("obsyk_csrf")
    assert cookie is not None
    return {"X-CSRF-Token": cookie.value}


def test_a_member_added_by_email_signs_in_and_is_linked(
    workos_app: Flask, client: FlaskClient, org: Organization, double: WorkOSDouble
) -> None:
    storage = get_state(workos_app).storage
    email = _email()
    add_member(storage, org.id, email, "admin")
    double.person = Person(email=email.upper())

    login = start(client, next="/#/clusters")
    query = parse_qs(urlsplit(login.headers["Location"]).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{PUBLIC_URL}/auth/callback"]
    assert query["state"][0] and query["response_type"] == ["code"]
    done = sign_in(client, next="/#/clusters")

    assert done.status_code == 302 and done.headers["Location"] == "/#/clusters"
    me = client.get("/api/v1/me").get_json()
    assert me["organization"] == {"id": org.id, "name": org.name, "role": "admin"}
    user = storage.find_user(email=email)
    assert user is not None and user.workos_user_id == double.person.user_id
    assert user.name == "Ada Lovelace"
    session_id = client.get_cookie("obsyk_session").value  # type: ignore[union-attr]
    session = storage.get_session(hashlib.sha256(session_id.encode()).hexdigest())
    assert session is not None and session.refresh_token is not None
    assert session.provider_session_id and session.provider_session_id.startswith("session_")
    refresh_plain = get_state(workos_app).people.keys.decrypt(session.refresh_token)  # type: ignore[union-attr]
    assert refresh_plain.encode() not in session.refresh_token  # encrypted at rest
    actions = [e.action for e in storage.list_audit(AuditQuery(org.id))]
    assert actions[0] == "auth.sign_in"


def test_a_missing_or_mismatched_state_is_a_400_page_and_no_session(
    workos_app: Flask, client: FlaskClient, org: Organization, double: WorkOSDouble
) -> None:
    email = _email()
    add_member(get_state(workos_app).storage, org.id, email, "viewer")
    double.person = Person(email=email)
    login = start(client)
    at_workos = requests.get(login.headers["Location"], allow_redirects=False, timeout=10)
    callback = urlsplit(at_workos.headers["Location"])
    code = parse_qs(callback.query)["code"][0]

    mismatched = client.get("/auth/callback", query_string={"code": code, "state": "forged"})
    stranger = workos_app.test_client()  # no state cookie: not started in this browser
    missing = stranger.get(f"/auth/callback?{callback.query}")

    for answer in (mismatched, missing):
        assert answer.status_code == 400 and answer.mimetype == "text/html"
    assert client.get_cookie("obsyk_session") is None
    assert stranger.get_cookie("obsyk_session") is None


def test_a_failed_code_exchange_is_a_401_page(
    workos_app: Flask, client: FlaskClient, org: Organization, double: WorkOSDouble
) -> None:
    double.person = Person(email=_email())
    login = start(client)
    state = parse_qs(urlsplit(login.headers["Location"]).query)["state"][0]

    answer = client.get("/auth/callback", query_string={"code": "not-a-code", "state": state})

    assert answer.status_code == 401 and "WorkOS refused" in answer.get_data(as_text=True)
    assert client.get_cookie("obsyk_session") is None


def test_an_expired_access_token_is_refreshed_through_the_sdk(
    workos_app: Flask, client: FlaskClient, org: Organization, double: WorkOSDouble
) -> None:
    email = _email()
    add_member(get_state(workos_app).storage, org.id, email, "viewer")
    double.person = Person(email=email)
    double.access_seconds = 0  # every access token is already expired
    sign_in(client)

    assert client.get("/api/v1/me").status_code == 200
    assert double.refreshes >= 1
    double.access_seconds = 300
    before = double.refreshes
    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me").status_code == 200
    assert double.refreshes <= before + 1  # fresh again: no refresh per request


def test_a_session_revoked_at_workos_ends_here_on_the_next_refresh(
    workos_app: Flask, client: FlaskClient, org: Organization, double: WorkOSDouble
) -> None:
    storage = get_state(workos_app).storage
    email = _email()
    add_member(storage, org.id, email, "viewer")
    double.person = Person(email=email)
    double.access_seconds = 0
    sign_in(client)
    session_id = client.get_cookie("obsyk_session").value  # type: ignore[union-attr]
    session = storage.get_session(hashlib.sha256(session_id.encode()).hexdigest())
    assert session is not None and session.provider_session_id

    double.revoked_sessions.add(session.provider_session_id)
    answer = client.get("/api/v1/me")

    assert answer.status_code == 401
    assert client.get_cookie("obsyk_session") is None
    assert storage.get_session(session.id_hash) is None
    refused = storage.list_audit(AuditQuery(org.id, action="auth.sign_in_refused"))
    assert [e.actor_email for e in refused] == [email]


@pytest.mark.parametrize("signup", ["invite", "open"])
def test_a_person_without_an_org_under_each_signup_mode(
    tmp_path: Path, double: WorkOSDouble, signup: str
) -> None:
    app = create_app(embedded_config(tmp_path, **_config(tmp_path, double, SIGNUP=signup)))
    try:
        client = app.test_client()
        email = _email()
        double.person = Person(email=email)
        answer = sign_in(client)
        storage = get_state(app).storage
        user = storage.find_user(email=email)
        if signup == "invite":
            assert answer.status_code == 403
            assert "ask an admin of your organization to invite you" in answer.get_data(
                as_text=True
            )
            assert user is None and storage.list_orgs() == []
        else:
            assert answer.status_code == 302
            me = client.get("/api/v1/me").get_json()
            assert me["organization"]["role"] == "owner"
            assert user is not None and [o.id for _, o in storage.list_user_orgs(user.id)] == [
                me["organization"]["id"]
            ]
    finally:
        close_app(app)


def test_sso_parameters_pass_through_to_workos(client: FlaskClient, double: WorkOSDouble) -> None:
    login = start(
        client, organization_id="org_sso", connection_id="conn_saml", login_hint="a@corp.example"
    )
    requests.get(login.headers["Location"], allow_redirects=False, timeout=10)

    sent = double.authorize_queries[-1]
    assert sent["organization_id"] == "org_sso" and sent["connection_id"] == "conn_saml"
    assert sent["login_hint"] == "a@corp.example" and "provider" not in sent
    plain = start(client)
    assert parse_qs(urlsplit(plain.headers["Location"]).query)["provider"] == ["authkit"]


@pytest.mark.parametrize(("workos_role", "role"), [("admin", "admin"), ("owner", "member")])
def test_members_of_a_linked_workos_org_join_with_their_workos_role(
    workos_app: Flask,
    client: FlaskClient,
    org: Organization,
    double: WorkOSDouble,
    workos_role: str,
    role: str,
) -> None:
    storage = get_state(workos_app).storage
    workos_org = f"org_{uuid.uuid4().hex[:10]}"
    storage.link_org(org.id, workos_org)
    double.person = Person(email=_email(), org_id=workos_org, role=workos_role)

    assert sign_in(client).status_code == 302

    assert client.get("/api/v1/me").get_json()["organization"] == {
        "id": org.id,
        "name": org.name,
        "role": role,
    }
    joined = storage.list_audit(AuditQuery(org.id, action="member.joined"))
    assert joined and joined[0].details == {"role": role}


def test_an_invitation_sent_through_workos_is_accepted_at_sign_in(
    workos_app: Flask, client: FlaskClient, org: Organization, double: WorkOSDouble
) -> None:
    storage = get_state(workos_app).storage
    admin_email = _email()
    add_member(storage, org.id, admin_email, "admin")
    double.person = Person(email=admin_email)
    sign_in(client)
    invitee = _email()

    created = client.post(
        "/api/v1/invitations", json={"email": invitee, "role": "viewer"}, headers=csrf(client)
    )

    assert created.status_code == 201
    body = created.get_json()
    assert body["delivery"] == "workos" and "accept_url" not in body
    assert [i["email"] for i in double.invitations] == [invitee]
    assert double.invitations[0]["role_slug"] == "viewer"
    other = workos_app.test_client()
    double.person = Person(email=invitee)
    assert sign_in(other).status_code == 302
    assert other.get("/api/v1/me").get_json()["organization"]["role"] == "viewer"
    assert storage.get_invitation(body["id"]).state == "accepted"  # type: ignore[union-attr]


def test_sign_out_revokes_the_workos_session_and_a_replayed_cookie_is_refused(
    workos_app: Flask, client: FlaskClient, org: Organization, double: WorkOSDouble
) -> None:
    email = _email()
    add_member(get_state(workos_app).storage, org.id, email, "viewer")
    double.person = Person(email=email)
    sign_in(client)
    copied = client.get_cookie("obsyk_session").value  # type: ignore[union-attr]
    storage = get_state(workos_app).storage
    session = storage.get_session(hashlib.sha256(copied.encode()).hexdigest())
    assert session is not None

    out = client.post("/auth/logout", data={"csrf_token": csrf(client)["X-CSRF-Token"]})

    assert out.status_code == 302 and out.headers["Location"] == "/"
    assert session.provider_session_id in double.revoked_sessions
    replay = workos_app.test_client()
    replay.set_cookie("obsyk_session", copied)
    assert replay.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize(("workos_status", "status"), [(422, 422), (503, 503)])
def test_an_invitation_workos_does_not_send_stores_nothing(
    workos_app: Flask,
    client: FlaskClient,
    org: Organization,
    double: WorkOSDouble,
    workos_status: int,
    status: int,
) -> None:
    from app_support import new_user_token

    admin = {"Authorization": f"Bearer {new_user_token(workos_app, org, 'admin')}"}
    double.invite_status = workos_status

    answer = client.post(
        "/api/v1/invitations", json={"email": _email(), "role": "member"}, headers=admin
    )

    assert answer.status_code == status
    if status == 503:
        assert answer.headers["Retry-After"]
    assert get_state(workos_app).storage.list_invitations(org_id=org.id) == []


def test_with_workos_the_dev_sign_in_is_a_404(client: FlaskClient) -> None:
    assert client.post("/auth/dev-login", data={"email": "a@b.c"}).status_code == 404
