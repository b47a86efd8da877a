"""Bad input is the client's fault: a 4xx in the one error shape, never a 5xx.

The upstream operator retries every 5xx forever, so a 5xx answered to a bad value is
a poison pill: the same request comes back until someone notices.  Values only the
database refuses (a NUL byte in PostgreSQL text, a time beyond the datetime range) are
sorted from outages in one place and answered 422.
"""

from __future__ import annotations

import pytest
from agent_wire import Agent, User, event, pod, snapshot, stored_inventory
from app_support import JWT_BEARER, assertion
from flask import Flask
from flask.testing import FlaskClient
from hostile_json import nested

from obsyk_core.limits import MAX_CHUNK, MAX_NESTING


@pytest.fixture
def user_and_cluster(client: FlaskClient, make_org, make_cluster, make_user_token):
    org = make_org()
    cluster = make_cluster(org).cluster
    return User(client, make_user_token(org, "viewer")), cluster.id


@pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_an_as_of_beyond_the_datetime_range_is_422(app: Flask, user_and_cluster, as_of) -> None:
    user, cluster_id = user_and_cluster
    response = user.get(f"/api/v1/clusters/{cluster_id}/resources", as_of=as_of)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["code"] in ("invalid_value", "invalid_arguments")


@pytest.mark.parametrize("param", ["name", "namespace", "kind", "q"])
def test_a_nul_byte_in_a_filter_is_422_naming_it(app: Flask, user_and_cluster, param: str) -> None:
    user, cluster_id = user_and_cluster
    response = user.get(f"/api/v1/clusters/{cluster_id}/resources", **{param: "a\x00b"})
    # Refused before the view on both backends (SQLite would store and compare NUL;
    # PostgreSQL refuses it, which must read as bad input, not as an outage).
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["code"] == "invalid_arguments"
    assert list(response.get_json()["errors"]) == [param]


# --------------------------------------------------------------------- NUL bytes, anywhere

NUL_MESSAGE = "Must not contain a NUL byte (\\u0000)."


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/api/v1/clusters/{cluster}/resources", {"cursor": "a\x00"}, "cursor"),
        ("/api/v1/clusters/{cluster}/resources", {"label_selector": "app=a\x00"}, "label_selector"),
        ("/api/v1/clusters/{cluster}/resources", {"as_of": "\x00"}, "as_of"),
        ("/api/v1/resources", {"kind": "Pod", "namespace": "x\x00"}, "namespace"),
        ("/api/v1/clusters/{cluster}/resources/a%00b", {}, "uid"),
        ("/api/v1/clusters/a%00b/resources/x/history", {}, "cluster_id"),
        ("/api/v1/clusters/{cluster}/res%00ources", {}, "path"),
        ("/dashboard/%00", {}, "path"),
    ],
)
def test_a_nul_byte_in_the_url_is_422_naming_where(
    app: Flask, user_and_cluster, path: str, params: dict[str, str], named: str
) -> None:
    user, cluster_id = user_and_cluster
    response = user.get(path.format(cluster=cluster_id), **params)
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == "invalid_arguments"
    assert body["errors"] == {named: [NUL_MESSAGE]}


def test_a_nul_byte_in_a_user_api_body_is_422_naming_the_field(
    app: Flask, client: FlaskClient, make_org, make_user_token
) -> None:
    admin = User(client, make_user_token(make_org(), "admin"))
    response = admin.post("/api/v1/clusters", {"name": "prod\x00"})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["errors"] == {"name": [NUL_MESSAGE]}


def test_deep_json_on_the_user_api_is_400(
    app: Flask, client: FlaskClient, make_org, make_user_token
) -> None:
    admin = User(client, make_user_token(make_org(), "admin"))
    deep = "[" * 5000 + "]" * 5000
    response = client.post(
        "/api/v1/clusters",
        data=f'{{"name": "x", "deep": {deep}}}',
        content_type="application/json",
        headers=admin._headers(),
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("endpoint", "body", "named"),
    [
        ("snapshot", lambda uid: snapshot(uid, pods=[pod("p1", "web\x00")]), "pods.0.name"),
        (
            "snapshot",
            lambda uid: snapshot(uid, pods=[pod("p1", "web", labels={"a\x00": "b"})]),
            "pods.0.labels.a\x00",
        ),
        (
            "snapshot",
            lambda uid: {**snapshot(uid), "snapshot_id": "s\x00", "chunk": 0},
            "snapshot_id",
        ),
        ("events", lambda uid: event(uid, "added", "Pod", pod("p1", "a\x00")), "name"),
        ("heartbeat", lambda uid: {"cluster_uid": uid, "agent_version": "\x00"}, "agent_version"),
    ],
)
def test_a_nul_byte_in_an_agent_body_is_422_naming_the_field(
    app: Flask, agent: Agent, endpoint: str, body, named: str
) -> None:
    response = agent.post(endpoint, body(agent.cluster_uid))
    assert response.status_code == 422, response.get_data(as_text=True)
    errors = response.get_json()["errors"]
    assert errors[named] == [NUL_MESSAGE], errors
    assert stored_inventory(app, agent.cluster_id) == {}


def test_a_nul_byte_in_the_assertion_issuer_is_a_4xx_naming_it(
    app: Flask, client: FlaskClient, make_org, make_cluster
) -> None:
    keys = make_cluster(make_org())
    stranger = "a\x00b"
    value = assertion(keys.private_key_pem, stranger)
    response = client.post("/oauth/token", data={"grant_type": JWT_BEARER, "assertion": value})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"] == "invalid_request"
    assert "'iss'" in response.get_json()["error_description"]
    value = assertion(keys.private_key_pem, keys.client_id, sub=stranger)
    response = client.post("/oauth/token", data={"grant_type": JWT_BEARER, "assertion": value})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "'sub'" in response.get_json()["error_description"]


# ------------------------------------------------------- nesting and integers beyond the limits


def test_a_deep_field_the_schema_does_not_declare_is_dropped_not_a_500(
    app: Flask, agent: Agent
) -> None:
    """Deeper than the hash serializes (obsyk_core.limits; a declared free-form field that deep
    is a 422 naming the record: tests/core/test_wire.py), but dropped before it is hashed."""
    response = agent.snapshot(pods=[pod("p2", "deep", extra=nested(MAX_NESTING + 50))])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["dropped_fields"] == {"Pod.extra": 1}


@pytest.mark.parametrize("chunk", [2**31, 2**63, 2**64 - 1])
def test_a_chunk_beyond_the_integer_column_is_422_naming_it(
    app: Flask, agent: Agent, chunk: int
) -> None:
    body = {
        **snapshot(agent.cluster_uid, pods=[pod("p1", "a")]),
        "snapshot_id": "s",
        "chunk": chunk,
    }
    response = agent.post("snapshot", body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert list(response.get_json()["errors"]) == ["chunk"]


def test_the_largest_chunk_number_is_accepted_and_blocks_no_other_snapshot(
    app: Flask, agent: Agent, run_jobs
) -> None:
    body = {
        **snapshot(agent.cluster_uid, pods=[pod("p1", "a")]),
        "snapshot_id": "s",
        "chunk": MAX_CHUNK,
    }
    response = agent.post("snapshot", body)
    assert response.status_code == 202, response.get_data(as_text=True)
    # The job finding complete snapshots once overflowed on it (last chunk + 1), for every cluster.
    complete = {**body, "snapshot_id": "t", "chunk": 0, "pods": [pod("p2", "b")]}
    assert agent.post("snapshot", complete).status_code == 202
    run_jobs()
    assert set(stored_inventory(app, agent.cluster_id)) == {"p2"}


@pytest.mark.parametrize("version", [str(2**63), "9" * 40, 2**63, "²"])
def test_a_resource_version_beyond_64_bits_stays_opaque(
    app: Flask, agent: Agent, version: object
) -> None:
    response = agent.event("added", "Pod", pod("p1", "a"), resource_version=version)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert set(stored_inventory(app, agent.cluster_id)) == {"p1"}
