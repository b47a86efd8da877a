"""Org isolation, both ways: another org's clusters and resources are 404, never listed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from agent_wire import Agent, User, new_cluster_uid, pod
from app_support import new_cluster, new_org, new_user_token, request_access_token
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from reference_app.auth.api_tokens import hash_token
from reference_app.state import get_state


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


# ----------------------------------------------------------------------- the listing's token check


class CountingCursor(psycopg.Cursor[Any]):
    """psycopg's cursor, noting each statement sent (SQLAlchemy's and raw ones alike)."""

    sent: list[str] = []

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        CountingCursor.sent.append(str(query))
        return super().execute(query, params, **kwargs)


def _listing_answers(app: Flask, client: FlaskClient) -> None:
    """A cluster listing answers only a good token, and only for the token's own org."""
    mine, theirs = new_org(app), new_org(app)
    keys, other = new_cluster(app, mine), new_cluster(app, theirs)
    for cluster_keys in (keys, other):
        agent = Agent(client, request_access_token(client, cluster_keys), new_cluster_uid())
        assert agent.snapshot(pods=[pod("u-p", "p", labels={"app": "web"})]).status_code == 200
    me = User(client, new_user_token(app, mine, "viewer"))
    path = f"/api/v1/clusters/{keys.cluster.id}/resources"
    assert [i["name"] for i in me.get(path, kind="Pod").get_json()["items"]] == ["p"]
    assert me.get(path, kind="Deployment").get_json() == {"items": [], "next_cursor": None}
    assert me.get("/api/v1/resources", cluster_id=keys.cluster.id).status_code == 200
    # as_of listings are never joined to the token check: the same answers, apart.
    later = "2999-01-01T00:00:00"
    assert [i["name"] for i in me.get(path, as_of=later).get_json()["items"]] == ["p"]
    for foreign in (f"/api/v1/clusters/{other.cluster.id}/agents", "/api/v1/resources"):
        for as_of in ({}, {"as_of": later}):
            response = me.get(foreign, cluster_id=other.cluster.id, kind="Pod", **as_of)
            assert response.status_code == 404 and "u-p" not in response.get_data(as_text=True)
    # A bad token is refused before bad arguments are; a good one hears about its arguments.
    stranger = User(client, "obsyk_pat_nobody")
    assert stranger.get(path, limit=0).status_code == 401
    assert me.get(path, limit=0).status_code == 422
    # Revocation counts on the very next request.
    storage = get_state(app).storage
    token = storage.find_api_token(hash_token(me.token))
    assert token is not None
    storage.revoke_api_token(token.id, datetime.now(UTC))
    assert me.get(path, kind="Pod").status_code == 401


def test_listing_checks_the_token_on_every_request(app: Flask, client: FlaskClient) -> None:
    _listing_answers(app, client)


def test_a_postgresql_listing_is_the_guards_check_then_the_read(postgres_app: Flask) -> None:
    """The guard checks the token before the view; the view then reads the rows.

    Two statements once the process knows the cluster's org (the first request looks it up).
    """
    state = get_state(postgres_app)
    client = postgres_app.test_client()
    _listing_answers(postgres_app, client)

    org = new_org(postgres_app)
    keys = new_cluster(postgres_app, org)
    agent = Agent(client, request_access_token(client, keys), new_cluster_uid())
    assert agent.snapshot(pods=[pod("u-q", "q")]).status_code == 200
    me = User(client, new_user_token(postgres_app, org, "viewer"))

    def count_statements(dbapi_connection: Any, *rest: Any) -> None:
        dbapi_connection.cursor_factory = CountingCursor

    path = f"/api/v1/clusters/{keys.cluster.id}/agents"
    assert me.get(path, kind="Pod").status_code == 200  # the cluster's org is now known
    engine = state.storage.engine  # type: ignore[attr-defined]
    event.listen(engine, "checkout", count_statements)
    CountingCursor.sent = []
    try:
        response = me.get(path, kind="Pod")
    finally:
        event.remove(engine, "checkout", count_statements)
    assert [item["name"] for item in response.get_json()["items"]] == ["q"]
    assert len(CountingCursor.sent) == 2
    assert "api_tokens" in CountingCursor.sent[0] and "FROM resources" in CountingCursor.sent[1]
