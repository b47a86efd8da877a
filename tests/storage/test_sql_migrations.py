"""The packaged Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from obsyk_core.ingest import IncomingResource, reconcile_snapshot
from obsyk_plugins.sql_storage import open_sql_storage, upgrade
from obsyk_plugins.sql_storage.engine import create_storage_engine
from obsyk_plugins.sql_storage.migrate import VERSION_TABLE, alembic_config, schema_filter
from obsyk_plugins.sql_storage.models import Base

HEAD = "0004"
#: Every JSON document column the ingestion writes (migration 0002 compresses them with lz4).
DOCUMENT_COLUMNS = {
    ("resources", "record"),
    ("resources", "labels"),
    ("resources", "annotations"),
    ("resource_versions", "record"),
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


def _schema_differences(url: str) -> list[object]:
    engine = create_storage_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "version_table": VERSION_TABLE,
                    "include_object": schema_filter(connection.dialect.name),
                },
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _head_revision(url: str) -> str | None:
    engine = create_storage_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE}
            ).get_current_revision()
    finally:
        engine.dispose()


def test_fresh_database_upgrades_to_a_schema_matching_the_models(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    assert _head_revision(empty_database_url) == HEAD
    assert _schema_differences(empty_database_url) == []


def test_upgrading_an_up_to_date_database_changes_nothing(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    upgrade(empty_database_url)
    assert _head_revision(empty_database_url) == HEAD
    assert _schema_differences(empty_database_url) == []


def test_postgresql_has_a_gin_index_on_labels(fresh_postgres_url: str) -> None:
    upgrade(fresh_postgres_url)
    engine = create_engine(fresh_postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            indexes = {ix["name"]: ix for ix in inspect(connection).get_indexes("resources")}
    finally:
        engine.dispose()
    assert indexes["ix_resources_labels"]["dialect_options"]["postgresql_using"] == "gin"
    assert indexes["ix_resources_listing"]["column_names"] == [
        "cluster_id",
        "kind",
        "namespace",
        "name",
        "uid",
    ]


def _catalog(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(query).fetchall()


def _column_compression(url: str) -> dict[tuple[str, str], str]:
    """``pg_attribute.attcompression`` of every JSON(B) column: ``l`` lz4, ``''`` the default."""
    found = _catalog(
        url,
        "SELECT c.relname, a.attname, a.attcompression::text FROM pg_attribute AS a"
        " JOIN pg_class AS c ON c.oid = a.attrelid"
        " WHERE a.atttypid = 'jsonb'::regtype AND c.relkind = 'r' AND NOT a.attisdropped",
    )
    return {(table, column): compression for table, column, compression in found}


def _toast_tuple_targets(url: str) -> dict[str, str | None]:
    found = _catalog(
        url,
        "SELECT relname, (SELECT option_value FROM pg_options_to_table(reloptions)"
        "  WHERE option_name = 'toast_tuple_target')"
        " FROM pg_class WHERE relname IN ('resources', 'resource_versions')",
    )
    return dict(found)


def _upgrade_to(url: str, revision: str) -> None:
    engine = create_storage_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()


def test_postgresql_compresses_json_documents_with_lz4(fresh_postgres_url: str) -> None:
    # The local server is PostgreSQL 15 built with lz4, as CI's Debian package is.
    upgrade(fresh_postgres_url)
    assert _column_compression(fresh_postgres_url) == dict.fromkeys(DOCUMENT_COLUMNS, "l")


def test_postgresql_keeps_a_pod_record_inline(fresh_postgres_url: str) -> None:
    upgrade(fresh_postgres_url)
    assert _toast_tuple_targets(fresh_postgres_url) == {
        "resources": "8160",
        "resource_versions": "8160",
    }
    storage = open_sql_storage(fresh_postgres_url)
    try:
        cluster = storage.create_cluster(storage.create_org("acme").id, "prod")
        # ~3 kB of poorly compressible JSON (like a Pod's ~2 kB of JSONB): past the
        # 2 kB threshold where a row's record used to be moved out of line.
        digests = [hashlib.sha256(bytes([i])).hexdigest() for i in range(40)]
        pod = {"uid": "u1", "name": "web", "images": digests}
        reconcile_snapshot(
            storage,
            cluster.id,
            {"Pod": [IncomingResource.from_record("Pod", pod)]},
            received_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        stored = storage.get_resource(cluster.id, "u1")
        assert stored is not None and stored.record == pod
    finally:
        storage.close()
    toast_bytes = _catalog(
        fresh_postgres_url,
        "SELECT sum(pg_relation_size(reltoastrelid)) FROM pg_class"
        " WHERE relname IN ('resources', 'resource_versions')",
    )
    assert toast_bytes == [(0,)]


def test_existing_database_keeps_its_data_through_migration_0002(
    fresh_postgres_url: str,
) -> None:
    _upgrade_to(fresh_postgres_url, "0001")
    storage = open_sql_storage(fresh_postgres_url)
    try:
        org = storage.create_org("acme")
        cluster = storage.create_cluster(org.id, "prod")
        at = datetime(2026, 1, 1, tzinfo=UTC)
        pod = {"uid": "u1", "name": "web", "namespace": "default", "labels": {"app": "web"}}
        reconcile_snapshot(
            storage, cluster.id, {"Pod": [IncomingResource.from_record("Pod", pod)]}, received_at=at
        )
        assert set(_column_compression(fresh_postgres_url).values()) == {""}
        assert set(_toast_tuple_targets(fresh_postgres_url).values()) == {None}
        storage.migrate()
        assert _head_revision(fresh_postgres_url) == HEAD
        assert _column_compression(fresh_postgres_url) == dict.fromkeys(DOCUMENT_COLUMNS, "l")
        stored = storage.get_resource(cluster.id, "u1")
        assert stored is not None and stored.record == pod
        assert [v.record for v in storage.resource_history(cluster.id, "u1")] == [pod]
    finally:
        storage.close()


def test_migration_0002_downgrades_to_the_default_storage(
    fresh_postgres_url: str,
) -> None:
    upgrade(fresh_postgres_url)
    engine = create_storage_engine(fresh_postgres_url)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0001")
    finally:
        engine.dispose()
    assert _head_revision(fresh_postgres_url) == "0001"
    assert set(_column_compression(fresh_postgres_url).values()) == {""}
    assert set(_toast_tuple_targets(fresh_postgres_url).values()) == {None}


def _resources_pages(url: str) -> int:
    (pages,) = _catalog(
        url, "SELECT pg_relation_size('resources') / current_setting('block_size')::int"
    )[0]
    return int(pages)


@pytest.mark.parametrize(("revision", "grows"), [("0002", True), (HEAD, False)])
def test_updated_pod_rows_stay_on_their_pages(
    fresh_postgres_url: str, revision: str, grows: bool
) -> None:
    # ~3 kB Pods rewritten over and over: from 0003 on, each new version finds
    # room on its row's page (the last one's space reclaimed), so the table
    # does not grow by a page per change until a vacuum.
    _upgrade_to(fresh_postgres_url, revision)
    storage = open_sql_storage(fresh_postgres_url)
    try:
        cluster = storage.create_cluster(storage.create_org("acme").id, "prod")
        digests = [hashlib.sha256(bytes([i])).hexdigest() for i in range(40)]

        def pods(rev: int) -> list[IncomingResource]:
            return [
                IncomingResource.from_record(
                    "Pod", {"uid": f"u{i}", "name": f"p{i}", "images": digests, "rev": rev}
                )
                for i in range(20)
            ]

        at = datetime(2026, 1, 1, tzinfo=UTC)
        reconcile_snapshot(storage, cluster.id, {"Pod": pods(0)}, received_at=at)
        before = _resources_pages(fresh_postgres_url)
        for rev in range(1, 6):
            at = at.replace(minute=rev)
            reconcile_snapshot(storage, cluster.id, {"Pod": pods(rev)}, received_at=at)
        after = _resources_pages(fresh_postgres_url)
        history = storage.resource_history(cluster.id, "u3")
        assert [None if v.record is None else v.record["rev"] for v in history] == [*range(6)]
    finally:
        storage.close()
    assert (after > before) is grows, (before, after)


def test_importing_the_plugin_does_not_load_sqlalchemy() -> None:
    # The operator loads every plugin: the SQL backend must cost it nothing.
    probe = (
        "import sys, obsyk_plugins.sql_storage, obsyk_plugins.redis_cache;"
        "heavy = ('sqlalchemy', 'alembic', 'psycopg', 'redis');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
