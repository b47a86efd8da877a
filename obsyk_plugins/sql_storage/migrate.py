"""Run the packaged Alembic migrations from code (no alembic.ini needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text
from sqlalchemy.schema import SchemaItem

from obsyk_plugins.sql_storage.engine import SQLITE_BEGIN_OPTION
from obsyk_plugins.sql_storage.models import POSTGRESQL_ONLY_INDEXES

#: The migrations ship inside the package, so an installed wheel can upgrade itself.
SCRIPT_LOCATION = "obsyk_plugins.sql_storage:migrations"
#: Alembic's default name, so the ``alembic`` tool and DBAs find it where they expect.
#: An application adding its own migrations to this database must use another name.
VERSION_TABLE = "alembic_version"
#: Any constant: concurrent upgrades (several pods starting) take turns on it.
_MIGRATION_LOCK_KEY = 0x0B5C


def schema_filter(dialect: str) -> Callable[[SchemaItem, str | None, str, bool, Any], bool]:
    """Alembic ``include_object``: leave out what the dialect never gets (``ddl_if``)."""

    def include_object(
        item: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        return not (
            type_ == "index" and name in POSTGRESQL_ONLY_INDEXES and dialect != "postgresql"
        )

    return include_object


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Apply every pending migration in one transaction; a no-op when up to date."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            command.upgrade(alembic_config(connection), "head")
