"""Alembic environment: always handed a connection by obsyk_plugins.sql_storage.migrate."""

from __future__ import annotations

from alembic import context

from obsyk_plugins.sql_storage.migrate import VERSION_TABLE, schema_filter
from obsyk_plugins.sql_storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with obsyk_plugins.sql_storage.upgrade(url) or `obsyk db upgrade`"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=schema_filter(connection.dialect.name),
)
with context.begin_transaction():
    context.run_migrations()
