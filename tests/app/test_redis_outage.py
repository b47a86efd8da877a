"""A Redis outage, seen from requests: what is staged is acknowledged, the rest is a 503.

Each test runs the production shape (PostgreSQL + Redis) on a private
redis-server it kills: the shared Redis is never touched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_wire import Agent, new_cluster_uid, pod, stored_inventory
from app_support import (
    JWT_BEARER,
    ClusterKeys,
    assertion,
    new_cluster,
    new_org,
    postgres_config,
    request_access_token,
)
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey
from outages import PrivateRedis, SilentProxy

from obsyk_core.cache import CacheError
from reference_app import create_app
from reference_app.app import close_app
from reference_app.auth.assertion_rules import check_claims
from reference_app.jobs import tasks
from reference_app.jobs.queue import RqJobQueue
from reference_app.state import get_state

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def outage_app(tmp_path: Path, postgres_url: str, redis_server: PrivateRedis) -> Iterator[Flask]:
    app = create_app(postgres_config(tmp_path, postgres_url, redis_server.url, "outage:"))
    yield app
    close_app(app)


def test_a_final_chunk_is_acknowledged_while_redis_is_down_and_recovered_after(
    outage_app: Flask, redis_server: PrivateRedis
) -> None:
    keys = new_cluster(outage_app, new_org(outage_app))
    client = outage_app.test_client()
    token = request_access_token(client, keys)
    agent = Agent(client, token, new_cluster_uid())
    redis_server.kill()

    answers = [
        agent.post("snapshot", {"cluster_uid": agent.cluster_uid, "snapshot_id": "s1",
                                "chunk": number, "final": number == 1, "pods": [pod(uid, uid)]})
        for number, uid in enumerate(["p0", "p1"])
    ]  # fmt: skip

    assert [answer.status_code for answer in answers] == [202, 202]
    assert answers[1].get_json()["queued"] is False  # staged; the queue could not take the job
    redis_server.restart()
    with outage_app.app_context():
        assert tasks.recover_pending() == ["s1"]
    assert set(stored_inventory(outage_app, keys.cluster.id)) == {"p0", "p1"}


def grant_forms(keys: ClusterKeys) -> dict[str, dict[str, str]]:
    """Both ways an operator asks for a token, each with a fresh assertion."""
    return {
        "jwt-bearer": {
            "grant_type": JWT_BEARER,
            "assertion": assertion(keys.private_key_pem, keys.client_id),
        },
        "client_credentials": {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion(keys.private_key_pem, keys.client_id),
        },
    }


#: What a request that needs Redis answers while it is down: the rate limits (Flask-Limiter's
#: own client) fail before the view, the replay cache in it.
REDIS_DOWN = ("redis_unavailable", "cache_unavailable")


def assert_unavailable(response: Any, codes: tuple[str, ...]) -> None:
    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert body["code"] in codes and body["status"] == 503
    assert "temporarily unavailable" in body["message"]
    assert "access_token" not in body


def test_token_grant_is_refused_with_503_while_the_replay_cache_is_down(
    outage_app: Flask, redis_server: PrivateRedis
) -> None:
    # Without the jti check a captured assertion could be replayed: no token is
    # issued, and the operator retries (5xx) instead of giving up (4xx).
    keys = new_cluster(outage_app, new_org(outage_app))
    client = outage_app.test_client()
    redis_server.kill()

    for form in grant_forms(keys).values():
        assert_unavailable(client.post("/oauth/token", data=form), REDIS_DOWN)

    redis_server.restart()
    for form in grant_forms(keys).values():
        assert client.post("/oauth/token", data=form).status_code == 200


def test_a_silent_redis_ends_the_request_in_a_503_after_its_socket_timeout(
    tmp_path: Path, postgres_url: str, redis_server: PrivateRedis
) -> None:
    # A partition that closes nothing: without a client timeout the request
    # (and the server thread serving it) would wait forever.
    proxy = SilentProxy(redis_server.port)
    url = f"redis://127.0.0.1:{proxy.port}/0?socket_timeout=1&socket_connect_timeout=1"
    app = create_app({**postgres_config(tmp_path, postgres_url, "", ""), "REDIS_URL": url})
    try:
        keys = new_cluster(app, new_org(app))
        client = app.test_client()
        assert _grant(client, keys).status_code == 200  # the pooled connection works
        proxy.go_silent()

        started = time.monotonic()
        response = _grant(client, keys)
        elapsed = time.monotonic() - started
    finally:
        close_app(app)
        proxy.close()

    assert_unavailable(response, REDIS_DOWN)
    assert elapsed < 3.0  # one socket_timeout, not redis-py's ten retries of it


def _grant(client: FlaskClient, keys: ClusterKeys) -> Any:
    return client.post("/oauth/token", data=grant_forms(keys)["jwt-bearer"])


def test_a_job_queue_failure_on_a_request_path_is_a_503_too(
    outage_app: Flask, redis_server: PrivateRedis
) -> None:
    # Today's routes catch their enqueue failures (staging, notifications); a
    # route that does not still answers in the one shape, with Retry-After.
    def queue_now() -> str:
        get_state().jobs.enqueue(tasks.prune_history)
        return "queued"

    outage_app.add_url_rule("/queue-now", view_func=queue_now)
    redis_server.kill()

    assert_unavailable(outage_app.test_client().get("/queue-now"), ("redis_unavailable",))


def test_the_replay_check_refuses_rather_than_skips_when_the_cache_is_down(
    outage_app: Flask, redis_server: PrivateRedis
) -> None:
    # Whatever answers first on the token route, the jti check itself never
    # lets an assertion through unchecked: it fails with the cache.
    keys = new_cluster(outage_app, new_org(outage_app))
    token = jwt.decode(
        assertion(keys.private_key_pem, keys.client_id), ECKey.import_key(keys.private_key_pem)
    )
    redis_server.kill()

    with pytest.raises(CacheError):
        check_claims(token.claims, get_state(outage_app).cache)


def test_the_scheduler_runs_where_redis_refuses_info(tmp_path: Path, postgres_url: str) -> None:
    # Hardened servers rename or disable INFO (which tells a restarted Redis by
    # its run_id): the loop must still schedule, noticing outages only.
    from reference_app.jobs.periodic import SchedulerHealth, run_scheduler

    server = PrivateRedis(tmp_path / "redis", "--rename-command", "INFO", "")
    server.start()
    app = create_app(postgres_config(tmp_path, postgres_url, server.url, "no-info:"))
    state = get_state(app)
    health = SchedulerHealth(tmp_path / "health.json")
    stop = threading.Event()
    thread = threading.Thread(
        target=run_scheduler, args=(state.settings, state.jobs.connection, stop, health)
    )
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and health.state != "running":
            time.sleep(0.1)
        assert (health.state, health.restarts) == ("running", 0)
        assert isinstance(state.jobs, RqJobQueue)
        assert "reference_app.jobs.tasks.recover_pending" in {
            job.func_name for job in state.jobs.queue.jobs
        }
    finally:
        stop.set()
        thread.join(10)
        close_app(app)
        server.kill()
