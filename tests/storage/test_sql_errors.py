"""Failures and edge values at the SQL backend's boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from obsyk_core.plugins import build_plugin_manager
from obsyk_core.storage import ClusterSeen, StorageError
from obsyk_plugins import sql_storage
from obsyk_plugins.sql_storage.backend import SqlStorage

UNREACHABLE_POSTGRES = "postgresql://postgres@127.0.0.1:1/obsyk"


def test_unreachable_postgresql_raises_storage_error() -> None:
    storage = sql_storage.open_sql_storage(UNREACHABLE_POSTGRES)
    try:
        with pytest.raises(StorageError, match="database unavailable"):
            storage.create_org("acme")
        with pytest.raises(StorageError), storage.ingest("any-cluster"):
            pass
        with pytest.raises(StorageError):
            storage.migrate()
    finally:
        storage.close()


@pytest.mark.parametrize(
    "url", ["postgres://h/db", "postgresql://h/db", "postgresql+psycopg://h/db", "sqlite://"]
)
def test_every_scheme_opens_the_sql_backend_on_psycopg_3(url: str) -> None:
    plugins = build_plugin_manager(plugins=[sql_storage], load_entry_points=False, disabled=())
    storage = plugins.storage.open(url)
    try:
        assert isinstance(storage, SqlStorage)
        assert storage.engine.dialect.driver in ("psycopg", "pysqlite")
        assert storage.engine.dialect.driver == ("pysqlite" if url == "sqlite://" else "psycopg")
    finally:
        storage.close()


def test_sqlite_returns_aware_utc_for_any_aware_input() -> None:
    storage = sql_storage.open_sql_storage("sqlite://")
    try:
        storage.migrate()
        org = storage.create_org("acme")
        cluster = storage.create_cluster(org.id, "prod")
        berlin = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
        storage.mark_cluster_seen(cluster.id, ClusterSeen(seen_at=berlin))
        stored = storage.get_cluster(org.id, cluster.id)
        assert stored is not None and stored.last_seen_at is not None
        assert stored.last_seen_at.tzinfo is not None
        assert stored.last_seen_at.utcoffset() == timedelta(0)
        assert stored.last_seen_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
        # Later-only: an older report does not move it back.
        storage.mark_cluster_seen(cluster.id, ClusterSeen(seen_at=berlin - timedelta(hours=1)))
        again = storage.get_cluster(org.id, cluster.id)
        assert again is not None and again.last_seen_at == stored.last_seen_at
    finally:
        storage.close()


def test_naive_datetimes_are_refused_with_a_clear_error() -> None:
    storage = sql_storage.open_sql_storage("sqlite://")
    try:
        storage.migrate()
        org = storage.create_org("acme")
        token = storage.create_api_token(org.id, storage.ensure_user("a@x.io").id, "h", "ci")
        with pytest.raises(ValueError, match="naive datetime"):
            storage.revoke_api_token(token.id, datetime(2024, 5, 1))
        assert storage.find_api_token("h") == token
    finally:
        storage.close()


def test_unsupported_url_scheme_is_named() -> None:
    with pytest.raises(ValueError, match="mysql"):
        sql_storage.open_sql_storage("mysql://h/db")
