"""Resource listings, filters, label selectors, pagination, single resources, history, as_of."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from agent_wire import Agent, User, new_cluster_uid, pod
from flask import Flask
from flask.testing import FlaskClient


class Fleet:
    def __init__(self, agent: Agent, user: User) -> None:
        self.agent = agent
        self.user = user
        self.path = f"/api/v1/clusters/{agent.cluster_id}/resources"

    def names(self, path: str | None = None, **params) -> list[str]:
        return [item["name"] for item in self.user.all_resources(path or self.path, **params)]


@pytest.fixture
def fleet(
    app: Flask, client: FlaskClient, make_org, make_cluster, agent_token, make_user_token
) -> Fleet:
    org = make_org()
    keys = make_cluster(org)
    agent = Agent(client, agent_token(keys), new_cluster_uid(), keys.cluster.id, org.id)
    pods = [
        pod("u-web-1", "web-1", "shop", labels={"app": "web", "tier": "front", "env": "prod"}),
        pod("u-web-2", "web-2", "shop", labels={"app": "web", "tier": "front", "env": "dev"}),
        pod("u-api-1", "api-1", "shop", labels={"app": "api", "env": "prod"}),
        pod("u-db-0", "db-0", "data", labels={"app": "db"}),
        pod("u-webhook", "webhook", "infra", labels={"app": "hook", "env": "prod"}),
    ]
    response = agent.snapshot(
        pods=pods,
        namespaces=[{"uid": "u-ns", "name": "shop"}],
        services=[{"uid": "u-svc", "name": "web", "namespace": "shop", "labels": {"app": "web"}}],
    )
    assert response.status_code == 200
    return Fleet(agent, User(client, make_user_token(org, "viewer")))


def test_filters(fleet: Fleet) -> None:
    assert fleet.names(kind="Pod") == ["db-0", "webhook", "api-1", "web-1", "web-2"]
    assert fleet.names(kind="Pod", namespace="shop") == ["api-1", "web-1", "web-2"]
    assert fleet.names(name="web") == ["webhook", "web-1", "web-2", "web"]
    assert fleet.names(q="eb-") == ["web-1", "web-2"]
    assert fleet.names(q="hook") == ["webhook"]
    assert fleet.names(kind="Namespace") == ["shop"]
    assert fleet.names(kind="NoSuchKind") == []
    # The alias.
    alias = fleet.path.replace("/resources", "/agents")
    assert fleet.names(alias, kind="Pod", namespace="shop") == ["api-1", "web-1", "web-2"]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", {"web-1", "web-2", "web"}),
        ("app==web,tier=front", {"web-1", "web-2"}),
        ("app!=web", {"api-1", "db-0", "webhook", "shop"}),
        ("env in (prod,dev)", {"web-1", "web-2", "api-1", "webhook"}),
        ("env notin (prod)", {"web-2", "db-0", "web", "shop"}),
        ("env", {"web-1", "web-2", "api-1", "webhook"}),
        ("!env", {"db-0", "web", "shop"}),
        ("app in (web, api),env=prod", {"web-1", "api-1"}),
    ],
)
def test_label_selector_operators(fleet: Fleet, selector: str, expected: set[str]) -> None:
    assert set(fleet.names(label_selector=selector)) == expected


@pytest.mark.parametrize("selector", ["app in (web", "=web", "app=we b", "app notin ()"])
def test_invalid_label_selector_is_422_naming_it(fleet: Fleet, selector: str) -> None:
    response = fleet.user.get(fleet.path, label_selector=selector)
    assert response.status_code == 422
    body = response.get_json()
    assert list(body["errors"]) == ["label_selector"] and body["code"] == "invalid_arguments"


def test_a_selector_of_fifty_clauses_is_served_and_more_is_422(fleet: Fleet) -> None:
    # 999 clauses used to reach the database and come back as a 503 on SQLite: a bad
    # request reported as an outage, which clients retry forever.
    fifty = ",".join(["app=web"] + [f"missing-{i}!=x" for i in range(49)])
    assert set(fleet.names(label_selector=fifty)) == {"web-1", "web-2", "web"}
    response = fleet.user.get(fleet.path, label_selector=fifty + ",one-more")
    assert response.status_code == 422
    assert "more than 50 clauses" in response.get_json()["errors"]["label_selector"][0]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"limit": "x"}, "limit"),
     ({"cursor": "bm90LWpzb24"}, "cursor"), ({"cursor": "WyJhIl0"}, "cursor"),
     ({"as_of": "yesterday"}, "as_of"), ({"include_deleted": "maybe"}, "include_deleted")],
)  # fmt: skip
def test_invalid_query_arguments_are_422_by_name(fleet: Fleet, params: dict, field: str) -> None:
    response = fleet.user.get(fleet.path, **params)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == [field]


def test_pagination_has_no_gap_and_no_duplicate(fleet: Fleet) -> None:
    extra = [pod(f"u-many-{i}", f"many-{i:02}", "shop") for i in range(23)]
    fleet.agent.post(
        "events",
        {"cluster_uid": fleet.agent.cluster_uid,
         "events": [{"type": "added", "kind": "Pod", "uid": p["uid"], "name": p["name"],
                     "namespace": "shop", "object": p} for p in extra]},
    )  # fmt: skip
    everything = fleet.names(limit=1000)
    for limit in (1, 4, 7):
        paged = fleet.names(limit=limit)
        assert paged == everything
    assert len(everything) == len(set(everything)) == 23 + 7


def test_deleted_resources_history_and_as_of(fleet: Fleet) -> None:
    agent, user = fleet.agent, fleet.user
    web1 = pod("u-web-1", "web-1", "shop", labels={"app": "web", "tier": "front", "env": "prod"})
    time.sleep(0.02)
    before_change = datetime.now(UTC)
    time.sleep(0.02)
    assert agent.event("modified", "Pod", dict(web1, phase="Running")).status_code == 200
    assert agent.event("deleted", "Pod", web1).status_code == 200

    assert "web-1" not in fleet.names(kind="Pod")
    assert "web-1" in fleet.names(kind="Pod", include_deleted="true")
    one = user.get(f"{fleet.path}/u-web-1").get_json()
    assert one["deleted_at"] is not None and one["object"]["phase"] == "Running"

    history = user.get(f"{fleet.path}/u-web-1/history").get_json()["items"]
    assert [(v["version"], v["change"]) for v in history] == [
        (1, "added"), (2, "modified"), (3, "deleted"),
    ]  # fmt: skip
    assert history[0]["diff"]["added"] == ["labels", "name", "namespace", "uid"]
    assert history[1]["diff"] == {
        "added": ["phase"],
        "removed": [],
        "changed": [],
        "values": [{"path": "phase", "new": "Running"}],
    }
    assert history[2]["object"] is None
    assert history[1]["content_hash"] != history[0]["content_hash"]

    # As of before the change: web-1 is live and has no phase yet.
    then = user.all_resources(fleet.path, kind="Pod", as_of=before_change.isoformat())
    web_then = next(item for item in then if item["uid"] == "u-web-1")
    assert "phase" not in web_then["object"] and web_then["deleted_at"] is None

    assert user.get(f"{fleet.path}/nope").status_code == 404
    assert user.get(f"{fleet.path}/nope/history").status_code == 404


def test_fleet_search_spans_the_orgs_clusters(
    app: Flask, client: FlaskClient, fleet: Fleet, make_cluster, agent_token
) -> None:
    org = app.extensions["obsyk"].storage.get_org(fleet.agent.org_id)
    keys = make_cluster(org)
    second = Agent(client, agent_token(keys), new_cluster_uid(), keys.cluster.id, org.id)
    second.snapshot(pods=[pod("u-other", "web-9", "shop", labels={"app": "web"})])

    found = fleet.user.all_resources("/api/v1/resources", kind="Pod", label_selector="app=web")
    assert {(i["cluster_id"], i["name"]) for i in found} == {
        (fleet.agent.cluster_id, "web-1"),
        (fleet.agent.cluster_id, "web-2"),
        (keys.cluster.id, "web-9"),
    }
    only = fleet.user.all_resources("/api/v1/resources", kind="Pod", cluster_id=keys.cluster.id)
    assert [i["name"] for i in only] == ["web-9"]
