"""Bad input is the client's fault: a 4xx in the one error shape, never a 5xx.

The upstream operator retries every 5xx forever, so a 5xx answered to a bad value is
a poison pill: the same request comes back until someone notices.  Values only the
database refuses (a NUL byte in PostgreSQL text, a time beyond the datetime range) are
sorted from outages in one place and answered 422.
"""

from __future__ import annotations

import pytest
from agent_wire import User
from flask import Flask
from flask.testing import FlaskClient


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
def test_a_nul_byte_in_a_filter_is_a_4xx(app: Flask, user_and_cluster, param: str) -> None:
    user, cluster_id = user_and_cluster
    response = user.get(f"/api/v1/clusters/{cluster_id}/resources", **{param: "a\x00b"})
    # SQLite stores and compares NUL like any character (no match: an empty page);
    # PostgreSQL refuses it, which must read as bad input, not as an outage.
    assert response.status_code in (200, 422), response.get_data(as_text=True)
    if response.status_code == 200:
        assert response.get_json()["items"] == []
    else:
        assert response.get_json()["code"] == "invalid_value"
