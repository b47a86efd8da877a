"""Small walls (issue 13 item 8): file modes, headers, the token endpoint, gunicorn's socket."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path
from typing import Any

from app_support import JWT_BEARER, ClusterKeys, assertion, embedded_config
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from gunicorn.config import Config

from reference_app import create_app
from reference_app.app import close_app
from reference_app.serve import gunicorn_options

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def test_the_embedded_database_files_are_private(tmp_path: Path) -> None:
    app = create_app(embedded_config(tmp_path))
    try:
        app.test_client().get("/api/v1/kinds")  # any request: the files exist and are used
        files = sorted(Path(app.instance_path).glob("obsyk.sqlite3*"))
        assert [f.name for f in files][:1] == ["obsyk.sqlite3"]
        for path in files:  # the database and its -wal/-shm files
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        close_app(app)


def test_api_answers_forbid_content_sniffing(
    client: FlaskClient, make_org, make_user_token
) -> None:
    token = make_user_token(make_org(), "viewer")
    for path, status in (("/api/v1/clusters", 200), ("/api/v1/clusters/nope", 404)):
        response = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == status
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
    assert client.get("/api/v1/kinds").headers["X-Content-Type-Options"] == "nosniff"  # a 401


def _other_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _answer(client: FlaskClient, form: str, value: str) -> tuple[int, dict[str, Any]]:
    if form == "grant":
        data = {"grant_type": JWT_BEARER, "assertion": value}
    else:
        data = {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": value,
        }
    response = client.post("/oauth/token", data=data)
    body = response.get_json()
    return response.status_code, body


def test_the_token_endpoint_answers_an_unknown_client_as_a_bad_signature(
    app: Flask, client: FlaskClient, make_org, make_cluster
) -> None:
    """No client-id enumeration: both forms answer the two failures identically."""
    keys: ClusterKeys = make_cluster(make_org())
    for form in ("grant", "client_credentials"):
        unknown = _answer(client, form, assertion(keys.private_key_pem, str(uuid.uuid4())))
        forged = _answer(client, form, assertion(_other_key(), keys.client_id))
        assert unknown == forged, form
        assert unknown[0] == 400
        assert unknown[1]["error"] == ("invalid_grant" if form == "grant" else "invalid_client")


def test_obsyk_serve_opens_no_gunicorn_control_socket() -> None:
    """Two `obsyk serve` on one host would share ~/.gunicorn/gunicorn.ctl: none is opened."""
    options = gunicorn_options("127.0.0.1", 0, in_process_jobs=True, workers=None, threads=4)
    assert "control_socket_disable" in Config().settings  # the installed gunicorn knows it
    assert options["control_socket_disable"] is True
