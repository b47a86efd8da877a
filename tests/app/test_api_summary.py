"""The fleet summary: counts by cluster, kind and namespace; images and where they run."""

from __future__ import annotations

import pytest
from agent_wire import Agent, User, new_cluster_uid, pod, upstream_snapshot
from flask import Flask
from flask.testing import FlaskClient

from reference_app.api.summary import routes as summary_routes


def _containers(*images: str) -> list[dict]:
    return [{"name": f"c{i}", "image": image, "ready": True, "restart_count": 0, "resources": {}}
            for i, image in enumerate(images)]  # fmt: skip


def test_summary_counts_and_images(
    app: Flask, client: FlaskClient, make_org, make_cluster, make_user_token, agent_token
) -> None:
    org = make_org()
    first, second = make_cluster(org, "a-first"), make_cluster(org, "b-second")
    uid = new_cluster_uid()
    Agent(client, agent_token(first), uid).post("snapshot", upstream_snapshot(uid))
    Agent(client, agent_token(second), new_cluster_uid()).snapshot(
        pods=[
            pod("x1", "web-x", "shop", containers=_containers("nginx:1.25", "envoy:1.30"),
                init_containers=_containers("nginx:1.25")),
            pod("x2", "batch", "jobs", containers=_containers("python:3.12")),
        ]
    )  # fmt: skip
    user = User(client, make_user_token(org, "viewer"))
    summary = user.get("/api/v1/summary").get_json()

    assert [(c["name"], c["kinds"]["Pod"]) for c in summary["by_cluster"]] == [
        ("a-first", 2), ("b-second", 2),
    ]  # fmt: skip
    assert summary["by_kind"]["Pod"] == 4 and summary["by_kind"]["Namespace"] == 2
    assert summary["total"] == sum(c["count"] for c in summary["by_cluster"])
    shop_second = next(
        n for n in summary["by_namespace"]
        if n["cluster_id"] == second.cluster.id and n["namespace"] == "shop"
    )  # fmt: skip
    assert shop_second["kinds"] == {"Pod": 1}
    # Cluster-scoped kinds have no namespace row.
    assert all(n["namespace"] for n in summary["by_namespace"])

    images = {i["image"]: i for i in summary["images"]}
    assert images["nginx:1.25"]["pods"] == 2  # one pod per cluster; init + main counts once
    assert {(w["cluster_id"], w["pod"]) for w in images["nginx:1.25"]["where"]} == {
        (first.cluster.id, "web-1"), (second.cluster.id, "web-x"),
    }  # fmt: skip
    assert [
        {key: w[key] for key in ("cluster_id", "namespace", "pod")}
        for w in images["busybox:1.36"]["where"]
    ] == [{"cluster_id": first.cluster.id, "namespace": "shop", "pod": "db-0"}]
    assert summary["images"][0]["image"] == "nginx:1.25"  # most used first
    # Where does nginx run: both clusters.
    nginx = user.get("/api/v1/summary", image="nginx").get_json()["images"]
    assert [(i["image"], i["pods"]) for i in nginx] == [("nginx:1.25", 2)]
    assert {w["cluster_id"] for w in nginx[0]["where"]} == {first.cluster.id, second.cluster.id}
    assert user.get("/api/v1/summary", image="").status_code == 422
    only_second = user.get("/api/v1/summary", cluster_id=second.cluster.id).get_json()
    assert {i["image"] for i in only_second["images"]} == {"nginx:1.25", "envoy:1.30",
                                                          "python:3.12"}  # fmt: skip


def test_image_output_is_bounded(
    app: Flask,
    client: FlaskClient,
    make_org,
    make_cluster,
    make_user_token,
    agent_token,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(summary_routes, "IMAGES_LIMIT", 2)
    monkeypatch.setattr(summary_routes, "WHERE_LIMIT", 3)
    org = make_org()
    keys = make_cluster(org)
    pods = [pod(f"p{i}", f"p{i}", containers=_containers("common:1", f"own:{i}")) for i in range(5)]
    Agent(client, agent_token(keys), new_cluster_uid()).snapshot(pods=pods)
    summary = User(client, make_user_token(org, "viewer")).get("/api/v1/summary").get_json()
    assert summary["images_truncated"] is True and len(summary["images"]) == 2
    common = summary["images"][0]
    assert (common["image"], common["pods"], len(common["where"])) == ("common:1", 5, 3)
    assert common["where_truncated"] is True
