"""The packaged Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from obsyk_plugins.sql_storage import upgrade
from obsyk_plugins.sql_storage.engine import create_storage_engine
from obsyk_plugins.sql_storage.migrate import VERSION_TABLE, schema_filter
from obsyk_plugins.sql_storage.models import Base


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
    assert _head_revision(empty_database_url) == "0001"
    assert _schema_differences(empty_database_url) == []


def test_upgrading_an_up_to_date_database_changes_nothing(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    upgrade(empty_database_url)
    assert _head_revision(empty_database_url) == "0001"
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
