"""GET .../resources/<uid>/related: the objects around an object, from the kinds' relations."""

from __future__ import annotations

from typing import Any

import pytest
from agent_wire import Agent, User, new_cluster_uid, pod
from flask import Flask
from flask.testing import FlaskClient

WEB_LABELS = {"app": "web", "pod-template-hash": "5d8f"}


@pytest.fixture
def shop(
    app: Flask, client: FlaskClient, make_org, make_cluster, agent_token, make_user_token
) -> tuple[Agent, User]:
    org = make_org()
    keys = make_cluster(org)
    agent = Agent(client, agent_token(keys), new_cluster_uid(), keys.cluster.id, org.id)
    volumes = [
        {"name": "conf", "type": "configMap", "source": "web-config"},
        {"name": "tls", "type": "secret", "source": "web-tls"},
        {"name": "gone", "type": "pvc", "source": "no-such-claim"},
    ]
    response = agent.snapshot(
        # Upstream-shaped: no owner_references; the owner is derived.
        pods=[
            pod("u-web", "web-5d8f-x7k2q", "shop", labels=WEB_LABELS, volumes=volumes,
                service_account="web-sa", node_name="node-1"),
            pod("u-other", "other-1", "shop", labels={"app": "other"}),
            # Our operator's record: the owner by uid.
            pod("u-db-0", "db-0", "shop", labels={"app": "db"},
                owner_references=[{"kind": "StatefulSet", "name": "db", "uid": "u-db",
                                   "controller": True}]),
        ],
        deployments=[{"uid": "u-dep", "name": "web", "namespace": "shop",
                      "selector": {"app": "web"}, "replicas": 1}],
        statefulsets=[{"uid": "u-db", "name": "db", "namespace": "shop",
                       "selector": {"app": "db"}, "replicas": 1}],
        services=[{"uid": "u-svc", "name": "web", "namespace": "shop",
                   "selector": {"app": "web"}}],
        ingresses=[{"uid": "u-ing", "name": "web", "namespace": "shop",
                    "rules": [{"host": "shop.example", "paths": [{"service_name": "web"}]}]}],
        network_policies=[{"uid": "u-np", "name": "web-only", "namespace": "shop",
                           "pod_selector": {"app": "web"}}],
        configmaps=[{"uid": "u-cm", "name": "web-config", "namespace": "shop"}],
        secrets=[{"uid": "u-sec", "name": "web-tls", "namespace": "shop"}],
        service_accounts=[{"uid": "u-sa", "name": "web-sa", "namespace": "shop"}],
        nodes=[{"uid": "u-node", "name": "node-1"}],
        events=[
            {"uid": "u-ev1", "name": "web.1", "namespace": "shop", "type": "Warning",
             "reason": "BackOff", "message": "Back-off restarting failed container",
             "involved_object": {"kind": "Pod", "name": "web-5d8f-x7k2q", "uid": "u-web"},
             "last_timestamp": "2026-12-05T10:00:00Z", "count": 3},
            {"uid": "u-ev2", "name": "other.1", "namespace": "shop", "type": "Normal",
             "reason": "Pulled", "message": "pulled",
             "involved_object": {"kind": "Pod", "name": "other-1", "uid": "u-other"}},
        ],
    )  # fmt: skip
    assert response.status_code == 200, response.get_json()
    return agent, User(client, make_user_token(org, "viewer"))


def _related(agent: Agent, user: User, uid: str) -> dict[str, Any]:
    response = user.get(f"/api/v1/clusters/{agent.cluster_id}/resources/{uid}/related")
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _names(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(item["kind"], item["name"]) for item in items]


def test_a_pod_leads_to_its_deployment_services_references_and_events(shop) -> None:
    related = _related(*shop, "u-web")
    # The ReplicaSet is not in the inventory: named from pod-template-hash, then its Deployment.
    assert _names(related["owners"]) == [("ReplicaSet", "web-5d8f"), ("Deployment", "web")]
    assert related["owners"][0]["missing"] is True and related["owners"][0]["uid"] is None
    assert related["owners"][1]["uid"] == "u-dep"
    assert sorted(_names(related["selected_by"])) == [
        ("Deployment", "web"), ("NetworkPolicy", "web-only"),
    ]  # fmt: skip
    assert sorted(_names(related["routes"])) == [("Ingress", "web"), ("Service", "web")]
    uses = {(item["kind"], item["name"]): item for item in related["uses"]}
    assert uses.keys() == {
        ("ConfigMap", "web-config"), ("Secret", "web-tls"),
        ("PersistentVolumeClaim", "no-such-claim"), ("ServiceAccount", "web-sa"),
        ("Node", "node-1"),
    }  # fmt: skip
    assert uses[("Node", "node-1")]["uid"] == "u-node"
    assert uses[("PersistentVolumeClaim", "no-such-claim")]["missing"] is True
    assert [(e["name"], e["event"]["reason"]) for e in related["events"]] == [("web.1", "BackOff")]


def test_a_deployment_owns_and_selects_its_pods_not_others(shop) -> None:
    related = _related(*shop, "u-dep")
    assert _names(related["selects"]) == [("Pod", "web-5d8f-x7k2q")]
    assert _names(related["owned"]) == [("Pod", "web-5d8f-x7k2q")]
    assert related["owners"] == [] and related["events"] == []


def test_service_ingress_and_configmap_views(shop) -> None:
    service = _related(*shop, "u-svc")
    assert sorted(_names(service["routes"])) == [("Ingress", "web"), ("Pod", "web-5d8f-x7k2q")]
    ingress = _related(*shop, "u-ing")
    assert _names(ingress["routes"]) == [("Service", "web")]
    config = _related(*shop, "u-cm")
    assert _names(config["used_by"]) == [("Pod", "web-5d8f-x7k2q")]


def test_owner_references_are_followed_by_uid(shop) -> None:
    related = _related(*shop, "u-db-0")
    assert [(o["kind"], o["uid"]) for o in related["owners"]] == [("StatefulSet", "u-db")]


def test_unknown_resource_and_other_orgs_cluster_answer_404(
    shop, make_org, make_user_token, client: FlaskClient
) -> None:
    agent, user = shop
    resources = f"/api/v1/clusters/{agent.cluster_id}/resources"
    assert user.get(f"{resources}/nope/related").status_code == 404
    stranger = User(client, make_user_token(make_org(), "owner"))
    path = f"{resources}/u-web/related"
    answer = stranger.get(path)
    assert answer.status_code == 404 and answer.get_json()["code"] == "not_found"
