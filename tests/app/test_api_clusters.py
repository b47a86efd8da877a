"""Clusters and credentials through the REST API: roles, registration, rotation, revocation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from agent_wire import User
from app_support import ClusterKeys
from flask import Flask
from flask.testing import FlaskClient

from obsyk_core.storage import ClusterSeen, Credential, Organization, Storage, StorageError
from obsyk_plugins.memory_storage import MemoryStorage
from reference_app.auth.credentials import generate_key_pair, register_cluster
from reference_app.state import get_state


@pytest.mark.parametrize(
    ("role", "can_manage"),
    [("viewer", False), ("member", False), ("admin", True), ("owner", True)],
)
def test_role_matrix(
    app: Flask, client: FlaskClient, make_org, make_user_token, make_cluster, role, can_manage
) -> None:
    org = make_org()
    existing = make_cluster(org).cluster
    user = User(client, make_user_token(org, role))
    path = f"/api/v1/clusters/{existing.id}"

    assert user.get("/api/v1/clusters").status_code == 200
    assert user.get(path).status_code == 200
    assert user.get(f"{path}/resources").status_code == 200
    assert user.get("/api/v1/summary").status_code == 200

    created = user.post("/api/v1/clusters", {"name": "new-one"})
    rotated = user.post(f"{path}/credentials", {})
    deleted = user.delete(path)
    if can_manage:
        assert (created.status_code, rotated.status_code, deleted.status_code) == (201, 201, 204)
        assert user.get(path).status_code == 404
    else:
        for response in (created, rotated, deleted):
            assert response.status_code == 403
            assert response.get_json()["code"] == "forbidden"
        names = [c["name"] for c in user.get("/api/v1/clusters").get_json()["items"]]
        assert names == [existing.name]
        assert len(get_state(app).storage.list_credentials(existing.id)) == 1


def test_register_with_generated_key_then_operator_gets_a_token(
    app: Flask, client: FlaskClient, make_org, make_user_token, make_assertion
) -> None:
    admin = User(client, make_user_token(make_org(), "admin"))
    response = admin.post("/api/v1/clusters", {"name": "prod"})
    assert response.status_code == 201
    registration = response.get_json()
    assert registration["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert registration["cluster"]["status"] == "pending"
    assert registration["cluster"]["resource_counts"] == {}
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": make_assertion(registration["private_key"], registration["client_id"]),
        },
    )
    assert token.status_code == 200
    # The private key is never shown again.
    cluster = admin.get(f"/api/v1/clusters/{registration['cluster_id']}").get_json()
    assert "private_key" not in cluster


def test_register_with_own_public_key_and_bad_inputs(
    app: Flask, client: FlaskClient, make_org, make_user_token
) -> None:
    admin = User(client, make_user_token(make_org(), "owner"))
    _, public_pem = generate_key_pair()
    ok = admin.post("/api/v1/clusters", {"name": "byo", "public_key": public_pem})
    assert ok.status_code == 201 and ok.get_json()["private_key"] is None

    duplicate = admin.post("/api/v1/clusters", {"name": "byo"})
    assert duplicate.status_code == 409
    bad_key = admin.post("/api/v1/clusters", {"name": "other", "public_key": "nope"})
    assert bad_key.status_code == 422 and list(bad_key.get_json()["errors"]) == ["public_key"]
    missing = admin.post("/api/v1/clusters", {"public_key": public_pem, "extra": 1})
    assert missing.status_code == 422
    assert set(missing.get_json()["errors"]) == {"name", "extra"}
    malformed = client.post(
        "/api/v1/clusters",
        data=b"{oops",
        content_type="application/json",
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert malformed.status_code == 400 and malformed.get_json()["code"] == "malformed_json"
    names = [c["name"] for c in admin.get("/api/v1/clusters").get_json()["items"]]
    assert names == ["byo"]


class _FirstCredentialFails(MemoryStorage):
    """A backend on the interface's composed default whose first credential write fails."""

    create_cluster_with_credential = Storage.create_cluster_with_credential

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 1

    def add_credential(self, credential: Credential) -> Credential:
        if self.failures_left:
            self.failures_left -= 1
            raise StorageError("connection lost")
        return super().add_credential(credential)


def test_a_failed_credential_write_leaves_the_cluster_name_free() -> None:
    storage = _FirstCredentialFails()
    org = storage.create_org("acme")
    with pytest.raises(StorageError):
        register_cluster(storage, org.id, "prod")
    assert storage.list_clusters(org.id) == []

    # Retrying works instead of answering "name taken" forever.
    registration = register_cluster(storage, org.id, "prod")
    assert [c.id for c in storage.list_clusters(org.id)] == [registration.cluster.id]
    assert storage.list_credentials(registration.cluster.id) == [registration.credential]


def test_rotate_and_revoke_credentials(
    app: Flask, client: FlaskClient, make_org, make_user_token, make_cluster, make_assertion
) -> None:
    org = make_org()
    keys = make_cluster(org)
    admin = User(client, make_user_token(org, "admin"))
    path = f"/api/v1/clusters/{keys.cluster.id}/credentials"

    def token_status(private_pem: str, client_id: str) -> int:
        return client.post(
            "/oauth/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": make_assertion(private_pem, client_id),
            },
        ).status_code

    # Rotation keeping the old credential: both work.
    kept = admin.post(path, {"revoke_existing": False}).get_json()
    assert token_status(keys.private_key_pem, keys.client_id) == 200
    assert token_status(kept["private_key"], kept["client_id"]) == 200
    listed = admin.get(path).get_json()["items"]
    assert {c["client_id"] for c in listed} == {keys.client_id, kept["client_id"]}
    assert all(c["revoked_at"] is None for c in listed)

    # Revoking one by id.
    assert admin.delete(f"{path}/{keys.client_id}").status_code == 204
    assert token_status(keys.private_key_pem, keys.client_id) in (400, 401)
    assert admin.delete(f"{path}/no-such-client").status_code == 404

    # Default rotation revokes every other credential.
    fresh = admin.post(path, {}).get_json()
    assert token_status(kept["private_key"], kept["client_id"]) in (400, 401)
    assert token_status(fresh["private_key"], fresh["client_id"]) == 200


def test_status_is_computed_from_last_contact(
    app: Flask, client: FlaskClient, make_org, make_user_token, make_cluster
) -> None:
    org = make_org()
    user = User(client, make_user_token(org, "viewer"))
    storage = get_state(app).storage
    threshold = get_state(app).settings.disconnected_after_seconds
    now = datetime.now(UTC)
    pending = make_cluster(org, "a-pending").cluster
    connected = make_cluster(org, "b-connected").cluster
    gone = make_cluster(org, "c-gone").cluster
    storage.mark_cluster_seen(connected.id, ClusterSeen(seen_at=now - timedelta(seconds=5)))
    storage.mark_cluster_seen(gone.id, ClusterSeen(seen_at=now - timedelta(seconds=threshold + 60)))
    items = user.get("/api/v1/clusters").get_json()["items"]
    assert [(c["id"], c["status"]) for c in items] == [
        (pending.id, "pending"),
        (connected.id, "connected"),
        (gone.id, "disconnected"),
    ]


def test_cluster_list_pagination(
    app: Flask, client: FlaskClient, make_org, make_user_token, make_cluster
) -> None:
    org = make_org()
    ids = [make_cluster(org, f"c{i:02}").cluster.id for i in range(5)]
    user = User(client, make_user_token(org, "viewer"))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = user.get("/api/v1/clusters", **params).get_json()
        assert len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    bad = user.get("/api/v1/clusters", cursor="!!!")
    assert bad.status_code == 422 and list(bad.get_json()["errors"]) == ["cursor"]


def test_revoked_credential_token_is_refused_at_once(
    app: Flask,
    client: FlaskClient,
    make_org: Callable[..., Organization],
    make_user_token: Callable[..., str],
    make_cluster: Callable[..., ClusterKeys],
    agent_token: Callable[..., str],
) -> None:
    org = make_org()
    admin = User(client, make_user_token(org, "admin"))
    path = "/api/v1/clusters/{}/credentials"

    def heartbeat(token: str) -> int:
        return client.post(
            "/api/v1/agent/heartbeat",
            json={"cluster_uid": "kube-system-uid"},
            headers={"Authorization": f"Bearer {token}"},
        ).status_code

    # Revoking one credential by id.
    revoked = make_cluster(org)
    token = agent_token(revoked)
    assert heartbeat(token) == 200  # the process now remembers "not revoked"
    assert admin.delete(f"{path.format(revoked.cluster.id)}/{revoked.client_id}").status_code == 204
    assert heartbeat(token) == 401

    # A rotation that revokes the existing credentials.
    rotated = make_cluster(org)
    token = agent_token(rotated)
    assert heartbeat(token) == 200
    assert admin.post(path.format(rotated.cluster.id), {}).status_code == 201
    assert heartbeat(token) == 401


def test_deleted_clusters_token_is_refused_at_once(
    client: FlaskClient,
    make_org: Callable[..., Organization],
    make_user_token: Callable[..., str],
    make_cluster: Callable[..., ClusterKeys],
    agent_token: Callable[..., str],
) -> None:
    org = make_org()
    admin = User(client, make_user_token(org, "admin"))
    keys = make_cluster(org)
    token = agent_token(keys)

    def heartbeat() -> int:
        return client.post(
            "/api/v1/agent/heartbeat",
            json={"cluster_uid": "kube-system-uid"},
            headers={"Authorization": f"Bearer {token}"},
        ).status_code

    assert heartbeat() == 200  # the process now remembers "not revoked" and the binding
    assert admin.delete(f"/api/v1/clusters/{keys.cluster.id}").status_code == 204
    assert heartbeat() == 401
