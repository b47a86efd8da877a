"""POST /oauth/token (CONTRACT §1): every rejection, the success shape, replay, revocation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from app_support import JWT_BEARER, PUBLIC_URL, ClusterKeys, assertion
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey

from reference_app.errors import error_body
from reference_app.state import get_state

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def keys(
    app: Flask, make_org: Callable[..., Any], make_cluster: Callable[..., ClusterKeys]
) -> ClusterKeys:
    return make_cluster(make_org())


def post_assertion(client: FlaskClient, value: str) -> Any:
    return client.post("/oauth/token", data={"grant_type": JWT_BEARER, "assertion": value})


def assert_oauth_error(response: Any, *errors: str) -> dict[str, Any]:
    """An RFC 6749 §5.2 error (400/401, JSON) that is also in the app's error shape."""
    assert response.status_code in (400, 401), response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] in errors, body
    assert body["error_description"]
    assert body["message"]
    # Beside RFC 6749's two fields, exactly the shape every other error of the app has.
    oauth_fields = {"error": body["error"], "error_description": body["error_description"]}
    assert body == {
        **oauth_fields,
        **error_body(response.status_code, body["error_description"], body["error"]),
    }
    return dict(body)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}."


def claims_for(keys: ClusterKeys, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": keys.client_id,
        "sub": keys.client_id,
        "aud": [PUBLIC_URL],
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        **overrides,
    }


# --------------------------------------------------------------------------- success


def test_valid_assertion_gets_a_bearer_token(client: FlaskClient, keys: ClusterKeys) -> None:
    response = post_assertion(client, assertion(keys.private_key_pem, keys.client_id))

    assert response.status_code == 200  # upstream treats anything else, even 201, as failure
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert len(response.get_data()) < 4096
    assert response.headers["Cache-Control"] == "no-store"


def test_access_token_opens_the_agent_endpoints(
    client: FlaskClient, keys: ClusterKeys, agent_token: Callable[..., str]
) -> None:
    token = agent_token(keys)

    response = client.post(
        "/api/v1/agent/heartbeat",
        json={"cluster_uid": "kube-system-uid"},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 200


def test_audience_as_a_plain_string_is_accepted(client: FlaskClient, keys: ClusterKeys) -> None:
    value = assertion(keys.private_key_pem, keys.client_id, aud=PUBLIC_URL)
    claims = claims_for(keys, aud=PUBLIC_URL)
    value = jwt.encode(
        {"alg": "ES256", "typ": "JWT"}, claims, ECKey.import_key(keys.private_key_pem)
    )

    assert post_assertion(client, value).status_code == 200


def test_sec1_private_key_as_upstream_stores_it_works(
    client: FlaskClient, keys: ClusterKeys
) -> None:
    private = serialization.load_pem_private_key(keys.private_key_pem.encode(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    sec1 = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    assert "BEGIN EC PRIVATE KEY" in sec1

    assert post_assertion(client, assertion(sec1, keys.client_id)).status_code == 200


def test_client_credentials_with_private_key_jwt(client: FlaskClient, keys: ClusterKeys) -> None:
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion(keys.private_key_pem, keys.client_id),
        },
    )

    assert response.status_code == 200
    token = response.get_json()["access_token"]
    heartbeat = client.post(
        "/api/v1/agent/heartbeat",
        json={"cluster_uid": "u"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert heartbeat.status_code == 200


# --------------------------------------------------------------------------- rejections


def test_alg_none_is_rejected(client: FlaskClient, keys: ClusterKeys) -> None:
    value = unsigned(claims_for(keys), {"alg": "none", "typ": "JWT"})

    assert_oauth_error(post_assertion(client, value), "invalid_grant")


def test_hs256_keyed_with_the_public_key_is_rejected(
    app: Flask, client: FlaskClient, keys: ClusterKeys
) -> None:
    # The classic key-confusion attack: the public key (known to anyone) as an HMAC secret.
    credential = get_state(app).storage.get_credential(keys.client_id)
    assert credential is not None
    public_pem = credential.public_key_pem
    # joserfc refuses to build this token, so it is signed by hand, as an attacker would.
    signing_input = unsigned(claims_for(keys), {"alg": "HS256", "typ": "JWT"}).rstrip(".")
    mac = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    value = f"{signing_input}.{b64(mac)}"

    assert_oauth_error(post_assertion(client, value), "invalid_grant")


def test_signature_by_another_key_is_rejected(client: FlaskClient, keys: ClusterKeys) -> None:
    other = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )

    assert_oauth_error(post_assertion(client, assertion(other, keys.client_id)), "invalid_grant")


def test_tampered_claims_are_rejected(client: FlaskClient, keys: ClusterKeys) -> None:
    header, _, signature = assertion(keys.private_key_pem, keys.client_id).split(".")
    forged = b64(json.dumps(claims_for(keys, exp=int(time.time()) + 500)).encode())

    assert_oauth_error(post_assertion(client, f"{header}.{forged}.{signature}"), "invalid_grant")


def test_unknown_client_is_rejected(client: FlaskClient, keys: ClusterKeys) -> None:
    stranger = str(uuid.uuid4())

    response = post_assertion(client, assertion(keys.private_key_pem, stranger))

    assert_oauth_error(response, "invalid_grant", "invalid_client")


def test_revoked_client_is_rejected(app: Flask, client: FlaskClient, keys: ClusterKeys) -> None:
    get_state(app).storage.revoke_credential(keys.client_id, datetime.now(UTC))

    response = post_assertion(client, assertion(keys.private_key_pem, keys.client_id))

    assert_oauth_error(response, "invalid_grant", "invalid_client")


def test_expired_assertion_is_rejected(client: FlaskClient, keys: ClusterKeys) -> None:
    now = int(time.time())
    value = assertion(keys.private_key_pem, keys.client_id, iat=now - 400, exp=now - 100)

    assert_oauth_error(post_assertion(client, value), "invalid_grant")


def test_clock_skew_under_a_minute_is_tolerated(client: FlaskClient, keys: ClusterKeys) -> None:
    now = int(time.time())
    value = assertion(keys.private_key_pem, keys.client_id, iat=now + 30, exp=now + 330)

    assert post_assertion(client, value).status_code == 200


def test_assertion_from_the_future_is_rejected(client: FlaskClient, keys: ClusterKeys) -> None:
    now = int(time.time())
    value = assertion(keys.private_key_pem, keys.client_id, iat=now + 120, exp=now + 420)

    assert_oauth_error(post_assertion(client, value), "invalid_grant")


def test_lifetime_over_ten_minutes_is_rejected(client: FlaskClient, keys: ClusterKeys) -> None:
    now = int(time.time())
    value = assertion(keys.private_key_pem, keys.client_id, iat=now, exp=now + 601)

    body = assert_oauth_error(post_assertion(client, value), "invalid_grant")
    assert "600" in body["error_description"]


def test_wrong_audience_is_rejected(client: FlaskClient, keys: ClusterKeys) -> None:
    value = assertion(keys.private_key_pem, keys.client_id, aud="https://evil.example")

    assert_oauth_error(post_assertion(client, value), "invalid_grant")


def test_sub_different_from_iss_is_rejected(client: FlaskClient, keys: ClusterKeys) -> None:
    value = assertion(keys.private_key_pem, keys.client_id, sub="someone-else")

    assert_oauth_error(post_assertion(client, value), "invalid_grant")


def test_missing_jti_is_rejected(client: FlaskClient, keys: ClusterKeys) -> None:
    value = assertion(keys.private_key_pem, keys.client_id, jti=None)

    assert_oauth_error(post_assertion(client, value), "invalid_grant")


def test_replayed_jti_is_rejected(client: FlaskClient, keys: ClusterKeys) -> None:
    value = assertion(keys.private_key_pem, keys.client_id)
    assert post_assertion(client, value).status_code == 200

    body = assert_oauth_error(post_assertion(client, value), "invalid_grant")

    assert "already used" in body["error_description"]


def test_replayed_client_assertion_is_rejected(client: FlaskClient, keys: ClusterKeys) -> None:
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion(keys.private_key_pem, keys.client_id),
    }
    assert client.post("/oauth/token", data=data).status_code == 200

    assert_oauth_error(client.post("/oauth/token", data=data), "invalid_client")


def test_client_credentials_without_assertion_is_rejected(client: FlaskClient) -> None:
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"})

    assert_oauth_error(response, "invalid_client")


def test_client_assertion_with_alg_none_is_rejected(client: FlaskClient, keys: ClusterKeys) -> None:
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": unsigned(claims_for(keys), {"alg": "none"}),
        },
    )

    assert_oauth_error(response, "invalid_client")


def test_unsupported_grant_type_is_rejected(client: FlaskClient) -> None:
    response = client.post("/oauth/token", data={"grant_type": "password", "username": "x"})

    assert_oauth_error(response, "unsupported_grant_type")


def test_missing_assertion_is_rejected(client: FlaskClient) -> None:
    response = client.post("/oauth/token", data={"grant_type": JWT_BEARER})

    assert_oauth_error(response, "invalid_request")


def test_json_body_instead_of_a_form_is_rejected(client: FlaskClient, keys: ClusterKeys) -> None:
    response = client.post(
        "/oauth/token",
        json={
            "grant_type": JWT_BEARER,
            "assertion": assertion(keys.private_key_pem, keys.client_id),
        },
    )

    assert_oauth_error(response, "invalid_request")


def test_garbage_assertion_is_rejected(client: FlaskClient) -> None:
    assert_oauth_error(post_assertion(client, "not-a-jwt"), "invalid_grant")
