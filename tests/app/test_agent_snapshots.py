"""Snapshots: synchronous reconcile, chunked and large (staged) snapshots."""

from __future__ import annotations

from typing import Any

import pytest
from agent_wire import Agent, User, new_cluster_uid, pod, stored_inventory
from flask import Flask
from flask.testing import FlaskClient

from reference_app.state import get_state


@pytest.fixture
def agent(app: Flask, client: FlaskClient, make_org, make_cluster, agent_token) -> Agent:
    keys = make_cluster(make_org())
    return Agent(client, agent_token(keys), new_cluster_uid(), keys.cluster.id, keys.cluster.org_id)


def _live(app: Flask, agent: Agent) -> set[str]:
    return {uid for uid, (_, _, live) in stored_inventory(app, agent.cluster_id).items() if live}


def _chunk(agent: Agent, snapshot_id: str, chunk: int, *, final: bool = False, **arrays: Any):
    body = {"cluster_uid": agent.cluster_uid, "snapshot_id": snapshot_id, "chunk": chunk,
            "final": final, **arrays}  # fmt: skip
    return agent.post("snapshot", body)


def test_snapshot_upserts_and_sweeps_only_carried_kinds(app: Flask, agent: Agent) -> None:
    first = agent.snapshot(
        pods=[pod("p1", "a"), pod("p2", "b")],
        services=[{"uid": "s1", "name": "svc", "namespace": "default"}],
    )
    assert first.status_code == 200 and first.get_json()["added"] == 3
    # Pods carried (p2 gone, p3 new); services absent: left alone.
    second = agent.snapshot(pods=[pod("p1", "a"), pod("p3", "c")])
    assert second.get_json()["status"] == "committed"
    assert (second.get_json()["added"], second.get_json()["deleted"]) == (1, 1)
    assert _live(app, agent) == {"p1", "p3", "s1"}
    # An empty array carries the kind: everything of it is deleted.
    agent.snapshot(services=[])
    assert _live(app, agent) == {"p1", "p3"}


def test_chunked_snapshot_commits_atomically_at_the_final_chunk(
    app: Flask, agent: Agent, run_jobs
) -> None:
    agent.snapshot(
        pods=[pod("old-pod", "old")],
        services=[{"uid": "old-svc", "name": "old", "namespace": "default"}],
        configmaps=[{"uid": "kept-cm", "name": "kept", "namespace": "default"}],
    )
    # Out of order: chunk 2 (final) first, then 0, then 1; chunk 0 resent.
    final = _chunk(agent, "snap-1", 2, final=True, services=[])
    assert final.status_code == 202
    assert final.get_json()["queued"] is False  # chunks 0 and 1 still missing
    run_jobs()
    assert _live(app, agent) == {"old-pod", "old-svc", "kept-cm"}

    first = _chunk(agent, "snap-1", 0, pods=[pod("p1", "a")])
    resent = _chunk(agent, "snap-1", 0, pods=[pod("p1", "a")])
    assert first.status_code == resent.status_code == 202
    run_jobs()
    # Nothing is visible before the snapshot is complete.
    assert _live(app, agent) == {"old-pod", "old-svc", "kept-cm"}

    last = _chunk(agent, "snap-1", 1, pods=[pod("p2", "b")])
    assert last.status_code == 202
    assert last.get_json() == {
        "status": "staged", "snapshot_id": "snap-1", "chunk": 1, "queued": True,
    }  # fmt: skip
    run_jobs()
    # Pods from chunks 0 and 1, services swept by chunk 2, configmaps never carried.
    assert _live(app, agent) == {"p1", "p2", "kept-cm"}
    assert get_state(app).storage.staged_chunks(agent.cluster_id, "snap-1") == []
    storage = get_state(app).storage
    assert len(storage.resource_history(agent.cluster_id, "p1")) == 1
    cluster = storage.get_cluster(agent.org_id, agent.cluster_id)
    assert cluster is not None and cluster.last_snapshot_at is not None


def test_chunk_with_a_bad_record_is_refused_and_not_staged(app: Flask, agent: Agent) -> None:
    response = _chunk(agent, "snap-2", 0, final=True, pods=[{"uid": "x"}])
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"pods.0.name": ["Missing data for required field."]}
    assert get_state(app).storage.staged_chunks(agent.cluster_id, "snap-2") == []


def test_large_snapshot_is_staged_then_applied_by_a_job(
    app: Flask, agent: Agent, run_jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_state(app).settings, "async_snapshot_bytes", 1000)
    pods = [pod(f"p{i}", f"pod-{i:03}", labels={"app": "x" * 20}) for i in range(40)]
    response = agent.snapshot(pods=pods)
    assert response.status_code == 202
    assert response.get_json()["queued"] is True
    run_jobs()
    assert _live(app, agent) == {f"p{i}" for i in range(40)}


def test_snapshot_metadata_updates_the_cluster(
    app: Flask, client: FlaskClient, agent: Agent, make_user_token
) -> None:
    body = {"cluster_uid": agent.cluster_uid, "agent_version": "0.3.1",
            "kubernetes_version": "v1.29.2", "pods": []}  # fmt: skip
    assert agent.post("snapshot", body).status_code == 200
    org_user = User(client, make_user_token(_org(app, agent), "viewer"))
    cluster = org_user.get(f"/api/v1/clusters/{agent.cluster_id}").get_json()
    assert (cluster["agent_version"], cluster["kubernetes_version"]) == ("0.3.1", "v1.29.2")
    assert cluster["status"] == "connected"


def _org(app: Flask, agent: Agent):
    org = get_state(app).storage.get_org(agent.org_id)
    assert org is not None
    return org
