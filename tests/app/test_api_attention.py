"""GET /api/v1/attention: silent clusters and resources in trouble, for the caller's org only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent_wire import Agent, User, new_cluster_uid, pod
from flask import Flask
from flask.testing import FlaskClient

from obsyk_core.storage import ClusterSeen
from reference_app.state import get_state


def _now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat().replace("+00:00", "Z")


def test_attention_lists_the_orgs_trouble_and_silent_clusters(
    app: Flask, client: FlaskClient, make_org, make_cluster, agent_token, make_user_token
) -> None:
    org = make_org()
    keys = make_cluster(org, "prod")
    agent = Agent(client, agent_token(keys), new_cluster_uid(), keys.cluster.id, org.id)
    crash = {"name": "app", "image": "a:1", "ready": False, "restart_count": 7,
             "state": "waiting", "reason": "CrashLoopBackOff"}  # fmt: skip
    response = agent.snapshot(
        pods=[
            pod("u-ok", "ok", "shop", phase="Running",
                containers=[{"name": "app", "image": "a:1", "ready": True, "restart_count": 0}]),
            pod("u-crash", "crash", "shop", phase="Running", containers=[crash]),
            pod("u-stuck", "stuck", "shop", phase="Pending",
                k8s_created_at=_now_iso(-timedelta(hours=1))),
        ],
        nodes=[{"uid": "u-node", "name": "node-1", "status": "NotReady"}],
        deployments=[{"uid": "u-dep", "name": "web", "namespace": "shop", "replicas": 3,
                      "ready_replicas": 2, "available_replicas": 2, "updated_replicas": 3}],
        events=[{"uid": "u-ev", "name": "crash.1", "namespace": "shop", "type": "Warning",
                 "reason": "BackOff", "message": "Back-off restarting failed container",
                 "involved_object": {"kind": "Pod", "name": "crash", "uid": "u-crash"},
                 "last_timestamp": _now_iso(-timedelta(minutes=3)), "count": 4}],
    )  # fmt: skip
    assert response.status_code == 200, response.get_json()
    silent = make_cluster(org, "edge").cluster
    get_state(app).storage.mark_cluster_seen(
        silent.id, ClusterSeen(seen_at=datetime.now(UTC) - timedelta(hours=2))
    )
    # Another org's trouble never shows.
    other = make_org()
    other_keys = make_cluster(other, "theirs")
    other_agent = Agent(
        client, agent_token(other_keys), new_cluster_uid(), other_keys.cluster.id, other.id
    )
    assert other_agent.snapshot(pods=[pod("x", "x", phase="Failed")]).status_code == 200

    user = User(client, make_user_token(org, "viewer"))
    body = user.get("/api/v1/attention").get_json()
    assert [(c["name"], c["cluster_id"]) for c in body["disconnected"]] == [("edge", silent.id)]
    assert [(i["kind"], i["name"], i["reason"], i["detail"]) for i in body["items"]] == [
        ("Deployment", "web", "BelowDesired", "2 of 3 ready"),
        ("Event", "crash.1", "Warning", "BackOff: Back-off restarting failed container"),
        ("Node", "node-1", "NotReady", "node status NotReady"),
        ("Pod", "crash", "CrashLoopBackOff", "container app"),
        ("Pod", "stuck", "Pending", body["items"][4]["detail"]),
    ]
    assert {i["cluster_name"] for i in body["items"]} == {"prod"}
    assert body["truncated"] is False

    one = user.get("/api/v1/attention", cluster_id=silent.id).get_json()
    assert one["items"] == [] and [c["name"] for c in one["disconnected"]] == ["edge"]
    refused = user.get("/api/v1/attention", cluster_id=other_keys.cluster.id)
    assert refused.status_code == 404
