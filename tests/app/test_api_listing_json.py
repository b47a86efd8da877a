"""Listings answer what their documented schema dumps: the same documents as single reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from agent_wire import Agent, User, new_cluster_uid, pod
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask.testing import FlaskClient


def test_listing_items_equal_the_single_resource_documents(
    client: FlaskClient, make_org, make_cluster, agent_token, make_user_token
) -> None:
    org = make_org()
    keys = make_cluster(org)
    agent = Agent(client, agent_token(keys), new_cluster_uid(), keys.cluster.id, org.id)
    unusual = pod(
        "u-é",
        "café-0",
        "shop",
        labels={"app": "web"},
        annotations={"note": 'naïve ☃ "quoted" \\ and\nnewline'},
        spec={"replicas": 3, "ratio": 0.25, "flags": [True, None], "nested": {"b": 1, "a": 2}},
    )
    assert agent.snapshot(pods=[unusual, pod("u-plain", "plain", "shop")]).status_code == 200
    user = User(client, make_user_token(org, "viewer"))

    path = f"/api/v1/clusters/{keys.cluster.id}/agents"
    listing = user.get(path, kind="Pod")
    assert listing.status_code == 200 and listing.mimetype == "application/json"
    items = listing.get_json()["items"]
    assert [item["name"] for item in items] == ["café-0", "plain"]
    for item in items:
        single = user.get(f"/api/v1/clusters/{keys.cluster.id}/resources/{item['uid']}")
        assert item == single.get_json()
    assert items[0]["annotations"]["note"] == 'naïve ☃ "quoted" \\ and\nnewline'


def test_answers_have_exactly_the_fields_their_openapi_schema_documents(
    client: FlaskClient, make_org, make_cluster, agent_token, make_user_token
) -> None:
    org = make_org()
    keys = make_cluster(org)
    agent = Agent(client, agent_token(keys), new_cluster_uid(), keys.cluster.id, org.id)
    committed = agent.snapshot(pods=[pod("u-1", "web-0", "shop")])
    user = User(client, make_user_token(org, "viewer"))
    page = user.get(f"/api/v1/clusters/{keys.cluster.id}/resources").get_json()
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]

    def documented(name: str) -> set[str]:
        return set(schemas[name]["properties"])

    assert set(page) == documented("ResourcePage")
    assert set(page["items"][0]) == documented("Resource")
    # The snapshot answer documents the staged fields too; a committed one has the rest
    # (ignored_kinds only when the platform skipped a kind it does not know, dropped_fields
    # only when it dropped fields the kind's schema does not declare).
    assert set(committed.get_json()) == documented("SnapshotAccepted") - {
        "snapshot_id", "chunk", "queued", "ignored_kinds", "dropped_fields"
    }  # fmt: skip


def test_the_json_provider_writes_what_flask_would_and_takes_what_orjson_cannot(
    app: Flask,
) -> None:
    document = {
        "b": [1, 2.5, None, True],
        "a": {"z": "naïve ☃", "y": 'tab\t"quoted"'},
        "when": datetime(2026, 12, 5, 12, 0, tzinfo=UTC),
        "big": 2**70,  # beyond orjson's 64 bits: Flask's encoder writes it
    }
    with app.app_context():
        written = app.json.dumps(document)
        flask_wrote = DefaultJSONProvider(app).dumps(document)
        small = {key: value for key, value in document.items() if key != "big"}
        compact = app.json.dumps(small)
    assert json.loads(written) == json.loads(flask_wrote)
    assert json.loads(compact)["when"] == "Sat, 05 Dec 2026 12:00:00 GMT"  # Flask's HTTP date
    # Compact, keys sorted as Flask sorts them; only non-ASCII text is not \u-escaped.
    parsed = json.loads(compact)
    assert compact == json.dumps(parsed, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
