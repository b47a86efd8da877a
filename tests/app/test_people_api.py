"""Members, invitations, tokens, the audit log and the org, through the REST API (API tokens)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from app_support import embedded_config
from flask import Flask
from flask.testing import FlaskClient

from obsyk_core.storage import Organization
from reference_app import create_app
from reference_app.app import close_app
from reference_app.auth.api_tokens import hash_token
from reference_app.state import get_state


class Caller:
    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.token = client, token

    def __call__(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        return self.client.open(
            path,
            method=method,
            json=body,
            query_string=query,
            headers={"Authorization": f"Bearer {self.token}"},
        )


@pytest.fixture
def org(make_org: Callable[..., Organization]) -> Organization:
    return make_org()


@pytest.fixture
def as_role(
    client: FlaskClient, org: Organization, make_user_token: Callable[..., str]
) -> Callable[[str], Caller]:
    return lambda role: Caller(client, make_user_token(org, role))


def _user_id(app: Flask, token: str) -> str:
    record = get_state(app).storage.find_api_token(hash_token(token))
    assert record is not None
    return record.user_id


def test_the_last_owner_cannot_be_removed_or_demoted(
    app: Flask, as_role: Callable[[str], Caller]
) -> None:
    owner = as_role("owner")
    me = _user_id(app, owner.token)

    demote = owner("PATCH", f"/api/v1/members/{me}", {"role": "admin"})
    remove = owner("DELETE", f"/api/v1/members/{me}")

    assert demote.status_code == 409 and demote.get_json()["code"] == "conflict"
    assert remove.status_code == 409
    second = as_role("owner")
    assert owner("PATCH", f"/api/v1/members/{me}", {"role": "admin"}).status_code == 200
    assert second("GET", "/api/v1/me").get_json()["organization"]["role"] == "owner"


def test_an_admin_cannot_make_or_unmake_owners(
    app: Flask, as_role: Callable[[str], Caller]
) -> None:
    admin, owner, member = as_role("admin"), as_role("owner"), as_role("member")
    owner_id, member_id = _user_id(app, owner.token), _user_id(app, member.token)

    promote = admin("PATCH", f"/api/v1/members/{member_id}", {"role": "owner"})
    demote = admin("PATCH", f"/api/v1/members/{owner_id}", {"role": "viewer"})
    remove = admin("DELETE", f"/api/v1/members/{owner_id}")
    invite_owner = admin("POST", "/api/v1/invitations", {"email": "o@x.io", "role": "owner"})

    assert [r.status_code for r in (promote, demote, remove, invite_owner)] == [403] * 4
    assert admin("PATCH", f"/api/v1/members/{member_id}", {"role": "viewer"}).status_code == 200
    assert owner("PATCH", f"/api/v1/members/{member_id}", {"role": "owner"}).status_code == 200


def test_a_removed_members_tokens_stop_at_once(
    app: Flask, as_role: Callable[[str], Caller]
) -> None:
    admin, member = as_role("admin"), as_role("member")
    assert member("GET", "/api/v1/me").status_code == 200

    assert admin("DELETE", f"/api/v1/members/{_user_id(app, member.token)}").status_code == 204

    assert member("GET", "/api/v1/me").status_code == 401
    items = admin("GET", "/api/v1/members").get_json()["items"]
    assert {item["role"] for item in items} == {"admin"}


def test_invitations_are_created_listed_and_revoked_with_a_local_link(
    as_role: Callable[[str], Caller],
) -> None:
    admin = as_role("admin")
    created = admin("POST", "/api/v1/invitations", {"email": "new@x.io", "role": "viewer"})

    assert created.status_code == 201
    body = created.get_json()
    assert body["delivery"] == "link" and body["state"] == "pending"
    assert body["accept_url"].startswith("https://obsyk.test/auth/login?invitation=")
    listed = admin("GET", "/api/v1/invitations").get_json()["items"]
    assert [i["email"] for i in listed] == ["new@x.io"] and "accept_url" not in listed[0]
    assert (
        admin("POST", "/api/v1/invitations", {"email": "bad", "role": "viewer"}).status_code == 422
    )
    assert admin("DELETE", f"/api/v1/invitations/{body['id']}").status_code == 204
    assert admin("DELETE", f"/api/v1/invitations/{body['id']}").status_code == 404
    assert admin("GET", "/api/v1/invitations").get_json()["items"] == []


def test_inviting_a_member_again_is_a_conflict(as_role: Callable[[str], Caller]) -> None:
    admin, member = as_role("admin"), as_role("member")
    email = member("GET", "/api/v1/me").get_json()["user"]["email"]
    assert (
        admin("POST", "/api/v1/invitations", {"email": email, "role": "admin"}).status_code == 409
    )


def test_tokens_are_shown_once_listed_without_secret_and_revoked(
    app: Flask, as_role: Callable[[str], Caller]
) -> None:
    member = as_role("member")
    created = member("POST", "/api/v1/tokens", {"name": "ci", "expires_in_days": 30})

    assert created.status_code == 201
    issued = created.get_json()
    assert issued["token"].startswith("obsyk_pat_") and issued["expires_at"]
    listed = member("GET", "/api/v1/tokens").get_json()["items"]
    assert issued["id"] in {t["id"] for t in listed}
    assert issued["token"] not in str(listed)
    fresh = Caller(member.client, issued["token"])
    assert fresh("GET", "/api/v1/me").get_json()["auth"] == "token"
    assert member("DELETE", f"/api/v1/tokens/{issued['id']}").status_code == 204
    assert fresh("GET", "/api/v1/me").status_code == 401


def test_admins_list_and_revoke_any_token_members_only_theirs(
    app: Flask, as_role: Callable[[str], Caller]
) -> None:
    admin, member, other = as_role("admin"), as_role("member"), as_role("member")
    theirs = other("POST", "/api/v1/tokens", {"name": "theirs"}).get_json()["id"]

    assert member("GET", "/api/v1/tokens", all="true").status_code == 403
    assert member("DELETE", f"/api/v1/tokens/{theirs}").status_code == 404
    everyone = admin("GET", "/api/v1/tokens", all="true").get_json()["items"]
    assert theirs in {t["id"] for t in everyone}
    assert admin("DELETE", f"/api/v1/tokens/{theirs}").status_code == 204


def test_an_expired_token_is_refused(app: Flask, as_role: Callable[[str], Caller]) -> None:
    from datetime import UTC, datetime, timedelta

    member = as_role("member")
    storage = get_state(app).storage
    record = storage.find_api_token(hash_token(member.token))
    assert record is not None
    secret = "obsyk_pat_expired-" + uuid.uuid4().hex
    for expires_at, status in ((timedelta(minutes=5), 200), (timedelta(seconds=-1), 401)):
        storage.create_api_token(
            record.org_id,
            record.user_id,
            hash_token(secret + str(status)),
            "timed",
            expires_at=datetime.now(UTC) + expires_at,
        )
        answer = Caller(member.client, secret + str(status))("GET", "/api/v1/me")
        assert answer.status_code == status
    assert "expired" in answer.get_json()["message"]


def test_the_audit_log_records_filters_and_pages(
    app: Flask, as_role: Callable[[str], Caller]
) -> None:
    admin, owner = as_role("admin"), as_role("owner")
    admin("POST", "/api/v1/clusters", {"name": "audited"})
    for n in range(3):
        admin("POST", "/api/v1/invitations", {"email": f"p{n}@x.io", "role": "member"})
    owner("PATCH", "/api/v1/org", {"name": f"renamed-{uuid.uuid4().hex[:6]}"})

    everything = admin("GET", "/api/v1/audit").get_json()
    actions = [item["action"] for item in everything["items"]]
    assert actions[0] == "org.updated" and actions[-1] == "cluster.registered"
    assert actions.count("member.invited") == 3
    first = everything["items"][-1]
    assert first["actor"]["type"] == "token" and first["target"]["type"] == "cluster"
    assert first["ip"] == "127.0.0.1"
    page = admin("GET", "/api/v1/audit", limit=2).get_json()
    rest = admin("GET", "/api/v1/audit", limit=10, cursor=page["next_cursor"]).get_json()
    assert [i["id"] for i in page["items"] + rest["items"]] == [
        i["id"] for i in everything["items"]
    ]
    invited = admin("GET", "/api/v1/audit", action="member.invited").get_json()["items"]
    assert len(invited) == 3
    by_email = admin("GET", "/api/v1/audit", actor=first["actor"]["email"]).get_json()["items"]
    assert {i["action"] for i in by_email} == {"cluster.registered", "member.invited"}
    assert admin("GET", "/api/v1/audit", action="nope").status_code == 422
    assert as_role("member")("GET", "/api/v1/audit").status_code == 403


def test_owners_link_the_org_to_a_workos_organization(
    app: Flask, client: FlaskClient, as_role: Callable[[str], Caller], make_org: Callable[..., Any]
) -> None:
    owner = as_role("owner")
    workos_id = f"org_{uuid.uuid4().hex[:10]}"

    linked = owner("PATCH", "/api/v1/org", {"workos_organization_id": workos_id})

    assert linked.status_code == 200 and linked.get_json()["workos_organization_id"] == workos_id
    assert owner("GET", "/api/v1/org").get_json()["workos_organization_id"] == workos_id
    other_org = make_org()
    from app_support import new_user_token

    other_owner = Caller(client, new_user_token(app, other_org, "owner"))
    clash = other_owner(
        "PATCH", "/api/v1/org", {"name": "would-change", "workos_organization_id": workos_id}
    )
    assert clash.status_code == 409
    assert get_state(app).storage.get_org(other_org.id).name == other_org.name  # type: ignore[union-attr]
    assert owner("PATCH", "/api/v1/org", {"workos_organization_id": None}).status_code == 200


def test_auth_endpoints_are_rate_limited_and_agent_endpoints_are_not(tmp_path: Path) -> None:
    app = create_app(embedded_config(tmp_path, RATE_LIMIT_AUTH="3/minute"))
    try:
        client = app.test_client()
        answers = [client.get("/auth/login").status_code for _ in range(4)]
        limited = client.get("/auth/login")
        token_answers = [client.post("/oauth/token", data={}).status_code for _ in range(4)]
        heartbeat = [client.post("/api/v1/agent/heartbeat", json={}).status_code for _ in range(5)]
    finally:
        close_app(app)
    assert answers == [200, 200, 200, 429]
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert token_answers[-1] == 429 and 429 not in token_answers[:3]
    assert 429 not in heartbeat  # 401s: not signed in, but never limited


def test_an_owner_deletes_the_org_after_confirming_its_name(
    app: Flask, org: Organization, as_role: Callable[[str], Caller]
) -> None:
    owner, viewer = as_role("owner"), as_role("viewer")
    cluster = owner("POST", "/api/v1/clusters", {"name": "doomed"}).get_json()["cluster_id"]

    unconfirmed = owner("DELETE", "/api/v1/org", confirm="not-the-name")
    assert unconfirmed.status_code == 422 and "confirm" in unconfirmed.get_json()["errors"]
    assert owner("DELETE", "/api/v1/org", confirm=org.name).status_code == 204

    storage = get_state(app).storage
    assert storage.get_org(org.id) is None and storage.get_cluster(org.id, cluster) is None
    assert viewer("GET", "/api/v1/me").status_code == 401
    assert owner("GET", "/api/v1/clusters").status_code == 401


def test_behind_trusted_proxies_the_client_address_comes_from_x_forwarded_for(
    tmp_path: Path, make_org: Callable[..., Any]
) -> None:
    from app_support import new_user_token

    app = create_app(embedded_config(tmp_path, PROXY_HOPS=1, RATE_LIMIT_AUTH="2/minute"))
    try:
        client = app.test_client()
        org = get_state(app).storage.create_org("proxied")
        admin = {"Authorization": f"Bearer {new_user_token(app, org, 'admin')}"}
        forwarded = {**admin, "X-Forwarded-For": "203.0.113.7"}
        client.post("/api/v1/clusters", json={"name": "behind"}, headers=forwarded)
        entry = client.get("/api/v1/audit", headers=admin).get_json()["items"][0]
        # Two clients behind the same proxy each get their own allowance.
        one = [
            client.get("/auth/login", headers={"X-Forwarded-For": "198.51.100.1"}) for _ in range(3)
        ]
        two = client.get("/auth/login", headers={"X-Forwarded-For": "198.51.100.2"})
    finally:
        close_app(app)
    assert entry["ip"] == "203.0.113.7"
    assert [r.status_code for r in one] == [200, 200, 429] and two.status_code == 200
