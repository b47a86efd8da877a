"""Events (single and batched, ordering) and heartbeats (seen times, drift -> resync)."""

from __future__ import annotations

import gc
import json
import threading
from typing import Any

import pytest
from agent_wire import CORE_KIND_NAMES, Agent, event, new_cluster_uid, pod, stored_inventory
from flask import Flask
from flask.testing import FlaskClient

from obsyk_core.hashing import content_hash, kind_digest
from obsyk_core.storage import ClusterSeen, StagedChunk
from obsyk_core.testing import at
from obsyk_core.testing import pod as core_pod
from obsyk_core.testing.builders import snapshot
from obsyk_plugins.memory_storage import MemoryStorage
from reference_app.api.agent import routes
from reference_app.api.agent.drift import kinds_to_resync
from reference_app.state import get_state


@pytest.fixture
def agent(app: Flask, client: FlaskClient, make_org, make_cluster, agent_token) -> Agent:
    keys = make_cluster(make_org())
    return Agent(client, agent_token(keys), new_cluster_uid(), keys.cluster.id, keys.cluster.org_id)


def _record(app: Flask, agent: Agent, uid: str):
    row = get_state(app).storage.get_resource(agent.cluster_id, uid)
    assert row is not None
    return row


def test_batched_events_apply_in_seq_order(app: Flask, agent: Agent) -> None:
    p1 = pod("p1", "a", phase="Pending")
    body = {
        "cluster_uid": agent.cluster_uid,
        "events": [
            # Sent out of order: seq says "Running" (seq 2) is the latest.
            event(None, "modified", "Pod", dict(p1, phase="Running"), seq=2),
            event(None, "added", "Pod", p1, seq=1),
            event(agent.cluster_uid, "added", "Pod", pod("p2", "b"), seq=3),
            event(None, "deleted", "Pod", pod("p2", "b"), seq=4),
        ],
    }
    response = agent.post("events", body)
    assert response.status_code == 200
    assert response.get_json()["status"] == "committed"
    assert _record(app, agent, "p1").record["phase"] == "Running"
    assert _record(app, agent, "p2").deleted_at is not None
    history = get_state(app).storage.resource_history(agent.cluster_id, "p1")
    assert [version.change for version in history] == ["added", "modified"]


def test_an_older_resource_version_never_overwrites_a_newer_one(app: Flask, agent: Agent) -> None:
    newer = pod("p1", "a", phase="Running")
    assert agent.event("added", "Pod", newer, resource_version="200").status_code == 200
    stale = agent.event("modified", "Pod", pod("p1", "a", phase="Pending"), resource_version="150")
    assert stale.status_code == 200
    assert stale.get_json()["stale"] == 1
    assert _record(app, agent, "p1").record["phase"] == "Running"
    # The same event twice is a no-op.
    again = agent.event("added", "Pod", newer, resource_version="200")
    assert again.get_json()["unchanged"] == 1
    assert len(get_state(app).storage.resource_history(agent.cluster_id, "p1")) == 1


def test_delete_with_null_object_and_delete_of_unknown_are_accepted(
    app: Flask, agent: Agent
) -> None:
    agent.event("added", "Pod", pod("p1", "a"))
    deleted = agent.event("deleted", "Pod", pod("p1", "a"), object=None)
    assert deleted.status_code == 200 and deleted.get_json()["deleted"] == 1
    unknown = agent.event("deleted", "Pod", pod("never-seen", "x"))
    assert unknown.status_code == 200 and unknown.get_json()["unchanged"] == 1
    assert stored_inventory(app, agent.cluster_id)["p1"][2] is False


def test_heartbeat_updates_seen_times_and_version(app: Flask, agent: Agent) -> None:
    storage = get_state(app).storage
    before = storage.get_cluster(agent.org_id, agent.cluster_id)
    assert before is not None and before.last_seen_at is None and before.cluster_uid is None
    response = agent.post("heartbeat", {"cluster_uid": agent.cluster_uid, "agent_version": "v9"})
    assert response.status_code == 200
    assert response.get_json() == {"resync": [], "kinds": CORE_KIND_NAMES}
    after = storage.get_cluster(agent.org_id, agent.cluster_id)
    assert after is not None
    assert after.cluster_uid == agent.cluster_uid  # first contact binds
    assert after.last_heartbeat_at is not None and after.last_seen_at is not None
    assert after.agent_version == "v9"
    assert after.last_snapshot_at is None


def test_heartbeat_drift_asks_for_a_resync_of_the_kinds_that_differ(
    app: Flask, agent: Agent
) -> None:
    pods = [pod("p1", "a"), pod("p2", "b")]
    services = [{"uid": "s1", "name": "svc", "namespace": "default"}]
    agent.snapshot(pods=pods, services=services, configmaps=[])
    agent.event("deleted", "Pod", pods[1])  # the platform now has only p1

    def digest(records):
        return kind_digest((r["uid"], content_hash(r)) for r in records)

    in_sync = {
        "cluster_uid": agent.cluster_uid,
        "counts": {"Pod": 1, "Service": 1, "ConfigMap": 0},
        "digests": {"Pod": digest(pods[:1]), "Service": digest(services),
                    "ConfigMap": digest([])},
    }  # fmt: skip
    assert agent.post("heartbeat", in_sync).get_json()["resync"] == []

    # The operator still has p2 (count and digest differ), a changed service
    # (same count, digest differs), and a kind the platform does not know.
    drifted = {
        "cluster_uid": agent.cluster_uid,
        "counts": {"Pod": 2, "Service": 1, "Gizmo": 4},
        "digests": {"Pod": digest(pods), "Service": digest([dict(services[0], x=1)]),
                    "ConfigMap": digest([])},
    }  # fmt: skip
    assert agent.post("heartbeat", drifted).get_json()["resync"] == ["Pod", "Service"]
    # Counts alone are enough to see drift.
    counts_only = {"cluster_uid": agent.cluster_uid, "counts": {"ConfigMap": 3}}
    assert agent.post("heartbeat", counts_only).get_json()["resync"] == ["ConfigMap"]


def test_a_snapshot_staged_and_not_yet_applied_is_no_drift(app: Flask, agent: Agent) -> None:
    agent.snapshot(pods=[pod("p1", "a")])
    storage = get_state(app).storage
    # A snapshot accepted with 202 whose job has not run yet: the operator counts it as sent.
    staged = StagedChunk("snap-1", 0, final=True, payload=b"{}", received_at=at(0))
    storage.stage_chunk(agent.cluster_id, staged)
    beat = {"cluster_uid": agent.cluster_uid, "counts": {"Pod": 2}}
    assert agent.post("heartbeat", beat).get_json()["resync"] == []
    with storage.ingest(agent.cluster_id) as transaction:  # what applying it drops
        transaction.drop_staged("snap-1")
    assert agent.post("heartbeat", beat).get_json()["resync"] == ["Pod"]


def test_drift_is_computed_without_waiting_behind_an_open_ingestion(app: Flask) -> None:
    """A long snapshot reconcile holds the cluster's ingestion; the drift check still answers.

    On the memory backend, where recording the seen-times takes no cluster lock
    either (on SQL it is a write to the cluster row, which does queue).
    """
    storage = MemoryStorage()
    cluster = storage.create_cluster(storage.create_org("acme").id, "prod")
    snapshot(storage, cluster.id, at(0), {"Pod": [core_pod("p1")]})
    holding, release, answered = threading.Event(), threading.Event(), threading.Event()
    resync: list[list[str]] = []

    def hold_ingestion() -> None:
        with storage.ingest(cluster.id):
            holding.set()
            release.wait(timeout=10)

    def check_drift() -> None:
        resync.append(
            kinds_to_resync(
                storage,
                cluster.id,
                counts={"Pod": 2},
                digests=None,
                known_kinds=get_state(app).plugins.kinds,
                seen=ClusterSeen(seen_at=at(1), heartbeat_at=at(1)),
            )
        )
        answered.set()

    holder, checker = threading.Thread(target=hold_ingestion), threading.Thread(target=check_drift)
    holder.start()
    try:
        assert holding.wait(timeout=10)
        checker.start()
        in_time = answered.wait(timeout=10)
    finally:
        release.set()
        holder.join(timeout=10)
        if checker.ident is not None:
            checker.join(timeout=10)
    assert in_time, "the drift check waited for the ingestion to finish"
    assert resync == [["Pod"]]
    stored = storage.get_cluster(cluster.org_id, cluster.id)
    assert stored is not None and stored.last_heartbeat_at == at(1)


def test_answers_are_compact_json_with_sorted_keys(agent: Agent) -> None:
    """The bytes Flask's JSON answers have always had (an operator may compare them)."""
    answers = [
        agent.snapshot(pods=[pod("p1", "a")]),
        agent.event("modified", "Pod", pod("p1", "a", phase="Running")),
        agent.post("heartbeat", {"cluster_uid": agent.cluster_uid}),
        agent.post("heartbeat", {"cluster_uid": agent.cluster_uid, "counts": {"Pod": 2}}),
    ]
    assert [(answer.status_code, answer.mimetype) for answer in answers] == [
        (200, "application/json")
    ] * 4
    kinds = json.dumps(CORE_KIND_NAMES, separators=(",", ":")).encode()
    assert [answer.data for answer in answers] == [
        b'{"added":1,"deleted":0,"modified":0,"stale":0,"status":"committed","unchanged":0}\n',
        b'{"added":0,"deleted":0,"modified":1,"stale":0,"status":"committed","unchanged":0}\n',
        b'{"kinds":' + kinds + b',"resync":[]}\n',
        b'{"kinds":' + kinds + b',"resync":["Pod"]}\n',
    ]


def test_the_collector_stays_on_for_bodies_large_and_small(
    agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The platform does not pause the collector: it gained ~11 % end to end (bench/RESULTS.md)."""
    collector_on: list[bool] = []
    apply = routes.apply_events

    def watched(*args: Any, **kwargs: Any) -> Any:
        collector_on.append(gc.isenabled())
        return apply(*args, **kwargs)

    monkeypatch.setattr(routes, "apply_events", watched)
    gc.enable()
    large = {
        "cluster_uid": agent.cluster_uid,
        "events": [
            event(None, "added", "Pod", pod(f"p{i}", f"pod-{i}", labels={"pad": "x" * 500}))
            for i in range(150)
        ],
    }
    assert len(json.dumps(large)) > 64 * 1024

    assert agent.event("added", "Pod", pod("p1", "a")).status_code == 200
    assert agent.post("events", large).status_code == 200
    assert collector_on == [True, True]
    assert gc.isenabled()
