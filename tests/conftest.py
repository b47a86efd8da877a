"""Shared fixtures: the real PostgreSQL and Redis on 127.0.0.1, one fresh database per run.

``OBSYK_TEST_POSTGRES_URL`` / ``OBSYK_TEST_REDIS_URL`` point them elsewhere.
Nothing is skipped when a service is missing: the suite fails, loudly, because
CI starts both services and a silent skip would hide a broken backend.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

ADMIN_POSTGRES_URL = os.environ.get(
    "OBSYK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("OBSYK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextmanager
def _throwaway_database() -> Iterator[str]:
    """A database created on the local server for the caller, dropped afterwards."""
    import psycopg

    name = f"obsyk_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(ADMIN_POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database created for this test run on the local server, dropped afterwards."""
    with _throwaway_database() as url:
        yield url


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """An empty database per test (for tests that need a pristine schema)."""
    with _throwaway_database() as url:
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The local Redis, with a key prefix namespace of its own per test (see ``redis_prefix``)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    yield REDIS_URL
    client.close()


@pytest.fixture
def redis_prefix() -> str:
    return f"obsyk-test:{uuid.uuid4().hex[:8]}:"
