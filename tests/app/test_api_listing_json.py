"""The listing's fast JSON path writes exactly what the single-resource schema writes."""

from __future__ import annotations

from datetime import UTC, datetime

from agent_wire import Agent, User, new_cluster_uid, pod
from flask import Flask
from flask.testing import FlaskClient

from obsyk_core.storage import ResourceRow
from reference_app.api.resources.page_json import page_response


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


def test_a_record_integer_beyond_64_bits_still_lists(app: Flask) -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    row = ResourceRow(
        cluster_id="c", uid="u", kind="Pod", namespace=None, name="n", labels={},
        annotations={}, record={"big": 2**70}, content_hash="h", first_seen_at=now,
        updated_at=now, deleted_at=None, resource_version=None, observed_at=now,
    )  # fmt: skip
    with app.app_context():
        response = page_response([row], next_cursor=None)
    assert response.get_json() == {
        "items": [
            {
                "cluster_id": "c", "uid": "u", "kind": "Pod", "namespace": None, "name": "n",
                "labels": {}, "annotations": {}, "object": {"big": 2**70}, "content_hash": "h",
                "first_seen_at": "2026-11-29T12:00:00+00:00",
                "updated_at": "2026-11-29T12:00:00+00:00", "deleted_at": None,
            }
        ],
        "next_cursor": None,
    }  # fmt: skip
