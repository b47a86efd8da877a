"""The agent endpoints' OpenAPI description: success answers, every error answer, bearer auth.

The error answers and the security requirement are documented without wrapping
the views (see ``reference_app/api/agent/routes.py``); operators' authors read
them here, so they must stay complete.
"""

from __future__ import annotations

from flask.testing import FlaskClient

ERRORS = {"400", "401", "403", "413", "422", "503"}


def test_agent_endpoints_document_their_answers_and_bearer_auth(client: FlaskClient) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    expected_success = {"snapshot": {"200", "202"}, "events": {"200"}, "heartbeat": {"200"}}
    for endpoint, success in expected_success.items():
        operation = paths[f"/api/v1/agent/{endpoint}"]["post"]
        assert set(operation["responses"]) >= success | ERRORS, endpoint
        assert operation["security"] == [{"bearer": []}], endpoint
        too_large = operation["responses"]["413"]["description"]
        assert too_large == "Body above the endpoint's size limit"
    events = paths["/api/v1/agent/events"]["post"]["responses"]["200"]
    schema = events["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/EventsAccepted"}
