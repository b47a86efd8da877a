"""Fixtures for the reference app, on both runtimes it supports.

* ``embedded_app`` — the default with no services: SQLite in ``tmp_path``,
  in-memory cache, jobs on an in-process thread.
* ``postgres_app`` — production shape: the real PostgreSQL (``postgres_url``)
  and Redis (``redis_url``; cache keys under ``redis_prefix``, an RQ queue of
  its own), jobs in RQ.
* ``app`` — parametrized over both: a test using it runs once per runtime.

Helpers are fixtures returning functions, so a test asks for what it needs:
``make_org``, ``make_user_token``, ``make_cluster``, ``make_assertion``,
``agent_token`` and ``run_jobs``.  Everything goes through the same public
code paths a real user or operator would (CLI-equivalent functions, the real
``POST /oauth/token``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agent_wire import Agent, new_cluster_uid
from app_support import (
    PUBLIC_URL,
    ClusterKeys,
    assertion,
    drain_jobs,
    embedded_config,
    new_cluster,
    new_org,
    new_user_token,
    postgres_config,
    request_access_token,
)
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from outages import PrivateRedis

from obsyk_core.storage import Organization
from reference_app import create_app
from reference_app.app import close_app
from reference_app.jobs.queue import RqJobQueue
from reference_app.state import get_state


@pytest.fixture
def agent(
    client: FlaskClient,
    make_org: Callable[..., Organization],
    make_cluster: Callable[..., ClusterKeys],
    agent_token: Callable[..., str],
) -> Agent:
    """An operator of a new cluster in a new org, with an access token."""
    keys = make_cluster(make_org())
    return Agent(client, agent_token(keys), new_cluster_uid(), keys.cluster.id, keys.cluster.org_id)


@pytest.fixture
def embedded_app(tmp_path: Path) -> Iterator[Flask]:
    """The embedded default: SQLite file in the instance folder, no Redis."""
    app = create_app(embedded_config(tmp_path))
    yield app
    close_app(app)


@pytest.fixture
def postgres_app(
    tmp_path: Path, postgres_url: str, redis_url: str, redis_prefix: str
) -> Iterator[Flask]:
    """PostgreSQL + Redis (cache, replay cache, RQ) — the production shape."""
    app = create_app(postgres_config(tmp_path, postgres_url, redis_url, redis_prefix))
    yield app
    _clear_queue(app)
    close_app(app)


def _clear_queue(app: Flask) -> None:
    jobs = get_state(app).jobs
    if isinstance(jobs, RqJobQueue):
        jobs.queue.empty()


@pytest.fixture(
    params=[
        "embedded",
        pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.redis]),
    ]
)
def app(request: pytest.FixtureRequest) -> Flask:
    """The app on each runtime in turn (the test id says which: ``[embedded]``/``[postgres]``)."""
    fixture: Flask = request.getfixturevalue(f"{request.param}_app")
    return fixture


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server of the test's own, which it may kill (the shared one must never be)."""
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def make_org(app: Flask) -> Callable[..., Organization]:
    """``make_org(name=None) -> Organization`` on the test's app."""
    return lambda name=None: new_org(app, name)


@pytest.fixture
def make_user_token(app: Flask) -> Callable[..., str]:
    """``make_user_token(org, role="owner", email=None) -> "obsyk_pat_..."``."""
    return lambda org, role="owner", email=None: new_user_token(app, org, role, email=email)


@pytest.fixture
def make_cluster(app: Flask) -> Callable[..., ClusterKeys]:
    """``make_cluster(org, name=None) -> ClusterKeys(cluster, client_id, private_key_pem)``."""
    return lambda org, name=None: new_cluster(app, org, name)


@pytest.fixture
def make_assertion() -> Callable[..., str]:
    """``make_assertion(private_key_pem, client_id, aud=PUBLIC_URL, *, header=None, **claims)``."""
    return assertion


@pytest.fixture
def agent_token(client: FlaskClient) -> Callable[..., str]:
    """``agent_token(keys, aud=PUBLIC_URL) -> access token`` via the real ``POST /oauth/token``."""

    def get_token(keys: ClusterKeys, aud: str = PUBLIC_URL) -> str:
        return request_access_token(client, keys, aud)

    return get_token


@pytest.fixture
def run_jobs(app: Flask) -> Callable[[], None]:
    """``run_jobs()``: execute every queued background job now (both runtimes)."""
    return lambda: drain_jobs(app)
