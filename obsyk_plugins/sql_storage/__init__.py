"""SQLAlchemy storage backend: PostgreSQL (psycopg 3) and SQLite.

URL schemes: ``sqlite``, ``postgresql``, ``postgresql+psycopg`` and ``postgres``
(all PostgreSQL spellings use psycopg 3).  The schema is managed by the Alembic
migrations shipped in :mod:`obsyk_plugins.sql_storage.migrations`, applied by
:meth:`SqlStorage.migrate` or :func:`upgrade` (``obsyk db upgrade``).

Nothing here imports SQLAlchemy at module import time: the operator loads every
plugin and must stay light, so the heavy modules are imported by the factories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from obsyk_core.plugins import hookimpl
from obsyk_core.registries import StorageRegistry

if TYPE_CHECKING:
    from obsyk_plugins.sql_storage.backend import SqlStorage

SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg", "postgres")


def open_sql_storage(url: str) -> SqlStorage:
    """Open (without touching the schema) the database at ``url``."""
    from obsyk_plugins.sql_storage.backend import SqlStorage

    return SqlStorage(url)


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (what ``obsyk db upgrade`` runs)."""
    storage = open_sql_storage(url)
    try:
        storage.migrate()
    finally:
        storage.close()


@hookimpl(trylast=True)
def obsyk_register_storage(registry: StorageRegistry) -> None:
    for scheme in SCHEMES:
        registry.register(scheme, open_sql_storage)
