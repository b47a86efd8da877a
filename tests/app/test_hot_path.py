"""The hot agent path skips the cluster lookup once a binding is known, and stays correct.

Events and heartbeats are the bulk of an operator's traffic; once a cluster is
bound to a ``cluster_uid`` that pair is remembered per process, so they do not
look the cluster up again.  What must not change: a different uid is still
refused, and a cluster deleted meanwhile (by another process, whose token
status this one still trusts) still answers 401 and stores nothing.  Likewise
each process remembers the access tokens it verified: a remembered token is
still refused from its ``exp`` and once its credential is revoked.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from agent_wire import Agent, User, new_cluster_uid, pod, stored_inventory
from app_support import (
    new_cluster,
    new_org,
    new_user_token,
    postgres_config,
    request_access_token,
)
from flask import Flask
from flask.testing import FlaskClient

from obsyk_core.storage import Cluster, Organization
from reference_app import create_app
from reference_app.app import close_app
from reference_app.auth.access_tokens import AccessTokens, InvalidAccessToken
from reference_app.remembered import Remembered
from reference_app.state import get_state


@pytest.fixture
def cluster_lookups(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The cluster ids the app looks up from now on."""
    storage = get_state(app).storage
    looked_up: list[str] = []
    get_cluster = storage.get_cluster

    def counting(org_id: str, cluster_id: str) -> Cluster | None:
        looked_up.append(cluster_id)
        return get_cluster(org_id, cluster_id)

    monkeypatch.setattr(storage, "get_cluster", counting)
    return looked_up


def _delete_pod(uid: str) -> dict[str, Any]:
    return {"type": "deleted", "kind": "Pod", "uid": uid, "name": uid, "namespace": "default"}


def test_events_after_the_first_do_not_look_the_cluster_up(
    agent: Agent, cluster_lookups: list[str]
) -> None:
    for index in range(5):
        response = agent.event("added", "Pod", pod(f"p{index}", f"pod-{index}"))
        assert response.status_code == 200, response.get_json()
        assert agent.post("heartbeat", {"cluster_uid": agent.cluster_uid}).status_code == 200
    assert cluster_lookups == [agent.cluster_id]


def test_a_remembered_binding_does_not_admit_another_cluster_uid(app: Flask, agent: Agent) -> None:
    assert agent.event("added", "Pod", pod("p1", "a")).status_code == 200
    before = stored_inventory(app, agent.cluster_id)
    for endpoint in ("events", "heartbeat"):
        body = {
            "cluster_uid": new_cluster_uid(),
            **(_delete_pod("p1") if endpoint == "events" else {}),
        }
        response = agent.post(endpoint, body)
        assert response.status_code == 403
        assert response.get_json()["code"] == "cluster_uid_mismatch"
    assert stored_inventory(app, agent.cluster_id) == before


def test_events_for_a_cluster_deleted_elsewhere_are_401_and_store_nothing(
    app: Flask, agent: Agent
) -> None:
    """Deleted by another process: this one still trusts the token (for up to a minute)."""
    assert agent.event("added", "Pod", pod("p1", "a")).status_code == 200
    storage = get_state(app).storage
    assert storage.delete_cluster(agent.org_id, agent.cluster_id)

    response = agent.event("added", "Pod", pod("p2", "b"))

    assert response.status_code == 401, response.get_json()
    assert response.get_json()["code"] == "unknown_cluster"
    assert stored_inventory(app, agent.cluster_id) == {}


def test_a_drift_heartbeat_for_a_cluster_deleted_elsewhere_is_401_not_500(
    app: Flask, agent: Agent
) -> None:
    """Upstream retries 5xx forever; a cluster that is gone must get a 4xx."""
    assert agent.event("added", "Pod", pod("p1", "a")).status_code == 200
    assert get_state(app).storage.delete_cluster(agent.org_id, agent.cluster_id)

    response = agent.post("heartbeat", {"cluster_uid": agent.cluster_uid, "counts": {"Pod": 1}})

    assert response.status_code == 401, response.get_json()
    assert response.get_json()["code"] == "unknown_cluster"


def test_a_remembered_binding_is_checked_again_after_the_revocation_window() -> None:
    now = [0.0]
    remembered: Remembered[tuple[str, str], bool] = Remembered(ttl_seconds=60, clock=lambda: now[0])
    remembered.put(("c1", "uid-1"), True)
    now[0] = 59.0
    assert ("c1", "uid-1") in remembered
    assert ("c1", "uid-2") not in remembered
    now[0] = 60.0
    assert ("c1", "uid-1") not in remembered


def test_remembered_bindings_are_bounded_least_recently_used_first() -> None:
    remembered: Remembered[tuple[str, str], bool] = Remembered(max_entries=2, ttl_seconds=60)
    for cluster_id in ("c1", "c2", "c3"):
        remembered.put((cluster_id, "uid"), True)
    assert [(c, "uid") in remembered for c in ("c1", "c2", "c3")] == [False, True, True]


def test_deleting_a_cluster_forgets_every_fact_remembered_of_it_at_once(
    app: Flask,
    client: FlaskClient,
    agent: Agent,
    make_user_token: Callable[..., str],
    cluster_lookups: list[str],
) -> None:
    """Its binding, its org and its credential's verified token: none outlives the DELETE."""
    state = get_state(app)
    admin = User(client, make_user_token(state.storage.get_org(agent.org_id), "admin"))
    listing = f"/api/v1/clusters/{agent.cluster_id}/resources"
    assert agent.event("added", "Pod", pod("p1", "a")).status_code == 200
    assert admin.get(listing).status_code == 200
    assert (agent.cluster_id, agent.cluster_uid) in state.cluster_bindings
    assert (agent.org_id, agent.cluster_id) in state.org_clusters

    assert admin.delete(f"/api/v1/clusters/{agent.cluster_id}").status_code == 204

    assert (agent.cluster_id, agent.cluster_uid) not in state.cluster_bindings
    assert (agent.org_id, agent.cluster_id) not in state.org_clusters
    cluster_lookups.clear()
    assert admin.get(listing).status_code == 404
    assert cluster_lookups  # looked up again, not answered from memory
    refused = agent.event("added", "Pod", pod("p2", "b"))
    assert refused.status_code == 401, refused.get_json()


# --------------------------------------------------------------------------- access tokens


@pytest.fixture
def wall_clock(app: Flask) -> list[float]:
    """The time the app's access tokens see, which a test moves: ``[seconds since the epoch]``."""
    tokens: AccessTokens = get_state(app).access_tokens
    wall = [time.time()]
    tokens.wall_clock = lambda: wall[0]
    return wall


def test_a_remembered_token_is_still_refused_from_its_exp(
    agent: Agent, wall_clock: list[float]
) -> None:
    payload = agent.token.split(".")[1]
    expires_at = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]
    assert agent.post("heartbeat", {"cluster_uid": agent.cluster_uid}).status_code == 200

    wall_clock[0] = expires_at - 1
    assert agent.post("heartbeat", {"cluster_uid": agent.cluster_uid}).status_code == 200
    wall_clock[0] = expires_at
    response = agent.event("added", "Pod", pod("p1", "a"))

    assert response.status_code == 401
    assert "expired" in response.get_json()["message"]


def test_a_remembered_token_of_a_revoked_credential_stops_working_within_a_minute(
    app: Flask, agent: Agent
) -> None:
    tokens: AccessTokens = get_state(app).access_tokens
    assert agent.post("heartbeat", {"cluster_uid": agent.cluster_uid}).status_code == 200
    client_id = tokens.verify(agent.token).client_id
    get_state(app).storage.revoke_credential(client_id, datetime.now(UTC))
    start = time.monotonic()
    tokens.clock = lambda: start + 61

    response = agent.post("heartbeat", {"cluster_uid": agent.cluster_uid})

    assert response.status_code == 401
    assert "revoked" in response.get_json()["message"]


def test_a_token_differing_from_a_remembered_one_is_verified_in_full(
    app: Flask, agent: Agent
) -> None:
    assert agent.post("heartbeat", {"cluster_uid": agent.cluster_uid}).status_code == 200
    header, payload, signature = agent.token.split(".")
    for altered in (
        f"{header}.{payload}.{signature[:-2]}AA",
        f"{header}.{payload}.{signature}=",
        f" {agent.token}x",
    ):
        forged = Agent(agent.client, altered, agent.cluster_uid, agent.cluster_id)
        response = forged.post("heartbeat", {"cluster_uid": agent.cluster_uid})
        assert response.status_code == 401, altered


# --------------------------------------------------------------------------- dead connections


def _kill_app_connections(database_url: str) -> int:
    """Terminate every other session on the app's database; wait until they are gone."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as admin:
        others = (
            "datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        )
        pids = [row[0] for row in admin.execute(f"SELECT pid FROM pg_stat_activity WHERE {others}")]
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(200):
            alive = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
            ).fetchone()
            if alive is not None and alive[0] == 0:
                break
            time.sleep(0.01)
    return len(pids)


@pytest.mark.postgres
@pytest.mark.redis
def test_killed_database_connections_cost_at_most_one_503(
    postgres_app: Flask, postgres_url: str
) -> None:
    client = postgres_app.test_client()
    org = new_org(postgres_app)
    user = User(client, new_user_token(postgres_app, org, "viewer"))
    keys = new_cluster(postgres_app, org)
    operator = Agent(client, request_access_token(client, keys), new_cluster_uid(), keys.cluster.id)
    listing = f"/api/v1/clusters/{keys.cluster.id}/agents"
    assert operator.event("added", "Pod", pod("p0", "pod-0")).status_code == 200
    assert user.get(listing).status_code == 200

    for round_ in range(1, 3):
        assert _kill_app_connections(postgres_url) >= 1
        first = operator.event("added", "Pod", pod(f"p{round_}", f"pod-{round_}"))
        assert first.status_code in (200, 503), first.get_json()
        if first.status_code == 503:
            assert first.headers["Retry-After"]
        retried = operator.event("added", "Pod", pod(f"p{round_}", f"pod-{round_}"))
        assert retried.status_code == 200, retried.get_json()

        assert _kill_app_connections(postgres_url) >= 1
        first = user.get(listing)
        assert first.status_code in (200, 503), first.get_json()
        again = user.get(listing)
        assert again.status_code == 200, again.get_json()
        assert {item["uid"] for item in again.get_json()["items"]} == {
            f"p{n}" for n in range(round_ + 1)
        }


# --------------------------------------------------------------------------- user reads


def test_reads_of_a_known_cluster_do_not_look_it_up_again(
    app: Flask,
    client: FlaskClient,
    agent: Agent,
    make_user_token: Callable[..., str],
    cluster_lookups: list[str],
) -> None:
    assert agent.event("added", "Pod", pod("p1", "a")).status_code == 200
    org = get_state(app).storage.get_org(agent.org_id)
    user = User(client, make_user_token(org, "viewer"))
    base = f"/api/v1/clusters/{agent.cluster_id}"
    cluster_lookups.clear()
    for path in (
        f"{base}/agents",
        f"{base}/resources",
        f"{base}/resources/p1",
        "/api/v1/resources",
    ):
        response = user.get(path, **({"cluster_id": agent.cluster_id} if "v1/res" in path else {}))
        assert response.status_code == 200, (path, response.get_json())
    assert cluster_lookups == [agent.cluster_id]


def test_a_known_cluster_deleted_since_answers_404_not_an_empty_page(
    app: Flask, client: FlaskClient, agent: Agent, make_user_token: Callable[..., str]
) -> None:
    assert agent.event("added", "Pod", pod("p1", "a")).status_code == 200
    org = get_state(app).storage.get_org(agent.org_id)
    user = User(client, make_user_token(org, "viewer"))
    base = f"/api/v1/clusters/{agent.cluster_id}"
    paths = [f"{base}/agents", f"{base}/resources/p1", f"{base}/resources/p1/history"]
    assert [user.get(path).status_code for path in paths] == [200, 200, 200]

    assert get_state(app).storage.delete_cluster(agent.org_id, agent.cluster_id)

    assert [user.get(path).status_code for path in paths] == [404, 404, 404]
    fleet = user.get("/api/v1/resources", cluster_id=agent.cluster_id)
    assert fleet.status_code == 404


def test_a_cluster_known_for_one_org_stays_hidden_from_another(
    client: FlaskClient,
    agent: Agent,
    make_org: Callable[..., Organization],
    make_user_token: Callable[..., str],
    app: Flask,
) -> None:
    assert agent.event("added", "Pod", pod("p1", "a")).status_code == 200
    owner = User(client, make_user_token(get_state(app).storage.get_org(agent.org_id)))
    outsider = User(client, make_user_token(make_org()))
    path = f"/api/v1/clusters/{agent.cluster_id}/agents"
    assert owner.get(path).status_code == 200
    assert outsider.get(path).status_code == 404
    assert outsider.get(f"/api/v1/clusters/{agent.cluster_id}/resources/p1").status_code == 404


def test_a_revocation_reaches_another_api_process_within_a_second(
    tmp_path: Path, postgres_url: str, redis_url: str, redis_prefix: str
) -> None:
    """Two API processes (apps) sharing PostgreSQL and Redis: the second learns via the cache."""
    from reference_app.auth.credentials import register_cluster

    apps = [
        create_app(
            postgres_config(
                tmp_path / name, postgres_url, redis_url, redis_prefix, SECRET_KEY="s" * 32
            )
        )
        for name in ("first", "second")
    ]
    try:
        first, second = (get_state(app).access_tokens for app in apps)
        now = [0.0]
        second.clock = lambda: now[0]
        storage = get_state(apps[0]).storage
        credential = register_cluster(storage, new_org(apps[0]).id, "c").credential
        token = first.issue(credential)
        assert second.verify(token).client_id == credential.client_id  # remembered: not revoked

        storage.revoke_credential(credential.client_id, datetime.now(UTC))
        first.forget(credential.client_id)  # what the revoking view does
        now[0] += 1.0  # a second later, not the revocation window's minute

        with pytest.raises(InvalidAccessToken):
            second.verify(token)
    finally:
        for app in apps:
            close_app(app)
