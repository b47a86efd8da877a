"""Big snapshots parsed once: staged as validated, applied by the job without a second check."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import pytest
from agent_wire import Agent, User, pod
from flask import Flask
from flask.testing import FlaskClient

from obsyk_core.wire import parse_snapshot
from reference_app.jobs import tasks
from reference_app.jobs.staged_form import read_staged, staged_payload
from reference_app.state import get_state

UNUSUAL = {"note": 'tab\there, newline\nthere, "quoted", naïve ☃'}


def chunk(agent: Agent, number: int, final: bool, **arrays: list[dict[str, Any]]) -> Any:
    body = {"cluster_uid": agent.cluster_uid, "snapshot_id": "snap-1", "chunk": number}
    return agent.post("snapshot", {**body, "final": final, **arrays})


def test_the_staged_form_reads_back_what_was_validated() -> None:
    from obsyk_core import build_plugin_manager

    kinds = build_plugin_manager().kinds
    body = {
        "cluster_uid": "u",
        "agent_version": "1.2",
        "pods": [pod("p1", "web-0", "shop", annotations=UNUSUAL), pod("p2", "web-1", "shop")],
        "namespaces": [],  # carried and empty: every Namespace is to be deleted
    }
    parsed = parse_snapshot(body, kinds)

    staged = read_staged(staged_payload(parsed))

    assert staged is not None
    assert staged.agent_version == "1.2" and staged.kubernetes_version is None
    assert staged.resources == parsed.resources  # kinds, identities, records, hashes
    read = [item.record_json for item in staged.resources["Pod"]]
    assert read == [item.record_json for item in parsed.resources["Pod"]]


def test_a_staged_snapshot_is_applied_without_validating_it_again(
    app: Flask,
    client: FlaskClient,
    agent: Agent,
    make_user_token: Callable[..., str],
    run_jobs: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (
        chunk(agent, 0, False, pods=[pod("p1", "web-0", "shop", annotations=UNUSUAL)]).status_code
        == 202
    )
    assert chunk(agent, 1, True, pods=[pod("p2", "web-1", "shop")]).status_code == 202

    def no_second_validation(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the job validated a chunk the request had validated")

    monkeypatch.setattr(tasks, "parse_snapshot", no_second_validation)
    run_jobs()

    org = get_state(app).storage.get_org(agent.org_id)
    listed = User(client, make_user_token(org, "viewer")).get(
        f"/api/v1/clusters/{agent.cluster_id}/resources"
    )
    items = {item["uid"]: item for item in listed.get_json()["items"]}
    assert set(items) == {"p1", "p2"}
    assert items["p1"]["annotations"] == UNUSUAL
    assert items["p1"]["object"]["annotations"] == UNUSUAL


def test_a_staged_chunk_changed_since_it_was_staged_is_not_trusted(
    app: Flask,
    agent: Agent,
    run_jobs: Callable[[], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = get_state(app).storage
    assert chunk(agent, 0, False, pods=[pod("p1", "web-0", "shop")]).status_code == 202
    (staged,) = storage.staged_chunks(agent.cluster_id, "snap-1")
    altered = staged.payload.replace(b'"web-0"', b'"evil-0"')
    assert altered != staged.payload
    storage.stage_chunk(agent.cluster_id, dataclasses.replace(staged, payload=altered))

    with caplog.at_level(logging.ERROR, logger=tasks.__name__):
        assert chunk(agent, 1, True, pods=[pod("p2", "web-1", "shop")]).status_code == 202
        run_jobs()

    assert "dropping staged snapshot snap-1" in caplog.text
    assert storage.staged_chunks(agent.cluster_id, "snap-1") == []
    assert storage.get_resource(agent.cluster_id, "p1") is None
    assert storage.get_resource(agent.cluster_id, "p2") is None
