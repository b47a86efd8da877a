"""Replay of the upstream Go operator, request for request, as CONTRACT.md describes it.

Token through ``POST /oauth/token`` with an assertion whose ``aud`` is a
one-element array and whose header has no ``kid``; a snapshot with all twenty
arrays; one event per request; a delete without ``object``; heartbeats.  Then
the user API must show that inventory.
"""

from __future__ import annotations

import json

from agent_wire import (
    SNAPSHOT_KEYS,
    UPSTREAM_UIDS,
    Agent,
    User,
    new_cluster_uid,
    upstream_snapshot,
)
from flask import Flask
from flask.testing import FlaskClient


def test_upstream_operator_replay_builds_the_inventory(
    app: Flask, client: FlaskClient, make_org, make_user_token, make_cluster, make_assertion
) -> None:
    org = make_org()
    keys = make_cluster(org)
    user = User(client, make_user_token(org, "viewer"))
    cluster_uid = new_cluster_uid()

    # Token exactly as upstream asks for it.
    token_response = client.post(
        "/oauth/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": make_assertion(keys.private_key_pem, keys.client_id),
        },
    )
    assert token_response.status_code == 200
    agent = Agent(client, token_response.get_json()["access_token"], cluster_uid)

    body = upstream_snapshot(cluster_uid)
    assert set(SNAPSHOT_KEYS) <= set(json.loads(body))
    response = agent.post("snapshot", body)
    assert response.status_code == 200, response.get_json()

    cluster_path = f"/api/v1/clusters/{keys.cluster.id}"
    items = user.all_resources(f"{cluster_path}/resources")
    assert {item["uid"] for item in items} == UPSTREAM_UIDS | {cluster_uid}
    service = next(item for item in items if item["kind"] == "Service")
    # The record comes back as it was sent, camelCase targetPort included.
    assert service["object"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "8080"}
    ]
    web = next(item for item in items if item["uid"] == "pod-web-1")
    assert web["object"]["containers"][0]["resources"] == {}
    assert web["labels"] == {"app": "web", "tier": "front"}
    assert (web["namespace"], web["name"]) == ("shop", "web-1")

    # One event per request, as upstream sends them.
    new_pod = {
        "uid": "pod-web-2",
        "name": "web-2",
        "namespace": "shop",
        "phase": "Pending",
        "containers": [
            {"name": "web", "image": "nginx:1.25", "ready": False, "restart_count": 0,
             "resources": {}}
        ],
    }  # fmt: skip
    added = {"cluster_uid": cluster_uid, "type": "added", "kind": "Pod", "uid": "pod-web-2",
             "name": "web-2", "namespace": "shop", "object": new_pod}  # fmt: skip
    assert agent.post("events", added).status_code == 200
    modified = dict(added, type="modified", object=dict(new_pod, phase="Running"))
    assert agent.post("events", modified).status_code == 200
    # Upstream omits "object" on deletes.
    deleted = {"cluster_uid": cluster_uid, "type": "deleted", "kind": "Pod", "uid": "pod-db-0",
               "name": "db-0", "namespace": "shop"}  # fmt: skip
    assert agent.post("events", deleted).status_code == 200
    heartbeat = agent.post("heartbeat", {"cluster_uid": cluster_uid, "agent_version": "dev"})
    assert heartbeat.status_code == 200

    pods = user.all_resources(f"{cluster_path}/resources", kind="Pod")
    assert {pod["name"]: pod["object"].get("phase") for pod in pods} == {
        "web-1": "Running",
        "web-2": "Running",
    }
    gone = user.get(f"{cluster_path}/resources/pod-db-0").get_json()
    assert gone["deleted_at"] is not None

    cluster = user.get(cluster_path).get_json()
    assert cluster["status"] == "connected"
    assert cluster["cluster_uid"] == cluster_uid
    assert cluster["agent_version"] == "dev"
    assert cluster["last_heartbeat_at"] is not None
    assert cluster["last_snapshot_at"] is not None
    assert cluster["resource_counts"]["Pod"] == 2
    assert cluster["resource_counts"]["Namespace"] == 2
    assert sum(cluster["resource_counts"].values()) == len(UPSTREAM_UIDS) + 1 + 1 - 1

    listed = user.get("/api/v1/clusters").get_json()["items"]
    assert [c["id"] for c in listed] == [keys.cluster.id]


def test_resending_the_same_snapshot_changes_nothing(
    app: Flask, client: FlaskClient, make_org, make_user_token, make_cluster, agent_token
) -> None:
    org = make_org()
    keys = make_cluster(org)
    user = User(client, make_user_token(org, "viewer"))
    cluster_uid = new_cluster_uid()
    agent = Agent(client, agent_token(keys), cluster_uid)
    first = agent.post("snapshot", upstream_snapshot(cluster_uid)).get_json()
    second = agent.post("snapshot", upstream_snapshot(cluster_uid)).get_json()
    assert first["added"] == len(UPSTREAM_UIDS) + 1
    assert (second["added"], second["modified"], second["deleted"]) == (0, 0, 0)
    assert second["unchanged"] == len(UPSTREAM_UIDS) + 1
    history = user.get(f"/api/v1/clusters/{keys.cluster.id}/resources/pod-web-1/history")
    assert len(history.get_json()["items"]) == 1
