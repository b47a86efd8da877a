"""A Redis outage, seen from requests: what is staged is acknowledged, the rest is a 503.

Each test runs the production shape (PostgreSQL + Redis) on a private
redis-server it kills: the shared Redis is never touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_wire import Agent, new_cluster_uid, pod, stored_inventory
from app_support import new_cluster, new_org, postgres_config, request_access_token
from flask import Flask
from outages import PrivateRedis

from reference_app import create_app
from reference_app.app import close_app
from reference_app.jobs import tasks

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


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
