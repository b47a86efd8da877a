"""JSON documents kept inline, lz4 when compressed (PostgreSQL)

Every ingested record (~2 kB of JSONB for a Pod) used to push its row past
PostgreSQL's 2 kB TOAST threshold, so it was compressed with pglz (JSONB
barely compresses: ~5 %) and then moved out of line into the TOAST table,
which costs a TOAST insert (and index entry) per write, a TOAST delete per
update, and a TOAST fetch per read — for no space saved.  Now:

* ``toast_tuple_target`` is as large as a page allows, so rows up to ~8 kB
  stay inline and uncompressed; bigger ones are still compressed and moved out
  of line as before;
* compression, where it still happens, is lz4 (PostgreSQL 14+ built with lz4),
  several times cheaper than pglz for about the same size.

Both are catalog changes for values written from now on: stored rows stay as
they are (PostgreSQL reads both), nothing is rewritten.  A no-op on SQLite;
lz4 is skipped on PostgreSQL before 14 and on a server built without it.

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

#: The tables whose rows carry ingested records.
TABLES = ("resources", "resource_versions")
#: (table, column) of every JSON document the ingestion writes.
DOCUMENT_COLUMNS = (
    ("resources", "record"),
    ("resources", "labels"),
    ("resources", "annotations"),
    ("resource_versions", "record"),
)
#: A page's header and one line pointer, MAXALIGN-ed: what ``toast_tuple_target``
#: can be at most is the block size less this (8160 on the usual 8 kB pages).
PAGE_OVERHEAD = 32


def _is_postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _server_has_lz4() -> bool:
    """Whether ``SET COMPRESSION lz4`` would work: PostgreSQL 14+, built with lz4.

    The values the server accepts for ``default_toast_compression`` list lz4
    only when it was built with it (and the setting exists since 14); asking
    does not abort the transaction the way a refused statement would.
    """
    offered = (
        op.get_bind()
        .execute(text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"))
        .scalar()
    )
    return offered is not None and "lz4" in offered


def _largest_toast_tuple_target() -> int:
    block_size = op.get_bind().execute(text("SELECT current_setting('block_size')::int"))
    return int(block_size.scalar_one()) - PAGE_OVERHEAD


def upgrade() -> None:
    if not _is_postgresql():
        return
    target = _largest_toast_tuple_target()
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (toast_tuple_target = {target})")
    if _server_has_lz4():
        for table, column in DOCUMENT_COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    if not _is_postgresql():
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (toast_tuple_target)")
    if _server_has_lz4():
        for table, column in DOCUMENT_COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION default")
