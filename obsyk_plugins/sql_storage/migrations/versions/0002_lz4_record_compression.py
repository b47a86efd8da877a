"""lz4 compression for the JSON documents (PostgreSQL 14+ built with lz4)

Every ingested record (~2.5 kB of JSONB for a Pod) is compressed when it is
written; lz4 does that several times faster than the default pglz, for about
the same size.  Only the compression of values written from now on changes:
stored values stay as they are (PostgreSQL reads both), so this is a catalog
change, not a table rewrite.  A no-op on SQLite, on PostgreSQL before 14 and
on a server built without lz4.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: (table, column) of every JSON document the ingestion writes.
DOCUMENT_COLUMNS = (
    ("resources", "record"),
    ("resources", "labels"),
    ("resources", "annotations"),
    ("resource_versions", "record"),
)


def _server_has_lz4() -> bool:
    """Whether ``SET COMPRESSION lz4`` would work: PostgreSQL 14+, built with lz4.

    The values the server accepts for ``default_toast_compression`` list lz4
    only when it was built with it; asking does not abort the transaction the
    way a refused ``SET`` would.
    """
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    offered = bind.execute(
        text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    ).scalar()
    return offered is not None and "lz4" in offered


def upgrade() -> None:
    if _server_has_lz4():
        for table, column in DOCUMENT_COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    if _server_has_lz4():
        for table, column in DOCUMENT_COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION default")
