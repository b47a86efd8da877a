"""The view guards: who gets in with which token, and what they are told when they don't."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from app_support import ClusterKeys
from flask import Blueprint, Flask, current_app, session
from flask.testing import FlaskClient

from obsyk_core.storage import Organization
from reference_app.auth.api_tokens import hash_token
from reference_app.auth.guards import (
    Permission,
    current_agent,
    current_user,
    requires,
)
from reference_app.errors import abort_json
from reference_app.state import get_state

#: Calls of the probe views' bodies: a refused caller must never add one.
RAN: list[str] = []


def _probe_blueprint() -> Blueprint:
    """Endpoints guarded like the real API, answering who the guard let in."""
    blp = Blueprint("guard_probe", __name__)

    @blp.get("/probe/viewer")
    @requires(Permission.READ_INVENTORY)
    def viewer() -> dict[str, Any]:
        RAN.append("viewer")
        user = current_user()
        return {"org": user.org_id, "user": user.user_id, "role": user.role}

    @blp.get("/probe/admin")
    @requires(Permission.MANAGE_CLUSTERS)
    def admin() -> dict[str, Any]:
        RAN.append("admin")
        return {"role": current_user().role}

    @blp.post("/probe/refuses")
    @requires(Permission.MANAGE_OWN_TOKENS)
    def refuses() -> dict[str, Any]:
        RAN.append("refuses")
        abort_json(422, "Refused by the view.", code="invalid_arguments")

    @blp.get("/probe/agent")
    @requires(Permission.INGEST)
    def agent() -> dict[str, Any]:
        principal = current_agent()
        return {
            "org": principal.org_id,
            "cluster": principal.cluster_id,
            "client": principal.client_id,
        }

    return blp


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.register_blueprint(_probe_blueprint())
    return app.test_client()


@pytest.fixture
def org(make_org: Callable[..., Organization]) -> Organization:
    return make_org()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == status and body["code"] and body["message"]
    return dict(body)


# --------------------------------------------------------------------------- people


@pytest.mark.parametrize("role", ["viewer", "member", "admin", "owner"])
def test_every_role_may_read(
    client: FlaskClient, org: Organization, make_user_token: Callable[..., str], role: str
) -> None:
    response = client.get("/probe/viewer", headers=bearer(make_user_token(org, role)))

    assert response.status_code == 200
    assert response.get_json()["org"] == org.id
    assert response.get_json()["role"] == role


@pytest.mark.parametrize(
    ("role", "status"), [("viewer", 403), ("member", 403), ("admin", 200), ("owner", 200)]
)
def test_min_role_is_enforced(
    client: FlaskClient,
    org: Organization,
    make_user_token: Callable[..., str],
    role: str,
    status: int,
) -> None:
    response = client.get("/probe/admin", headers=bearer(make_user_token(org, role)))

    assert response.status_code == status
    if status == 403:
        assert "admin" in assert_error(response, 403)["message"]


def test_missing_token_is_401_with_a_challenge(client: FlaskClient) -> None:
    response = client.get("/probe/viewer")

    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_malformed_authorization_header_is_401(client: FlaskClient) -> None:
    assert_error(client.get("/probe/viewer", headers={"Authorization": "Basic dXNlcjpwdw=="}), 401)


def test_unknown_api_token_is_401(client: FlaskClient) -> None:
    assert_error(client.get("/probe/viewer", headers=bearer("obsyk_pat_not-a-real-one")), 401)


def test_revoked_api_token_is_401(
    app: Flask, client: FlaskClient, org: Organization, make_user_token: Callable[..., str]
) -> None:
    token = make_user_token(org, "owner")
    storage = get_state(app).storage
    record = storage.find_api_token(hash_token(token))
    assert record is not None
    storage.revoke_api_token(record.id, datetime.now(UTC))

    assert_error(client.get("/probe/viewer", headers=bearer(token)), 401)


def test_no_view_code_runs_for_a_refused_caller(
    app: Flask, client: FlaskClient, org: Organization, make_user_token: Callable[..., str]
) -> None:
    """401 and 403 come from the guard, before the view body (and its own refusals)."""
    viewer, member = make_user_token(org, "viewer"), make_user_token(org, "member")
    RAN.clear()
    assert_error(client.get("/probe/admin", headers=bearer(viewer)), 403)
    assert_error(client.post("/probe/refuses", headers=bearer(viewer)), 403)
    for path in ("/probe/viewer", "/probe/admin"):
        assert_error(client.get(path), 401)
        assert_error(client.get(path, headers=bearer("obsyk_pat_unknown")), 401)
    assert_error(client.post("/probe/refuses"), 401)
    assert RAN == []

    assert_error(client.post("/probe/refuses", headers=bearer(member)), 422)
    assert RAN == ["refuses"]


def test_a_role_change_or_removal_bites_on_the_next_request(
    app: Flask, client: FlaskClient, org: Organization, make_user_token: Callable[..., str]
) -> None:
    token = make_user_token(org, "admin")
    storage = get_state(app).storage
    record = storage.find_api_token(hash_token(token))
    assert record is not None
    assert client.get("/probe/admin", headers=bearer(token)).status_code == 200

    storage.set_membership(org.id, record.user_id, "viewer")
    assert_error(client.get("/probe/admin", headers=bearer(token)), 403)


def test_requires_takes_only_a_declared_permission() -> None:
    with pytest.raises(TypeError):
        requires("admin")  # type: ignore[arg-type]


def test_api_token_is_stored_only_as_a_hash(
    app: Flask, org: Organization, make_user_token: Callable[..., str]
) -> None:
    token = make_user_token(org, "viewer")
    record = get_state(app).storage.find_api_token(hash_token(token))

    assert token.startswith("obsyk_pat_")
    assert record is not None and token not in record.token_hash


def test_token_acts_in_its_own_org_only(
    app: Flask,
    client: FlaskClient,
    org: Organization,
    make_org: Callable[..., Organization],
    make_user_token: Callable[..., str],
) -> None:
    # A token belongs to one org: the same person's role elsewhere changes nothing.
    token = make_user_token(org, "admin", email="mover@example.com")
    other = make_org()
    make_user_token(other, "owner", email="mover@example.com")

    assert client.get("/probe/admin", headers=bearer(token)).get_json()["role"] == "admin"


def test_access_token_does_not_open_user_endpoints(
    client: FlaskClient,
    org: Organization,
    make_cluster: Callable[..., ClusterKeys],
    agent_token: Callable[..., str],
) -> None:
    token = agent_token(make_cluster(org))

    assert_error(client.get("/probe/viewer", headers=bearer(token)), 401)


# --------------------------------------------------------------------------- operators


def test_agent_token_identifies_org_cluster_and_credential(
    client: FlaskClient,
    org: Organization,
    make_cluster: Callable[..., ClusterKeys],
    agent_token: Callable[..., str],
) -> None:
    keys = make_cluster(org)

    response = client.get("/probe/agent", headers=bearer(agent_token(keys)))

    assert response.get_json() == {
        "org": org.id,
        "cluster": keys.cluster.id,
        "client": keys.client_id,
    }


def test_api_token_does_not_open_agent_endpoints(
    client: FlaskClient, org: Organization, make_user_token: Callable[..., str]
) -> None:
    assert_error(client.get("/probe/agent", headers=bearer(make_user_token(org))), 401)


def test_garbage_and_tampered_access_tokens_are_401(
    client: FlaskClient,
    org: Organization,
    make_cluster: Callable[..., ClusterKeys],
    agent_token: Callable[..., str],
) -> None:
    token = agent_token(make_cluster(org))
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload[:-2]}xx.{signature}"

    assert_error(client.get("/probe/agent", headers=bearer("abc.def.ghi")), 401)
    assert_error(client.get("/probe/agent", headers=bearer(tampered)), 401)


def test_expired_access_token_is_401(
    app: Flask, client: FlaskClient, org: Organization, make_cluster: Callable[..., ClusterKeys]
) -> None:
    keys = make_cluster(org)
    tokens = get_state(app).access_tokens
    credential = get_state(app).storage.get_credential(keys.client_id)
    tokens.lifetime_seconds = -120  # issued already expired
    token = tokens.issue(credential)

    assert (
        "expired"
        in assert_error(client.get("/probe/agent", headers=bearer(token)), 401)["message"].lower()
    )


def test_token_signed_by_another_platform_is_401(
    app: Flask, client: FlaskClient, org: Organization, make_cluster: Callable[..., ClusterKeys]
) -> None:
    from reference_app.auth.access_tokens import AccessTokens

    keys = make_cluster(org)
    credential = get_state(app).storage.get_credential(keys.client_id)
    assert credential is not None
    foreign = AccessTokens(get_state(app).storage, "another platform's secret").issue(credential)

    assert_error(client.get("/probe/agent", headers=bearer(foreign)), 401)


def test_revoked_credential_token_stops_working_within_a_minute(
    app: Flask,
    client: FlaskClient,
    org: Organization,
    make_cluster: Callable[..., ClusterKeys],
    agent_token: Callable[..., str],
) -> None:
    keys = make_cluster(org)
    token = agent_token(keys)
    tokens = get_state(app).access_tokens
    assert client.get("/probe/agent", headers=bearer(token)).status_code == 200

    get_state(app).storage.revoke_credential(keys.client_id, datetime.now(UTC))
    start = time.monotonic()
    tokens.clock = lambda: start + 61

    assert (
        "revoked" in assert_error(client.get("/probe/agent", headers=bearer(token)), 401)["message"]
    )


def test_deleted_cluster_token_stops_working(
    app: Flask,
    client: FlaskClient,
    org: Organization,
    make_cluster: Callable[..., ClusterKeys],
    agent_token: Callable[..., str],
) -> None:
    keys = make_cluster(org)
    token = agent_token(keys)
    get_state(app).storage.delete_cluster(org.id, keys.cluster.id)

    assert_error(client.get("/probe/agent", headers=bearer(token)), 401)


def test_remembered_revocation_statuses_are_bounded(
    app: Flask,
    org: Organization,
    make_cluster: Callable[..., ClusterKeys],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A platform verifying tokens of more credentials than it may remember keeps a
    # fixed footprint: the status remembered longest ago is read again when needed.
    from reference_app.auth.access_tokens import AccessTokens

    storage = get_state(app).storage
    credentials = [storage.get_credential(make_cluster(org).client_id) for _ in range(3)]
    tokens = AccessTokens(storage, "a secret", max_remembered=2)
    issued = [tokens.issue(credential) for credential in credentials if credential is not None]
    reads: list[str] = []
    read_credential = storage.get_credential

    def counting_read(client_id: str) -> Any:
        reads.append(client_id)
        return read_credential(client_id)

    monkeypatch.setattr(storage, "get_credential", counting_read)
    first, second, third = (tokens.verify(token).client_id for token in issued)
    tokens.verify(issued[2])
    tokens.verify(issued[0])

    assert reads == [first, second, third, first]


# --------------------------------------------------------------------------- cookie sessions


def test_bearer_token_paths_open_no_cookie_session(embedded_app: Flask) -> None:
    """API calls neither read nor set a session cookie; other pages keep working sessions."""
    blp = Blueprint("session_probe", __name__)

    @blp.get("/api/v1/session-probe")
    @blp.get("/oauth/session-probe")
    @blp.get("/dashboard/session-probe")
    def probe() -> dict[str, Any]:
        if current_app.session_interface.is_null_session(session):
            return {"visits": None}
        session["visits"] = session.get("visits", 0) + 1
        return {"visits": session["visits"]}

    embedded_app.register_blueprint(blp)
    client = embedded_app.test_client()
    page = [client.get("/dashboard/session-probe") for _ in range(2)]
    assert [r.get_json()["visits"] for r in page] == [1, 2]
    assert "session=" in page[0].headers["Set-Cookie"]
    for path in ("/api/v1/session-probe", "/oauth/session-probe"):
        response = client.get(path)  # the test client still sends the page's cookie
        assert response.get_json() == {"visits": None}
        assert "Set-Cookie" not in response.headers
