"""Fixtures for the storage tests: the plugin manager and the databases the suite runs on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from obsyk_core.plugins import Plugins, build_plugin_manager
from obsyk_core.storage import Storage

StorageFactory = Callable[[], Storage]


@pytest.fixture(scope="session")
def plugins() -> Plugins:
    """The installed plugins, as the platform would load them."""
    return build_plugin_manager(distribution="obsyk", disabled=())


def open_migrated(plugins: Plugins, url: str) -> Storage:
    storage = plugins.storage.open(url)
    storage.migrate()
    return storage


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_url: str, plugins: Plugins) -> str:
    """This run's PostgreSQL database with the schema applied once."""
    open_migrated(plugins, postgres_url).close()
    return postgres_url


def truncate_all_tables(url: str) -> None:
    """Empty every table but Alembic's, so each test starts from a pristine migrated schema."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            names = ", ".join(f'"{table}"' for table in tables)
            connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture
def postgres_storage_factory(
    migrated_postgres_url: str, plugins: Plugins
) -> Iterator[StorageFactory]:
    def open_fresh() -> Storage:
        truncate_all_tables(migrated_postgres_url)
        return open_migrated(plugins, migrated_postgres_url)

    yield open_fresh


@pytest.fixture
def memory_storage_factory(plugins: Plugins) -> StorageFactory:
    """``memory://`` opens a new, independent store every time."""
    return lambda: open_migrated(plugins, "memory://")


@pytest.fixture
def sqlite_storage_factory(tmp_path: Path, plugins: Plugins) -> StorageFactory:
    counter = iter(range(1_000_000))

    def open_fresh() -> Storage:
        return open_migrated(plugins, f"sqlite:///{tmp_path / f'obsyk-{next(counter)}.db'}")

    return open_fresh
