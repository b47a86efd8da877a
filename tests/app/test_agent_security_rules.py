"""The platform enforces what never leaves a cluster, whatever the agent sends.

Our operator strips Secret and ConfigMap values, container ``env`` values,
``managedFields`` and Kubernetes' own annotations before sending (CONTRACT.md
section 4).  A misbehaving or foreign agent may not: the platform stores each
record as its kind's schema describes and filters the annotations again, so
none of it reaches the API, the history or the database, and the answer, the
log and a metric say what was dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from agent_wire import Agent, User, event, pod, snapshot
from app_support import new_user_token
from flask import Flask
from prometheus_client import REGISTRY
from sqlalchemy import select

from obsyk_plugins.sql_storage.models import Base
from reference_app.state import get_state

LEAK = "LEAKED-VALUE"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

#: Each kind's record as a careless agent would send it: every forbidden field set.
RECORDS: dict[str, tuple[str, dict[str, Any]]] = {
    "pods": (
        "Pod",
        pod(
            "pod-1",
            "web",
            annotations={
                LAST_APPLIED: LEAK,
                "deployment.kubernetes.io/revision": LEAK,
                "team": "a",
            },
            managedFields=[{"manager": LEAK}],
            containers=[
                {"name": "app", "image": "nginx", "env": [{"name": "PASSWORD", "value": LEAK}]}
            ],
        ),
    ),
    "secrets": (
        "Secret",
        {
            **pod("sec-1", "db-password"),
            "data_keys": ["password"],
            "data": {"password": LEAK},
            "stringData": {"password": LEAK},
        },
    ),
    "configmaps": (
        "ConfigMap",
        {
            **pod("cm-1", "settings"),
            "data_keys": ["url"],
            "data": {"url": LEAK},
            "binaryData": {"blob": LEAK},
        },
    ),
}
DROPPED = {
    f"Pod.annotations.{LAST_APPLIED}": 1,
    "Pod.annotations.deployment.kubernetes.io/revision": 1,
    "Pod.managedFields": 1,
    "Pod.containers.env": 1,
    "Secret.data": 1,
    "Secret.stringData": 1,
    "ConfigMap.data": 1,
    "ConfigMap.binaryData": 1,
}


def _snapshot(agent: Agent) -> list[Any]:
    arrays = {key: [record] for key, (_, record) in RECORDS.items()}
    return [agent.post("snapshot", snapshot(agent.cluster_uid, **arrays))]


def _chunked(agent: Agent) -> list[Any]:
    answers = []
    for index, (key, (_, record)) in enumerate(RECORDS.items()):
        body = {
            **snapshot(agent.cluster_uid, **{key: [record]}),
            "snapshot_id": "snap-leak",
            "chunk": index,
            "final": index == len(RECORDS) - 1,
        }
        answers.append(agent.post("snapshot", body))
    return answers


def _events(agent: Agent) -> list[Any]:
    return [agent.event("added", kind, record) for kind, record in RECORDS.values()]


def _batch(agent: Agent) -> list[Any]:
    batch = [event(None, "added", kind, record) for kind, record in RECORDS.values()]
    return [agent.post("events", {"cluster_uid": agent.cluster_uid, "events": batch})]


SENDERS: dict[str, Callable[[Agent], list[Any]]] = {
    "snapshot": _snapshot,
    "chunked snapshot": _chunked,
    "single events": _events,
    "event batch": _batch,
}


def _database_text(app: Flask) -> str:
    """Every row of every table the platform keeps, as text."""
    engine = get_state(app).storage.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return "\n".join(
            repr(tuple(row))
            for table in Base.metadata.sorted_tables
            for row in connection.execute(select(table))
        )


def _dropped_total(endpoint: str, kind: str) -> float:
    labels = {"endpoint": endpoint, "kind": kind}
    return REGISTRY.get_sample_value("obsyk_agent_dropped_fields_total", labels) or 0.0


@pytest.mark.parametrize("sender", SENDERS)
def test_what_never_leaves_a_cluster_is_not_stored_when_an_agent_sends_it(
    app: Flask, agent: Agent, run_jobs: Callable[[], None], sender: str
) -> None:
    endpoint = "snapshot" if "snapshot" in sender else "events"
    before = {kind: _dropped_total(endpoint, kind) for kind, _ in RECORDS.values()}

    answers = SENDERS[sender](agent)
    run_jobs()

    dropped: dict[str, int] = {}
    for answer in answers:
        assert answer.status_code in (200, 202), answer.get_data(as_text=True)
        for path, count in answer.get_json().get("dropped_fields", {}).items():
            dropped[path] = dropped.get(path, 0) + count
    assert dropped == DROPPED
    assert {kind: _dropped_total(endpoint, kind) - before[kind] for kind in before} == {
        "Pod": 4,
        "Secret": 2,
        "ConfigMap": 2,
    }
    org = get_state(app).storage.get_org(agent.org_id)
    assert org is not None
    viewer = User(app.test_client(), new_user_token(app, org, "viewer"))
    base = f"/api/v1/clusters/{agent.cluster_id}/resources"
    for _, record in RECORDS.values():
        for path in (f"{base}/{record['uid']}", f"{base}/{record['uid']}/history"):
            answer = viewer.get(path)
            assert answer.status_code == 200, answer.get_data(as_text=True)
            assert LEAK not in answer.get_data(as_text=True)
    stored = viewer.get(f"{base}/pod-1").get_json()
    assert stored["object"]["annotations"] == {"team": "a"}
    assert stored["object"]["containers"] == [{"name": "app", "image": "nginx"}]
    listing = viewer.get(base).get_data(as_text=True)
    assert LEAK not in listing and "db-password" in listing
    assert LEAK not in _database_text(app)


def test_a_record_within_its_schema_is_stored_as_sent_and_reports_nothing(
    app: Flask, agent: Agent
) -> None:
    record = pod(
        "pod-2",
        "clean",
        annotations={"team": "a"},
        containers=[{"name": "app", "image": "nginx", "env_var_names": ["PASSWORD"]}],
    )
    answer = agent.snapshot(pods=[record])
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert "dropped_fields" not in answer.get_json()
    stored = get_state(app).storage.get_resource(agent.cluster_id, "pod-2")
    assert stored is not None and stored.record == record
