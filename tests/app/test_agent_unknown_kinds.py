"""Rolling upgrades: kinds the platform does not know are skipped and reported, never fatal.

An operator with a kind plugin the platform lacks (CONTRACT.md, "plugin
kinds") keeps every other kind flowing: the platform stores the rest, names
what it skipped in the answer (``ignored_kinds``), logs it and counts it; and
it advertises the kinds it accepts so our operator sends only those.
"""

from __future__ import annotations

from typing import Any

import pytest
from agent_wire import (
    CORE_KIND_NAMES,
    Agent,
    User,
    event,
    new_cluster_uid,
    pod,
    stored_inventory,
)
from app_support import new_user_token
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from reference_app.state import get_state

CERTIFICATE = {"uid": "cert-1", "name": "shop-tls", "namespace": "shop", "ready": True}


@pytest.fixture
def agent(app: Flask, client: FlaskClient, make_org, make_cluster, agent_token) -> Agent:
    keys = make_cluster(make_org())
    return Agent(client, agent_token(keys), new_cluster_uid(), keys.cluster.id, keys.cluster.org_id)


def _ignored_count(endpoint: str) -> float:
    value = REGISTRY.get_sample_value("obsyk_agent_ignored_kinds_total", {"endpoint": endpoint})
    return value or 0.0


def _live(app: Flask, agent: Agent) -> set[str]:
    return {uid for uid, (_, _, live) in stored_inventory(app, agent.cluster_id).items() if live}


def test_a_snapshot_keeps_the_known_kinds_and_names_the_skipped_arrays(
    app: Flask, agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    before = _ignored_count("snapshot")
    response = agent.snapshot(pods=[pod("p1", "a")], certificates=[CERTIFICATE], scaledobjects=[])

    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert (answer["status"], answer["added"]) == ("committed", 1)
    assert answer["ignored_kinds"] == ["certificates", "scaledobjects"]
    assert _live(app, agent) == {"p1"}
    assert _ignored_count("snapshot") == before + 2
    [warning] = [r for r in caplog.records if r.name == "reference_app.api.agent.ignored"]
    assert "certificates, scaledobjects" in warning.getMessage()
    assert agent.cluster_id in warning.getMessage()


def test_a_snapshot_of_known_kinds_only_says_nothing_was_skipped(agent: Agent) -> None:
    answer = agent.snapshot(pods=[pod("p1", "a")]).get_json()

    assert "ignored_kinds" not in answer


def test_a_staged_chunk_names_the_skipped_arrays_and_its_job_applies_the_rest(
    app: Flask, agent: Agent, run_jobs: Any
) -> None:
    body = {
        "cluster_uid": agent.cluster_uid,
        "snapshot_id": "s1",
        "chunk": 0,
        "final": True,
        "pods": [pod("p1", "a")],
        "certificates": [CERTIFICATE],
    }
    response = agent.post("snapshot", body)

    assert response.status_code == 202
    assert response.get_json()["ignored_kinds"] == ["certificates"]
    run_jobs()
    assert _live(app, agent) == {"p1"}


def test_a_batch_applies_the_known_events_and_names_the_skipped_kinds(
    app: Flask, agent: Agent
) -> None:
    before = _ignored_count("events")
    batch = {
        "cluster_uid": agent.cluster_uid,
        "events": [
            event(agent.cluster_uid, "added", "Pod", pod("p1", "a")),
            event(agent.cluster_uid, "added", "Certificate", CERTIFICATE),
            event(agent.cluster_uid, "deleted", "Certificate", CERTIFICATE),
        ],
    }
    response = agent.post("events", batch)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["ignored_kinds"] == ["Certificate"]
    assert response.get_json()["added"] == 1
    assert _live(app, agent) == {"p1"}
    assert _ignored_count("events") == before + 1


def test_an_upstream_single_event_of_an_unknown_kind_is_skipped_not_refused(
    app: Flask, agent: Agent
) -> None:
    response = agent.event("added", "Certificate", CERTIFICATE)

    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["ignored_kinds"] == ["Certificate"]
    assert (answer["added"], answer["modified"]) == (0, 0)
    assert stored_inventory(app, agent.cluster_id) == {}


def test_the_platform_advertises_the_kinds_it_accepts(agent: Agent, client: FlaskClient) -> None:
    listed = client.get("/api/v1/agent/kinds", headers={"Authorization": f"Bearer {agent.token}"})
    heartbeat = agent.post("heartbeat", {"cluster_uid": agent.cluster_uid})

    assert listed.status_code == 200
    assert listed.get_json() == {"kinds": CORE_KIND_NAMES}
    assert heartbeat.get_json()["kinds"] == CORE_KIND_NAMES
    assert client.get("/api/v1/agent/kinds").status_code == 401


def test_the_kinds_endpoint_and_ignored_kinds_are_in_the_openapi_document(
    client: FlaskClient,
) -> None:
    spec = client.get("/api/openapi.json").get_json()

    operation = spec["paths"]["/api/v1/agent/kinds"]["get"]
    assert operation["security"] == [{"bearer": []}] and "200" in operation["responses"]
    schemas = spec["components"]["schemas"]
    assert "ignored_kinds" in schemas["SnapshotAccepted"]["properties"]
    assert "ignored_kinds" in schemas["EventsAccepted"]["properties"]
    assert "kinds" in schemas["HeartbeatAnswer"]["properties"]


def test_the_cluster_shows_what_its_operator_watches_and_skips(app: Flask, agent: Agent) -> None:
    """The heartbeat's kinds extension, per cluster, for people: why a kind has no resources."""
    org = get_state(app).storage.get_org(agent.org_id)
    assert org is not None
    viewer = User(app.test_client(), new_user_token(app, org, "viewer"))
    states = {"Pod": "watched", "Certificate": "not_served", "Secret": "forbidden"}

    before = viewer.get(f"/api/v1/clusters/{agent.cluster_id}").get_json()
    agent.post(
        "heartbeat", {"cluster_uid": agent.cluster_uid, "counts": {"Pod": 0}, "kinds": states}
    )
    after = viewer.get(f"/api/v1/clusters/{agent.cluster_id}").get_json()
    listed = viewer.get("/api/v1/clusters").get_json()["items"]

    assert before["kinds"] is None  # not reported yet
    assert after["kinds"] == states
    assert [cluster["kinds"] for cluster in listed] == [states]
    refused = agent.post("heartbeat", {"cluster_uid": agent.cluster_uid, "kinds": {"Pod": "maybe"}})
    assert refused.status_code == 422 and list(refused.get_json()["errors"]) == ["kinds"]
