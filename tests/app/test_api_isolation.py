"""Org isolation, both ways: another org's clusters and resources are 404, never listed."""

from __future__ import annotations

from agent_wire import Agent, User, new_cluster_uid, pod
from flask import Flask
from flask.testing import FlaskClient


def test_orgs_never_see_each_other(
    app: Flask, client: FlaskClient, make_org, make_cluster, make_user_token, agent_token
) -> None:
    sides = []
    for name in ("a", "b"):
        org = make_org()
        keys = make_cluster(org)
        agent = Agent(client, agent_token(keys), new_cluster_uid(), keys.cluster.id, org.id)
        assert agent.snapshot(pods=[pod(f"{name}-pod", f"{name}-pod")]).status_code == 200
        sides.append((User(client, make_user_token(org, "owner")), keys))

    for (me, mine), (_, theirs) in (tuple(sides), tuple(reversed(sides))):
        other = f"/api/v1/clusters/{theirs.cluster.id}"
        for path in (other, f"{other}/resources", f"{other}/agents",
                     f"{other}/resources/{theirs.cluster.id}", f"{other}/credentials"):  # fmt: skip
            response = me.get(path)
            assert response.status_code == 404, path
            assert theirs.cluster.name not in response.get_data(as_text=True)
        assert me.delete(other).status_code == 404
        assert me.post(f"{other}/credentials", {}).status_code == 404
        assert me.delete(f"{other}/credentials/{theirs.client_id}").status_code == 404
        # Their resource uid, asked under my cluster: also nothing.
        pod_uid = "b-pod" if mine is sides[0][1] else "a-pod"
        assert me.get(f"/api/v1/clusters/{mine.cluster.id}/resources/{pod_uid}").status_code == 404

        assert [c["id"] for c in me.get("/api/v1/clusters").get_json()["items"]] == [
            mine.cluster.id
        ]
        fleet = me.all_resources("/api/v1/resources")
        assert {item["cluster_id"] for item in fleet} == {mine.cluster.id}
        assert me.get("/api/v1/resources", cluster_id=theirs.cluster.id).status_code == 404
        summary = me.get("/api/v1/summary").get_json()
        assert [c["cluster_id"] for c in summary["by_cluster"]] == [mine.cluster.id]
        assert me.get("/api/v1/summary", cluster_id=theirs.cluster.id).status_code == 404

    # Both still exist for their owners.
    for user, keys in sides:
        assert user.get(f"/api/v1/clusters/{keys.cluster.id}").status_code == 200


def test_an_org_without_clusters_sees_an_empty_fleet(
    app: Flask, client: FlaskClient, make_org, make_cluster, make_user_token, agent_token
) -> None:
    busy = make_org()
    keys = make_cluster(busy)
    Agent(client, agent_token(keys), new_cluster_uid()).snapshot(pods=[pod("p", "p")])
    empty = User(client, make_user_token(make_org(), "viewer"))
    assert empty.get("/api/v1/resources").get_json() == {"items": [], "next_cursor": None}
    summary = empty.get("/api/v1/summary").get_json()
    assert (summary["total"], summary["by_cluster"], summary["images"]) == (0, [], [])
