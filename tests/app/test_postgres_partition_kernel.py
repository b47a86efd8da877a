"""A real partition from an open PostgreSQL connection: packets stop, the request still ends.

The server is private, in a network namespace (see :mod:`partitioned_postgres`);
the app talks to it with its production settings except the network limits,
shortened through the database URL as an operator would tune them.  When the
server's packets stop arriving, the request on the pooled, already-open
connection must end as a 503 the client retries — within seconds, not after the
kernel's two hours of retransmissions — and once the network is back the next
request succeeds without restarting anything.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_support import embedded_config, new_org, new_user_token
from flask import Flask
from partitioned_postgres import PartitionedPostgres

from reference_app import create_app
from reference_app.app import close_app

#: What an operator would write in OBSYK_DATABASE_URL for a 2 s bound.
SHORT_LIMITS = (
    "tcp_user_timeout=2000&keepalives_idle=2&keepalives_interval=1&keepalives_count=2"
    "&connect_timeout=2"
)


@pytest.fixture
def partitioned() -> Iterator[PartitionedPostgres]:
    with PartitionedPostgres(SHORT_LIMITS) as postgres:
        yield postgres


@pytest.fixture
def app(tmp_path: Path, partitioned: PartitionedPostgres) -> Iterator[Flask]:
    app = create_app(embedded_config(tmp_path, DATABASE_URL=partitioned.url))
    yield app
    close_app(app)


def test_a_request_on_an_open_connection_answers_503_when_packets_stop_and_recovers(
    app: Flask, partitioned: PartitionedPostgres
) -> None:
    headers = {"Authorization": f"Bearer {new_user_token(app, new_org(app))}"}
    client = app.test_client()
    assert client.get("/api/v1/clusters", headers=headers).status_code == 200

    partitioned.cut()
    started = time.monotonic()
    response = client.get("/api/v1/clusters", headers=headers)
    waited = time.monotonic() - started

    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["code"] == "storage_unavailable"
    assert 1.5 < waited < 10, waited  # tcp_user_timeout (2 s) ended it, not the kernel's retries

    partitioned.heal()
    assert client.get("/api/v1/clusters", headers=headers).status_code == 200
