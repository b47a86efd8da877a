"""Helpers shared by the reference-app tests (imported by conftest.py and by tests).

Kept out of conftest.py: test modules import these by name, and a module
called ``conftest`` is ambiguous when several test folders have one.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey

from obsyk_core.plugins import build_plugin_manager
from obsyk_core.storage import Cluster, Organization, Role
from reference_app.auth.api_tokens import grant_api_token
from reference_app.auth.credentials import register_cluster
from reference_app.jobs.queue import RqJobQueue, ThreadJobQueue
from reference_app.state import get_state

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: The audience test operators use; every test app accepts it (OBSYK_PUBLIC_URL).
PUBLIC_URL = "https://obsyk.test"


def embedded_config(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """Config of an embedded app whose instance folder (SQLite, secret key) is ``tmp_path``."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "PUBLIC_URLS": PUBLIC_URL,
        # Exactly the project's own plugins, whatever else is installed beside them.
        "PLUGINS": build_plugin_manager(distribution="obsyk", disabled=()),
        # Tests drive the periodic jobs themselves.
        "PERIODIC_JOBS": False,
        **overrides,
    }


def postgres_config(
    tmp_path: Path, postgres_url: str, redis_url: str, redis_prefix: str, **overrides: Any
) -> dict[str, Any]:
    """Config of a PostgreSQL + Redis app that shares no Redis key or queue with other tests."""
    return embedded_config(
        tmp_path,
        DATABASE_URL=postgres_url,
        REDIS_URL=f"{redis_url}?prefix={redis_prefix}",
        QUEUE_NAME=f"{redis_prefix}jobs",
        **overrides,
    )


class ClusterKeys(NamedTuple):
    """A registered cluster and the operator's side of its credential."""

    cluster: Cluster
    client_id: str
    private_key_pem: str


def new_org(app: Flask, name: str | None = None) -> Organization:
    """A new organization with a unique name (the shared PostgreSQL keeps data across tests)."""
    return get_state(app).storage.create_org(name or f"org-{uuid.uuid4().hex[:10]}")


def new_user_token(
    app: Flask, org: Organization, role: Role = "owner", *, email: str | None = None
) -> str:
    """A personal API token (``obsyk_pat_...``) of a new member of ``org`` with ``role``."""
    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    token: str = grant_api_token(get_state(app).storage, org.id, email, role).token
    return token


def new_cluster(app: Flask, org: Organization, name: str | None = None) -> ClusterKeys:
    """Register a cluster as ``obsyk clusters register`` does: a fresh P-256 key pair."""
    registration = register_cluster(
        get_state(app).storage, org.id, name or f"cluster-{uuid.uuid4().hex[:8]}"
    )
    assert registration.private_key_pem is not None
    return ClusterKeys(registration.cluster, registration.client_id, registration.private_key_pem)


def assertion(
    private_key_pem: str,
    client_id: str,
    aud: str | list[str] = PUBLIC_URL,
    *,
    header: dict[str, Any] | None = None,
    **overrides: Any,
) -> str:
    """An ES256 JWT assertion as the upstream operator builds it (``aud`` a one-element list).

    ``overrides`` replace claims (``exp=...``, ``iss=...``); a value of ``None``
    removes the claim.  ``header`` replaces the JWS header (``{"alg": "ES256"}``
    plus ``typ``).
    """
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": [aud] if isinstance(aud, str) else aud,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    claims = {key: value for key, value in claims.items() if value is not None}
    key = ECKey.import_key(private_key_pem)
    return jwt.encode(header or {"alg": "ES256", "typ": "JWT"}, claims, key)


def request_access_token(client: FlaskClient, keys: ClusterKeys, aud: str = PUBLIC_URL) -> str:
    """Go through ``POST /oauth/token`` for real and return the access token."""
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": JWT_BEARER,
            "assertion": assertion(keys.private_key_pem, keys.client_id, aud),
        },
    )
    assert response.status_code == 200, response.get_json()
    token: str = response.get_json()["access_token"]
    return token


def drain_jobs(app: Flask, timeout: float = 30.0) -> None:
    """Run every queued background job to completion, whatever the runtime.

    Embedded: wait for the job thread.  RQ: run a non-forking worker in burst
    mode inside an app context, as ``obsyk worker`` does.
    """
    jobs = get_state(app).jobs
    if isinstance(jobs, ThreadJobQueue):
        assert jobs.wait_idle(timeout), "background jobs did not finish in time"
        return
    assert isinstance(jobs, RqJobQueue)
    from reference_app.jobs.worker import make_worker

    with app.app_context():
        make_worker(app).work(burst=True)


def runtime_config(request: Any, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """The config of ``request.param``'s runtime (``embedded`` or ``postgres``) with ``overrides``.

    For fixtures parametrized like ``conftest.app`` that need settings of their own.
    """
    if request.param == "embedded":
        return embedded_config(tmp_path, **overrides)
    return postgres_config(
        tmp_path,
        request.getfixturevalue("postgres_url"),
        request.getfixturevalue("redis_url"),
        request.getfixturevalue("redis_prefix"),
        **overrides,
    )
