"""Every body the agent endpoints must refuse, with the status CONTRACT.md section 3 asks for.

Each refusal must also write nothing: the stored inventory (deleted rows and
hashes included) and the cluster's binding are compared before and after.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from agent_wire import Agent, new_cluster_uid, pod, stored_inventory
from flask import Flask
from flask.testing import FlaskClient

from obsyk_core.storage import StorageError
from reference_app.state import get_state


@pytest.fixture
def agent(app: Flask, client: FlaskClient, make_org, make_cluster, agent_token) -> Agent:
    """An operator whose cluster already holds two pods."""
    keys = make_cluster(make_org())
    agent = Agent(
        client, agent_token(keys), new_cluster_uid(), keys.cluster.id, keys.cluster.org_id
    )
    response = agent.snapshot(pods=[pod("p1", "a"), pod("p2", "b")])
    assert response.status_code == 200
    return agent


def _assert_refused(
    app: Flask, agent: Agent, endpoint: str, body: Any, status: int, **kwargs: Any
) -> dict[str, Any]:
    cluster_id = agent.cluster_id
    before = stored_inventory(app, cluster_id)
    response = agent.post(endpoint, body, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    payload: dict[str, Any] = response.get_json()
    assert payload["status"] == status and payload["message"]
    assert stored_inventory(app, cluster_id) == before
    return payload


@pytest.mark.parametrize("endpoint", ["snapshot", "events", "heartbeat"])
@pytest.mark.parametrize("body", [b"{not json", b"", b'{"cluster_uid": "x",}'])
def test_malformed_json_is_400(app: Flask, agent: Agent, endpoint: str, body: bytes) -> None:
    payload = _assert_refused(app, agent, endpoint, body, 400)
    assert payload["code"] == "malformed_json"


@pytest.mark.parametrize("endpoint", ["snapshot", "events", "heartbeat"])
def test_a_body_that_is_not_an_object_is_422(app: Flask, agent: Agent, endpoint: str) -> None:
    payload = _assert_refused(app, agent, endpoint, [{"cluster_uid": agent.cluster_uid}], 422)
    assert "_body" in payload["errors"]


def test_snapshot_problems_are_reported_by_path_all_at_once(app: Flask, agent: Agent) -> None:
    pods = [pod("p1", "a"), pod("p2", "b"), pod("p3", "c"), {"name": "no-uid", "namespace": "x"}]
    body = {
        "cluster_uid": agent.cluster_uid,
        "pods": [*pods, {"uid": "p5", "namespace": "x"}, {"uid": 7, "name": "typed"}],
        "services": "not a list",
        "agent_version": 3,
    }
    payload = _assert_refused(app, agent, "snapshot", body, 422)
    assert set(payload["errors"]) == {
        "pods.3.uid",
        "pods.4.name",
        "pods.5.uid",
        "services",
        "agent_version",
    }


def test_a_valid_part_of_an_invalid_snapshot_is_not_applied(app: Flask, agent: Agent) -> None:
    """The first pods are fine and p1/p2 would be swept; nothing happens since one record is bad."""
    body = {"cluster_uid": agent.cluster_uid, "pods": [pod("p9", "new"), {"uid": "bad"}]}
    _assert_refused(app, agent, "snapshot", body, 422)


def test_an_unknown_key_that_is_not_an_array_is_422_naming_it(app: Flask, agent: Agent) -> None:
    """Arrays of unknown kinds are skipped (test_agent_unknown_kinds); anything else is a typo."""
    body = {"cluster_uid": agent.cluster_uid, "pods": [pod("p9", "new")], "certificates": "x"}
    payload = _assert_refused(app, agent, "snapshot", body, 422)
    assert list(payload["errors"]) == ["certificates"]


def test_snapshot_without_cluster_uid_is_422(app: Flask, agent: Agent) -> None:
    payload = _assert_refused(app, agent, "snapshot", {"pods": []}, 422)
    assert list(payload["errors"]) == ["cluster_uid"]


@pytest.mark.parametrize(
    ("event", "paths"),
    [
        ({"type": "created", "kind": "Pod", "uid": "p9", "name": "x", "object": pod("p9", "x")},
         {"type"}),
        ({"type": "added", "kind": 7, "uid": "p9", "name": "x", "object": {}}, {"kind"}),
        ({"type": "added", "kind": "Pod", "name": "x", "object": {"name": "x"}},
         {"uid", "object.uid"}),
        ({"type": "added", "kind": "Pod", "uid": "p9", "name": "x"}, {"object"}),
        ({"type": "modified", "kind": "Pod", "uid": "p1", "name": "a",
          "object": pod("p1", "a", phase=5)}, {"object.phase"}),
    ],
)  # fmt: skip
def test_invalid_event_is_422_by_path(
    app: Flask, agent: Agent, event: dict[str, Any], paths: set[str]
) -> None:
    payload = _assert_refused(
        app, agent, "events", {"cluster_uid": agent.cluster_uid, **event}, 422
    )
    assert set(payload["errors"]) == paths


def test_a_batch_with_one_bad_event_applies_none(app: Flask, agent: Agent) -> None:
    body = {
        "cluster_uid": agent.cluster_uid,
        "events": [
            {"type": "deleted", "kind": "Pod", "uid": "p1", "name": "a"},
            {"type": "added", "kind": "Pod", "uid": "p9", "name": "x", "object": {"uid": "p9"}},
        ],
    }
    payload = _assert_refused(app, agent, "events", body, 422)
    assert set(payload["errors"]) == {"events.1.object.name"}


def test_heartbeat_with_wrong_types_is_422(app: Flask, agent: Agent) -> None:
    body = {"cluster_uid": agent.cluster_uid, "counts": {"Pod": "two"}, "digests": ["x"]}
    payload = _assert_refused(app, agent, "heartbeat", body, 422)
    assert set(payload["errors"]) == {"counts", "digests"}


def _huge_snapshot(agent: Agent, size: int) -> bytes:
    padding = "x" * size
    return json.dumps(
        {"cluster_uid": agent.cluster_uid, "pods": [pod("p1", "a", padding=padding)]}
    ).encode()


def test_oversized_bodies_are_413(app: Flask, agent: Agent) -> None:
    settings = get_state(app).settings
    big_event = json.dumps(
        {"cluster_uid": agent.cluster_uid, "type": "added", "kind": "Pod", "uid": "p1",
         "name": "a", "object": pod("p1", "a", padding="x" * settings.max_event_bytes)}
    ).encode()  # fmt: skip
    payload = _assert_refused(app, agent, "events", big_event, 413)
    assert payload["code"] == "body_too_large"
    _assert_refused(app, agent, "heartbeat", b" " * (settings.max_event_bytes + 1), 413)


def test_snapshot_limit_is_checked_on_declared_and_actual_length(
    app: Flask, agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_state(app).settings
    monkeypatch.setattr(settings, "max_snapshot_bytes", 2000)
    body = _huge_snapshot(agent, 3000)
    # Declared by Content-Length: refused before reading.
    _assert_refused(app, agent, "snapshot", body, 413)
    # No Content-Length (a chunked upload): refused on the bytes actually read.
    _assert_refused(
        app,
        agent,
        "snapshot",
        body,
        413,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    # Just under the limit is fine.
    ok = agent.post("snapshot", _huge_snapshot(agent, 1500))
    assert ok.status_code == 200


@pytest.mark.parametrize("endpoint", ["snapshot", "events", "heartbeat"])
def test_missing_or_invalid_token_is_401(
    app: Flask, client: FlaskClient, agent: Agent, endpoint: str, make_user_token, make_org
) -> None:
    body = {"cluster_uid": agent.cluster_uid, "pods": []}
    for headers in (
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Basic {agent.token}"},
        {"Authorization": f"Bearer {agent.token[:-4]}AAAA"},
        # A person's API token is not an operator's access token.
        {"Authorization": f"Bearer {make_user_token(make_org(), 'owner')}"},
    ):
        before = stored_inventory(app, agent.cluster_id)
        response = client.post(f"/api/v1/agent/{endpoint}", json=body, headers=headers)
        assert response.status_code == 401, headers
        assert response.get_json()["code"] == "unauthorized"
        assert stored_inventory(app, agent.cluster_id) == before


@pytest.mark.parametrize("endpoint", ["snapshot", "events", "heartbeat"])
def test_cluster_uid_mismatch_is_403(app: Flask, agent: Agent, endpoint: str) -> None:
    other_uid = new_cluster_uid()
    bodies = {
        "snapshot": {"cluster_uid": other_uid, "pods": []},
        "events": {"cluster_uid": other_uid, "type": "deleted", "kind": "Pod", "uid": "p1",
                   "name": "a", "namespace": "default"},
        "heartbeat": {"cluster_uid": other_uid},
    }  # fmt: skip
    payload = _assert_refused(app, agent, endpoint, bodies[endpoint], 403)
    assert payload["code"] == "cluster_uid_mismatch"
    cluster = get_state(app).storage.get_cluster(agent.org_id, agent.cluster_id)
    assert cluster is not None and cluster.cluster_uid == agent.cluster_uid


def test_another_orgs_credential_cannot_write_into_this_orgs_cluster(
    app: Flask, client: FlaskClient, agent: Agent, make_org, make_cluster, agent_token
) -> None:
    """Org B's operator names org A's cluster_uid: refused once B's cluster is bound elsewhere."""
    intruder = Agent(client, agent_token(make_cluster(make_org())), new_cluster_uid())
    assert intruder.post("heartbeat", {"cluster_uid": intruder.cluster_uid}).status_code == 200
    before = stored_inventory(app, agent.cluster_id)
    for endpoint, body in (
        ("snapshot", {"cluster_uid": agent.cluster_uid, "pods": []}),
        ("events", {"cluster_uid": agent.cluster_uid, "type": "deleted", "kind": "Pod",
                    "uid": "p1", "name": "a", "namespace": "default"}),
    ):  # fmt: skip
        response = intruder.post(endpoint, body)
        assert response.status_code == 403
    assert stored_inventory(app, agent.cluster_id) == before


@pytest.mark.parametrize("endpoint", ["snapshot", "events", "heartbeat"])
def test_storage_outage_is_503_with_retry_after(
    app: Flask, agent: Agent, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The platform's own transient failure must be a 5xx, so upstream retries the request."""
    storage = get_state(app).storage

    def down(*args: Any, **kwargs: Any) -> Any:
        raise StorageError("connection refused")

    monkeypatch.setattr(storage, "ingest", down)
    monkeypatch.setattr(storage, "mark_cluster_seen", down)
    bodies = {
        "snapshot": {"cluster_uid": agent.cluster_uid, "pods": [pod("p9", "x")]},
        "events": {"cluster_uid": agent.cluster_uid, "type": "deleted", "kind": "Pod",
                   "uid": "p1", "name": "a", "namespace": "default"},
        "heartbeat": {"cluster_uid": agent.cluster_uid},
    }  # fmt: skip
    response = agent.post(endpoint, bodies[endpoint])
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.get_json()["code"] == "storage_unavailable"
    monkeypatch.undo()
    assert "p9" not in stored_inventory(app, agent.cluster_id)
    assert stored_inventory(app, agent.cluster_id)["p1"][2] is True
