"""The OpenAPI document describes every endpoint, and every error has the one shape."""

from __future__ import annotations

from agent_wire import User
from flask import Flask
from flask.testing import FlaskClient

EXPECTED_PATHS = {
    "/api/v1/agent/snapshot": {"post"},
    "/api/v1/agent/events": {"post"},
    "/api/v1/agent/heartbeat": {"post"},
    "/api/v1/agent/kinds": {"get"},
    "/api/v1/clusters": {"get", "post"},
    "/api/v1/clusters/{cluster_id}": {"get", "delete"},
    "/api/v1/clusters/{cluster_id}/credentials": {"get", "post"},
    "/api/v1/clusters/{cluster_id}/credentials/{client_id}": {"delete"},
    "/api/v1/clusters/{cluster_id}/resources": {"get"},
    "/api/v1/clusters/{cluster_id}/agents": {"get"},
    "/api/v1/clusters/{cluster_id}/resources/{uid}": {"get"},
    "/api/v1/clusters/{cluster_id}/resources/{uid}/history": {"get"},
    "/api/v1/clusters/{cluster_id}/resources/{uid}/related": {"get"},
    "/api/v1/attention": {"get"},
    "/api/v1/resources": {"get"},
    "/api/v1/summary": {"get"},
    "/api/v1/kinds": {"get"},
    "/api/v1/me": {"get"},
    "/api/v1/me/organization": {"put"},
    "/api/v1/org": {"get", "patch", "delete"},
    "/api/v1/members": {"get"},
    "/api/v1/members/{user_id}": {"patch", "delete"},
    "/api/v1/invitations": {"get", "post"},
    "/api/v1/invitations/{invitation_id}": {"delete"},
    "/api/v1/tokens": {"get", "post"},
    "/api/v1/tokens/{token_id}": {"delete"},
    "/api/v1/audit": {"get"},
}


def test_openapi_documents_every_endpoint(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    paths = {
        path: {method for method in item if method != "parameters"}
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/")
    }
    assert paths == EXPECTED_PATHS
    listing = spec["paths"]["/api/v1/clusters/{cluster_id}/resources"]["get"]
    params = {p["name"] for p in listing["parameters"] if p["in"] == "query"}
    assert params == {"kind", "namespace", "name", "q", "label_selector", "include_deleted",
                      "as_of", "limit", "cursor"}  # fmt: skip
    assert "422" in listing["responses"] and "404" in listing["responses"]
    error = spec["components"]["schemas"]["Error"]["properties"]
    assert set(error) == {"code", "status", "message", "errors"}
    assert client.get("/api/docs").status_code == 200


def test_errors_share_one_shape(app: Flask, client: FlaskClient, make_org, make_user_token) -> None:
    user = User(client, make_user_token(make_org(), "viewer"))
    responses = [
        client.get("/api/v1/clusters"),  # 401
        user.post("/api/v1/clusters", {"name": "x"}),  # 403
        user.get("/api/v1/clusters/nope"),  # 404
        client.put("/api/v1/clusters", headers={"Authorization": f"Bearer {user.token}"}),  # 405
        user.get("/api/v1/resources", limit=-1),  # 422
    ]
    assert [r.status_code for r in responses] == [401, 403, 404, 405, 422]
    for response in responses:
        body = response.get_json()
        assert {"code", "status", "message"} <= set(body) <= {"code", "status", "message", "errors"}
        assert body["status"] == response.status_code and body["message"]
    assert responses[-1].get_json()["errors"] == {
        "limit": ["Must be greater than or equal to 1 and less than or equal to 1000."]
    }
